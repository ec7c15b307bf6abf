"""The contract every module kind implements, and the registries that name them.

A *kind* (``linear``, ``tanh``, ``rate``, ``lif``...) is a small stateless object describing
one node of the module graph: which arguments it takes, its output size, its parameters
(shape, family, initialiser), and pure JAX functions that compute it. Kinds never hold
arrays; everything traced is passed in explicitly (equinox style: static structure,
arrays as leaves).

Shapes: activity is always ``(B, T, N)`` inside the compiler (a batch axis is added for
unbatched input). ``apply`` sees any leading axes; ``step`` sees ``(B, N)`` per time step;
state arrays are ``(B, *shape)``.

``cfg`` is a plain dict of the node's resolved arguments (numbers in SI units: seconds for
times) plus ``"dt"`` (the network's solver step, seconds).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

Array = Any  # a jax or numpy array
Params = Mapping[str, Array]
State = dict[str, Array]
Config = Mapping[str, Any]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


# --- initialisers ----------------------------------------------------------------------------


def _fan_in(shape: tuple[int, ...]) -> int:
    return int(shape[0]) if len(shape) else 1


def _kaiming(key: Array, shape: tuple[int, ...], args: tuple[float, ...]) -> Array:
    lim = float(np.sqrt(6.0 / _fan_in(shape)))
    return jax.random.uniform(key, shape, jnp.float32, -lim, lim)


def _xavier(key: Array, shape: tuple[int, ...], args: tuple[float, ...]) -> Array:
    lim = float(np.sqrt(6.0 / max(1, int(np.sum(shape)))))
    return jax.random.uniform(key, shape, jnp.float32, -lim, lim)


def _uniform_sqrt(key: Array, shape: tuple[int, ...], args: tuple[float, ...]) -> Array:
    lim = float(np.sqrt(1.0 / _fan_in(shape)))
    return jax.random.uniform(key, shape, jnp.float32, -lim, lim)


def _unit_eigs(key: Array, shape: tuple[int, ...], args: tuple[float, ...]) -> Array:
    return jax.random.normal(key, shape, jnp.float32) / float(np.sqrt(_fan_in(shape)))


def _normal(key: Array, shape: tuple[int, ...], args: tuple[float, ...]) -> Array:
    std = args[0] if len(args) == 1 else (args[1] if len(args) > 1 else 1.0)
    mean = args[0] if len(args) > 1 else 0.0
    return mean + std * jax.random.normal(key, shape, jnp.float32)


def _uniform(key: Array, shape: tuple[int, ...], args: tuple[float, ...]) -> Array:
    lo, hi = (args[0], args[1]) if len(args) == 2 else (0.0, 1.0)
    return jax.random.uniform(key, shape, jnp.float32, lo, hi)


def _constant(key: Array, shape: tuple[int, ...], args: tuple[float, ...]) -> Array:
    return jnp.full(shape, args[0] if args else 0.0, jnp.float32)


# name -> (function, accepted argument counts, usage)
INITIALISERS: dict[str, tuple[Callable[..., Array], tuple[int, ...], str]] = {
    "kaiming": (_kaiming, (0,), "kaiming"),
    "xavier": (_xavier, (0,), "xavier"),
    "uniform_sqrt": (_uniform_sqrt, (0,), "uniform_sqrt"),
    "unit_eigs": (_unit_eigs, (0,), "unit_eigs"),
    "normal": (_normal, (0, 1, 2), "normal(std) or normal(mean, std)"),
    "uniform": (_uniform, (0, 2), "uniform(lo, hi)"),
    "constant": (_constant, (1,), "constant(value)"),
    "zeros": (_constant, (0,), "zeros"),
    "ones": (lambda k, s, a: jnp.ones(s, jnp.float32), (0,), "ones"),
}


@dataclass(frozen=True)
class Init:
    """A parameter initialiser: ``Init("kaiming")``, ``Init("normal", (0.1,))``,
    ``Init("constant", (20e-3,))``. Arguments are already in SI units.

    >>> Init("constant", (2.0,))(jax.random.PRNGKey(0), (3,)).tolist()
    [2.0, 2.0, 2.0]
    """

    name: str
    args: tuple[float, ...] = ()

    def __call__(self, key: Array, shape: tuple[int, ...]) -> Array:
        fn = INITIALISERS[self.name][0]
        return fn(key, tuple(int(s) for s in shape), self.args)

    def describe(self) -> str:
        if not self.args:
            return self.name
        return f"{self.name}({', '.join(f'{a:g}' for a in self.args)})"

    def bounds(self) -> tuple[float, float] | None:
        """The closed range of values this initialiser can produce (None when unbounded)."""
        if self.name in ("constant", "zeros", "ones"):
            v = 1.0 if self.name == "ones" else (self.args[0] if self.args else 0.0)
            return (v, v)
        if self.name == "uniform":
            lo, hi = self.args if len(self.args) == 2 else (0.0, 1.0)
            return (lo, hi)
        return None


def constant(value: float) -> Init:
    return Init("constant", (float(value),))


def init_of(cfg: Config, name: str, default: Init) -> Init:
    """The initialiser ``cfg[name]`` asks for: an :class:`Init`, a plain number (a constant),
    or ``None``/absent (``default``).

    >>> init_of({"tau": 0.02}, "tau", Init("ones"))
    Init(name='constant', args=(0.02,))
    """
    value = cfg.get(name)
    if value is None:
        return default
    if isinstance(value, Init):
        return value
    if isinstance(value, bool):
        raise TypeError(f"Expected an initialiser or a number for {name!r}, got {value!r}")
    return constant(float(value))


def linear_recurrence(a: Array, b: Array, x0: Array) -> Array:
    """All states of ``x_t = a_t * x_{t-1} + b_t`` along axis 1 of ``b`` (``(B, T, ...)``),
    starting from ``x0`` (``(B, ...)``), by a parallel ``lax.associative_scan`` (log-depth
    in ``T`` instead of a sequential loop). ``a`` broadcasts against ``b``.

    >>> linear_recurrence(jnp.full((1, 3, 1), 0.5), jnp.ones((1, 3, 1)), jnp.zeros((1, 1)))[0, :, 0]
    Array([1.  , 1.5 , 1.75], dtype=float32)
    """
    a = jnp.broadcast_to(a, b.shape)
    # fold the initial state into the first input so the scan starts from zero
    b = b.at[:, 0].add(a[:, 0] * x0)

    def combine(left: tuple[Array, Array], right: tuple[Array, Array]) -> tuple[Array, Array]:
        a_l, b_l = left
        a_r, b_r = right
        return a_l * a_r, a_r * b_l + b_r

    return jax.lax.associative_scan(combine, (a, b), axis=1)[1]


# --- arguments and parameters ----------------------------------------------------------------


@dataclass(frozen=True)
class Arg:
    """One argument a kind accepts.

    ``type`` is one of ``"int"`` (a size), ``"float"``, ``"time"`` (needs a time unit or a
    plain number of seconds), ``"bool"``, ``"activation"`` (a name from
    :data:`ACTIVATIONS`), ``"init"`` (an initialiser or a constant, for the parameter of
    the same name), ``"str"`` (a name; one of ``choices`` when given).
    """

    name: str
    type: str
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple[str, ...] = ()  # for type "str": the names it accepts (empty: any)


@dataclass(frozen=True)
class ParamSpec:
    """A parameter of one node: its shape, family (``weights``, ``taus``, ``biases``,
    ``thresholds``), and default initialiser."""

    shape: tuple[int, ...]
    family: str
    init: Init


class Kind:
    """Base class of module kinds; subclasses are registered with :func:`register`.

    Subclasses set the class variables and override the methods that apply: stateless
    kinds override :meth:`apply`; stateful kinds override :meth:`state_shapes`,
    :meth:`step` and :meth:`output` (and may override :meth:`scan` with a faster
    whole-sequence evaluation that gives the same result).
    """

    name: ClassVar[str] = ""
    stateful: ClassVar[bool] = False
    args: ClassVar[tuple[Arg, ...]] = ()
    doc: ClassVar[str] = ""
    # the Rockpool class this kind reproduces, for printing and docs
    rockpool: ClassVar[str] = ""

    # -- structure (static, run once at graph-build time) --
    def size_out(self, size_in: int, cfg: Config) -> int:
        """Output width given the input width (default: unchanged)."""
        return size_in

    def size_in_rule(self, size_in: int, cfg: Config) -> str | None:
        """Return an error message when ``size_in`` is not acceptable, else ``None``."""
        return None

    def params(self, size_in: int, size_out: int, cfg: Config) -> dict[str, ParamSpec]:
        return {}

    def state_shapes(self, size_in: int, size_out: int, cfg: Config) -> dict[str, tuple[int, ...]]:
        """Per-sample state shapes (the compiler adds the batch axis)."""
        return {}

    def noise_shape(self, size_in: int, size_out: int, cfg: Config) -> tuple[int, ...] | None:
        """Per-step, per-sample shape of the noise this node draws; ``None`` when it draws
        none (``noise_std == 0``: no dead work)."""
        return None

    def record_keys(self, cfg: Config) -> tuple[str, ...]:
        """Names of the internal traces :meth:`step` records (e.g. ``vmem``, ``isyn``)."""
        return ()

    # -- computation (pure, traced) --
    def apply(self, params: Params, x: Array, cfg: Config) -> Array:
        """Stateless kinds: map input ``(..., N_in)`` to output ``(..., N_out)``."""
        raise NotImplementedError

    def prepare(self, params: Params, cfg: Config) -> Params:
        """Values computed once per evolution, outside the time loop (e.g. decay factors
        ``exp(-dt / tau)``); the compiler passes the result to :meth:`step` and
        :meth:`scan`. Default: the parameters unchanged."""
        return params

    def init_state(self, size_in: int, size_out: int, cfg: Config, batch: int) -> State:
        shapes = self.state_shapes(size_in, size_out, cfg)
        return {k: jnp.zeros((batch, *s), jnp.float32) for k, s in shapes.items()}

    def step(
        self, params: Params, state: State, x_t: Array, noise_t: Array | None, cfg: Config
    ) -> tuple[State, Array, dict[str, Array]]:
        """Stateful kinds: one Euler step. ``x_t`` is ``(B, N_in)``; returns the new state,
        the output ``(B, N_out)`` and the recorded internals (keys of :meth:`record_keys`)."""
        raise NotImplementedError

    def output(self, params: Params, state: State, cfg: Config) -> Array:
        """The output implied by ``state`` alone: what a recurrent (one-step delayed) edge
        out of this node carries before the first step."""
        raise NotImplementedError

    def scan(
        self,
        params: Params,
        state: State,
        x: Array,
        noise: Array | None,
        cfg: Config,
        record: bool,
    ) -> tuple[State, Array, dict[str, Array]]:
        """Evolve over a whole ``(B, T, N_in)`` sequence. Default: ``lax.scan`` of
        :meth:`step` (time-major inside). Returns final state, ``(B, T, N_out)`` output and
        ``(B, T, ...)`` traces (empty unless ``record``)."""

        xs = (jnp.swapaxes(x, 0, 1), None if noise is None else jnp.swapaxes(noise, 0, 1))

        def body(s: State, inp: tuple[Array, Array | None]) -> tuple[State, Any]:
            s, y, rec = self.step(params, s, inp[0], inp[1], cfg)
            return s, (y, rec if record else {})

        state, (y, rec) = jax.lax.scan(body, state, xs, unroll=int(cfg.get("unroll", 1)))
        rec = {k: jnp.swapaxes(v, 0, 1) for k, v in rec.items()}
        return state, jnp.swapaxes(y, 0, 1), rec


# --- registries ------------------------------------------------------------------------------

KINDS: dict[str, Kind] = {}


def register(cls: type[Kind]) -> type[Kind]:
    """Class decorator adding a kind to :data:`KINDS` under ``cls.name``."""
    if cls.name in KINDS:
        raise ValueError(f"module kind {cls.name!r} registered twice")
    KINDS[cls.name] = cls()
    return cls


# Activation functions for ``rate(activation = NAME)``, written ``act(x, threshold)`` as in
# Rockpool's RateJax (note: Rockpool's "sigmoid" there is ``(tanh(x - t) + 1) / 2``).
ACTIVATIONS: dict[str, Callable[[Array, Array], Array]] = {
    "relu": lambda x, t: (x - t) * ((x - t) > 0),
    "tanh": lambda x, t: jnp.tanh(x - t),
    "sigmoid": lambda x, t: (jnp.tanh(x - t) + 1) / 2,
    "lrelu": lambda x, t: (x - t) * ((x - t) >= 0) + 1e-2 * ((x - t) < 0),
    "identity": lambda x, t: x - t,
}
