"""Convolutions ``conv1d`` and ``conv2d`` (NIR ``Conv1d``/``Conv2d``, PyTorch ``nn.Conv*d``).

Stateless: the compiler applies them once to the whole ``(B, T, C*L)`` or ``(B, T, C*H*W)``
series (activity is kept flattened in channel-major order), reshaped here to
``(B*T, C, *spatial)`` and convolved by one ``lax.conv_general_dilated``, never inside a time
loop. Cross-correlation, as NIR and PyTorch define it (the kernel is not flipped); weights
``(out_channels, in_channels / groups, *kernel)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from . import base
from .base import Array, Init, KindConfig, Params, Shape, arg

IntOrTuple = int | tuple[int, ...]
Padding = IntOrTuple | str


def per_axis(v: IntOrTuple | None, dims: int, default: int = 1) -> tuple[int, ...]:
    """An int or a tuple as one value per spatial axis.

    >>> per_axis(3, 2), per_axis((2, 1), 2), per_axis(None, 1, 5)
    ((3, 3), (2, 1), (5,))
    """
    if v is None:
        return (default,) * dims
    if isinstance(v, tuple):
        return v if len(v) != 1 else v * dims
    return (int(v),) * dims


def _fmt(t: tuple[int, ...]) -> str:
    return str(t[0]) if len(set(t)) == 1 else _tuple(t)


def _tuple(t: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, t)) + ")"


def _count(what: str, t: tuple[int, ...], dims: int) -> str:
    return f"{what} {_tuple(t)} has {len(t)} values for {dims} spatial ax" + (
        "is" if dims == 1 else "es")


def window_rule(name: str, spatial: Shape, kernel: IntOrTuple, stride: IntOrTuple | None,
                padding: Padding, dilation: IntOrTuple = 1) -> str | None:
    """The message for a window (kernel, stride, padding, dilation) that does not fit an
    input of spatial shape ``spatial``, else ``None``.

    >>> window_rule("conv2d", (4, 4), 5, 1, 0)
    'kernel 5 is larger than the padded input (4, 4) (padding 0)'
    """
    dims = len(spatial)
    for what, v in (("kernel", kernel), ("stride", stride), ("dilation", dilation)):
        t = per_axis(v, dims)
        if len(t) != dims:
            return _count(what, t, dims)
        if min(t) < 1:
            return f"Expected {what} >= 1, got {_fmt(t)}"
    if isinstance(padding, str):
        return None
    pad = per_axis(padding, dims, 0)
    if len(pad) != dims:
        return _count("padding", pad, dims)
    if min(pad) < 0:
        return f"Expected padding >= 0, got {_fmt(pad)}"
    k, d = per_axis(kernel, dims), per_axis(dilation, dims)
    span = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d))
    if any(s > n + 2 * p for s, n, p in zip(span, spatial, pad)):
        what = f"kernel {_fmt(k)}" + (f" (dilated: {_fmt(span)})" if span != k else "")
        shown = "(" + ", ".join(map(str, spatial)) + ")"
        return f"{what} is larger than the padded input {shown} (padding {_fmt(pad)})"
    return None


def pads(spatial: Shape, kernel: IntOrTuple, stride: IntOrTuple | None, padding: Padding,
         dilation: IntOrTuple = 1) -> tuple[tuple[int, int], ...]:
    """Explicit (low, high) padding per axis. ``same``: the output has ``ceil(n / stride)``
    elements, the odd element of padding at the end (as PyTorch and JAX put it); ``valid``:
    none.

    >>> pads((5,), 3, 1, "same"), pads((4, 4), 2, 2, 1)
    (((1, 1),), ((1, 1), (1, 1)))
    """
    dims = len(spatial)
    k, s, d = per_axis(kernel, dims), per_axis(stride, dims), per_axis(dilation, dims)
    if padding == "valid":
        return ((0, 0),) * dims
    if padding == "same":
        out: list[tuple[int, int]] = []
        for n, ki, si, di in zip(spatial, k, s, d):
            total = max((math.ceil(n / si) - 1) * si + di * (ki - 1) + 1 - n, 0)
            out.append((total // 2, total - total // 2))
        return tuple(out)
    assert not isinstance(padding, str)
    return tuple((p, p) for p in per_axis(padding, dims, 0))


def window_out(spatial: Shape, kernel: IntOrTuple, stride: IntOrTuple | None,
               padding: Padding, dilation: IntOrTuple = 1) -> Shape:
    """The spatial output shape: ``floor((n + lo + hi - dilation * (k - 1) - 1) / s) + 1``.

    >>> window_out((34, 34), 5, 2, 2)
    (17, 17)
    """
    dims = len(spatial)
    k, s, d = per_axis(kernel, dims), per_axis(stride, dims), per_axis(dilation, dims)
    pp = pads(spatial, kernel, stride, padding, dilation)
    return tuple((n + lo + hi - di * (ki - 1) - 1) // si + 1
                 for n, (lo, hi), ki, si, di in zip(spatial, pp, k, s, d))


def rank_rule(name: str, shape_in: Shape, dims: int) -> str | None:
    """The message when the input is not ``(channels, *spatial)`` with ``dims`` axes."""
    if len(shape_in) != dims + 1:
        axes = "(channels, length)" if dims == 1 else "(channels, height, width)"
        got = "(" + ", ".join(map(str, shape_in)) + (",)" if len(shape_in) == 1 else ")")
        return f"{name} needs a {axes} input, got shape {got}"
    return None


def flat_apply(fn: Any, x: Array, shape_in: Shape) -> Array:
    """``fn`` on ``x`` (``(..., prod(shape_in))``) reshaped to ``(M, *shape_in)``, its result
    flattened back to ``(..., prod(out))``: all leading (batch, time) axes in one call."""
    lead = x.shape[:-1]
    y = fn(x.reshape(-1, *shape_in))
    return y.reshape(*lead, -1)


def _spec(dims: int) -> tuple[str, str, str]:
    return ("NCH", "OIH", "NCH") if dims == 1 else ("NCHW", "OIHW", "NCHW")


@dataclass(frozen=True, kw_only=True)
class ConvConfig(KindConfig):
    out_channels: int = arg("int", doc="output channels")
    kernel: IntOrTuple = arg("ints", doc="kernel size: an int or one per spatial axis")
    stride: IntOrTuple = arg("ints", 1, "stride: an int or one per spatial axis")
    padding: Padding = arg("ints", 0, "zero padding on both sides per axis, or same / valid",
                           choices=("same", "valid"))
    dilation: IntOrTuple = arg("ints", 1, "kernel dilation")
    groups: int = arg("int", 1, "channel groups (in and out channels divisible by it)")
    bias: Init | bool = arg(
        "init", False, "false: no bias; true: U(+-1/sqrt(fan_in)) as PyTorch; or an initialiser")
    weight: Init = arg("init", Init("uniform_sqrt"),
                       "weights (out, in / groups, *kernel); default U(+-1/sqrt(fan_in))")


class _Conv(base.Kind[ConvConfig]):
    """Shared by ``conv1d`` and ``conv2d`` (``dims`` spatial axes)."""

    stateful = False
    dims = 2

    def shape_in_rule(self, shape_in: Shape, cfg: ConvConfig) -> str | None:
        msg = rank_rule(self.name, shape_in, self.dims)
        if msg:
            return msg
        c, g = shape_in[0], cfg.groups
        if cfg.out_channels < 1:
            return f"Expected out_channels >= 1, got {cfg.out_channels}"
        if g < 1:
            return f"Expected groups >= 1, got {g}"
        if c % g or cfg.out_channels % g:
            return (f"groups = {g} must divide the input channels ({c}) and out_channels "
                    f"({cfg.out_channels})")
        return window_rule(self.name, shape_in[1:], cfg.kernel, cfg.stride, cfg.padding,
                           cfg.dilation)

    def shape_out(self, shape_in: Shape, cfg: ConvConfig) -> Shape:
        return (cfg.out_channels, *window_out(shape_in[1:], cfg.kernel, cfg.stride,
                                              cfg.padding, cfg.dilation))

    def size_out(self, size_in: int, cfg: ConvConfig) -> int:
        return math.prod(self.shape_out(cfg.shape_in, cfg))

    def weight_shape(self, cfg: ConvConfig) -> Shape:
        return (cfg.out_channels, cfg.shape_in[0] // cfg.groups,
                *per_axis(cfg.kernel, self.dims))

    def params(self, size_in: int, size_out: int, cfg: ConvConfig) -> base.ParamSpecs:
        w = self.weight_shape(cfg)
        specs = {"weight": base.ParamSpec(w, "weights", cfg.weight)}
        if cfg.bias is not False:
            lim = 1.0 / math.sqrt(math.prod(w[1:]))
            b = Init("uniform", (-lim, lim)) if cfg.bias is True else cfg.bias
            assert isinstance(b, Init)
            specs["bias"] = base.ParamSpec((cfg.out_channels,), "biases", b)
        return specs

    def apply(self, params: Params, x: Array, cfg: ConvConfig) -> Array:
        spatial = cfg.shape_in[1:]
        pp = pads(spatial, cfg.kernel, cfg.stride, cfg.padding, cfg.dilation)

        def conv(z: Array) -> Array:
            y = jax.lax.conv_general_dilated(
                z, params["weight"], per_axis(cfg.stride, self.dims), pp,
                rhs_dilation=per_axis(cfg.dilation, self.dims),
                dimension_numbers=_spec(self.dims), feature_group_count=cfg.groups)
            if "bias" in params:
                y = y + params["bias"].reshape(-1, *([1] * self.dims))
            return y

        return flat_apply(conv, jnp.asarray(x), cfg.shape_in)


@base.register
class Conv1d(_Conv):
    """``conv1d(out_channels, kernel, stride = 1, padding = 0, dilation = 1, groups = 1,
    bias = false, weight = uniform_sqrt)`` on a ``(channels, length)`` input."""

    name = "conv1d"
    dims = 1
    doc = ("1-D cross-correlation (NIR Conv1d, PyTorch Conv1d) on (C, L); weight "
           "(out, C / groups, k)")


@base.register
class Conv2d(_Conv):
    """``conv2d(out_channels, kernel, ...)`` on a ``(channels, height, width)`` input."""

    name = "conv2d"
    dims = 2
    doc = ("2-D cross-correlation (NIR Conv2d, PyTorch Conv2d) on (C, H, W); weight "
           "(out, C / groups, kh, kw)")
