"""Pooling ``sumpool1d``/``sumpool2d`` and ``avgpool1d``/``avgpool2d`` (NIR ``SumPool2d``,
``AvgPool2d``; PyTorch ``LPPool``-free ``AvgPool`` with zero padding counted).

Stateless, applied once to the whole flattened series by one ``lax.reduce_window`` over
``(B*T, C, *spatial)`` (see :mod:`rpgraph.modules.conv`). ``stride`` defaults to the kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from . import base
from .base import Array, KindConfig, Params, Shape, arg
from .conv import IntOrTuple, flat_apply, pads, per_axis, rank_rule, window_out, window_rule


@dataclass(frozen=True, kw_only=True)
class PoolConfig(KindConfig):
    kernel: IntOrTuple = arg("ints", doc="window size: an int or one per spatial axis")
    stride: IntOrTuple | None = arg("ints", None, "stride (default: the kernel)")
    padding: IntOrTuple = arg("ints", 0, "zero padding on both sides per axis")


class _Pool(base.Kind[PoolConfig]):
    """Sum (``average = False``) or mean over windows of ``dims`` spatial axes, per channel."""

    stateful = False
    dims = 2
    average = False

    def _stride(self, cfg: PoolConfig) -> IntOrTuple:
        return cfg.kernel if cfg.stride is None else cfg.stride

    def shape_in_rule(self, shape_in: Shape, cfg: PoolConfig) -> str | None:
        return rank_rule(self.name, shape_in, self.dims) or window_rule(
            self.name, shape_in[1:], cfg.kernel, self._stride(cfg), cfg.padding)

    def shape_out(self, shape_in: Shape, cfg: PoolConfig) -> Shape:
        return (shape_in[0], *window_out(shape_in[1:], cfg.kernel, self._stride(cfg),
                                         cfg.padding))

    def size_out(self, size_in: int, cfg: PoolConfig) -> int:
        return math.prod(self.shape_out(cfg.shape_in, cfg))

    def apply(self, params: Params, x: Array, cfg: PoolConfig) -> Array:
        k = per_axis(cfg.kernel, self.dims)
        s = per_axis(self._stride(cfg), self.dims)
        pp = pads(cfg.shape_in[1:], cfg.kernel, s, cfg.padding)
        scale = 1.0 / math.prod(k) if self.average else 1.0

        def pool(z: Array) -> Array:
            y = jax.lax.reduce_window(z, 0.0, jax.lax.add, (1, 1, *k), (1, 1, *s),
                                      ((0, 0), (0, 0), *pp))
            return y * scale if self.average else y

        return flat_apply(pool, jnp.asarray(x), cfg.shape_in)


@base.register
class SumPool1d(_Pool):
    """``sumpool1d(kernel, stride = kernel, padding = 0)`` on ``(channels, length)``."""

    name = "sumpool1d"
    dims = 1
    doc = "sum over windows of (C, L), per channel"


@base.register
class SumPool2d(_Pool):
    """``sumpool2d(kernel, stride = kernel, padding = 0)`` on ``(channels, height, width)``
    (NIR ``SumPool2d``)."""

    name = "sumpool2d"
    dims = 2
    doc = "sum over windows of (C, H, W), per channel (NIR SumPool2d)"


@base.register
class AvgPool1d(_Pool):
    """``avgpool1d(kernel, stride = kernel, padding = 0)``: the window sum / kernel size."""

    name = "avgpool1d"
    dims = 1
    average = True
    doc = "mean over windows of (C, L), zero padding counted"


@base.register
class AvgPool2d(_Pool):
    """``avgpool2d(kernel, stride = kernel, padding = 0)`` (NIR ``AvgPool2d``)."""

    name = "avgpool2d"
    dims = 2
    average = True
    doc = "mean over windows of (C, H, W), zero padding counted (NIR AvgPool2d)"
