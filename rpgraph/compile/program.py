"""The checked public API of a compiled network: :class:`Program`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..bounds import template
from ..errors import SpecShapeError, SpecValueError, clip, did_you_mean
from ..graph import Network
from ..memory import check_network
from ..objective import make_objective
from ..ranges import SEED, range_error
from .execute import Executor
from .plan import DEFAULT_OPTIONS, Options

Array = Any
Tree = dict[str, dict[str, Array]]


def _real(a: Any, what: str) -> None:
    """``a`` holds real numbers (bool, integer or float): complex values would lose their
    imaginary part silently when cast to float32, strings and objects fail inside jax."""
    kind = np.dtype(a.dtype).kind
    if kind not in "biuf":
        got = {"c": "complex numbers", "U": "strings", "S": "bytes", "O": "Python objects"}
        raise SpecValueError(f"{what} holds {got.get(kind, f'values of type {a.dtype}')}; "
                             "expected real numbers",
                             hint="pass a float array (for complex data, split the real and "
                             "imaginary parts into channels)" if kind == "c" else None)


class Program:
    """A compiled network: pure functions over explicit parameters and state.

    >>> from rpgraph import compile
    >>> prog = compile("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")
    >>> params = prog.init(seed=0)
    >>> y, state, rec = prog.evolve(params, jnp.ones((10, 3)))
    >>> y.shape
    (10, 2)
    """

    def __init__(self, network: Network, options: Options = DEFAULT_OPTIONS) -> None:
        # sizes are static: refuse parameters that cannot fit before anything allocates them
        check_network(network)
        self.network = network
        self.graph = network.graph
        self.options = options
        self._exec = Executor(network, options)
        self.stages = self._exec.stages
        self.inputs = list(network.inputs)
        self.outputs = list(network.outputs)
        self._param_specs = {p.id: p for p in network.params()}
        self.evolve = self._wrap_evolve()
        self.objective = make_objective(network)
        self._jit_eal = jax.jit(self._evolve_and_loss)
        self._jit_init = jax.jit(self._init)
        self._jit_loss = jax.jit(lambda p, x, t: self._evolve_and_loss(p, x, t, None)[0])

    # -- structure --
    @property
    def name(self) -> str:
        return self.network.name

    def __repr__(self) -> str:
        return self.network.summary().replace("Network", "Program", 1)

    __str__ = __repr__

    # -- parameters and state --
    def init(self, seed: int = 0) -> Tree:
        """Fresh parameters ``{node: {param: array}}`` from the spec's initialisers.

        Each parameter draws from its own key (folded from ``seed`` and its position), so
        adding a node does not change the others' initial values.
        """
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise SpecValueError(f"Expected seed to be an integer, got {type(seed).__name__} "
                                 f"{clip(repr(seed))}")
        message = range_error("seed", int(seed), SEED)
        if message is not None:
            raise SpecValueError(message)
        # one jitted program for every draw (op by op, each random op compiled on its own
        # was ~0.3 s of a CLI run's start-up); XLA may fuse a draw's scaling, so a value can
        # differ from the op-by-op draw in its last bit
        return self._jit_init(np.uint32(seed))

    def _init(self, seed: Array) -> Tree:
        key = jax.random.PRNGKey(seed)
        params: Tree = {}
        for i, d in enumerate(self._param_specs.values()):
            value = d.init(jax.random.fold_in(key, i), d.shape)
            params.setdefault(d.module, {})[d.name] = jnp.asarray(value, jnp.float32)
        return params

    def initial_state(self, batch_size: int | None = None) -> Tree:
        """Zero state ``{node: {state: array}}``; with ``batch_size`` a leading batch axis."""
        return self._exec.initial_state(batch_size)

    def parameter_info(self) -> dict[str, dict[str, Any]]:
        """Static facts about each parameter node (shape, family, bounds, trainable)."""
        return {pid: {k: getattr(d, k) for k in ("module", "name", "shape", "family", "init",
                                                 "trainable", "lower", "upper", "enforce")}
                for pid, d in self._param_specs.items()}

    # -- checks before tracing --
    def check_params(self, params: Any) -> None:
        """Raise :class:`SpecShapeError` naming any missing, extra or ill-shaped leaf."""
        if not isinstance(params, Mapping):
            raise SpecShapeError(f"Expected params as a dict of nodes, got "
                                 f"{type(params).__name__}")
        want: dict[str, dict[str, tuple[int, ...]]] = {}
        for d in self._param_specs.values():
            want.setdefault(d.module, {})[d.name] = d.shape
        for node in params:
            if node not in want and params[node]:
                raise SpecShapeError(f"params has an extra entry '{node}'",
                                     hint=f"expected nodes: {', '.join(want)}")
        for node, leaves in want.items():
            got = params.get(node)
            if not isinstance(got, Mapping):
                raise SpecShapeError(f"params is missing node '{node}'")
            for name, shape in leaves.items():
                if name not in got:
                    raise SpecShapeError(f"params is missing '{node}.{name}' (shape {shape})")
                leaf = got[name]
                if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
                    raise SpecValueError(f"params '{node}.{name}' is a {type(leaf).__name__}; "
                                         f"expected an array of shape {shape}")
                _real(leaf, f"params '{node}.{name}'")
                gs = tuple(np.shape(leaf))
                if gs != shape:
                    raise SpecShapeError(f"params '{node}.{name}' has shape {gs}; "
                                         f"expected {shape}")
            for name in got:
                if name not in leaves:
                    raise SpecShapeError(f"params has an extra leaf '{node}.{name}'",
                                         hint=f"'{node}' has: {', '.join(leaves)}")

    def _prepare_x(self, x: Any) -> tuple[dict[str, Array], bool]:
        xs = x if isinstance(x, Mapping) else {self.inputs[0]: x} if len(self.inputs) == 1 \
            else None
        if xs is None:
            raise SpecShapeError(f"this network has inputs {', '.join(self.inputs)}; pass "
                                 "a dict of arrays by input name")
        out: dict[str, Array] = {}
        batched = None
        extra = [k for k in xs if k not in self.inputs]
        for name in self.inputs:
            if name not in xs:
                raise SpecShapeError(
                    f"missing input '{name}'" + (f"; got {', '.join(map(repr, extra))}"
                                                 if extra else ""),
                    hint=did_you_mean(str(extra[0]), [name]) if len(extra) == 1 else None)
        if extra:  # a misspelt second input would otherwise be ignored without a word
            raise SpecShapeError(f"unknown input {clip(repr(extra[0]))}; this network has "
                                 f"inputs {', '.join(self.inputs)}",
                                 hint=did_you_mean(str(extra[0]), self.inputs))
        for name in self.inputs:
            a = xs[name]
            if not hasattr(a, "shape") or not hasattr(a, "dtype"):
                try:
                    a = np.asarray(a)
                except (ValueError, TypeError):  # ragged nesting
                    raise SpecShapeError(f"input '{name}' is not an array of numbers: "
                                         f"{type(xs[name]).__name__}") from None
            _real(a, f"input '{name}'")
            n = self.network.size(name)
            shape = self.network.port(name).shape_in
            if len(shape) > 1 and a.ndim - len(shape) in (1, 2) and \
                    tuple(a.shape[a.ndim - len(shape):]) == shape:
                # a tensor input (B, T, C, H, W): flattened channel-major, as stored
                a = a.reshape(*a.shape[:a.ndim - len(shape)], n)
            if a.ndim not in (2, 3):
                raise SpecShapeError(f"input '{name}' has shape {tuple(a.shape)}; expected "
                                     f"(T, {n}) or (B, T, {n})")
            if a.shape[-1] != n:
                raise SpecShapeError(f"input '{name}' has width {a.shape[-1]}; expected {n} "
                                     f"(got shape {tuple(a.shape)}; expected (T, {n}) or "
                                     f"(B, T, {n}))")
            b = a.ndim == 3
            if batched is not None and b != batched:
                raise SpecShapeError("inputs mix batched and unbatched arrays")
            batched = b
            out[name] = a if b else a[None]
        return out, bool(batched)

    # -- public functions --
    def run(self, params: Tree, xs: dict[str, Array], state: Tree | None, record: bool,
            keys: dict[str, Array] | None = None
            ) -> tuple[dict[str, Array], Tree, dict[str, dict[str, Array]]]:
        """The traced core, unchecked (for use inside ``jit``/``grad``, as the training step
        does): ``xs`` maps every input to a ``(B, T, N)`` array; returns outputs by name,
        the new state and the record. :meth:`evolve` checks its arguments and calls this.
        ``keys`` (:meth:`train_keys`) runs the training behaviour of ``dropout`` nodes;
        without them (evaluation) they are the identity."""
        return self._exec.run(params, xs, state, record, keys)

    def train_keys(self, key: Array) -> dict[str, Array]:
        """The keys :meth:`run` takes while training, one per ``dropout`` node, derived from
        a training step's ``key`` (empty when the network has none).

        >>> from rpgraph import compile
        >>> prog = compile("network n { input x : 4\\n output y : 4\\n x -> d: dropout(0.5) -> y }")
        >>> list(prog.train_keys(jax.random.PRNGKey(0)))
        ['d']
        """
        return self._exec.train_keys(key)

    def _wrap_evolve(self) -> Callable[..., Any]:
        jitted = jax.jit(self._exec.run, static_argnums=(3,))

        def evolve(params: Tree, x: Any, state: Tree | None = None, record: bool = False
                   ) -> tuple[Any, Tree, dict[str, dict[str, Array]]]:
            """Run the network: ``y, new_state, rec = prog.evolve(params, x)``."""
            self.check_params(params)
            xs, batched = self._prepare_x(x)
            outs, new_state, rec = jitted(params, xs, state, bool(record))
            return self._unbatch(outs, new_state, rec, batched)

        return evolve

    def _unbatch(self, outs: dict[str, Array], new_state: Tree, rec: Any, batched: bool
                 ) -> tuple[Any, Tree, Any]:
        if not batched:
            strip = lambda a: a[0]  # noqa: E731
            outs = {k: strip(v) for k, v in outs.items()}
            new_state = {n: {k: (v if k == "rng_key" else strip(v)) for k, v in s.items()}
                         for n, s in new_state.items()}
            rec = jax.tree_util.tree_map(strip, rec)
        y = outs[self.outputs[0]] if len(self.outputs) == 1 else outs
        return y, new_state, rec

    def _evolve_and_loss(self, params: Tree, xs: dict[str, Array], target: Any,
                         state: Tree | None) -> tuple[Array, tuple[dict[str, Array], Tree]]:
        rec_on = self.objective.records  # the loss reads traces or hidden nodes' outputs
        outs, new_state, rec = self._exec.run(params, xs, state, rec_on)
        return self.objective.loss(outs, target, params, rec), (outs, new_state)

    def _prepare_target(self, target: Any, batched: bool) -> Any:
        if isinstance(target, Mapping):
            return {k: jnp.asarray(v) if batched else jnp.asarray(v)[None]
                    for k, v in target.items()}
        t = jnp.asarray(target)
        if not batched:
            t = t[None]
        return t

    def evolve_and_loss(self, params: Tree, x: Any, target: Any, state: Tree | None = None
                        ) -> tuple[Array, tuple[Any, Tree]]:
        """The single jitted function: ``loss, (y, new_state)``."""
        self.check_params(params)
        xs, batched = self._prepare_x(x)
        loss, (outs, new_state) = self._jit_eal(params, xs,
                                                self._prepare_target(target, batched), state)
        y, new_state, _ = self._unbatch(outs, new_state, {}, batched)
        return loss, (y, new_state)

    def loss(self, params: Tree, x: Any, target: Any) -> Array:
        """The spec's loss (``mse`` of the single output when none is given).

        Differentiable: ``jax.value_and_grad(prog.loss)(params, x, target)``.
        """
        self.check_params(params)
        xs, batched = self._prepare_x(x)
        return self._jit_loss(params, xs, self._prepare_target(target, batched))

    def loss_terms(self, params: Tree, x: Any, target: Any) -> dict[str, Array]:
        """Each top-level term of the loss separately (for diagnosing non-finite losses)."""
        xs, batched = self._prepare_x(x)
        outs, _, rec = self._exec.run(params, xs, None, self.objective.records)
        return self.objective.terms(outs, self._prepare_target(target, batched), params, rec)

    # -- conveniences --
    def bounds_template(self) -> tuple[Tree, Tree]:
        """``(lower, upper)`` shaped like the parameters (Rockpool ``make_bounds`` layout)."""
        return template(self.network)

    def load_params(self, path: str | Path) -> Tree:
        """Parameters from a run directory or ``params.npz``, checked against this program."""
        from ..io.checkpoint import load_params

        if not isinstance(path, (str, Path)):
            raise SpecValueError(f"Expected a path (str or Path) to a run folder or params "
                                 f"file, got {type(path).__name__} {clip(repr(path))}")
        params = load_params(path, like=self.init(0))
        self.check_params(params)
        return params
