"""Instantaneous element-wise activations (Rockpool ``InstantJax(shape, fn)``).

Each is its own stateless kind that keeps the size: ``tanh``, ``relu``, ``sigmoid``,
``softplus``, ``identity``, ``exp``, ``leaky_relu(slope)``, ``softmax(temperature)`` and
``logsoftmax(temperature)`` (the last two over the channel axis, per time step).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from ..ranges import FINITE, POSITIVE
from .base import Array, C, Kind, KindConfig, Params, arg, register


class Instant(Kind[C]):
    """Base of the element-wise kinds: ``apply`` is ``fn(x, cfg)`` over any leading axes."""

    stateful = False
    rockpool = "InstantJax"

    @staticmethod
    def fn(x: Array, cfg: Any) -> Array:
        raise NotImplementedError

    def apply(self, params: Params, x: Array, cfg: C) -> Array:
        return self.fn(x, cfg)


def _instant(name: str, config: type[C], fn: Callable[[Array, C], Array], doc: str
             ) -> type[Kind[C]]:
    cls = type(
        f"Instant_{name}",
        (Instant,),
        {"name": name, "doc": doc, "config": config, "fn": staticmethod(fn), "__doc__": doc},
    )
    return register(cls)


def channel_softmax(x: Array, temperature: float = 1.0) -> Array:
    """Softmax over the last (channel) axis, as Rockpool's ``jax_loss.softmax`` applied to
    each time step's vector.

    >>> channel_softmax(jnp.zeros((2, 4)))[0].tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    # the max is a constant shift (softmax is invariant to it): keep it out of the gradient
    logits = x - jax.lax.stop_gradient(jnp.max(x, axis=-1, keepdims=True))
    eta = jnp.exp(logits / temperature)
    return eta / jnp.sum(eta, axis=-1, keepdims=True)


def channel_logsoftmax(x: Array, temperature: float = 1.0) -> Array:
    """Log-softmax over the last (channel) axis, numerically stable (Rockpool
    ``jax_loss.logsoftmax`` per time step).

    >>> round(float(channel_logsoftmax(jnp.zeros((1, 2)))[0, 0]), 4)
    -0.6931
    """
    logits = x - jax.lax.stop_gradient(jnp.max(x, axis=-1, keepdims=True))
    scaled = logits / temperature
    return scaled - jnp.log(jnp.sum(jnp.exp(scaled), axis=-1, keepdims=True))


@dataclass(frozen=True, kw_only=True)
class SlopeConfig(KindConfig):
    slope: float = arg("float", 0.01, "negative-side slope", range=FINITE)


@dataclass(frozen=True, kw_only=True)
class TemperatureConfig(KindConfig):
    temperature: float = arg("float", 1.0, "softmax temperature", range=POSITIVE)


_instant("tanh", KindConfig, lambda x, c: jnp.tanh(x), "tanh(x)")
_instant("relu", KindConfig, lambda x, c: jax.nn.relu(x), "max(x, 0)")
_instant("sigmoid", KindConfig, lambda x, c: jax.nn.sigmoid(x), "logistic 1 / (1 + exp(-x))")
_instant("softplus", KindConfig, lambda x, c: jax.nn.softplus(x), "log(1 + exp(x))")
_instant("identity", KindConfig, lambda x, c: x, "x (a named pass-through)")
_instant("exp", KindConfig, lambda x, c: jnp.exp(x), "exp(x)")
_instant(
    "leaky_relu",
    SlopeConfig,
    lambda x, c: jax.nn.leaky_relu(x, c.slope),
    "x if x >= 0 else slope * x",
)
_instant(
    "softmax",
    TemperatureConfig,
    lambda x, c: channel_softmax(x, c.temperature),
    "softmax over channels at each time step",
)
_instant(
    "logsoftmax",
    TemperatureConfig,
    lambda x, c: channel_logsoftmax(x, c.temperature),
    "log-softmax over channels at each time step",
)
