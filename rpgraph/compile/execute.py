"""The executor: the plan's stages run over explicit parameters and state, traced by JAX.

Stateless nodes are applied to whole ``(B, T, N)`` series, stateful singletons scanned by
their kind, loops stepped in one ``lax.scan`` with their delayed edges in the carry; with
``Options.remat`` the whole plan runs chunk by chunk under ``jax.checkpoint``. Nothing here
checks its arguments: :class:`~rpgraph.compile.program.Program` does that first.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp

from ..graph import ModuleNode, Network, PortNode
from ..modules import KINDS, Kind, KindConfig
from .plan import DEFAULT_OPTIONS, PRECISION_DTYPES, Options, configure, data_graph, plan

Array = Any
Tree = dict[str, dict[str, Array]]


@dataclass(frozen=True)
class _Draws:
    """What one pass over the plan draws at random: the training-mask ``keys`` (``None``:
    evaluation) with ``t0``, the series step of its first time step (a remat chunk's), and
    ``noise`` already drawn for it by node (a remat chunk's slice of the whole series')."""

    keys: dict[str, Array] | None = None
    t0: Array | int = 0
    noise: dict[str, Array] = field(default_factory=dict)


class Executor:
    """The traced computation of one network under one set of options.

    >>> from rpgraph.graph import loads
    >>> ex = Executor(loads("network n { input x : 2\\n output y : 2\\n x -> tanh -> y }"))
    >>> outs, state, rec = ex.run({}, {"x": jnp.zeros((1, 3, 2))}, None, False)
    >>> [s.op for s in ex.stages], outs["y"].shape
    (['apply', 'apply'], (1, 3, 2))
    """

    def __init__(self, network: Network, options: Options = DEFAULT_OPTIONS) -> None:
        self.network = network
        self.options = options
        self.stages = plan(network, options)
        self.outputs = list(network.outputs)
        self._g = data_graph(network)
        self._nodes: dict[str, PortNode | ModuleNode] = {
            n: d["node"] for n, d in self._g.nodes(data=True)}
        self._cfg: dict[str, KindConfig] = configure(network, options)
        # nodes whose shared parameters (per = channel | layer) are repeated per neuron
        self._shared = {n: d for n, d in self._nodes.items() if isinstance(d, ModuleNode)
                        and self._kind(n).shared(d.size_in, d.size_out, self._cfg[n])}
        # the compute dtype (Options.precision); parameters arrive and leave in float32
        self._dtype = jnp.dtype(PRECISION_DTYPES[options.precision or "float32"])

    def _kind(self, n: str) -> Kind[Any]:
        return KINDS[self.network.module(n).kind]

    def _params(self, n: str, params: Tree) -> dict[str, Array]:
        """Node ``n``'s parameters as its kind computes with them: shared ones (``per =
        channel``) repeated to one row per neuron, inside the trace (so their gradient is
        the sum over the neurons that share them)."""
        p = params.get(n, {})
        d = self._shared.get(n)
        if d is None:
            return p
        return dict(self._kind(n).expand(p, d.size_in, d.size_out, self._cfg[n]))

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


    @property
    def train_random(self) -> list[str]:
        """The nodes that differ while training (``dropout``), in graph order."""
        return [n for n, d in self._nodes.items()
                if isinstance(d, ModuleNode) and self._kind(n).train_random]

    def train_keys(self, key: Array) -> dict[str, Array]:
        """One key per :attr:`train_random` node for a training step's ``key``: folded with
        a tag (so they never equal the noise keys ``fold_in(key, i)``) and the node's
        name (so adding a node leaves the others' masks as they were)."""
        tagged = jax.random.fold_in(key, _TRAIN_TAG)
        return {n: jax.random.fold_in(tagged, _decl_hash(n)) for n in self.train_random}

    def run(self, params: Tree, xs: dict[str, Array], state: Tree | None, record: bool,
            keys: dict[str, Array] | None = None
            ) -> tuple[dict[str, Array], Tree, dict[str, dict[str, Array]]]:
        """Outputs, new state and record. ``keys`` (from :meth:`train_keys`) turns on the
        training behaviour of :attr:`train_random` nodes; without them they are evaluated
        as in inference."""
        if self._dtype != jnp.float32:
            # low precision: compute in self._dtype from float32 parameters (the cast is
            # differentiable, so gradients arrive in float32), hand float32 back
            outs, new_state, rec = self._run(_cast(params, self._dtype), xs, state, record,
                                             keys)
            return _cast((outs, new_state, rec), jnp.float32)
        return self._run(params, xs, state, record, keys)

    def _run(self, params: Tree, xs: dict[str, Array], state: Tree | None, record: bool,
             keys: dict[str, Array] | None
             ) -> tuple[dict[str, Array], Tree, dict[str, dict[str, Array]]]:
        B, T = next(iter(xs.values())).shape[:2]
        chunk = self.options.remat
        if not chunk or chunk >= T:
            return self._run_plan(params, xs, state, record, _Draws(keys))
        # Remat: the network is causal, so the whole plan can run on consecutive chunks of
        # time with the state carried between them. Under jax.checkpoint only the carries at
        # chunk boundaries are kept for the backward pass; each chunk is recomputed.
        c = max(d for d in range(1, chunk + 1) if T % d == 0)
        merge = lambda a: jnp.swapaxes(a, 0, 1).reshape(B, T, *a.shape[3:])  # noqa: E731
        # noise is drawn for the whole series first, as without remat (the same numbers;
        # they are kept for the backward pass, like the inputs), and sliced per chunk
        s0 = self._broadcast_state(state, B)
        noise: dict[str, Array] = {}
        for n in s0:
            nz, s0[n] = self._noise(n, dict(s0[n]), B, T, _Draws())
            if nz is not None:
                noise[n] = nz

        @jax.checkpoint
        def body(s: Tree, i: Array) -> tuple[Tree, Any]:
            # slice in place: a reshaped copy of a long input would cost more than remat saves
            cut = lambda v: jax.lax.dynamic_slice_in_dim(v, i * c, c, axis=1)  # noqa: E731
            x = {k: cut(v) for k, v in xs.items()}
            # training masks are drawn per time step (see _mask): chunk i's are those of its
            # steps in the unchunked run
            draws = _Draws(keys, i * c, {n: cut(v) for n, v in noise.items()})
            outs, s2, rec = self._run_plan(params, x, s, record, draws)
            return s2, (outs, rec)

        s_fin, (outs, rec) = jax.lax.scan(body, s0, jnp.arange(T // c))
        return (jax.tree_util.tree_map(merge, outs), s_fin,
                jax.tree_util.tree_map(merge, rec))

    def _run_plan(self, params: Tree, xs: dict[str, Array], state: Tree | None, record: bool,
                  draws: _Draws
                  ) -> tuple[dict[str, Array], Tree, dict[str, dict[str, Array]]]:
        B, T = next(iter(xs.values())).shape[:2]
        values: dict[str, Array] = {k: jnp.asarray(v, self._dtype) for k, v in xs.items()}
        state0 = _cast(self._broadcast_state(state, B), self._dtype)
        new_state: Tree = {}
        rec: dict[str, dict[str, Array]] = {}
        for stage in self.stages:
            if stage.op == "apply":
                n = stage.nodes[0]
                values[n] = self._apply(n, params, self._sum_inputs(n, values, B, T))
                mask = self._mask(n, draws, values[n].shape)
                if mask is not None:
                    values[n] = values[n] * mask
            elif stage.op == "scan":
                n = stage.nodes[0]
                kind = self._kind(n)
                noise, s = self._noise(n, dict(state0[n]), B, T, draws)
                # kinds see their own state only; the noise key is the compiler's business
                plain = {k: v for k, v in s.items() if k != "rng_key"}
                p, cfg = self._params(n, params), self._cfg[n]
                s2, y, r = kind.scan(p, kind.prepare(p, cfg), plain,
                                     self._sum_inputs(n, values, B, T), noise, cfg, record)
                s2 = dict(s2)
                if "rng_key" in s:
                    s2["rng_key"] = s["rng_key"]
                new_state[n], values[n] = s2, y
                if record:
                    rec[n] = dict(r)
            else:
                self._loop(stage.nodes, params, values, state0, new_state, rec, record, B, T,
                           draws)
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
            return jnp.zeros((B, T, self._nodes[n].size_in), self._dtype)
        return total

    def _apply(self, n: str, params: Tree, x: Array) -> Array:
        if not isinstance(self._nodes[n], ModuleNode):
            return x  # outputs and junctions pass their summed input through
        return self._kind(n).apply(params.get(n, {}), x, self._cfg[n])

    def _mask(self, n: str, draws: _Draws, shape: tuple[int, ...]) -> Array | None:
        """A training node's mask for its whole ``(B, T, ...)`` output, whose first step is
        step ``draws.t0`` of the series (None: evaluation). Each step's mask is drawn from
        ``fold_in(key, t)``, so a hoisted node (the whole series at once), a looped one (the
        same array fed step by step) and remat chunks (their own steps) see the same masks."""
        keys = draws.keys
        if keys is None or n not in keys:
            return None
        kind, cfg = self._kind(n), self._cfg[n]
        step = (shape[0], *shape[2:])
        mask: Array | None = jax.vmap(
            lambda t: kind.train_mask(jax.random.fold_in(keys[n], t), step, cfg),
            out_axes=1)(draws.t0 + jnp.arange(shape[1]))
        return mask

    def _noise(self, n: str, s: dict[str, Array], B: int, T: int, draws: _Draws
               ) -> tuple[Array | None, dict[str, Array]]:
        if n in draws.noise:  # drawn before (remat), its key already advanced in s
            return draws.noise[n], s
        d = self._nodes[n]
        shape = self._kind(n).noise_shape(d.size_in, d.size_out, self._cfg[n])
        if shape is None:
            return None, s
        key, sub = jax.random.split(s["rng_key"])
        s = {**s, "rng_key": key}
        # drawn in float32 then cast, so a low-precision run sees the same noise, rounded
        return jax.random.normal(sub, (B, T, *shape), jnp.float32).astype(self._dtype), s

    def _loop(self, nodes: tuple[str, ...], params: Tree, values: dict[str, Array],
              state0: Tree, new_state: Tree, rec: dict[str, dict[str, Array]], record: bool,
              B: int, T: int, draws: _Draws) -> None:
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
            nz, s = self._noise(n, dict(state0[n]), B, T, draws)
            s_init[n] = s
            if nz is not None:
                noises[n] = nz
        # training masks for the whole series, drawn before the loop as a hoisted node's
        # are (the same mask either way) and fed one step at a time
        for n in nodes:
            if n not in self._cfg or self.network.module(n).stateful:
                continue
            m = self._mask(n, draws, (B, T, self._nodes[n].size_out))
            if m is not None:
                noises[n] = m
        local = {n: self._params(n, params) for n in stateful}
        prev0 = {u: self._kind(u).output(local[u], s_init[u], self._cfg[u]) for u in delayed}
        prepared = {n: self._kind(n).prepare(local[n], self._cfg[n]) for n in stateful}

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
                    total = jnp.zeros((B, self._nodes[n].size_in), self._dtype)
                if n in states:
                    st = {k: v for k, v in states[n].items() if k != "rng_key"}
                    st2, y, r = self._kind(n).step(local[n], prepared[n], st, total,
                                                   noise_t.get(n), self._cfg[n])
                    if "rng_key" in states[n]:
                        st2 = {**st2, "rng_key": states[n]["rng_key"]}
                    new_states[n] = st2
                    if record:
                        out_rec[n] = r
                else:
                    y = self._apply(n, params, total)
                    if n in noise_t:  # a training mask
                        y = y * noise_t[n]
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


#: folded into a training step's key before the nodes' names: keys of training masks
_TRAIN_TAG = zlib.crc32(b"rpgraph train masks")


def _decl_hash(name: str) -> int:
    """A stable per-node number for noise keys (distinct nodes draw distinct noise)."""
    return zlib.crc32(name.encode("utf-8"))


def _cast(tree: Any, dtype: Any) -> Any:
    """Every floating leaf of ``tree`` as ``dtype`` (noise keys and integers unchanged)."""
    return jax.tree_util.tree_map(
        lambda a: a.astype(dtype) if jnp.issubdtype(jnp.result_type(a), jnp.floating) else a,
        tree)
