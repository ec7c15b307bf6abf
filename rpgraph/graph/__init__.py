"""From the syntax tree to the checked module graph.

* :mod:`~rpgraph.graph.records`: the frozen records on the graph's nodes (ports, modules,
  parameters);
* :mod:`~rpgraph.graph.elaborate`: names, blocks and arguments resolved into an unsized
  graph (within a node budget);
* :mod:`~rpgraph.graph.passes`: sizes, topology checks, recurrent edges, parameter nodes,
  bounds and freezing, as a tuple of passes run in order;
* :mod:`~rpgraph.graph.network`: the :class:`Network` the compiler takes;
* :mod:`~rpgraph.graph.pipeline`: :func:`build`, :func:`load`, :func:`loads`;
* :mod:`~rpgraph.graph.show`: the module tree, node-link JSON and Graphviz DOT.

Every mistake is a :class:`~rpgraph.errors.SpecError` pointing into the spec.

>>> net = loads("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")
>>> net.module("linear_0").kind, [p.id for p in net.params()]
('linear', ['linear_0.weight'])
"""

from .elaborate import MAX_NODES
from .network import Network
from .pipeline import build, load, loads
from .records import ModuleNode, Node, ParamNode, PortNode

__all__ = ["MAX_NODES", "ModuleNode", "Network", "Node", "ParamNode", "PortNode", "build",
           "load", "loads"]
