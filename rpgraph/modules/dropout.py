"""``dropout(p)``: inverted dropout, active only while training.

While training (the loss the training step differentiates) each element of the node's input
is kept with probability ``1 - p`` and scaled by ``1 / (1 - p)``, so its expected value is
unchanged; in ``evolve``, ``Program.loss`` and every evaluation it is the identity. The
mask of the whole ``(B, T, *shape)`` series is drawn before any time loop, each time step
``t`` from ``fold_in(key, t)`` (:meth:`train_mask` draws one step; the compiler folds in
the step), so a hoisted node, one stepped inside a loop and one in ``remat`` chunks drop
the same elements. The key is one the training step derives from ``(seed, step)`` (as noise
keys are), so a resumed run drops exactly the same elements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..ranges import Range
from . import base
from .base import Array, KindConfig, Params, arg

if TYPE_CHECKING:  # the real modules; at run time, imported on first use
    import jax
    import jax.numpy as jnp
else:
    from ..lazy_jax import jax, jnp

#: ``0 <= p < 1``: ``p = 1`` would drop everything and scale by infinity
PROBABILITY = Range(0, 1, hi_open=True)


@dataclass(frozen=True, kw_only=True)
class DropoutConfig(KindConfig):
    p: float = arg("float", doc="probability of dropping each element while training",
                   range=PROBABILITY)


@base.register
class Dropout(base.Kind[DropoutConfig]):
    """``dropout(p)``: identity in evaluation; while training, each element zeroed with
    probability ``p`` and the kept ones scaled by ``1 / (1 - p)``. Any shape."""

    name = "dropout"
    stateful = False
    train_random = True
    doc = "inverted dropout while training (keep 1 - p, scale 1 / (1 - p)); identity otherwise"

    def apply(self, params: Params, x: Array, cfg: DropoutConfig) -> Array:
        return x

    def train_mask(self, key: Array, shape: base.Shape, cfg: DropoutConfig) -> Array | None:
        """The scaled keep mask: ``1 / (1 - p)`` with probability ``1 - p``, else 0.

        >>> cfg = Dropout().configure({"p": 0.5}, dt=1e-3)
        >>> m = Dropout().train_mask(jax.random.PRNGKey(0), (1000,), cfg)
        >>> sorted(set(m.tolist())), 400 < int((m > 0).sum()) < 600
        ([0.0, 2.0], True)
        """
        if cfg.p == 0:
            return None
        keep = jax.random.bernoulli(key, 1.0 - cfg.p, tuple(shape))
        return keep.astype(jnp.float32) * jnp.float32(1.0 / (1.0 - cfg.p))
