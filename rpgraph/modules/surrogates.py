"""Spike functions and their surrogate gradients, one registry: :data:`SURROGATES`.

A spiking kind (``lif``, ``alif``, ``if``) fires by :func:`spike`: in the forward pass a
Heaviside step (``spikes = binary``: at most one spike per step, on ``v > threshold``,
strictly, as NIR fires) or
Rockpool's spike count (``spikes = multi``: ``floor(v / threshold)`` for ``v >= threshold``,
clipped to ``max_spikes_per_dt``). The step has no useful derivative, so the backward pass
uses the node's ``surrogate``, written in a spec as ``surrogate = atan(alpha = 2)``.

With ``x = v - threshold`` (the distance to the threshold), the surrogate derivative
``ds/dv`` of each family is (``ds/dthreshold = -ds/dv`` except for ``pwl``)::

    pwl(window = 0.5)          1 / threshold          for v >= threshold - window, else 0
                               (Rockpool's LIFJax; also d/dthreshold = -v / threshold**2)
    fast_sigmoid(slope = 25)   1 / (1 + slope * |x|)**2                (Zenke's SuperSpike)
    atan(alpha = 2)            alpha / 2 / (1 + (pi / 2 * alpha * x)**2)          (snnTorch)
    sigmoid(slope = 5)         slope * sig(slope * x) * (1 - sig(slope * x))
    triangle(width = 1)        max(0, 1 - |x| / width) / width                (Bellec 2018)
    exponential(slope = 5)     slope / 2 * exp(-slope * |x|)                 (SLAYER-like)

Every argument must be positive (finite, ``> 0``): a zero width or slope is no gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real modules; at run time, imported on first use
    import jax
    import jax.numpy as jnp
else:
    from ..lazy_jax import jax, jnp

from ..lazy_jax import custom_jvp

Array = Any

# (v, threshold, args) -> ds/dv, the derivative the backward pass uses
Derivative = Callable[[Array, Array, Mapping[str, float]], Array]


def _pwl(v: Array, thr: Array, a: Mapping[str, float]) -> Array:
    return (v >= thr - a["window"]) / thr


def _fast_sigmoid(v: Array, thr: Array, a: Mapping[str, float]) -> Array:
    return 1.0 / (1.0 + a["slope"] * jnp.abs(v - thr)) ** 2


def _atan(v: Array, thr: Array, a: Mapping[str, float]) -> Array:
    alpha = a["alpha"]
    return alpha / 2 / (1 + (math.pi / 2 * alpha * (v - thr)) ** 2)


def _sigmoid(v: Array, thr: Array, a: Mapping[str, float]) -> Array:
    s = jax.nn.sigmoid(a["slope"] * (v - thr))
    return a["slope"] * s * (1 - s)


def _triangle(v: Array, thr: Array, a: Mapping[str, float]) -> Array:
    w = a["width"]
    return jnp.maximum(0.0, 1 - jnp.abs(v - thr) / w) / w


def _exponential(v: Array, thr: Array, a: Mapping[str, float]) -> Array:
    return a["slope"] / 2 * jnp.exp(-a["slope"] * jnp.abs(v - thr))


@dataclass(frozen=True)
class SurrogateFamily:
    """One named surrogate: its arguments (name, default) and derivative ``ds/dv``."""

    name: str
    args: tuple[tuple[str, float], ...]
    derivative: Derivative
    formula: str


#: Surrogate name -> family. ``pwl`` is Rockpool's and ``lif``'s default.
SURROGATES: dict[str, SurrogateFamily] = {f.name: f for f in (
    SurrogateFamily("pwl", (("window", 0.5),), _pwl,
                    "1 / threshold for v >= threshold - window, else 0"),
    SurrogateFamily("fast_sigmoid", (("slope", 25.0),), _fast_sigmoid,
                    "1 / (1 + slope * |v - threshold|)**2"),
    SurrogateFamily("atan", (("alpha", 2.0),), _atan,
                    "alpha / 2 / (1 + (pi / 2 * alpha * (v - threshold))**2)"),
    SurrogateFamily("sigmoid", (("slope", 5.0),), _sigmoid,
                    "slope * sig(slope * (v - threshold)) * (1 - sig(...))"),
    SurrogateFamily("triangle", (("width", 1.0),), _triangle,
                    "max(0, 1 - |v - threshold| / width) / width"),
    SurrogateFamily("exponential", (("slope", 5.0),), _exponential,
                    "slope / 2 * exp(-slope * |v - threshold|)"),
)}


@dataclass(frozen=True)
class Surrogate:
    """A chosen surrogate with its argument values: hashable, so it is static under jit.

    >>> Surrogate.make("atan").describe()
    'atan(alpha = 2)'
    >>> Surrogate.make("triangle", {"width": 0.5}).derivative(jnp.array(1.25), 1.0).item()
    1.0
    """

    name: str
    args: tuple[tuple[str, float], ...]

    @classmethod
    def make(cls, name: str, given: Mapping[str, float] | None = None) -> Surrogate:
        """The surrogate ``name`` with ``given`` arguments (the others at their defaults);
        ``KeyError``/``ValueError`` for an unknown name, argument or a value out of range."""
        fam = SURROGATES[name]
        given = dict(given or {})
        for k, v in given.items():
            if k not in dict(fam.args):
                raise KeyError(k)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"surrogate {name}: {k} must be positive, got {v:g}")
        return cls(name, tuple((k, float(given.get(k, d))) for k, d in fam.args))

    def describe(self) -> str:
        return f"{self.name}({', '.join(f'{k} = {v:g}' for k, v in self.args)})"

    def derivative(self, v: Array, thr: Array) -> Array:
        """``ds/dv`` at membrane ``v`` and threshold ``thr``."""
        return SURROGATES[self.name].derivative(v, thr, dict(self.args))


PWL = Surrogate.make("pwl")
SPIKE_MODES = ("multi", "binary")


@partial(custom_jvp, nondiff_argnums=(2, 3, 4))
def spike(v: Array, thr: Array, surrogate: Surrogate = PWL, binary: bool = False,
          max_spikes: float = 2.0**16) -> Array:
    """Spikes for membrane ``v`` and threshold ``thr``: ``v > thr`` when ``binary``, else
    Rockpool's count ``floor(v / thr)`` (0 below threshold) clipped to ``max_spikes``; the
    derivative is ``surrogate``'s.

    >>> spike(jnp.array([0.5, 1.0, 2.5]), jnp.ones(3)).tolist()
    [0.0, 1.0, 2.0]
    >>> spike(jnp.array([0.5, 1.0, 2.5]), jnp.ones(3), PWL, True).tolist()
    [0.0, 0.0, 1.0]
    """
    if binary:
        return (v > thr).astype(jnp.result_type(v, thr))
    return jnp.clip((v >= thr) * jnp.floor(v / thr), 0.0, max_spikes)


@spike.defjvp
def _spike_jvp(surrogate: Surrogate, binary: bool, max_spikes: float,
               primals: tuple[Array, Array], tangents: tuple[Array, Array]
               ) -> tuple[Array, Array]:
    v, thr = primals
    v_dot, thr_dot = tangents
    out = spike(v, thr, surrogate, binary, max_spikes)
    if surrogate.name == "pwl":
        # Rockpool's form: d(v / thr) inside the window, so the threshold's own tangent is
        # -v / thr**2 there (not -1 / thr): kept so lif's gradients equal LIFJax's
        window = (v >= thr - dict(surrogate.args)["window"])
        return out, window * (v_dot / thr - thr_dot * v / thr**2)
    return out, surrogate.derivative(v, thr) * (v_dot - thr_dot)


def check_spiking(cfg: Mapping[str, Any], given: Collection[str]) -> tuple[str, str] | None:
    """The spiking arguments that contradict each other (see ``Kind.check_args``).

    >>> check_spiking({"spikes": "binary"}, ("spikes", "max_spikes_per_dt"))[1]
    'max_spikes_per_dt applies to spikes = multi; spikes = binary fires at most one per step'
    """
    if cfg.get("spikes") == "binary" and "max_spikes_per_dt" in given:
        return ("max_spikes_per_dt", "max_spikes_per_dt applies to spikes = multi; "
                "spikes = binary fires at most one per step")
    if cfg.get("reset") == "v_reset" and cfg.get("spikes") == "multi" and "spikes" in given:
        return ("spikes", "reset = v_reset fires at most one spike per step; "
                "write spikes = binary")
    return None

