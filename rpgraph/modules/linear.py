"""``linear``: a dense weight matrix with an optional bias (Rockpool ``LinearJax``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp

from . import base
from .base import Array, Init, KindConfig, Params, arg


def bias_init(bias: Init | bool) -> Init | None:
    """The bias initialiser that ``linear``'s ``bias`` argument asks for, or ``None`` for no
    bias.

    ``bias = false`` (default): no bias; ``bias = true``: Rockpool's default bias
    initialiser ``uniform_sqrt`` (U(+-sqrt(1/out))); ``bias = <initialiser or number>``:
    a bias with that initialiser (Rockpool: concrete bias data implies ``has_bias``).

    >>> bias_init(True)
    Init(name='uniform_sqrt', args=())
    """
    if bias is False:
        return None
    if bias is True:
        return Init("uniform_sqrt")
    return bias


@dataclass(frozen=True, kw_only=True)
class LinearConfig(KindConfig):
    out: int = arg("int", doc="output size")
    bias: Init | bool = arg(
        "init", False, "false: no bias; true: bias ~ U(+-sqrt(1/out)); or the bias initialiser")
    weight: Init = arg("init", Init("kaiming"), "initialiser of the weights")


@base.register
class Linear(base.Kind[LinearConfig]):
    """``linear(out, bias = false, weight = kaiming)``; ``bias`` is ``false``, ``true``
    (``uniform_sqrt``) or an initialiser / number (see :func:`bias_init`).

    ``y = x @ weight + bias`` with ``weight`` of shape ``(N_in, out)``.
    """

    name = "linear"
    stateful = False
    rockpool = "LinearJax"
    vector_only = True
    doc = "Dense weights y = x @ W (+ b). W: (N_in, out), Kaiming U(+-sqrt(6/N_in)) by default."

    def size_out(self, size_in: int, cfg: LinearConfig) -> int:
        return cfg.out

    def size_in_rule(self, size_in: int, cfg: LinearConfig) -> str | None:
        if cfg.out < 1:
            return f"Expected linear output size >= 1, got {cfg.out}"
        return None

    def params(self, size_in: int, size_out: int, cfg: LinearConfig) -> base.ParamSpecs:
        specs = {"weight": base.ParamSpec((size_in, size_out), "weights", cfg.weight)}
        b_init = bias_init(cfg.bias)
        if b_init is not None:
            specs["bias"] = base.ParamSpec((size_out,), "biases", b_init)
        return specs

    def apply(self, params: Params, x: Array, cfg: LinearConfig) -> Array:
        y: Any = jnp.dot(x, params["weight"])
        if "bias" in params:
            y = y + params["bias"]
        return y
