"""``linear``: a dense weight matrix with an optional bias (Rockpool ``LinearJax``)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from .base import Arg, Array, Config, Init, Kind, Params, ParamSpec, init_of, register


def bias_init(cfg: Config) -> Init | None:
    """The bias initialiser ``cfg["bias"]`` asks for, or ``None`` for no bias.

    ``bias = false`` (default): no bias; ``bias = true``: Rockpool's default bias
    initialiser ``uniform_sqrt`` (U(+-sqrt(1/out))); ``bias = <initialiser or number>``:
    a bias with that initialiser (Rockpool: concrete bias data implies ``has_bias``).

    >>> bias_init({"out": 3, "bias": True})
    Init(name='uniform_sqrt', args=())
    """
    value = cfg.get("bias", False)
    if value is None or value is False:
        return None
    if value is True:
        return Init("uniform_sqrt")
    return init_of(cfg, "bias", Init("uniform_sqrt"))


@register
class Linear(Kind):
    """``linear(out, bias = false, weight = kaiming)``; ``bias`` is ``false``, ``true``
    (``uniform_sqrt``) or an initialiser / number (see :func:`bias_init`).

    ``y = x @ weight + bias`` with ``weight`` of shape ``(N_in, out)``.
    """

    name = "linear"
    stateful = False
    rockpool = "LinearJax"
    doc = "Dense weights y = x @ W (+ b). W: (N_in, out), Kaiming U(+-sqrt(6/N_in)) by default."
    args = (
        Arg("out", "int", doc="output size"),
        Arg(
            "bias",
            "init",
            False,
            doc="false: no bias; true: bias ~ U(+-sqrt(1/out)); or the bias initialiser",
        ),
        Arg("weight", "init", Init("kaiming"), doc="initialiser of the weights"),
    )

    def size_out(self, size_in: int, cfg: Config) -> int:
        return int(cfg["out"])

    def size_in_rule(self, size_in: int, cfg: Config) -> str | None:
        if int(cfg["out"]) < 1:
            return f"Expected linear output size >= 1, got {cfg['out']}"
        return None

    def params(self, size_in: int, size_out: int, cfg: Config) -> dict[str, ParamSpec]:
        w_init = init_of(cfg, "weight", Init("kaiming"))
        specs = {"weight": ParamSpec((size_in, size_out), "weights", w_init)}
        b_init = bias_init(cfg)
        if b_init is not None:
            specs["bias"] = ParamSpec((size_out,), "biases", b_init)
        return specs

    def apply(self, params: Params, x: Array, cfg: Config) -> Array:
        y: Any = jnp.dot(x, params["weight"])
        if "bias" in params:
            y = y + params["bias"]
        return y
