"""``flatten`` and ``unflatten(shape)``: shape-only kinds.

Activity is always stored flattened in channel-major (PyTorch, NIR) order, so both are the
identity on the data: they only change the shape the graph builder checks, and ``flatten``
makes imported dense weights line up with PyTorch's ``nn.Flatten``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import base
from .base import Array, KindConfig, Params, Shape, arg


@base.register
class Flatten(base.Kind[KindConfig]):
    """``flatten``: ``(C, H, W)`` -> ``(C * H * W,)`` in channel-major order."""

    name = "flatten"
    stateful = False
    doc = "(C, *spatial) -> (C * prod(spatial),), channel-major (PyTorch nn.Flatten)"

    def shape_out(self, shape_in: Shape, cfg: KindConfig) -> Shape:
        return (math.prod(shape_in),)

    def apply(self, params: Params, x: Array, cfg: KindConfig) -> Array:
        return x


@dataclass(frozen=True, kw_only=True)
class UnflattenConfig(KindConfig):
    shape: tuple[int, ...] | int = arg("ints", doc="the output shape, e.g. (2, 8, 8)")


@base.register
class Unflatten(base.Kind[UnflattenConfig]):
    """``unflatten(shape)``: a vector (or any tensor) of ``prod(shape)`` elements as
    ``shape``."""

    name = "unflatten"
    stateful = False
    doc = "(N,) -> shape, with N = prod(shape), channel-major"

    def _shape(self, cfg: UnflattenConfig) -> Shape:
        return cfg.shape if isinstance(cfg.shape, tuple) else (cfg.shape,)

    def shape_in_rule(self, shape_in: Shape, cfg: UnflattenConfig) -> str | None:
        shape = self._shape(cfg)
        if min(shape) < 1:
            return f"Expected a shape of positive sizes, got {shape}"
        if math.prod(shape) != math.prod(shape_in):
            return (f"cannot unflatten {math.prod(shape_in)} elements into shape "
                    f"{shape} ({math.prod(shape)} elements)")
        return None

    def shape_out(self, shape_in: Shape, cfg: UnflattenConfig) -> Shape:
        return self._shape(cfg)

    def apply(self, params: Params, x: Array, cfg: UnflattenConfig) -> Array:
        return x
