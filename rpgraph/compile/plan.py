"""The static plan: compiler options, and the graph ordered into stages once, at compile time.

See :mod:`rpgraph.compile` for what each stage does.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from ..errors import SpecValueError
from ..graph import ModuleNode, Network
from ..modules import KINDS, KindConfig


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
            each chunk; cuts peak memory of long sequences. Noise is drawn for the whole
            series before the chunks (so it is kept, one array per noisy node) and training
            masks such as ``dropout``'s per time step, so both equal the unchunked run's.
        unroll: time steps per iteration of every scan over time (``lax.scan(unroll=k)``);
            ``None`` picks per backend: 8 on GPU, where each loop iteration costs a kernel
            launch and a device-to-host check (LIF N=1024 fwd+bwd on an H200: 13.2 ms at 1,
            3.4 ms at 8), and 1 on CPU, where unrolling made the same program slower.
        precision: the dtype the network computes in, ``"float32"`` or ``"bfloat16"``
            (``None``: the train block's ``precision``, else float32). With bfloat16 the
            parameters stay float32 (the optimizer updates them in float32) and are cast to
            bfloat16 inside the program, with inputs and state; outputs, state and records
            come back as float32, so the loss is computed in float32.

    >>> from rpgraph import compile
    >>> prog = compile("specs/tutorial_rate.rpg", remat=100, unroll=4)
    >>> prog.options.remat, prog.options.resolved_unroll()
    (100, 4)
    """

    hoist: bool = True
    assoc_scan: bool | None = None
    remat: int | None = None
    unroll: int | None = None
    precision: str | None = None

    def __post_init__(self) -> None:
        if self.precision is not None and self.precision not in PRECISION_DTYPES:
            raise SpecValueError(f"Expected precision to be one of "
                                 f"{', '.join(PRECISION_DTYPES)}, got {self.precision!r:.40}")
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


DEFAULT_OPTIONS = Options()
#: each precision's compute dtype, by name (jax.numpy's)
PRECISION_DTYPES = {"float32": "float32", "bfloat16": "bfloat16"}


def _on_gpu() -> bool:
    import jax  # here, not at the top: 'rpgraph check' plans without importing JAX

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
    g = data_graph(net)
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




def configure(net: Network, options: Options = Options()) -> dict[str, KindConfig]:
    """Each module node's typed configuration, from its kind's ``configure`` (which checks
    the node's arguments).

    >>> from rpgraph.graph import loads
    >>> net = loads("network n { input x : 3\\n output y : 3\\n x -> h: rate() -> y }")
    >>> configure(net, Options(assoc_scan=False, unroll=1))["h"].unroll
    1
    """
    assoc, unroll = options.resolved_assoc(), options.resolved_unroll()
    return {n: KINDS[d["node"].kind].configure(d["node"].cfg, dt=net.dt, assoc_scan=assoc,
                                               unroll=unroll, shape_in=d["node"].shape_in)
            for n, d in data_graph(net).nodes(data=True) if isinstance(d["node"], ModuleNode)}


def data_graph(net: Network) -> nx.DiGraph:
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
