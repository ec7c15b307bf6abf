"""NIR's shape-aware nodes read into rpgraph kinds: ``Conv1d``/``Conv2d`` -> ``conv1d`` /
``conv2d``, ``SumPool2d``/``AvgPool2d`` -> ``sumpool2d``/``avgpool2d``, ``Flatten`` ->
``flatten``; and neuron parameters of shaped layers (``(C, H, W)``) flattened channel-major,
the order rpgraph keeps activity in.

Each converter returns a :class:`~rpgraph.nir.model.Conv` or the reason it cannot.
"""

from __future__ import annotations

import copy
from typing import Any

import nir
import numpy as np

from ..ast import Bool, Call, Expr, Name, Num, TupleExpr

PADDINGS = ("same", "valid")


def _ints(v: Any, dims: int) -> tuple[int, ...]:
    a = np.atleast_1d(np.asarray(v)).astype(np.int64).reshape(-1)
    return tuple(int(x) for x in (np.repeat(a, dims) if a.size == 1 else a))


def int_expr(t: tuple[int, ...]) -> Expr:
    """``3`` for one value (or equal ones), ``(3, 2)`` otherwise, as the spec writes it.

    >>> from rpgraph.fmt import format_expr
    >>> format_expr(int_expr((3, 3))), format_expr(int_expr((2, 1)))
    ('3', '(2, 1)')
    """
    if len(set(t)) == 1:
        return Num(float(t[0]), is_int=True)
    return TupleExpr(tuple(Num(float(x), is_int=True) for x in t))


def _shown(t: tuple[int, ...]) -> str:
    return str(t[0]) if len(set(t)) == 1 else str(t)


def _call(func: str, *args: Expr, **kwargs: Expr) -> Name | Call:
    return Call(func, args, tuple(kwargs.items())) if args or kwargs else Name(func)


def conv_call(node: Any) -> tuple[str, Name | Call, dict[str, np.ndarray]] | str:
    """``(kind, call, params)`` of a NIR ``Conv1d``/``Conv2d``, or why it cannot be read."""
    w = np.asarray(node.weight, np.float64)
    dims = 1 if isinstance(node, nir.Conv1d) else 2
    if w.ndim != dims + 2:
        return f"weight of shape {w.shape} (expected (out, in / groups, *kernel))"
    kw: dict[str, Expr] = {"kernel": int_expr(tuple(w.shape[2:]))}
    stride, dil = _ints(node.stride, dims), _ints(node.dilation, dims)
    if stride != (1,) * dims:
        kw["stride"] = int_expr(stride)
    if isinstance(node.padding, str):
        if node.padding not in PADDINGS:
            return (f"padding '{node.padding}' (zero padding only: an integer per axis, "
                    "'same' or 'valid')")
        kw["padding"] = Name(node.padding)
    elif min(_ints(node.padding, dims)) < 0:  # NIR holds any integer; PyTorch refuses these
        return (f"padding {_shown(_ints(node.padding, dims))} (zero padding only: a "
                "non-negative integer per axis, 'same' or 'valid')")
    elif any(_ints(node.padding, dims)):
        kw["padding"] = int_expr(_ints(node.padding, dims))
    if dil != (1,) * dims:
        kw["dilation"] = int_expr(dil)
    groups = int(np.asarray(node.groups))
    if groups != 1:
        kw["groups"] = Num(float(groups), is_int=True)
    params = {"weight": w.copy()}
    bias = np.atleast_1d(np.asarray(node.bias, np.float64))
    if bias.size == w.shape[0]:
        params["bias"] = bias.reshape(-1).copy()
        kw["bias"] = Bool(True)
    elif bias.size > 1:
        return f"bias of shape {bias.shape} for {w.shape[0]} output channels"
    kind = f"conv{dims}d"
    return kind, _call(kind, Num(float(w.shape[0]), is_int=True), **kw), params


def pool_call(node: Any) -> tuple[str, Name | Call] | str:
    """``(kind, call)`` of a NIR ``SumPool2d``/``AvgPool2d``."""
    kind = "sumpool2d" if isinstance(node, nir.SumPool2d) else "avgpool2d"
    k = _ints(node.kernel_size, 2)
    s = _ints(node.stride, 2)
    kw: dict[str, Expr] = {}
    if s != k:
        kw["stride"] = int_expr(s)
    pad = _ints(node.padding, 2)
    if min(pad) < 0:
        return f"padding {_shown(pad)} (zero padding only: a non-negative integer per axis)"
    if any(pad):
        kw["padding"] = int_expr(pad)
    return kind, _call(kind, int_expr(k), **kw)


def flatten_ok(node: Any) -> str | None:
    """Why a NIR ``Flatten`` is not rpgraph's whole-sample ``flatten``, or ``None``."""
    shape = np.asarray(node.input_type.get("input", []))
    rank = max(int(shape.size), 1)
    start, end = int(node.start_dim), int(node.end_dim)
    if start % rank != 0 or end % rank != rank - 1:
        return (f"start_dim {start}, end_dim {end} over an input of shape "
                f"{tuple(int(x) for x in shape)} (only flattening the whole sample)")
    return None


def flat_node(node: Any) -> Any:
    """A copy of a neuron node with every parameter array of more than one axis flattened
    channel-major (``(C, H, W)`` -> ``(C * H * W,)``), as rpgraph stores activity."""
    out = copy.copy(node)
    for name, value in vars(node).items():
        if name in ("metadata", "input_type", "output_type"):
            continue
        a = np.asarray(value) if isinstance(value, np.ndarray) else None
        if a is not None and a.ndim > 1:
            setattr(out, name, a.reshape(-1))
    return out


def shape_of(t: Any) -> tuple[int, ...]:
    """A NIR port type's shape: ``{"input": array([2, 34, 34])}`` -> ``(2, 34, 34)``."""
    a = np.asarray(t.get("input", t.get("output")) if isinstance(t, dict) else t)
    return tuple(int(x) for x in a.reshape(-1))
