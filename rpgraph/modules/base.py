"""The contract every module kind implements, and the registries that name them.

A *kind* (``linear``, ``tanh``, ``rate``, ``lif``...) is a small stateless object describing
one node of the module graph: which arguments it takes, its output size, its parameters
(shape, family, initialiser), and pure JAX functions that compute it. Kinds never hold
arrays; everything traced is passed in explicitly (equinox style: static structure,
arrays as leaves).

Shapes: activity is always ``(B, T, N)`` inside the compiler (a batch axis is added for
unbatched input). ``apply`` sees any leading axes; ``step`` sees ``(B, N)`` per time step;
state arrays are ``(B, *shape)``.

``cfg`` is the node's configuration: an instance of the kind's :class:`KindConfig`
subclass, one frozen dataclass per kind whose fields declared with :func:`arg` are the
kind's arguments (numbers in SI units: seconds for times). Each default is stated there
once; :attr:`Kind.args` is derived from those fields, and :meth:`Kind.configure` builds a
config from a node's argument values plus ``dt`` (the network's solver step, seconds) and
the compiler's ``assoc_scan`` and ``unroll``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast, get_args

import numpy as np

from ..errors import did_you_mean
from ..ranges import NON_NEGATIVE, Range

if TYPE_CHECKING:  # the real modules; at run time, imported on first use
    import jax
    import jax.numpy as jnp
else:
    from ..lazy_jax import jax, jnp

Array = Any  # a jax or numpy array
Params = Mapping[str, Array]
# values a kind computes from its parameters once per evolution (e.g. decay factors)
Prepared = Mapping[str, Array]
State = dict[str, Array]
Traces = dict[str, Array]
Shape = tuple[int, ...]
Shapes = dict[str, Shape]  # per-sample state shapes by name
# what one step or a whole evolution returns: new state, output, recorded traces
Evolution = tuple[State, Array, Traces]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


# --- initialisers ----------------------------------------------------------------------------


def _fan_in(shape: tuple[int, ...]) -> int:
    # dense weights are (in, out); convolution weights (out, in / groups, *kernel) have
    # fan-in in / groups * prod(kernel), as PyTorch counts it
    if len(shape) > 2:
        return int(np.prod(shape[1:]))
    return int(shape[0]) if len(shape) else 1


# the half-widths of the shape-scaled uniform initialisers (one formula each, used to draw
# and to state their range without drawing)
_UNIFORM_LIMITS: dict[str, Callable[[tuple[int, ...]], float]] = {
    "kaiming": lambda shape: float(np.sqrt(6.0 / _fan_in(shape))),
    "xavier": lambda shape: float(np.sqrt(6.0 / max(1, int(np.sum(shape))))),
    "uniform_sqrt": lambda shape: float(np.sqrt(1.0 / _fan_in(shape))),
}


def _kaiming(key: Array, shape: tuple[int, ...], args: tuple[float, ...]) -> Array:
    lim = _UNIFORM_LIMITS["kaiming"](shape)
    return jax.random.uniform(key, shape, jnp.float32, -lim, lim)


def _xavier(key: Array, shape: tuple[int, ...], args: tuple[float, ...]) -> Array:
    lim = _UNIFORM_LIMITS["xavier"](shape)
    return jax.random.uniform(key, shape, jnp.float32, -lim, lim)


def _uniform_sqrt(key: Array, shape: tuple[int, ...], args: tuple[float, ...]) -> Array:
    lim = _UNIFORM_LIMITS["uniform_sqrt"](shape)
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


#: The ranges of each initialiser's arguments, by how many are given: ``normal(std)`` and
#: ``normal(mean, std)`` need ``std >= 0`` (``None``: any finite number).
INIT_ARG_RANGES: dict[str, dict[int, tuple[tuple[str, Range | None], ...]]] = {
    "normal": {1: (("std", NON_NEGATIVE),), 2: (("mean", None), ("std", NON_NEGATIVE))},
    "uniform": {2: (("lo", None), ("hi", None))},
    "constant": {1: (("value", None),)},
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

    def bounds(self, shape: tuple[int, ...] | None = None) -> tuple[float, float] | None:
        """The closed range of values this initialiser can produce (None when unbounded);
        with ``shape``, also the range the shape-scaled uniform ones draw from.

        >>> Init("kaiming").bounds(), Init("kaiming").bounds((6, 2))
        (None, (-1.0, 1.0))
        """
        lim = _UNIFORM_LIMITS.get(self.name)
        if lim is not None and shape is not None:
            return (-lim(shape), lim(shape))
        if self.name in ("constant", "zeros", "ones"):
            v = 1.0 if self.name == "ones" else (self.args[0] if self.args else 0.0)
            return (v, v)
        if self.name == "uniform":
            lo, hi = self.args if len(self.args) == 2 else (0.0, 1.0)
            return (lo, hi)
        return None


def constant(value: float) -> Init:
    return Init("constant", (float(value),))


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


def add_noise(x: Array, noise: Array | None, std: float, dt: float) -> Array:
    """``x`` plus standard-normal ``noise`` scaled by ``std * sqrt(dt)`` (a noise of
    standard deviation ``std`` after one second, as Rockpool scales it); ``x`` itself when
    the node draws no noise.

    >>> add_noise(jnp.ones(2), jnp.ones(2), 0.5, 0.04).tolist()
    [1.100000023841858, 1.100000023841858]
    """
    return x if noise is None else x + std * math.sqrt(dt) * noise


def recurrence_evolution(name: str, a: Array, b: Array, state: State, record: bool
                         ) -> Evolution:
    """The evolution of a kind whose one state ``name`` follows ``x_t = a x_{t-1} + b_t``
    (:func:`linear_recurrence` from ``state[name]``): final state, all states as the output,
    and the states as the trace ``name`` when ``record``.

    >>> s, y, rec = recurrence_evolution("x", 0.5, jnp.ones((1, 2, 1)), {"x": jnp.zeros((1, 1))},
    ...                                  False)
    >>> s["x"].tolist(), y.shape, rec
    ([[1.5]], (1, 2, 1), {})
    """
    xs = linear_recurrence(a, b, state[name])
    return {name: xs[:, -1]}, xs, ({name: xs} if record else {})


# --- arguments and configuration -------------------------------------------------------------

# what each argument type means is the graph builder's business (it converts the values)
ARG_TYPES = ("int", "float", "time", "bool", "activation", "init", "str", "ints", "surrogate")


@dataclass(frozen=True)
class Arg:
    """One argument a kind accepts, as the graph builder sees it (derived from the kind's
    config fields by :func:`args_of`).

    ``type`` is one of ``"int"`` (a size), ``"float"``, ``"time"`` (needs a time unit or a
    plain number of seconds), ``"bool"``, ``"activation"`` (a name from
    :data:`ACTIVATIONS`), ``"init"`` (an initialiser or a constant, for the parameter of
    the same name), ``"str"`` (a name; one of ``choices`` when given), ``"ints"`` (an
    integer or a tuple of integers, ``3`` or ``(3, 3)``; or one of ``choices``, e.g.
    ``same``), ``"surrogate"`` (a surrogate gradient from
    :data:`~rpgraph.modules.surrogates.SURROGATES`).

    ``range`` is the interval the value must lie in (for an ``"init"``, every value the
    initialiser can produce, where that is known: constants and ``uniform``); ``unit`` is
    how its numbers are shown in messages (``" s"`` for time constants given as ``"init"``).
    """

    name: str
    type: str
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple[str, ...] = ()  # for type "str": the names it accepts (empty: any)
    range: Range | None = None
    unit: str = ""

    def range_values(self, value: Any) -> tuple[float, ...]:
        """The numbers of ``value`` to check against :attr:`range` (none when unknown).

        >>> Arg("tau", "init").range_values(Init("uniform", (0.1, 0.2)))
        (0.1, 0.2)
        """
        if isinstance(value, Init):
            bounds = value.bounds()
            return () if bounds is None else tuple(dict.fromkeys(bounds))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (value,)
        return ()


def arg(type: str, default: Any = REQUIRED, doc: str = "", choices: tuple[str, ...] = (),
        range: Range | None = None, unit: str = "") -> Any:
    """A field of a :class:`KindConfig` subclass that is an argument of the kind: its
    ``type`` (see :class:`Arg`), its default (none: the argument is required), a line of
    documentation, for names the ``choices`` accepted, and for numbers the ``range`` they
    must lie in (shown with ``unit``).

    >>> @dataclass(frozen=True, kw_only=True)
    ... class Example(KindConfig):
    ...     tau: Init = arg("init", Init("ones"), "time constants")
    >>> Example(dt=1e-3).tau
    Init(name='ones', args=())
    """
    if type not in ARG_TYPES:
        raise ValueError(f"unknown argument type {type!r}; one of {', '.join(ARG_TYPES)}")
    # the name and the default are the field's own: args_of fills them in
    meta = {"arg": Arg("", type, doc=doc, choices=choices, range=range, unit=unit)}
    if default is REQUIRED:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class KindConfig:
    """A node's configuration: how the network runs it (``dt``; the compiler's
    ``assoc_scan`` and ``unroll``). A kind with arguments subclasses it (frozen,
    ``kw_only``) with one :func:`arg` field per argument, in the order the arguments are
    listed (positional arguments bind in that order)."""

    dt: float  # the network's solver step (s)
    # the node's input shape per sample, (channels, *spatial) or (N,); filled in by the
    # graph builder and the compiler for the kinds that read it (conv, pool, reshape)
    shape_in: tuple[int, ...] = ()
    assoc_scan: bool = False  # evaluate linear recurrences by a parallel associative scan
    unroll: int = 1  # time steps per iteration of a scan over time


def args_of(config: type[KindConfig]) -> tuple[Arg, ...]:
    """The arguments a config class declares with :func:`arg`, in field order.

    >>> @dataclass(frozen=True, kw_only=True)
    ... class Example(KindConfig):
    ...     out: int = arg("int", doc="output size")
    ...     slope: float = arg("float", 0.5)
    >>> [(a.name, a.type, a.default) for a in args_of(Example)]
    [('out', 'int', REQUIRED), ('slope', 'float', 0.5)]
    """
    return tuple(replace(f.metadata["arg"], name=f.name,
                         default=REQUIRED if f.default is MISSING else f.default)
                 for f in fields(config) if "arg" in f.metadata)


@dataclass(frozen=True)
class ParamSpec:
    """A parameter of one node: its shape, family (``weights``, ``taus``, ``biases``,
    ``thresholds``), and default initialiser."""

    shape: tuple[int, ...]
    family: str
    init: Init
    trainable: bool = True  # False: never updated by training (e.g. delays in steps)


ParamSpecs = dict[str, ParamSpec]

#: How a stateful kind's per-neuron parameters are shared over a shaped layer ``(C, ...)``
#: (its ``per`` argument): one value per element (the default), per channel, or one for the
#: whole layer. Activity is flat and channel-major, so a shared parameter has ``C`` (or 1)
#: rows where a per-element one has ``N = prod(shape)``, and neuron ``i`` uses row
#: ``i // (N / rows)``: ``np.repeat(p, N // rows, axis=0)`` is the per-element equivalent.
PER = ("element", "channel", "layer")


def per_arg() -> Any:
    """The ``per`` argument of the stateful kinds (see :data:`PER`); declared last in their
    configs, so positional arguments bind as before."""
    return arg("str", "element", choices=PER,
               doc="share per-neuron parameters: per element, per channel of a shaped "
               "layer (C, ...), or one per layer")


# --- the kind contract -----------------------------------------------------------------------

C = TypeVar("C", bound=KindConfig)


class Kind(Generic[C]):
    """Base class of module kinds, generic in their config class ``C``; subclasses are
    registered with :func:`register`.

    A subclass names its config class as the type argument (``class LIF(Kind[LIFConfig])``
    sets ``config``), sets the other class variables and overrides the methods that apply:
    stateless kinds override :meth:`apply`; stateful kinds override :meth:`state_shapes`,
    :meth:`step` and :meth:`output`, may override :meth:`prepare` (values computed once
    per evolution, passed to :meth:`step` and :meth:`scan`) and :meth:`scan` (a faster
    whole-sequence evaluation that gives the same result).
    """

    name: ClassVar[str] = ""
    stateful: ClassVar[bool] = False
    config: ClassVar[type[KindConfig]] = KindConfig
    doc: ClassVar[str] = ""
    # the Rockpool class this kind reproduces, for printing and docs
    rockpool: ClassVar[str] = ""
    # The default floor of this kind's time constants (family "taus"), as a fraction of dt:
    # positive, and where the discretisation is still safe. Exponential decays
    # (exp(-dt / tau)) are safe for any tau > 0; 1/1000 of a step keeps their gradient
    # (dt / tau**2 * exp(-dt / tau)) finite in float32.
    tau_floor: ClassVar[float] = 1e-3

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # the config class is the type argument of the base: Kind[LIFConfig]
        for parent in cls.__dict__.get("__orig_bases__", ()):
            for t in get_args(parent):
                if isinstance(t, type) and issubclass(t, KindConfig):
                    cls.config = t

    @property
    def args(self) -> tuple[Arg, ...]:
        """The arguments this kind accepts (from its config's fields)."""
        return args_of(self.config)

    def configure(self, values: Mapping[str, Any], *, dt: float, assoc_scan: bool = False,
                  unroll: int = 1, shape_in: Shape = ()) -> C:
        """The node's config from its argument values (missing ones take their defaults),
        the network's ``dt`` and the compiler's options.

        >>> cfg = KINDS["expsyn"].configure({"noise_std": 0.1}, dt=1e-3)
        >>> cfg.tau, cfg.noise_std, cfg.unroll
        (Init(name='constant', args=(0.01,)), 0.1, 1)
        """
        names = [a.name for a in self.args]
        for key in values:
            if key not in names:
                hint = did_you_mean(key, names)
                raise TypeError(f"{self.name} has no argument {key!r}"
                                + (f"; {hint}" if hint else ""))
        return cast(C, self.config(dt=dt, assoc_scan=assoc_scan, unroll=unroll,
                                   shape_in=tuple(shape_in), **values))

    def check_args(self, cfg: Mapping[str, Any], given: Collection[str]
                   ) -> tuple[str, str] | None:
        """Arguments that are wrong together: ``(argument, message)`` naming the argument
        the error points at (one of ``given``, the ones the spec wrote), else ``None``.
        Default: none."""
        return None

    def lookback(self, cfg: C) -> int:
        """Time steps into the past this node's output reaches (a delay's longest); the
        data must have more time steps. Default: 0."""
        return 0

    # -- structure (static, run once at graph-build time) --
    def size_out(self, size_in: int, cfg: C) -> int:
        """Output width given the input width (default: unchanged)."""
        return size_in

    def size_in_rule(self, size_in: int, cfg: C) -> str | None:
        """Return an error message when ``size_in`` is not acceptable, else ``None``."""
        return None

    # -- tensor shapes (activity stays flattened to (B, T, prod(shape)) in channel-major
    # order, so element-wise kinds work on any shape unchanged) --
    #: kinds that mix all inputs densely and need a vector (``linear``): a shaped input is
    #: an error with a hint to ``flatten`` first
    vector_only: ClassVar[bool] = False

    def shape_out(self, shape_in: Shape, cfg: C) -> Shape:
        """Output shape given the input shape. Default: the shape is kept when the size is
        (element-wise kinds), else the vector of :meth:`size_out`."""
        n = int(np.prod(shape_in))
        out = self.size_out(n, cfg)
        return tuple(shape_in) if out == n else (out,)

    def shape_in_rule(self, shape_in: Shape, cfg: C) -> str | None:
        """An error message when ``shape_in`` is not acceptable, else ``None``. Default:
        :meth:`size_in_rule` on its size, and a vector for :attr:`vector_only` kinds."""
        if self.vector_only and len(shape_in) > 1:
            return f"{self.name} needs a vector input"
        return self.size_in_rule(int(np.prod(shape_in)), cfg) or self.per_rule(shape_in, cfg)

    def params(self, size_in: int, size_out: int, cfg: C) -> ParamSpecs:
        """The node's parameters, one value per neuron (see :meth:`param_specs`)."""
        return {}

    def shared(self, size_in: int, size_out: int, cfg: C) -> dict[str, int]:
        """The per-neuron parameters ``per = channel | layer`` shares: name -> neurons per
        row (empty for ``per = element`` and kinds without ``per``). Per-neuron means a
        leading axis of ``size_out`` outside the ``weights`` family (``w_rec`` stays).

        >>> lif = KINDS["lif"]
        >>> cfg = lif.configure({"per": "channel"}, dt=1e-3, shape_in=(2, 4, 4))
        >>> sorted(lif.shared(32, 32, cfg).items())
        [('bias', 16), ('tau_mem', 16), ('tau_syn', 16), ('threshold', 16)]
        """
        per = getattr(cfg, "per", "element")
        if per == "element":
            return {}
        rows = 1 if per == "layer" else int(cfg.shape_in[0])
        return {k: size_out // rows for k, s in self.params(size_in, size_out, cfg).items()
                if s.family != "weights" and s.shape[:1] == (size_out,)}

    def param_specs(self, size_in: int, size_out: int, cfg: C) -> ParamSpecs:
        """:meth:`params` with the shared ones (:meth:`shared`) given ``C`` or 1 rows: what
        the graph, the bounds and the parameter files hold."""
        specs = self.params(size_in, size_out, cfg)
        shared = self.shared(size_in, size_out, cfg)
        return {k: replace(s, shape=(size_out // shared[k], *s.shape[1:])) if k in shared
                else s for k, s in specs.items()}

    def expand(self, params: Params, size_in: int, size_out: int, cfg: C) -> Params:
        """``params`` with the shared ones repeated to one row per neuron, the layout the
        kind's functions compute with (numpy arrays stay numpy).

        >>> lif = KINDS["lif"]
        >>> cfg = lif.configure({"per": "layer"}, dt=1e-3)
        >>> lif.expand({"tau_mem": np.array([0.02])}, 3, 3, cfg)["tau_mem"].tolist()
        [0.02, 0.02, 0.02]
        """
        shared = self.shared(size_in, size_out, cfg)
        if not shared:
            return params
        out = dict(params)
        for k, reps in shared.items():
            if k in out:
                rep = np.repeat if isinstance(out[k], np.ndarray) else jnp.repeat
                out[k] = rep(out[k], reps, axis=0)
        return out

    def per_rule(self, shape_in: Shape, cfg: C) -> str | None:
        """Why ``per = channel`` cannot apply to this input: it needs a shaped layer whose
        output keeps the input's shape."""
        if getattr(cfg, "per", "element") != "channel":
            return None
        if len(shape_in) < 2:
            return (f"per = channel needs a shaped input (channels, ...), got the vector "
                    f"({shape_in[0] if shape_in else 0},)")
        if self.size_out(int(np.prod(shape_in)), cfg) != int(np.prod(shape_in)):
            return (f"per = channel needs an output of the input's shape "
                    f"{tuple(shape_in)}; this node's output is a vector")
        return None

    def state_shapes(self, size_in: int, size_out: int, cfg: C) -> Shapes:
        """Per-sample state shapes (the compiler adds the batch axis)."""
        return {}

    def noise_shape(self, size_in: int, size_out: int, cfg: C) -> Shape | None:
        """Per-step, per-sample shape of the noise this node draws; ``None`` when it draws
        none (``noise_std == 0``: no dead work)."""
        return None

    def record_keys(self, cfg: C) -> tuple[str, ...]:
        """Names of the internal traces :meth:`step` records (e.g. ``vmem``, ``isyn``)."""
        return ()

    # -- computation (pure, traced) --
    def apply(self, params: Params, x: Array, cfg: C) -> Array:
        """Stateless kinds: map input ``(..., N_in)`` to output ``(..., N_out)``."""
        raise NotImplementedError

    #: stateless kinds that differ while training (``dropout``): the training step gives
    #: them a key and the executor multiplies their output by :meth:`train_mask`
    train_random: ClassVar[bool] = False

    def train_mask(self, key: Array, shape: Shape, cfg: C) -> Array | None:
        """:attr:`train_random` kinds: the factor their output of one time step (``shape``:
        ``(B, ...)``) is multiplied by while training; ``None``: none. The compiler draws
        each step with its own key (``fold_in(key, t)``)."""
        return None

    def prepare(self, params: Params, cfg: C) -> Prepared:
        """Values computed once per evolution, outside the time loop (e.g. decay factors
        ``exp(-dt / tau)``); the compiler passes them to :meth:`step` and :meth:`scan`
        next to the parameters. Default: none."""
        return {}

    def init_state(self, size_in: int, size_out: int, cfg: C, batch: int) -> State:
        shapes = self.state_shapes(size_in, size_out, cfg)
        return {k: jnp.zeros((batch, *s), jnp.float32) for k, s in shapes.items()}

    def step(self, params: Params, prep: Prepared, state: State, x_t: Array,
             noise_t: Array | None, cfg: C) -> Evolution:
        """Stateful kinds: one Euler step. ``x_t`` is ``(B, N_in)``; ``prep`` is what
        :meth:`prepare` returned; returns the new state, the output ``(B, N_out)`` and the
        recorded internals (keys of :meth:`record_keys`)."""
        raise NotImplementedError

    def output(self, params: Params, state: State, cfg: C) -> Array:
        """The output implied by ``state`` alone: what a recurrent (one-step delayed) edge
        out of this node carries before the first step."""
        raise NotImplementedError

    def scan(self, params: Params, prep: Prepared, state: State, x: Array,
             noise: Array | None, cfg: C, record: bool) -> Evolution:
        """Evolve over a whole ``(B, T, N_in)`` sequence. Default: ``lax.scan`` of
        :meth:`step` (time-major inside). Returns final state, ``(B, T, N_out)`` output and
        ``(B, T, ...)`` traces (empty unless ``record``)."""

        xs = (jnp.swapaxes(x, 0, 1), None if noise is None else jnp.swapaxes(noise, 0, 1))

        def body(s: State, inp: tuple[Array, Array | None]) -> tuple[State, Any]:
            s, y, rec = self.step(params, prep, s, inp[0], inp[1], cfg)
            return s, (y, rec if record else {})

        state, (y, rec) = jax.lax.scan(body, state, xs, unroll=cfg.unroll)
        rec = {k: jnp.swapaxes(v, 0, 1) for k, v in rec.items()}
        return state, jnp.swapaxes(y, 0, 1), rec


# --- registries ------------------------------------------------------------------------------

KINDS: dict[str, Kind[Any]] = {}
K = TypeVar("K", bound=Kind[Any])


def register(cls: type[K]) -> type[K]:
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
