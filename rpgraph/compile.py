"""From the module graph to one jitted program.

The graph is ordered once, at compile time, into a static *plan*:

* a stateless node outside any loop is applied to the whole ``(B, T, N)`` series at once
  (one time-batched matmul, hoisted out of the time loop);
* a stateful node outside any loop is evolved by its kind's ``scan`` (a ``lax.scan``, or an
  associative scan for linear recurrences where that is faster);
* a strongly connected part (a recurrent loop) is evolved step by step in one ``lax.scan``,
  its one-step-delayed edges carried in the scan state.

Every scan over time runs ``Options.unroll`` steps per loop iteration (8 on GPU, 1 on CPU).

Only arrays are traced; topology, sizes and configuration are closed over. See
:class:`Program` for the public API.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from . import ast
from .bounds import check_initial, template
from .errors import SpecError, SpecShapeError, SpecValueError, did_you_mean
from .graph import ModuleNode, Network, PortNode, build
from .modules import KINDS, Kind, KindConfig
from .objective import make_objective

Array = Any
Tree = dict[str, dict[str, Array]]


@dataclass(frozen=True)
class Options:
    """Compiler switches; each optimisation can be turned off and gives identical results.

    Attributes:
        hoist: apply stateless nodes outside loops to whole time series (off: evaluate the
            whole graph step by step inside one scan, like a module-by-module interpreter).
        assoc_scan: evaluate feed-forward linear recurrences (``rate``, ``expsyn``) with
            ``lax.associative_scan``; ``None`` picks per backend (on for GPU, off for CPU).
        remat: chunk length for ``jax.checkpoint`` over time (``None``: off): the network
            runs chunk by chunk with its state carried, and the backward pass recomputes
            each chunk; cuts peak memory of long sequences. (Noise, if any, is drawn per
            chunk, so noisy runs differ from unchunked ones.)
        unroll: time steps per iteration of every scan over time (``lax.scan(unroll=k)``);
            ``None`` picks per backend: 8 on GPU, where each loop iteration costs a kernel
            launch and a device-to-host check (LIF N=1024 fwd+bwd on an H200: 13.2 ms at 1,
            3.4 ms at 8), and 1 on CPU, where unrolling made the same program slower.

    >>> prog = compile("specs/tutorial_rate.rpg", remat=100, unroll=4)
    >>> prog.options.remat, prog.options.resolved_unroll()
    (100, 4)
    """

    hoist: bool = True
    assoc_scan: bool | None = None
    remat: int | None = None
    unroll: int | None = None

    def __post_init__(self) -> None:
        for name in ("remat", "unroll"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise SpecValueError(f"Expected {name} to be None or an integer >= 1, "
                                     f"got {v!r}")

    def resolved_assoc(self) -> bool:
        if self.assoc_scan is None:
            return _on_gpu()
        return self.assoc_scan

    def resolved_unroll(self) -> int:
        if self.unroll is None:
            return 8 if _on_gpu() else 1
        return self.unroll


def _on_gpu() -> bool:
    return jax.default_backend() in ("gpu", "cuda", "rocm")


@dataclass(frozen=True)
class Stage:
    """One step of the plan: ``"apply"`` a stateless node, ``"scan"`` one stateful node, or
    ``"loop"`` a group of nodes evolved together step by step (in ``nodes`` order)."""

    op: str
    nodes: tuple[str, ...]


def plan(net: Network, options: Options = Options()) -> tuple[Stage, ...]:
    """Order the graph into stages (static: run once at compile time).

    >>> from rpgraph.graph import loads
    >>> net = loads("network n { input x : 3\\n output y : 3\\n x -> tanh -> y }")
    >>> [s.op for s in plan(net)]
    ['apply', 'apply']
    """
    g = _data_graph(net)
    compute = [n for n in g.nodes if g.nodes[n]["type"] != "input"]
    if not options.hoist:
        return (Stage("loop", tuple(_intra_order(g, set(compute)))),)
    cond = nx.condensation(g)
    pos = {n: i for i, n in enumerate(net.graph.nodes)}
    stages: list[Stage] = []
    # lexicographic topological order keeps the plan deterministic and close to the source
    order = list(nx.lexicographical_topological_sort(
        cond, key=lambda c: min(pos[n] for n in cond.nodes[c]["members"])))
    for c in order:
        members = set(cond.nodes[c]["members"])
        if len(members) == 1:
            n = next(iter(members))
            d = g.nodes[n]
            if d["type"] == "input":
                continue
            if not g.has_edge(n, n):
                stateful = isinstance(d["node"], ModuleNode) and d["node"].stateful
                stages.append(Stage("scan" if stateful else "apply", (n,)))
                continue
        stages.append(Stage("loop", tuple(_intra_order(g, members))))
    return tuple(stages)




def _data_graph(net: Network) -> nx.DiGraph:
    g = nx.DiGraph()
    for n, d in net.graph.nodes(data=True):
        if d["type"] != "param":
            g.add_node(n, **d)
    for u, v, e in net.graph.edges(data=True):
        if e["type"] == "data":
            g.add_edge(u, v, **e)
    return g


def _intra_order(g: nx.DiGraph, members: set[str]) -> list[str]:
    """Order of evaluation inside one time step: delayed edges don't constrain it."""
    sub = nx.DiGraph()
    pos = {n: i for i, n in enumerate(g.nodes)}
    sub.add_nodes_from(sorted(members, key=pos.__getitem__))
    sub.add_edges_from((u, v) for u, v, e in g.subgraph(members).edges(data=True)
                       if not e.get("recurrent"))
    return list(nx.lexicographical_topological_sort(sub, key=pos.__getitem__))


class Program:
    """A compiled network: pure functions over explicit parameters and state.

    >>> prog = compile("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")
    >>> params = prog.init(seed=0)
    >>> y, state, rec = prog.evolve(params, jnp.ones((10, 3)))
    >>> y.shape
    (10, 2)
    """

    def __init__(self, network: Network, options: Options = Options()) -> None:
        self.network = network
        self.graph = network.graph
        self.options = options
        self.stages = plan(network, options)
        self._g = _data_graph(network)
        self._nodes: dict[str, PortNode | ModuleNode] = {
            n: d["node"] for n, d in self._g.nodes(data=True)}
        self._cfg = {n: self._node_cfg(d) for n, d in self._nodes.items()
                     if isinstance(d, ModuleNode)}
        self.inputs = list(network.inputs)
        self.outputs = list(network.outputs)
        self._param_specs = {p.id: p for p in network.params()}
        self.evolve = self._wrap_evolve()
        self.objective = make_objective(network)
        self._jit_eal = jax.jit(self._evolve_and_loss)
        self._jit_loss = jax.jit(lambda p, x, t: self._evolve_and_loss(p, x, t, None)[0])

    # -- structure --
    def _node_cfg(self, d: ModuleNode) -> KindConfig:
        return KINDS[d.kind].configure(d.cfg, dt=self.network.dt,
                                       assoc_scan=self.options.resolved_assoc(),
                                       unroll=self.options.resolved_unroll())

    @property
    def name(self) -> str:
        return self.network.name

    def __repr__(self) -> str:
        return self.network.summary().replace("Network", "Program", 1)

    __str__ = __repr__

    def _kind(self, n: str) -> Kind[Any]:
        return KINDS[self.network.module(n).kind]

    # -- parameters and state --
    def init(self, seed: int = 0) -> Tree:
        """Fresh parameters ``{node: {param: array}}`` from the spec's initialisers.

        Each parameter draws from its own key (folded from ``seed`` and its position), so
        adding a node does not change the others' initial values.
        """
        key = jax.random.PRNGKey(seed)
        params: Tree = {}
        for i, d in enumerate(self._param_specs.values()):
            value = d.init(jax.random.fold_in(key, i), d.shape)
            params.setdefault(d.module, {})[d.name] = jnp.asarray(value, jnp.float32)
        return params

    def initial_state(self, batch_size: int | None = None) -> Tree:
        """Zero state ``{node: {state: array}}``; with ``batch_size`` a leading batch axis."""
        state: Tree = {}
        b = 1 if batch_size is None else batch_size
        for n, d in self._nodes.items():
            if not isinstance(d, ModuleNode) or not d.stateful:
                continue
            kind = self._kind(n)
            s = kind.init_state(d.size_in, d.size_out, self._cfg[n], b)
            if kind.noise_shape(d.size_in, d.size_out, self._cfg[n]) is not None:
                s["rng_key"] = jax.random.fold_in(jax.random.PRNGKey(0), _decl_hash(n))
            if batch_size is None:
                s = {k: (v if k == "rng_key" else v[0]) for k, v in s.items()}
            state[n] = s
        return state

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
                gs = tuple(np.shape(got[name]))
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
        for name in self.inputs:
            if name not in xs:
                raise SpecShapeError(f"missing input '{name}'")
            a = xs[name]
            if not hasattr(a, "shape"):
                a = np.asarray(a, np.float32)
            n = self.network.size(name)
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

    # -- the traced computation --
    def _run(self, params: Tree, xs: dict[str, Array], state: Tree | None, record: bool
             ) -> tuple[dict[str, Array], Tree, dict[str, dict[str, Array]]]:
        B, T = next(iter(xs.values())).shape[:2]
        chunk = self.options.remat
        if not chunk or chunk >= T:
            return self._run_plan(params, xs, state, record)
        # Remat: the network is causal, so the whole plan can run on consecutive chunks of
        # time with the state carried between them. Under jax.checkpoint only the carries at
        # chunk boundaries are kept for the backward pass; each chunk is recomputed.
        c = max(d for d in range(1, chunk + 1) if T % d == 0)
        merge = lambda a: jnp.swapaxes(a, 0, 1).reshape(B, T, *a.shape[3:])  # noqa: E731

        @jax.checkpoint
        def body(s: Tree, i: Array) -> tuple[Tree, Any]:
            # slice in place: a reshaped copy of a long input would cost more than remat saves
            x = {k: jax.lax.dynamic_slice_in_dim(v, i * c, c, axis=1) for k, v in xs.items()}
            outs, s2, rec = self._run_plan(params, x, s, record)
            return s2, (outs, rec)

        s_fin, (outs, rec) = jax.lax.scan(body, self._broadcast_state(state, B),
                                          jnp.arange(T // c))
        return (jax.tree_util.tree_map(merge, outs), s_fin,
                jax.tree_util.tree_map(merge, rec))

    def _run_plan(self, params: Tree, xs: dict[str, Array], state: Tree | None, record: bool
                  ) -> tuple[dict[str, Array], Tree, dict[str, dict[str, Array]]]:
        B, T = next(iter(xs.values())).shape[:2]
        values: dict[str, Array] = {k: jnp.asarray(v, jnp.float32) for k, v in xs.items()}
        state0 = self._broadcast_state(state, B)
        new_state: Tree = {}
        rec: dict[str, dict[str, Array]] = {}
        for stage in self.stages:
            if stage.op == "apply":
                n = stage.nodes[0]
                values[n] = self._apply(n, params, self._sum_inputs(n, values, B, T))
            elif stage.op == "scan":
                n = stage.nodes[0]
                kind = self._kind(n)
                noise, s = self._noise(n, dict(state0[n]), B, T)
                # kinds see their own state only; the noise key is the compiler's business
                plain = {k: v for k, v in s.items() if k != "rng_key"}
                p, cfg = params.get(n, {}), self._cfg[n]
                s2, y, r = kind.scan(p, kind.prepare(p, cfg), plain,
                                     self._sum_inputs(n, values, B, T), noise, cfg, record)
                s2 = dict(s2)
                if "rng_key" in s:
                    s2["rng_key"] = s["rng_key"]
                new_state[n], values[n] = s2, y
                if record:
                    rec[n] = dict(r)
            else:
                self._loop(stage.nodes, params, values, state0, new_state, rec, record, B, T)
            if record:
                for n in stage.nodes:
                    rec.setdefault(n, {})["output"] = values[n]
        return {o: values[o] for o in self.outputs}, new_state, rec

    def _broadcast_state(self, state: Tree | None, B: int) -> Tree:
        init = self.initial_state(B)
        if state is None:
            return init
        out: Tree = {}
        for n, s0 in init.items():
            given = state.get(n, {})
            out[n] = {k: (jnp.asarray(given[k]) if k == "rng_key" else
                          jnp.broadcast_to(jnp.asarray(given[k], jnp.float32), v.shape))
                      if k in given else v for k, v in s0.items()}
        return out

    def _sum_inputs(self, n: str, values: dict[str, Array], B: int, T: int,
                    skip: set[str] | None = None) -> Array:
        total = None
        for p in self._g.predecessors(n):
            if skip is not None and p in skip:
                continue
            total = values[p] if total is None else total + values[p]
        if total is None:
            return jnp.zeros((B, T, self._nodes[n].size_in), jnp.float32)
        return total

    def _apply(self, n: str, params: Tree, x: Array) -> Array:
        if not isinstance(self._nodes[n], ModuleNode):
            return x  # outputs and junctions pass their summed input through
        return self._kind(n).apply(params.get(n, {}), x, self._cfg[n])

    def _noise(self, n: str, s: dict[str, Array], B: int, T: int
               ) -> tuple[Array | None, dict[str, Array]]:
        d = self._nodes[n]
        shape = self._kind(n).noise_shape(d.size_in, d.size_out, self._cfg[n])
        if shape is None:
            return None, s
        key, sub = jax.random.split(s["rng_key"])
        s = {**s, "rng_key": key}
        return jax.random.normal(sub, (B, T, *shape), jnp.float32), s

    def _loop(self, nodes: tuple[str, ...], params: Tree, values: dict[str, Array],
              state0: Tree, new_state: Tree, rec: dict[str, dict[str, Array]], record: bool,
              B: int, T: int) -> None:
        members = set(nodes)
        g = self._g
        # inputs from outside the loop are computed for the whole series up front
        ext = {n: self._sum_inputs(n, values, B, T, skip=members)
               for n in nodes if any(p not in members for p in g.predecessors(n))}
        stateful = [n for n in nodes if n in self._cfg and self.network.module(n).stateful]
        delayed = sorted({u for u, v, e in g.subgraph(members).edges(data=True)
                          if e.get("recurrent")})
        noises: dict[str, Array] = {}
        s_init: dict[str, dict[str, Array]] = {}
        for n in stateful:
            nz, s = self._noise(n, dict(state0[n]), B, T)
            s_init[n] = s
            if nz is not None:
                noises[n] = nz
        prev0 = {u: self._kind(u).output(params.get(u, {}), s_init[u], self._cfg[u])
                 for u in delayed}
        prepared = {n: self._kind(n).prepare(params.get(n, {}), self._cfg[n]) for n in stateful}

        def step(carry: tuple[dict[str, Any], dict[str, Array]], inp: tuple[Any, Any]
                 ) -> tuple[Any, Any]:
            states, prev = carry
            ext_t, noise_t = inp
            cur: dict[str, Array] = {}
            out_rec: dict[str, Any] = {}
            new_states = dict(states)
            for n in nodes:
                total = ext_t.get(n)
                for p in g.predecessors(n):
                    if p not in members:
                        continue
                    v = prev[p] if g.edges[p, n].get("recurrent") else cur[p]
                    total = v if total is None else total + v
                if total is None:
                    total = jnp.zeros((B, self._nodes[n].size_in), jnp.float32)
                if n in states:
                    st = {k: v for k, v in states[n].items() if k != "rng_key"}
                    st2, y, r = self._kind(n).step(params.get(n, {}), prepared[n], st, total,
                                                   noise_t.get(n), self._cfg[n])
                    if "rng_key" in states[n]:
                        st2 = {**st2, "rng_key": states[n]["rng_key"]}
                    new_states[n] = st2
                    if record:
                        out_rec[n] = r
                else:
                    y = self._apply(n, params, total)
                cur[n] = y
            return (new_states, {u: cur[u] for u in delayed}), (cur, out_rec)

        tm = lambda a: jnp.swapaxes(a, 0, 1)  # noqa: E731 - (B, T, ...) <-> (T, B, ...)
        xs = ({n: tm(v) for n, v in ext.items()}, {n: tm(v) for n, v in noises.items()})
        carry0 = (s_init, prev0)
        (s_fin, _), (outs, recs) = jax.lax.scan(step, carry0, xs,
                                                unroll=self.options.resolved_unroll())
        for n in nodes:
            values[n] = tm(outs[n])
        for n in stateful:
            new_state[n] = s_fin[n]
            if record:
                rec[n] = {k: tm(v) for k, v in recs.get(n, {}).items()}

    # -- public functions --
    def run(self, params: Tree, xs: dict[str, Array], state: Tree | None, record: bool
            ) -> tuple[dict[str, Array], Tree, dict[str, dict[str, Array]]]:
        """The traced core, unchecked (for use inside ``jit``/``grad``, as the training step
        does): ``xs`` maps every input to a ``(B, T, N)`` array; returns outputs by name,
        the new state and the record. :meth:`evolve` checks its arguments and calls this."""
        return self._run(params, xs, state, record)

    def _wrap_evolve(self) -> Callable[..., Any]:
        jitted = jax.jit(self._run, static_argnums=(3,))

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
        outs, new_state, _ = self._run(params, xs, state, False)
        return self.objective.loss(outs, target, params), (outs, new_state)

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
        outs, _, _ = self._run(params, xs, None, False)
        return self.objective.terms(outs, self._prepare_target(target, batched), params)

    # -- conveniences --
    def bounds_template(self) -> tuple[Tree, Tree]:
        """``(lower, upper)`` shaped like the parameters (Rockpool ``make_bounds`` layout)."""
        return template(self.network)

    def load_params(self, path: str | Path) -> Tree:
        """Parameters from a run directory or ``params.npz``, checked against this program."""
        from .io.checkpoint import load_params

        params = load_params(path, like=self.init(0))
        self.check_params(params)
        return params


def _decl_hash(name: str) -> int:
    """A stable per-node number for noise keys (distinct nodes draw distinct noise)."""
    return zlib.crc32(name.encode("utf-8"))


def compile(spec: str | Path | Network | ast.Spec, **options: Any) -> Program:
    """Compile a spec file, spec text, parsed spec or :class:`Network` into a :class:`Program`.

    >>> prog = compile("network n { input x : 2\\n output y : 2\\n x -> tanh -> y }")
    >>> prog.init()
    {}
    """
    unknown = sorted(set(options) - set(Options.__dataclass_fields__))
    if unknown:
        hint = did_you_mean(unknown[0], Options.__dataclass_fields__)
        raise SpecValueError(f"unknown compiler option '{unknown[0]}'",
                             hint=hint or f"options: {', '.join(Options.__dataclass_fields__)}")
    opts = replace(Options(), **options) if options else Options()
    if isinstance(spec, Network):
        net = spec
    elif isinstance(spec, ast.Spec):
        net = build(spec)
    elif isinstance(spec, Path) or (isinstance(spec, str) and "{" not in spec):
        from .graph import load

        net = load(spec)
    elif isinstance(spec, str):
        from .graph import loads

        net = loads(spec)
    else:
        raise SpecValueError(f"Expected a path, spec text or Network, got {type(spec).__name__}")
    try:
        prog = Program(net, opts)
    except SpecError as err:
        raise net.error(err) from None
    check_initial(net, prog.init)
    return prog


__all__ = ["Options", "Program", "Stage", "compile", "plan"]
