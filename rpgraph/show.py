"""Views of a module graph: a readable tree (like Rockpool's ``print(net)``), node-link JSON
and Graphviz DOT. Used by ``rpgraph graph`` and ``print(network)``."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from .errors import Span
from .modules import KINDS, Init

if TYPE_CHECKING:
    from .graph import Network


def _shape(d: dict[str, Any]) -> str:
    if d["size_in"] == d["size_out"] and d["kind"] != "linear":
        return f"({d['size_out']},)"
    return f"({d['size_in']}, {d['size_out']})"


def summary(net: Network) -> str:
    """The module tree, one line per module, with recurrent edges and bounds listed.

    >>> from rpgraph.graph import loads
    >>> print(summary(loads("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")))
    Network 'n' with shape (3, 2) {
        linear 'linear_0' with shape (3, 2)  [LinearJax]
    }
    """
    g = net.graph
    lines = [f"Network '{net.name}' with shape {net.shape} {{"]
    for n in net.modules():
        d = g.nodes[n]
        rp = KINDS[d["kind"]].rockpool
        if d["cfg"].get("reset", "subtract") != "subtract":  # not what LIFJax does
            rp = f"like {rp}; reset = {d['cfg']['reset']}"
        lines.append(f"    {d['kind']} '{n}' with shape {_shape(d)}" + (f"  [{rp}]" if rp else ""))
    rec = [(u, v) for u, v, e in g.edges(data=True) if e.get("recurrent")]
    for u, v in rec:
        lines.append(f"    recurrent {u} -> {v} (one step delay)")
    for pid, d in g.nodes(data=True):
        if d["type"] == "param" and (d["lower"] > -math.inf or d["upper"] < math.inf):
            lines.append(f"    bound {pid} in [{d['lower']:g}, {d['upper']:g}] ({d['enforce']})")
        if d["type"] == "param" and not d["trainable"]:
            lines.append(f"    frozen {pid}")
    lines.append("}")
    return "\n".join(lines)


def _jsonable(v: Any) -> Any:
    if isinstance(v, Span):
        return [v.line, v.column]
    if isinstance(v, Init):
        return v.describe()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # "inf" / "-inf": JSON has no infinities
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def to_json(net: Network) -> str:
    """Node-link JSON of the graph (networkx ``node_link_data`` layout).

    >>> import json
    >>> from rpgraph import loads
    >>> net = loads("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")
    >>> [n["id"] for n in json.loads(to_json(net))["nodes"]][:3]
    ['x', 'y', 'linear_0']
    """
    g = net.graph
    data = {
        "directed": True,
        "name": net.name,
        "dt": net.dt,
        "nodes": [{"id": n, **{k: _jsonable(v) for k, v in d.items() if k != "arg_spans"}}
                  for n, d in g.nodes(data=True)],
        "edges": [{"source": u, "target": v, **{k: _jsonable(x) for k, x in e.items()}}
                  for u, v, e in g.edges(data=True)],
    }
    return json.dumps(data, indent=2)


def to_dot(net: Network) -> str:
    """Graphviz DOT: modules as boxes, ports as ellipses, recurrent edges dashed.

    >>> from rpgraph import loads
    >>> net = loads("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")
    >>> to_dot(net).splitlines()[0]
    'digraph "n" {'
    """
    g = net.graph
    out = [f'digraph "{net.name}" {{', "    rankdir=LR;"]
    for n, d in g.nodes(data=True):
        if d["type"] == "param":
            continue
        if d["type"] == "module":
            label = f"{n}\\n{d['kind']} {_shape(d)}"
            out.append(f'    "{n}" [shape=box, label="{label}"];')
        else:
            out.append(f'    "{n}" [shape=ellipse, label="{n} ({d.get("size_out")})"];')
    for u, v, e in g.edges(data=True):
        if e.get("type") == "data":
            style = ' [style=dashed, label="z^-1"]' if e.get("recurrent") else ""
            out.append(f'    "{u}" -> "{v}"{style};')
    out.append("}")
    return "\n".join(out)
