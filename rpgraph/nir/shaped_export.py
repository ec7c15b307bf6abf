"""NIR export of the shape-aware kinds: ``conv1d``/``conv2d`` -> ``Conv1d``/``Conv2d``,
``sumpool2d``/``avgpool2d`` -> ``SumPool2d``/``AvgPool2d``, ``flatten`` -> ``Flatten``; neuron
parameters of shaped layers written with the layer's shape; input gains folded into the
convolutions that feed a neuron when they are one number per output channel.

The writers read a module as :class:`rpgraph.nir.export.DataNode` (``m.cfg``,
``m.shape_in``) and its parameters ``p``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import nir
import numpy as np

from ..modules.conv import pads, per_axis

Writer = Callable[[Any, Any, Any], nir.NIRNode]


def _padding(m: Any, dims: int) -> np.ndarray | str:
    pad = m.cfg.get("padding", 0)
    if isinstance(pad, str):
        return pad
    return np.array(per_axis(pad, dims, 0))


def _conv(m: Any, p: Any, out: Any) -> nir.NIRNode:
    dims = len(m.shape_in) - 1
    w = np.asarray(p["weight"], np.float64)
    bias = np.asarray(p["bias"], np.float64) if "bias" in p else np.zeros(w.shape[0])
    stride = np.array(per_axis(m.cfg.get("stride", 1), dims))
    dil = np.array(per_axis(m.cfg.get("dilation", 1), dims))
    pad = _padding(m, dims)
    groups = int(m.cfg.get("groups", 1))
    if dims == 1:
        return nir.Conv1d(input_shape=int(m.shape_in[1]), weight=w, stride=int(stride[0]),
                          padding=pad if isinstance(pad, str) else int(pad[0]),
                          dilation=int(dil[0]), groups=groups, bias=bias)
    return nir.Conv2d(input_shape=tuple(int(s) for s in m.shape_in[1:]), weight=w,
                      stride=stride, padding=pad, dilation=dil, groups=groups, bias=bias)


def _pool(m: Any, p: Any, out: Any) -> nir.NIRNode:
    k = per_axis(m.cfg["kernel"], 2)
    stride = m.cfg.get("stride")
    s = k if stride is None else per_axis(stride, 2)
    pad = np.array(per_axis(m.cfg.get("padding", 0), 2, 0))
    cls = nir.SumPool2d if m.kind == "sumpool2d" else nir.AvgPool2d
    return cls(kernel_size=np.array(k), stride=np.array(s), padding=pad)


def _flatten(m: Any, p: Any, out: Any) -> nir.NIRNode:
    return nir.Flatten(input_type={"input": np.array(m.shape_in)}, start_dim=0, end_dim=-1)


#: Kind -> (writer, NIR node type).
SHAPED_WRITERS: dict[str, tuple[Writer, str]] = {
    "conv1d": (_conv, "Conv1d"),
    "conv2d": (_conv, "Conv2d"),
    "sumpool2d": (_pool, "SumPool2d"),
    "avgpool2d": (_pool, "AvgPool2d"),
    "flatten": (_flatten, "Flatten"),
}


def shape_params(node: nir.NIRNode, shape: tuple[int, ...]) -> None:
    """Give a neuron node's per-neuron arrays (flat in rpgraph) the layer's ``shape``."""
    n = math.prod(shape)
    for name, value in vars(node).items():
        if isinstance(value, np.ndarray) and value.size == n and name not in (
                "input_type", "output_type"):
            setattr(node, name, value.reshape(shape))
    for t in ("input_type", "output_type"):
        types = getattr(node, t, None)
        if isinstance(types, dict):
            setattr(node, t, {k: np.array(shape) for k in types})


def is_conv(node: nir.NIRNode) -> bool:
    return isinstance(node, (nir.Conv1d, nir.Conv2d))


def _channel(node: nir.NIRNode, a: np.ndarray | None) -> np.ndarray | None:
    """``a`` (flat, per output element) as one value per output channel, or ``None`` when
    it varies inside a channel."""
    if a is None:
        return None
    g = np.asarray(a, np.float64).reshape(np.shape(node.weight)[0], -1)
    return g[:, 0] if np.allclose(g, g[:, :1], rtol=1e-12, atol=0) else None


def per_channel(node: nir.NIRNode, gain: np.ndarray | None, shift: np.ndarray | None) -> bool:
    """Whether a neuron's pending gain and constant input fold into convolution ``node``."""
    return is_conv(node) and (gain is None or _channel(node, gain) is not None) and (
        shift is None or _channel(node, shift) is not None)


def scaled_conv(node: Any, gain: np.ndarray | None, shift: np.ndarray | None) -> nir.NIRNode:
    """A convolution with its output channels times ``gain`` plus ``shift``."""
    g = _channel(node, gain)
    g = np.ones(np.shape(node.weight)[0]) if g is None else g
    sh = _channel(node, shift)
    w = np.asarray(node.weight, np.float64) * g.reshape(-1, *([1] * (node.weight.ndim - 1)))
    b = np.asarray(node.bias, np.float64) * g + (0.0 if sh is None else sh)
    fields = {k: v for k, v in vars(node).items()
              if k not in ("weight", "bias", "input_type", "output_type")}
    return type(node)(**{**fields, "weight": w, "bias": b})


__all__ = ["SHAPED_WRITERS", "is_conv", "pads", "per_channel", "scaled_conv", "shape_params"]
