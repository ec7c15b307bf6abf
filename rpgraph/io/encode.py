"""Encoders: dense arrays to network inputs over time (imports only :mod:`rpgraph.errors`).

Static intensities ``(N, C)`` (pixels, features, scaled to [0, 1]) become ``(N, T, C)``:

* :func:`rate` -- ``x * gain`` held for ``length`` steps: an analog current;
* :func:`poisson` -- a Bernoulli spike per step with probability ``clip(x * gain, 0, 1)``;
* :func:`latency` -- one spike per channel with ``p = clip(x * gain, 0, 1) > 0``, at step
  ``round((1 - p) * (length - 1))``: brighter earlier, zero never.

A signal over time ``(N, T, C)`` becomes spikes ``(N, T, 2 C)`` with :func:`delta`: an "up"
spike (channel ``c``) each time the signal has risen by ``threshold`` since the last spike of
that channel, a "down" spike (channel ``C + c``) each time it has fallen by ``threshold``.

:data:`ENCODERS` holds them by name; :func:`encode` looks one up and checks its arguments.
The ``digits`` data set and the ``encoded(path = ...)`` data set use them.

>>> encode(np.array([[0.0, 1.0]]), "latency", length=3).tolist()
[[[0.0, 1.0], [0.0, 0.0], [0.0, 0.0]]]
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..errors import DataError, did_you_mean, known_list

__all__ = ["ENCODERS", "delta", "encode", "latency", "poisson", "rate"]


def rate(x: np.ndarray, *, length: int, gain: float = 1.0, **_: object) -> np.ndarray:
    """``x * gain`` held for ``length`` steps, float32 ``(N, length, C)``.

    >>> rate(np.array([[0.5]]), length=2, gain=2.0).tolist()
    [[[1.0], [1.0]]]
    """
    n, channels = x.shape
    return np.ascontiguousarray(
        np.broadcast_to((x * gain)[:, None, :], (n, length, channels)), dtype=np.float32)


def poisson(x: np.ndarray, *, length: int, gain: float = 1.0,
            rng: np.random.RandomState | None = None, **_: object) -> np.ndarray:
    """Bernoulli spikes with probability ``clip(x * gain, 0, 1)`` per step (draws
    ``rng.rand(N, length, C)``; a fresh ``RandomState(0)`` without ``rng``).

    >>> poisson(np.array([[0.0, 1.0]]), length=3).sum(axis=1).tolist()
    [[0.0, 3.0]]
    """
    rng = rng if rng is not None else np.random.RandomState(0)
    n, channels = x.shape
    prob = np.clip(x * gain, 0.0, 1.0)
    return (rng.rand(n, length, channels) < prob[:, None, :]).astype(np.float32)


def latency(x: np.ndarray, *, length: int, gain: float = 1.0, **_: object) -> np.ndarray:
    """One spike per channel at step ``round((1 - p) * (length - 1))`` with
    ``p = clip(x * gain, 0, 1)``; channels with ``p == 0`` stay silent.

    >>> latency(np.array([[1.0, 0.5, 0.0]]), length=5)[0].argmax(axis=0).tolist()
    [0, 2, 0]
    """
    n, channels = x.shape
    prob = np.clip(x * gain, 0.0, 1.0)
    out = np.zeros((n, length, channels), dtype=np.float32)
    sample, channel = np.nonzero(prob > 0)
    step = np.rint((1.0 - prob[sample, channel]) * (length - 1)).astype(np.int64)
    out[sample, step, channel] = 1.0
    return out


def delta(x: np.ndarray, *, threshold: float = 0.1, **_: object) -> np.ndarray:
    """Delta modulation of ``(N, T, C)`` signals into ``(N, T, 2 C)`` up/down spikes.

    The reference level starts at the first value and moves by ``threshold`` per spike, so
    a jump of ``k * threshold`` in one step is ``k`` spikes in that step (counts, not 0/1).

    >>> delta(np.array([[[0.0], [0.25], [0.0]]]), threshold=0.1)[0].tolist()
    [[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]]
    """
    n, steps, channels = x.shape
    out = np.zeros((n, steps, 2 * channels), dtype=np.float32)
    ref = x[:, 0, :].astype(np.float64)
    # a loop over time, not samples: the reference carries over steps (T is small here)
    for t in range(1, steps):
        change = (x[:, t, :] - ref) / threshold
        count = np.trunc(change)  # whole thresholds crossed, up (+) or down (-)
        out[:, t, :channels] = np.maximum(count, 0)
        out[:, t, channels:] = np.maximum(-count, 0)
        ref = ref + count * threshold
    return out


ENCODERS: dict[str, Callable[..., np.ndarray]] = {
    "rate": rate,
    "poisson": poisson,
    "latency": latency,
    "delta": delta,
}


def encode(
    x: np.ndarray,
    encoding: str,
    *,
    length: int = 50,
    gain: float = 1.0,
    threshold: float = 0.1,
    rng: np.random.RandomState | None = None,
    source: str = "encoder",
) -> np.ndarray:
    """Encode ``x`` with the encoder named ``encoding``: ``(N, C)`` intensities for
    ``rate``/``poisson``/``latency``, ``(N, T, C)`` signals for ``delta``.

    >>> encode(np.ones((2, 3)), "rate", length=4).shape
    (2, 4, 3)
    >>> encode(np.ones((2, 3)), "poison")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    rpgraph.errors.DataError: encoder: unknown encoding 'poison'
    """
    if encoding not in ENCODERS:
        raise DataError(
            f"{source}: unknown encoding '{encoding}'; expected one of {known_list(ENCODERS)}",
            hint=did_you_mean(encoding, ENCODERS))
    want = 3 if encoding == "delta" else 2
    if x.ndim != want:
        layout = "(N, T, C)" if want == 3 else "(N, C)"
        raise DataError(f"{source}: encoding '{encoding}' expects inputs shaped {layout}, "
                        f"got shape {tuple(int(d) for d in x.shape)}",
                        hint="'delta' encodes signals over time, the others static intensities")
    if length < 1:
        raise DataError(f"{source}: expected length >= 1, got {length}")
    if not (math.isfinite(gain) and gain >= 0):
        raise DataError(f"{source}: expected a finite gain >= 0, got {gain}")
    if not (math.isfinite(threshold) and threshold > 0):
        raise DataError(f"{source}: expected a finite threshold > 0, got {threshold}")
    return ENCODERS[encoding](x, length=length, gain=gain, threshold=threshold, rng=rng)
