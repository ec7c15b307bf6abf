"""Loss terms for the spec's loss expression language (Rockpool ``training.jax_loss``).

Every function is pure and jit/grad-safe. Shape mistakes are reported at trace time as
:class:`~rpgraph.errors.SpecShapeError` with an "Expected X, got Y" message.

:data:`LOSS_FUNCTIONS` maps the names usable in a spec's ``loss = ...`` to the functions;
:data:`METRICS` holds the non-differentiable reporting helpers (``accuracy``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import SpecShapeError

if TYPE_CHECKING:  # the real modules; at run time, imported on first use
    import jax
    import jax.numpy as jnp
else:
    from .lazy_jax import jax, jnp

Array = Any
LossFn = Callable[..., Array]


def _shape(x: Array) -> tuple[int, ...]:
    return tuple(jnp.shape(x))


def _check_target(fn: str, output: Array, target: Array) -> None:
    o, t = _shape(output), _shape(target)
    if t != o and t != ():
        raise SpecShapeError(f"{fn}: Expected a target of shape {o} (the output's) or a scalar, "
                             f"got {t}")


def mse(output: Array, target: Array) -> Array:
    """Mean squared error ``mean((output - target) ** 2)`` (Rockpool ``mse``).

    ``target`` has the output's shape, or is a scalar.

    >>> float(mse(jnp.array([1.0, 3.0]), jnp.array([0.0, 0.0])))
    5.0
    """
    _check_target("mse", output, target)
    return jnp.mean((output - target) ** 2)


def sse(output: Array, target: Array) -> Array:
    """Sum of squared errors ``sum((output - target) ** 2)`` (Rockpool ``sse``).

    >>> float(sse(jnp.array([1.0, 3.0]), 0.0))
    10.0
    """
    _check_target("sse", output, target)
    return jnp.sum((output - target) ** 2)


def _class_logits(fn: str, output: Array) -> Array:
    # (B, T, C) or (T, C) -> time-averaged logits (B, C) or (C,)
    if jnp.ndim(output) not in (2, 3):
        raise SpecShapeError(
            f"{fn}: Expected output logits of shape (B, T, C) or (T, C), got {_shape(output)}"
        )
    return jnp.mean(output, axis=-2)


def cross_entropy(output: Array, labels: Array) -> Array:
    """Softmax cross-entropy of time-averaged logits, averaged over the batch.

    ``output`` is ``(B, T, C)`` (or ``(T, C)``); the logits are its mean over time,
    ``(B, C)`` (or ``(C,)``). ``labels`` is either integer class labels of shape ``(B,)``
    (or a scalar), or target distributions (e.g. one-hot) of shape ``(B, C)`` (or ``(C,)``).
    Equals ``optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()``.

    >>> round(float(cross_entropy(jnp.zeros((1, 5, 4)), jnp.array([2]))), 4)
    1.3863
    """
    logits = _class_logits("cross_entropy", output)
    logp = jax.nn.log_softmax(logits, axis=-1)
    labels = jnp.asarray(labels)
    if _shape(labels) == _shape(logits)[:-1]:
        if not jnp.issubdtype(labels.dtype, jnp.integer):
            raise SpecShapeError(
                f"cross_entropy: Expected integer class labels of shape {_shape(labels)}, "
                f"got dtype {labels.dtype}"
            )
        picked = jnp.take_along_axis(logp, labels[..., None].astype(jnp.int32), axis=-1)
        return -jnp.mean(picked)
    if _shape(labels) == _shape(logits):
        return -jnp.mean(jnp.sum(labels * logp, axis=-1))
    b = _shape(logits)[:-1]
    raise SpecShapeError(
        f"cross_entropy: Expected integer labels of shape {b} or targets of shape "
        f"{_shape(logits)}, got {_shape(labels)}"
    )


def accuracy(output: Array, labels: Array) -> Array:
    """Fraction of samples whose time-averaged logits' argmax is the label (not
    differentiable; for reporting). ``labels`` as in :func:`cross_entropy`.

    >>> float(accuracy(jnp.array([[[0.0, 1.0]], [[1.0, 0.0]]]), jnp.array([1, 1])))
    0.5
    """
    logits = _class_logits("accuracy", output)
    labels = jnp.asarray(labels)
    if _shape(labels) == _shape(logits):
        labels = jnp.argmax(labels, axis=-1)
    elif _shape(labels) != _shape(logits)[:-1]:
        raise SpecShapeError(
            f"accuracy: Expected labels of shape {_shape(logits)[:-1]} or targets of shape "
            f"{_shape(logits)}, got {_shape(labels)}"
        )
    return jnp.mean((jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32))


def _leaves(fn: str, params: Any) -> list[Array]:
    leaves = jax.tree_util.tree_leaves(params)
    for leaf in leaves:
        if not hasattr(leaf, "shape") and not isinstance(leaf, (int, float)):
            raise SpecShapeError(f"{fn}: Expected a tree of parameter arrays, got {type(leaf)}")
    return leaves


def l2sqr(params: Any) -> Array:
    """Mean over parameters of each one's mean square (Rockpool ``l2sqr_norm`` for finite
    parameters; a NaN parameter gives NaN rather than being skipped); an empty tree costs 0.

    >>> float(l2sqr({"a": jnp.array([1.0, 3.0]), "b": jnp.array([2.0])}))
    4.5
    """
    leaves = _leaves("l2sqr", params)
    if not leaves:
        return jnp.float32(0.0)
    # Plain means, not Rockpool's nanmean: equal for finite parameters and a quarter faster
    # per training step on the seed network; a NaN parameter then shows up as a NaN loss,
    # which the trainer reports, instead of being silently skipped.
    return jnp.mean(jnp.stack([jnp.mean(jnp.asarray(p) ** 2) for p in leaves]))


def l1(params: Any) -> Array:
    """Mean over parameters of each one's mean absolute value (the lasso counterpart of
    :func:`l2sqr`); an empty tree costs 0. Takes a tree (``params``, ``h.*``) or an array.

    >>> float(l1({"a": jnp.array([1.0, -3.0]), "b": jnp.array([2.0])}))
    2.0
    """
    leaves = _leaves("l1", params)
    if not leaves:
        return jnp.float32(0.0)
    return jnp.mean(jnp.stack([jnp.mean(jnp.abs(jnp.asarray(p))) for p in leaves]))


def rate(activity: Array) -> Array:
    """Mean activity per neuron and time step: for a ``lif`` node (``rate(h)``) the mean
    number of spikes per neuron and step, averaged over batch, time and neurons; for other
    nodes or traces (``rate(h.vmem)``) their mean value.

    >>> float(rate(jnp.array([[[0.0, 1.0], [0.0, 1.0]]])))
    0.5
    """
    if isinstance(activity, dict):
        raise SpecShapeError("rate: Expected a node's output or a recorded state (rate(h), "
                             "rate(h.spikes)), got parameters")
    return jnp.mean(jnp.asarray(activity, jnp.float32))


def l0(params: Any, sigma: float = 1e-4) -> Array:
    """Smooth approximation of the fraction of non-zero parameters (Rockpool
    ``l0_norm_approx``): mean over parameters of ``mean(p**4 / (p**4 + sigma))``.

    >>> round(float(l0({"a": jnp.array([0.0, 1.0])})), 3)
    0.5
    """
    leaves = _leaves("l0", params)
    if not leaves:
        return jnp.float32(0.0)
    terms = [jnp.nanmean(jnp.asarray(p) ** 4 / (jnp.asarray(p) ** 4 + sigma)) for p in leaves]
    return jnp.nanmean(jnp.stack(terms))


def softmax(x: Array, temperature: float = 1.0) -> Array:
    """Rockpool ``softmax``: ``exp(l / t) / sum(exp(l / t))`` with ``l = x - max(x)``; the max
    and the sum run over the *whole* array (apply per vector for per-step softmax).

    >>> softmax(jnp.zeros(4)).tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    logits = x - jnp.max(x)
    eta = jnp.exp(logits / temperature)
    return eta / jnp.sum(eta)


def logsoftmax(x: Array, temperature: float = 1.0) -> Array:
    """Rockpool ``logsoftmax``: ``l / t - log(sum(exp(l / t)))``, ``l = x - max(x)`` over the
    whole array.

    >>> round(float(logsoftmax(jnp.zeros(2))[0]), 4)
    -0.6931
    """
    logits = x - jnp.max(x)
    return logits / temperature - jnp.log(jnp.sum(jnp.exp(logits / temperature)))


LOSS_FUNCTIONS: dict[str, LossFn] = {
    "mse": mse,
    "sse": sse,
    "cross_entropy": cross_entropy,
    "l2sqr": l2sqr,
    "l1": l1,
    "l0": l0,
    "rate": rate,
    "softmax": softmax,
    "logsoftmax": logsoftmax,
}
"""Functions callable in a spec's loss expression, by name."""

METRICS: dict[str, LossFn] = {"accuracy": accuracy}
"""Non-differentiable reporting helpers (never part of a loss)."""
