"""Views of a module graph: a readable tree (like Rockpool's ``print(net)``), node-link JSON
and Graphviz DOT. Used by ``rpgraph graph`` and ``print(network)``."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import Span
from ..modules import KINDS, Init
from ..modules.surrogates import Surrogate
from .records import ModuleNode, ParamNode, PortNode

if TYPE_CHECKING:
    from .network import Network


def _dims(shape: tuple[int, ...]) -> str:
    return f"({shape[0]},)" if len(shape) == 1 else f"({', '.join(map(str, shape))})"


def _shape(m: ModuleNode) -> str:
    if len(m.shape_in) > 1 or len(m.shape_out) > 1:
        # a tensor: both shapes, (2, 34, 34) -> (16, 17, 17)
        if m.shape_in == m.shape_out:
            return _dims(m.shape_out)
        return f"{_dims(m.shape_in)} -> {_dims(m.shape_out)}"
    if m.size_in == m.size_out and m.kind != "linear":
        return f"({m.size_out},)"
    return f"({m.size_in}, {m.size_out})"


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
    for n in (*net.inputs, *net.outputs):  # tensor ports (vectors are in the shape above)
        p = g.nodes[n]["node"]
        if len(p.shape_in) > 1:
            lines.append(f"    {p.role} '{n}' with shape {_dims(p.shape_in)}")
    for n in net.modules():
        m = net.module(n)
        rp = KINDS[m.kind].rockpool
        if m.cfg.get("reset", "subtract") != "subtract":  # not what LIFJax does
            rp = f"like {rp}; reset = {m.cfg['reset']}"
        lines.append(f"    {m.kind} '{n}' with shape {_shape(m)}" + (f"  [{rp}]" if rp else "")
                     + _spiking(m.cfg) + _training(m)
                     + (f"  per = {m.cfg['per']}" if m.cfg.get("per", "element") != "element"
                        else ""))
    rec = [(u, v) for u, v, e in g.edges(data=True) if e.get("recurrent")]
    for u, v in rec:
        lines.append(f"    recurrent {u} -> {v} (one step delay)")
    for p in net.params():
        if p.bounded:
            floor = ", default floor" if p.floor else ""
            lines.append(f"    bound {p.id} in [{p.lower:g}, {p.upper:g}] ({p.enforce}{floor})")
        if not p.trainable:
            lines.append(f"    frozen {p.id}")
    lines.append("}")
    return "\n".join(lines)


def _training(m: ModuleNode) -> str:
    """A node that acts only while training (``dropout``) says so: evaluation skips it."""
    if not KINDS[m.kind].train_random:
        return ""
    return f"  p = {m.cfg['p']:g}, while training only (identity in evaluation)"


def _spiking(cfg: dict[str, Any]) -> str:
    """How a spiking node fires and which surrogate its gradient uses: a multi-spike node
    can emit many spikes per step, which surprises who expects a 0/1 spike train."""
    if "spikes" not in cfg:
        return ""
    binary = cfg["spikes"] == "binary" or cfg.get("reset") == "v_reset"
    mode = "binary" if binary else f"multi (at most {cfg['max_spikes_per_dt']:g} per step)"
    return f"  spikes = {mode}, surrogate = {cfg['surrogate'].describe()}"


def _jsonable(v: Any) -> Any:
    if isinstance(v, Span):
        return [v.line, v.column]
    if isinstance(v, (Init, Surrogate)):
        return v.describe()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # "inf" / "-inf": JSON has no infinities
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _port_fields(p: PortNode) -> dict[str, Any]:
    return {**_port_sizes(p), "shape": p.shape_in}


def _port_sizes(p: PortNode) -> dict[str, Any]:
    if p.role == "input":
        return {"type": "input", "size": p.declared, "span": p.span, "size_out": p.size}
    if p.role == "output":
        return {"type": "output", "size": p.declared, "span": p.span, "size_in": p.size,
                "size_out": p.size}
    return {"type": "junction", "size": p.declared, "size_in": p.size, "size_out": p.size,
            "span": p.span, "stateful": False, "direction": p.direction, "block": p.block}


def _module_fields(m: ModuleNode) -> dict[str, Any]:
    return {"type": "module", "kind": m.kind, "cfg": m.cfg, "stateful": m.stateful,
            "span": m.span, "call_span": m.call_span, "size_in": m.size_in,
            "size_out": m.size_out, "shape_in": m.shape_in, "shape_out": m.shape_out}


def _param_fields(p: ParamNode) -> dict[str, Any]:
    return {"type": "param", "module": p.module, "name": p.name, "shape": p.shape,
            "family": p.family, "init": p.init, "trainable": p.trainable, "lower": p.lower,
            "upper": p.upper, "enforce": p.enforce, "span": p.span,
            "bound_spans": list(p.bound_spans)}


#: The JSON attributes of each kind of record (the layout ``rpgraph graph --format json``
#: has always written: one flat object per node).
_FIELDS: dict[type, Callable[[Any], dict[str, Any]]] = {
    PortNode: _port_fields, ModuleNode: _module_fields, ParamNode: _param_fields}


def _fields(rec: PortNode | ModuleNode | ParamNode) -> dict[str, Any]:
    return _FIELDS[type(rec)](rec)


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
        "nodes": [{"id": n, **{k: _jsonable(v) for k, v in _fields(d["node"]).items()}}
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
        rec = d["node"]
        if isinstance(rec, ModuleNode):
            label = f"{n}\\n{rec.kind} {_shape(rec)}"
            out.append(f'    "{n}" [shape=box, label="{label}"];')
        elif isinstance(rec, PortNode):
            size = _dims(rec.shape_in)[1:-1] if len(rec.shape_in) > 1 else rec.size
            out.append(f'    "{n}" [shape=ellipse, label="{n} ({size})"];')
    for u, v, e in g.edges(data=True):
        if e.get("type") == "data":
            style = ' [style=dashed, label="z^-1"]' if e.get("recurrent") else ""
            out.append(f'    "{u}" -> "{v}"{style};')
    out.append("}")
    return "\n".join(out)
