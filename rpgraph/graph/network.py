"""The checked module graph of one spec, with typed access to its records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import networkx as nx

from .. import ast
from ..errors import SpecError
from .elaborate import DEFAULT_DT
from .records import ModuleNode, Node, ParamNode, PortNode
from .show import summary

_N = TypeVar("_N", bound=Node)


@dataclass(frozen=True)
class Network:
    """A checked module graph, ready to compile.

    ``graph`` is a :class:`networkx.DiGraph` whose nodes carry typed records
    (:mod:`rpgraph.graph.records`) as ``g.nodes[n]["node"]``; read them through
    :meth:`module`, :meth:`port`, :meth:`params` and :meth:`param`.

    >>> from rpgraph.graph import loads
    >>> net = loads("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")
    >>> net.inputs, net.outputs, net.module("linear_0").size_out
    (['x'], ['y'], 2)
    """

    name: str
    graph: nx.DiGraph
    inputs: list[str]
    outputs: list[str]
    sim: dict[str, Any]
    spec: ast.Spec
    enforce: str = "penalty"

    @property
    def dt(self) -> float:
        return float(self.sim.get("dt", DEFAULT_DT))

    @property
    def source(self) -> str:
        return self.spec.source

    @property
    def filename(self) -> str:
        return self.spec.filename

    # -- records --
    def node(self, n: str) -> Node:
        """The record of any node (port, module or parameter)."""
        rec: Node = self.graph.nodes[n]["node"]
        return rec

    def module(self, n: str) -> ModuleNode:
        """The record of module node ``n`` (``KeyError`` if ``n`` is not a module)."""
        return self._typed(n, ModuleNode, "a module node")

    def port(self, n: str) -> PortNode:
        """The record of an input, output or block junction ``n``.

        >>> from rpgraph.graph import load
        >>> p = load("specs/residual.rpg").port("r1.o")
        >>> p.role, p.direction, p.block, p.size
        ('junction', 'output', 'res', 64)
        """
        return self._typed(n, PortNode, "a port")

    def param(self, pid: str) -> ParamNode:
        """The record of parameter ``pid`` (``"hidden.tau"``).

        >>> from rpgraph.graph import load
        >>> p = load("specs/tutorial_rate.rpg").param("hidden.tau")
        >>> p.shape, p.family
        ((200,), 'taus')
        """
        return self._typed(pid, ParamNode, "a parameter")

    def _typed(self, n: str, kind: type[_N], what: str) -> _N:
        """The record of ``n`` if it is a ``kind``; ``KeyError`` naming ``what`` it is not."""
        rec = self.node(n)
        if not isinstance(rec, kind):
            raise KeyError(f"'{n}' is not {what}")
        return rec

    def params(self) -> list[ParamNode]:
        """Every parameter's record, in declaration order.

        >>> from rpgraph.graph import load
        >>> [(p.id, p.lower) for p in load("specs/tutorial_rate.rpg").params() if p.bounded]
        [('hidden.tau', 0.01)]
        """
        return [d["node"] for _, d in self.graph.nodes(data=True) if d["type"] == "param"]

    def parameters(self) -> list[str]:
        """Parameter node ids (``"hidden.tau"``) in declaration order."""
        return [n for n, d in self.graph.nodes(data=True) if d["type"] == "param"]

    def modules(self) -> list[str]:
        """Module node names in data-flow order (recurrent edges ignored)."""
        g = self.graph
        pos = {n: i for i, n in enumerate(g.nodes)}
        flow = nx.DiGraph()
        flow.add_nodes_from(n for n, d in g.nodes(data=True) if d["type"] != "param")
        flow.add_edges_from((u, v) for u, v, e in g.edges(data=True)
                            if e["type"] == "data" and not e.get("recurrent") and u != v)
        order = nx.lexicographical_topological_sort(flow, key=pos.__getitem__)
        return [n for n in order if g.nodes[n]["type"] == "module"]

    # -- shape and views --
    def size(self, port: str) -> int:
        return self.port(port).size

    @property
    def shape(self) -> tuple[int, int]:
        return (sum(self.size(i) for i in self.inputs), sum(self.size(o) for o in self.outputs))

    def summary(self) -> str:
        """A readable module tree, like Rockpool's ``print(net)``."""
        return summary(self)

    def __str__(self) -> str:
        return self.summary()

    def error(self, err: SpecError) -> SpecError:
        return err.located(self.source, self.filename)
