"""Instantaneous element-wise activations (Rockpool ``InstantJax(shape, fn)``).

Each is its own stateless kind that keeps the size: ``tanh``, ``relu``, ``sigmoid``,
``softplus``, ``identity``, ``exp``, ``leaky_relu(slope)``, ``softmax(temperature)`` and
``logsoftmax(temperature)`` (the last two over the channel axis, per time step).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from .base import Arg, Array, Config, Kind, Params, register


class Instant(Kind):
    """Base of the element-wise kinds: ``apply`` is ``fn(x)`` over any leading axes."""

    stateful = False
    rockpool = "InstantJax"

    @staticmethod
    def fn(x: Array, cfg: Config) -> Array:
        raise NotImplementedError

    def apply(self, params: Params, x: Array, cfg: Config) -> Array:
        return self.fn(x, cfg)


def _instant(name: str, fn: Callable[[Array, Config], Array], doc: str,
             args: tuple[Arg, ...] = ()) -> type[Kind]:
    cls = type(
        f"Instant_{name}",
        (Instant,),
        {"name": name, "doc": doc, "args": args, "fn": staticmethod(fn), "__doc__": doc},
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


_TEMPERATURE = Arg("temperature", "float", 1.0, doc="softmax temperature (> 0)")

_instant("tanh", lambda x, c: jnp.tanh(x), "tanh(x)")
_instant("relu", lambda x, c: jax.nn.relu(x), "max(x, 0)")
_instant("sigmoid", lambda x, c: jax.nn.sigmoid(x), "logistic 1 / (1 + exp(-x))")
_instant("softplus", lambda x, c: jax.nn.softplus(x), "log(1 + exp(x))")
_instant("identity", lambda x, c: x, "x (a named pass-through)")
_instant("exp", lambda x, c: jnp.exp(x), "exp(x)")
_instant(
    "leaky_relu",
    lambda x, c: jax.nn.leaky_relu(x, float(c.get("slope", 0.01))),
    "x if x >= 0 else slope * x",
    (Arg("slope", "float", 0.01, doc="negative-side slope"),),
)
_instant(
    "softmax",
    lambda x, c: channel_softmax(x, float(c.get("temperature", 1.0))),
    "softmax over channels at each time step",
    (_TEMPERATURE,),
)
_instant(
    "logsoftmax",
    lambda x, c: channel_logsoftmax(x, float(c.get("temperature", 1.0))),
    "log-softmax over channels at each time step",
    (_TEMPERATURE,),
)
