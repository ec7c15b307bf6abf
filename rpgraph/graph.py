"""From the syntax tree to the module graph: names resolved, blocks expanded, sizes inferred.

The result is a :class:`Network` whose ``.graph`` is a :class:`networkx.DiGraph` with

* **module nodes** (``type="module"``): ``kind``, ``size_in``, ``size_out``, ``cfg`` (resolved
  arguments in SI units plus ``dt``), ``stateful``, ``span``;
* **port nodes** (``type="input" | "output"``) and block **junctions** (``type="junction"``,
  a block's own input/output: an identity that sums what flows in);
* **parameter nodes** (``type="param"``, id ``"<node>.<param>"``): ``module``, ``name``,
  ``shape``, ``family``, ``init``, ``trainable``, ``lower``, ``upper``, ``enforce``, with an
  edge ``param -> module`` (``type="param"``);
* **data edges** (``type="data"``); an edge with ``recurrent=True`` carries its source's
  output from the previous time step (the one-step delay that makes a cycle legal).

Every mistake is a :class:`~rpgraph.errors.SpecError` pointing into the spec.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from . import ast
from .errors import (
    Span,
    SpecError,
    SpecGraphError,
    SpecNameError,
    SpecShapeError,
    SpecValueError,
    did_you_mean,
)
from .expr import Quantity, Symbol, Value, as_float, as_int, describe, evaluate
from .modules import ACTIVATIONS, INITIALISERS, KINDS, Init
from .modules.base import REQUIRED, Arg
from .parse import ENFORCE_MODES

DEFAULT_DT = 1e-3
MAX_SIZE = 2**24  # far beyond what trains on one device; keeps absurd sizes a spec error


@dataclass
class Network:
    """A checked module graph, ready to compile.

    >>> net = loads("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")
    >>> net.inputs, net.outputs, net.graph.nodes["linear_0"]["size_out"]
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

    def parameters(self) -> list[str]:
        """Parameter node ids (``"hidden.tau"``) in declaration order."""
        return [n for n, d in self.graph.nodes(data=True) if d["type"] == "param"]

    def size(self, port: str) -> int:
        return int(self.graph.nodes[port]["size"])

    @property
    def shape(self) -> tuple[int, int]:
        return (sum(self.size(i) for i in self.inputs), sum(self.size(o) for o in self.outputs))

    def summary(self) -> str:
        """A readable module tree, like Rockpool's ``print(net)``."""
        from .show import summary

        return summary(self)

    def __str__(self) -> str:
        return self.summary()

    def error(self, err: SpecError) -> SpecError:
        return err.located(self.source, self.filename)


# --- building --------------------------------------------------------------------------------


@dataclass
class _Scope:
    """Names visible in one network or block instance body."""

    prefix: str  # "" for the network, "res1." inside block instance res1
    env: dict[str, Value]  # constants: sim params and block arguments
    nodes: dict[str, str] = field(default_factory=dict)  # local name -> graph node id
    counters: dict[str, int] = field(default_factory=dict)
    in_port: str | None = None
    out_port: str | None = None
    depth: int = 0

    def fresh(self, kind: str, taken: Mapping[str, Any]) -> str:
        while True:
            i = self.counters.get(kind, 0)
            self.counters[kind] = i + 1
            local = f"{kind}_{i}"
            if local not in self.nodes and self.prefix + local not in taken:
                return local


class _Builder:
    def __init__(self, spec: ast.Spec) -> None:
        self.spec = spec
        self.g = nx.DiGraph()
        self.blocks: dict[str, ast.Block] = {}
        for b in spec.blocks:
            if b.name in self.blocks:
                raise SpecNameError(f"duplicate block '{b.name}'", b.span,
                                    notes=[(self.blocks[b.name].span, "first defined here")])
            if b.name in KINDS:
                raise SpecNameError(f"block '{b.name}' has the name of a built-in module kind",
                                    b.span, hint="choose another name for the block")
            self.blocks[b.name] = b

    # -- entry --
    def build(self) -> Network:
        net = self.spec.network
        sim: dict[str, Value] = {"dt": Quantity(DEFAULT_DT, "time")}
        for key, expr in net.sim:
            sim[key] = evaluate(expr, sim)
            if isinstance(sim[key], Symbol):
                raise SpecNameError(f"undefined name '{sim[key].name}'", sim[key].span)
        dt_expr = dict(net.sim).get("dt")
        dt = as_float(sim["dt"], dt_expr if dt_expr is not None else ast.Num(DEFAULT_DT),
                      time=True)
        if dt <= 0:
            raise SpecValueError(f"Expected a positive time step dt, got {dt:g} s",
                                 dict(net.sim)["dt"].span)
        self.dt = dt
        scope = _Scope(prefix="", env=sim)
        self._body(net.body, scope, top=True)
        inputs = [n for n, d in self.g.nodes(data=True) if d["type"] == "input"]
        outputs = [n for n, d in self.g.nodes(data=True) if d["type"] == "output"]
        if not inputs:
            raise SpecGraphError(f"network '{net.name}' declares no input", net.span,
                                 hint="add a line like 'input x : 16'")
        if not outputs:
            raise SpecGraphError(f"network '{net.name}' declares no output", net.span,
                                 hint="add a line like 'output y : 2'")
        self._infer_sizes()
        self._check_topology(inputs, outputs)
        self._mark_recurrent()
        self._add_params()
        plain_sim = {k: (v.value if isinstance(v, Quantity) else v) for k, v in sim.items()}
        network = Network(net.name, self.g, inputs, outputs, plain_sim, self.spec)
        if self.spec.bounds is not None:
            network.enforce = self._bounds(self.spec.bounds, sim)
        if self.spec.train is not None:
            self._freeze(self.spec.train)
        return network

    # -- bodies --
    def _body(self, body: tuple[ast.Stmt, ...], scope: _Scope, top: bool) -> None:
        # pass 1: declarations, so names can be used before the line that declares them
        for stmt in body:
            if isinstance(stmt, ast.Port):
                self._port(stmt, scope, top)
            else:
                for el in stmt.elements:
                    if el.label is not None:
                        self._declare_labelled(el, scope)
        # pass 2: edges along chains
        for stmt in body:
            if isinstance(stmt, ast.Chain):
                prev: str | None = None  # the node data leaves from
                for el in stmt.elements:
                    src, dst = self._element(el, scope)
                    if prev is not None:
                        self._edge(prev, dst, el.span)
                    prev = src

    def _port(self, port: ast.Port, scope: _Scope, top: bool) -> None:
        self._claim(port.name, port.span, scope)
        node = scope.prefix + port.name
        size = None
        if port.size is not None:
            size = _size(evaluate(port.size, scope.env), port.size)
        elif top:
            raise SpecShapeError(f"{port.direction} '{port.name}' needs a size", port.span,
                                 hint=f"write '{port.direction} {port.name} : 16'")
        if top:
            self.g.add_node(node, type=port.direction, size=size, span=port.span)
        else:
            attr = "in_port" if port.direction == "input" else "out_port"
            if getattr(scope, attr) is not None:
                raise SpecGraphError(
                    f"a block has exactly one {port.direction}; '{port.name}' is a second one",
                    port.span)
            setattr(scope, attr, node)
            self.g.add_node(node, type="junction", size=size, size_in=size, size_out=size,
                            span=port.span, stateful=False, direction=port.direction)
        scope.nodes[port.name] = node

    def _claim(self, name: str, span: Span, scope: _Scope) -> None:
        if name in scope.nodes:
            first = self.g.nodes.get(scope.nodes[name], {}).get("span")
            raise SpecNameError(f"duplicate name '{name}'", span,
                                notes=[(first, f"'{name}' is first declared here")] if first
                                else ())

    def _declare_labelled(self, el: ast.Element, scope: _Scope) -> None:
        assert el.label is not None
        if isinstance(el.target, ast.Name) and el.target.id in scope.nodes:
            raise SpecNameError(
                f"'{el.label}: {el.target.id}' labels an existing node", el.span,
                hint=f"write '{el.target.id}' alone to refer to it")
        self._claim(el.label, el.span, scope)
        node = self._instantiate(el.target, el.label, scope, el.span)
        scope.nodes[el.label] = node

    def _element(self, el: ast.Element, scope: _Scope) -> tuple[str, str]:
        """(node data leaves from, node data enters) for one chain element."""
        if el.label is not None:
            node = scope.nodes[el.label]
        elif isinstance(el.target, ast.Name) and el.target.id in scope.nodes:
            node = scope.nodes[el.target.id]
        else:
            kind_name = _kind_name(el.target, scope)
            local = scope.fresh(kind_name, self.g.nodes)
            node = self._instantiate(el.target, local, scope, el.span)
            scope.nodes[local] = node
        data = self.g.nodes[node]
        if data.get("type") == "block":
            return data["out"], data["in"]
        return node, node

    def _instantiate(self, target: ast.Name | ast.Call, local: str, scope: _Scope,
                     span: Span) -> str:
        call = target if isinstance(target, ast.Call) else ast.Call(
            target.id, (), (), target.span, target.span)
        func = call.func
        # a block argument bound to a kind or block name (act = tanh)
        bound = scope.env.get(func)
        if isinstance(bound, Symbol):
            func = bound.name
        node = scope.prefix + local
        if node in self.g.nodes:
            raise SpecNameError(f"duplicate name '{node}'", span)
        if func in self.blocks:
            return self._block_instance(self.blocks[func], call, node, scope, span)
        if func not in KINDS:
            if isinstance(target, ast.Name) and not isinstance(bound, Symbol):
                known = list(scope.nodes) + list(KINDS) + list(self.blocks)
                raise SpecNameError(f"undefined name '{func}'", target.span,
                                    hint=did_you_mean(func, known)
                                    or f"declare it, e.g. '{func}: linear(8)', or use one "
                                    f"of: {', '.join(scope.nodes)}")
            raise SpecNameError(f"unknown module kind '{func}'", call.func_span,
                                hint=did_you_mean(func, list(KINDS) + list(self.blocks))
                                or f"known kinds: {', '.join(sorted(KINDS))}")
        kind = KINDS[func]
        cfg, arg_spans = self._bind_args(kind.args, call, scope, f"'{func}'")
        self.g.add_node(node, type="module", kind=func, cfg=cfg, arg_spans=arg_spans,
                        stateful=kind.stateful, span=span, call_span=call.span,
                        size_in=None, size_out=None)
        return node

    def _bind_args(self, args: tuple[Arg, ...], call: ast.Call, scope: _Scope,
                   what: str) -> tuple[dict[str, Any], dict[str, Span]]:
        by_name = {a.name: a for a in args}
        given: dict[str, ast.Expr] = {}
        positional = [a for a in args if a.default is REQUIRED] + [
            a for a in args if a.default is not REQUIRED]
        if len(call.args) > len(positional):
            extra = call.args[len(positional)]
            raise SpecValueError(
                f"{what} takes at most {len(positional)} positional argument"
                f"{'s' if len(positional) != 1 else ''}, got {len(call.args)}",
                getattr(extra, "span", call.span),
                hint=f"arguments of {what}: {', '.join(a.name for a in args) or 'none'}")
        for a, expr in zip(positional, call.args):
            given[a.name] = expr
        for i, (key, expr) in enumerate(call.kwargs):
            if key not in by_name:
                raise SpecNameError(
                    f"{what} has no argument '{key}'", call.key_span(i),
                    hint=did_you_mean(key, by_name)
                    or f"arguments of {what}: {', '.join(by_name) or 'none'}")
            if key in given:
                raise SpecValueError(f"argument '{key}' given twice", getattr(expr, "span",
                                                                              call.span))
            given[key] = expr
        cfg: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        for a in args:
            if a.name not in given:
                if a.default is REQUIRED:
                    raise SpecValueError(f"{what} is missing required argument '{a.name}'",
                                         call.span,
                                         hint=f"write {call.func}({a.name} = ...)")
                cfg[a.name] = a.default
                continue
            expr = given[a.name]
            spans[a.name] = getattr(expr, "span", call.span)
            cfg[a.name] = self._convert(a, expr, scope)
        return cfg, spans

    def _convert(self, arg: Arg, expr: ast.Expr, scope: _Scope) -> Any:
        v = evaluate(expr, scope.env, calls=True)
        if arg.type == "int":
            return _size(v, expr)
        if arg.type == "float":
            return as_float(v, expr)
        if arg.type == "time":
            t = as_float(v, expr, time=True)
            if t <= 0:
                raise SpecValueError(f"Expected a positive time, got {t:g} s", expr.span)
            return t
        if arg.type == "bool":
            if not isinstance(v, bool):
                raise SpecValueError(f"Expected true or false, got {describe(v)}", expr.span)
            return v
        if arg.type == "activation":
            if isinstance(v, Symbol) and v.name in ACTIVATIONS:
                return v.name
            name = v.name if isinstance(v, Symbol) else (v if isinstance(v, str) else None)
            if name in ACTIVATIONS:
                return name
            raise SpecNameError(
                f"unknown activation '{name}'" if name else
                f"Expected an activation name, got {describe(v)}", expr.span,
                hint=(did_you_mean(name, ACTIVATIONS) if name else None)
                or f"known activations: {', '.join(sorted(ACTIVATIONS))}")
        if arg.type == "init":
            return self._init(v, expr, scope, arg)
        if arg.type == "str":
            name = v.name if isinstance(v, Symbol) else (v if isinstance(v, str) else None)
            if name is None:
                raise SpecValueError(f"Expected a name, got {describe(v)}", expr.span)
            if arg.choices and name not in arg.choices:
                raise SpecNameError(
                    f"unknown {arg.name} '{name}'", expr.span,
                    hint=did_you_mean(name, arg.choices)
                    or f"{arg.name} is one of: {', '.join(arg.choices)}")
            return name
        raise AssertionError(f"unknown argument type {arg.type}")

    def _init(self, v: Value, expr: ast.Expr, scope: _Scope, arg: Arg) -> Any:
        if isinstance(v, bool):
            return v  # e.g. linear(bias = true): the kind decides what a flag means
        if isinstance(v, (int, float, Quantity)):
            return Init("constant", (as_float(v, expr, time=isinstance(v, Quantity)),))
        if isinstance(v, Symbol):
            if v.name not in INITIALISERS:
                raise SpecNameError(
                    f"unknown initialiser '{v.name}'", v.span,
                    hint=did_you_mean(v.name, INITIALISERS)
                    or f"known initialisers: {', '.join(sorted(INITIALISERS))}")
            return self._make_init(v.name, (), v.span)
        if isinstance(v, ast.Call):
            if v.func not in INITIALISERS:
                raise SpecNameError(
                    f"unknown initialiser '{v.func}'", v.func_span,
                    hint=did_you_mean(v.func, INITIALISERS)
                    or f"known initialisers: {', '.join(sorted(INITIALISERS))}")
            if v.kwargs:
                raise SpecValueError(f"initialiser '{v.func}' takes positional arguments only",
                                     v.span, hint=f"write {INITIALISERS[v.func][2]}")
            vals = tuple(as_float(evaluate(a, scope.env), a, time=True) for a in v.args)
            return self._make_init(v.func, vals, v.span)
        raise SpecValueError(
            f"Expected an initialiser or a number for '{arg.name}', got {describe(v)}",
            expr.span, hint="e.g. kaiming, normal(0.1), uniform(-1, 1) or 20 ms")

    @staticmethod
    def _make_init(name: str, args: tuple[float, ...], span: Span) -> Init:
        _, counts, usage = INITIALISERS[name]
        if len(args) not in counts:
            raise SpecValueError(
                f"initialiser '{name}' takes {' or '.join(map(str, counts))} argument"
                f"{'s' if counts != (1,) else ''}, got {len(args)}", span,
                hint=f"write {usage}")
        if name == "uniform" and len(args) == 2 and args[0] > args[1]:
            raise SpecValueError(f"uniform(lo, hi) needs lo <= hi, got {args[0]:g} > "
                                 f"{args[1]:g}", span)
        return Init(name, args)

    def _block_instance(self, block: ast.Block, call: ast.Call, node: str, scope: _Scope,
                        span: Span) -> str:
        if scope.depth > 32:
            raise SpecGraphError(f"block '{block.name}' instantiates itself too deeply", span,
                                 hint="blocks may not be recursive")
        env: dict[str, Value] = {k: v for k, v in scope.env.items() if k == "dt"
                                 or k in dict(self.spec.network.sim)}
        params = {p.name: p for p in block.params}
        given: dict[str, ast.Expr] = {}
        if len(call.args) > len(block.params):
            raise SpecValueError(
                f"block '{block.name}' takes {len(block.params)} argument"
                f"{'s' if len(block.params) != 1 else ''}, got {len(call.args)}",
                call.span, hint=_block_args(block))
        for p, expr in zip(block.params, call.args):
            given[p.name] = expr
        for i, (key, expr) in enumerate(call.kwargs):
            if key not in params:
                raise SpecNameError(f"block '{block.name}' has no argument '{key}'",
                                    call.key_span(i),
                                    hint=did_you_mean(key, params) or _block_args(block))
            given[key] = expr
        for p in block.params:
            if p.name in given:
                env[p.name] = evaluate(given[p.name], scope.env)
            elif p.default is not None:
                env[p.name] = evaluate(p.default, env)
            else:
                raise SpecValueError(f"block '{block.name}' is missing argument '{p.name}'",
                                     call.span, hint=f"write {block.name}({p.name} = ...)")
        inner = _Scope(prefix=node + ".", env=env, depth=scope.depth + 1)
        self._body(block.body, inner, top=False)
        if inner.in_port is None or inner.out_port is None:
            raise SpecGraphError(f"block '{block.name}' needs one input and one output",
                                 block.span, hint="declare 'input i' and 'output o' in it")
        # the ports remember their block (NIR export writes each instance as a subgraph)
        self.g.nodes[inner.in_port]["block"] = self.g.nodes[inner.out_port]["block"] = block.name
        # the instance itself is a name that resolves to its ports, not a graph node
        self.g.add_node(node, type="block", block=block.name, span=span,
                        **{"in": inner.in_port, "out": inner.out_port})
        return node

    def _edge(self, src: str, dst: str, span: Span) -> None:
        sd, dd = self.g.nodes[src], self.g.nodes[dst]
        if dd["type"] == "input":
            raise SpecGraphError(f"input '{dst}' cannot receive data", span,
                                 hint="inputs only feed other nodes")
        if sd["type"] == "output":
            raise SpecGraphError(f"output '{src}' cannot feed other nodes", span,
                                 hint="connect the node that feeds the output instead")
        if self.g.has_edge(src, dst):
            raise SpecGraphError(f"duplicate connection {src} -> {dst}", span,
                                 notes=[(self.g.edges[src, dst]["span"], "first made here")])
        self.g.add_edge(src, dst, type="data", recurrent=False, span=span)

    # -- sizes --
    def _infer_sizes(self) -> None:
        g = self.g
        # block instance placeholders are resolved names only; drop them from the graph
        g.remove_nodes_from([n for n, d in list(g.nodes(data=True)) if d["type"] == "block"])
        origin: dict[str, str] = {}
        for _, d in g.nodes(data=True):
            if d["type"] == "input":
                d["size_out"] = d["size"]
        changed = True
        while changed:
            changed = False
            for n in list(g.nodes):
                d = g.nodes[n]
                if d["type"] == "input" or d.get("size_out") is not None and d.get(
                        "size_in") is not None:
                    continue
                for p in g.predecessors(n):
                    s = g.nodes[p].get("size_out")
                    if s is not None:
                        self._set_size_in(n, s)
                        origin[n] = p
                        changed = True
                        break
        inputs = [n for n, d in g.nodes(data=True) if d["type"] == "input"]
        reach = set().union(*(nx.descendants(g, i) | {i} for i in inputs))
        unsized = [n for n, d in g.nodes(data=True)
                   if d["type"] != "input" and d.get("size_in") is None]
        # report the root cause first: a node fed by nothing, then one no input reaches
        for n in sorted(unsized, key=lambda n: g.in_degree(n) != 0):
            d = g.nodes[n]
            if d["type"] == "output" and n not in reach:
                raise SpecGraphError(f"output '{n}' is not reachable from any input",
                                     d["span"],
                                     hint=f"connect it, e.g. '{inputs[0]} -> ... -> {n}'")
            if g.in_degree(n) == 0:
                raise SpecGraphError(f"'{n}' has no input", d["span"],
                                     hint=f"connect something to it: '{inputs[0]} -> {n}'")
        for n in unsized:
            d = g.nodes[n]
            if n not in reach:
                raise SpecGraphError(f"'{n}' is not reachable from any input", d["span"],
                                     hint=f"connect it, e.g. '{inputs[0]} -> {n}'")
            raise SpecShapeError(f"cannot infer the size of '{n}'", d["span"],
                                 hint="give a size to a node in its loop")
        # every edge must agree with its target's size
        for u, v, e in g.edges(data=True):
            su, sv = g.nodes[u]["size_out"], g.nodes[v]["size_in"]
            if su != sv:
                first = origin.get(v, u)
                raise SpecShapeError(
                    f"size mismatch into '{v}': '{u}' gives {su} but '{first}' gives {sv}",
                    e["span"],
                    notes=[(g.nodes[u]["span"], f"'{u}' has output size {su}"),
                           (g.nodes[first]["span"], f"'{first}' has output size {sv}")],
                    hint=f"make the sizes agree, e.g. insert 'linear({sv})' after '{u}'")

    def _set_size_in(self, n: str, size: int) -> None:
        d = self.g.nodes[n]
        d["size_in"] = size
        if d["type"] == "output":
            if d["size"] != size:
                pred = next(iter(self.g.predecessors(n)))
                span = self.g.edges[pred, n]["span"]
                raise SpecShapeError(
                    f"size mismatch into output '{n}': declared {d['size']}, got {size}",
                    span, notes=[(d["span"], f"'{n}' is declared with size {d['size']}")],
                    hint=f"end the chain with 'linear({d['size']})' before '{n}'")
            d["size_out"] = size
        elif d["type"] == "junction":
            if d.get("size") is not None and d["size"] != size:
                raise SpecShapeError(f"size mismatch into '{n}': declared {d['size']}, got "
                                     f"{size}", d["span"])
            d["size_out"] = size
        else:
            kind = KINDS[d["kind"]]
            cfg = kind.configure(d["cfg"], dt=self.dt)
            msg = kind.size_in_rule(size, cfg)
            if msg:
                raise SpecShapeError(f"'{n}': {msg}", d["span"])
            d["size_out"] = kind.size_out(size, cfg)

    # -- topology --
    def _check_topology(self, inputs: list[str], outputs: list[str]) -> None:
        g = self.g
        reach = set().union(*(nx.descendants(g, i) | {i} for i in inputs))
        for o in outputs:
            if o not in reach:
                raise SpecGraphError(f"output '{o}' is not reachable from any input",
                                     g.nodes[o]["span"],
                                     hint=f"connect it, e.g. '{inputs[0]} -> ... -> {o}'")
        for n, d in g.nodes(data=True):
            if n not in reach and d["type"] != "input":
                raise SpecGraphError(f"'{n}' is not reachable from any input", d["span"])
        for i in inputs:
            if g.out_degree(i) == 0:
                raise SpecGraphError(f"input '{i}' is not connected to anything",
                                     g.nodes[i]["span"], hint=f"use it: '{i} -> ...'")

    def _mark_recurrent(self) -> None:
        """Choose the one-step-delayed edges: in each strongly connected component, cut
        edges leaving stateful nodes until the rest is acyclic, keeping as many undelayed
        (in declaration order) as possible so feed-forward stateful chains stay same-step
        like Rockpool's Sequential."""
        g = self.g
        pos = {n: i for i, n in enumerate(g.nodes)}
        # declaration order throughout (not set order), so messages do not vary per run
        comps = sorted(nx.strongly_connected_components(g), key=lambda c: min(pos[n] for n in c))
        for comp in comps:
            if len(comp) == 1:
                n = next(iter(comp))
                if not g.has_edge(n, n):
                    continue
            members = sorted(comp, key=pos.__getitem__)
            sub = g.subgraph(members)
            edges = sorted(sub.edges, key=lambda e: (pos[e[0]], pos[e[1]]))
            stateful_out = [(u, v) for u, v in edges if g.nodes[u].get("stateful")]
            rest = nx.DiGraph()
            rest.add_nodes_from(members)
            rest.add_edges_from(e for e in edges if e not in set(stateful_out))
            try:
                cycle = nx.find_cycle(rest)
            except nx.NetworkXNoCycle:
                cycle = None
            if cycle is not None:
                names = " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
                span = g.edges[cycle[-1][0], cycle[-1][1]]["span"]
                raise SpecGraphError(
                    f"algebraic loop {names}: no stateful node delays it", span,
                    hint="put a stateful node (rate, lif, expsyn) in the loop")
            order = sorted(stateful_out, key=lambda e: g.edges[e]["span"].line * 10**6
                           + g.edges[e]["span"].column)
            for u, v in order:
                rest.add_edge(u, v)
                if not nx.is_directed_acyclic_graph(rest):
                    rest.remove_edge(u, v)
                    g.edges[u, v]["recurrent"] = True

    # -- parameters, bounds, freezing --
    def _add_params(self) -> None:
        g = self.g
        for n in [n for n, d in g.nodes(data=True) if d["type"] == "module"]:
            d = g.nodes[n]
            kind = KINDS[d["kind"]]
            cfg = kind.configure(d["cfg"], dt=self.dt)
            for pname, ps in kind.params(d["size_in"], d["size_out"], cfg).items():
                pid = f"{n}.{pname}"
                if pid in g.nodes:
                    raise SpecNameError(f"name '{pid}' is both a node and a parameter",
                                        d["span"])
                g.add_node(pid, type="param", module=n, name=pname, shape=tuple(ps.shape),
                           family=ps.family, init=ps.init, trainable=True,
                           lower=-math.inf, upper=math.inf, enforce=None,
                           span=d["arg_spans"].get(pname, d["call_span"]), bound_spans=[])
                g.add_edge(pid, n, type="param")

    def _match(self, ref: ast.Ref) -> list[str]:
        node_pat, param_pat = ".".join(ref.parts[:-1]), ref.parts[-1]
        out = []
        for pid, d in self.g.nodes(data=True):
            if d["type"] == "param" and fnmatch.fnmatchcase(d["module"], node_pat) and \
                    fnmatch.fnmatchcase(d["name"], param_pat):
                out.append(pid)
        if not out:
            params = [p for p, d in self.g.nodes(data=True) if d["type"] == "param"]
            raise SpecNameError(f"'{ref.text}' matches no parameter", ref.span,
                                hint=did_you_mean(ref.text, params)
                                or f"parameters: {', '.join(params[:12])}"
                                + (", ..." if len(params) > 12 else ""))
        return out

    def _bounds(self, bounds: ast.Bounds, sim: dict[str, Value]) -> str:
        enforce = "penalty"
        for s in bounds.settings:
            if s.key != "enforce":
                raise SpecNameError(f"unknown bounds setting '{s.key}'", s.span,
                                    hint=did_you_mean(s.key, ["enforce"])
                                    or "the only setting is 'enforce'")
            v = evaluate(s.value, sim)
            enforce = self._enforce_mode(v, s.value)
        g = self.g
        for b in bounds.bounds:
            lo = -math.inf if b.lower is None else as_float(evaluate(b.lower, sim), b.lower,
                                                             time=True)
            hi = math.inf if b.upper is None else as_float(evaluate(b.upper, sim), b.upper,
                                                            time=True)
            if lo > hi:
                raise SpecValueError(f"lower bound {lo:g} is above upper bound {hi:g}",
                                     b.span)
            for pid in self._match(b.target):
                d = g.nodes[pid]
                d["lower"] = max(d["lower"], lo)
                d["upper"] = min(d["upper"], hi)
                d["bound_spans"].append(b.span)
                if d["lower"] > d["upper"]:
                    raise SpecValueError(
                        f"bounds on '{pid}' contradict: lower {d['lower']:g} is above upper "
                        f"{d['upper']:g}", b.span,
                        notes=[(s, "another bound on it") for s in d["bound_spans"][:-1]])
                if b.enforce is not None:
                    d["enforce"] = b.enforce
        for _, d in g.nodes(data=True):
            if d["type"] == "param" and d["enforce"] is None:
                d["enforce"] = enforce
        return enforce

    @staticmethod
    def _enforce_mode(v: Value, expr: ast.Expr) -> str:
        name = v.name if isinstance(v, Symbol) else v
        if name not in ENFORCE_MODES:
            raise SpecValueError(f"unknown enforce mode {describe(v)}", expr.span,
                                 hint=did_you_mean(str(name), ENFORCE_MODES)
                                 or "use penalty, project or both")
        return str(name)

    def _freeze(self, train: ast.Train) -> None:
        s = train.get("freeze")
        if s is None:
            return
        items = s.value.items if isinstance(s.value, ast.ListExpr) else (s.value,)
        for item in items:
            if not isinstance(item, ast.Ref):
                raise SpecValueError(
                    "Expected parameter names like hidden.tau or *.threshold, got "
                    f"{describe(evaluate(item, {}, calls=True))}", item.span)
            for pid in self._match(item):
                self.g.nodes[pid]["trainable"] = False


def _block_args(block: ast.Block) -> str:
    names = ", ".join(p.name for p in block.params)
    return f"arguments of block '{block.name}': {names or 'none'}"


def _size(v: Value, expr: ast.Expr) -> int:
    """A layer or port size: a positive integer, small enough to allocate."""
    n = as_int(v, expr, "an integer size")
    if n <= 0:
        raise SpecShapeError(f"Expected a positive size, got {n}", expr.span)
    if n > MAX_SIZE:
        shown = f"{n:.3g}" if n > 10**12 else str(n)
        raise SpecShapeError(f"Expected a size of at most {MAX_SIZE}, got {shown}", expr.span)
    return n


def _kind_name(target: ast.Name | ast.Call, scope: _Scope) -> str:
    func = target.func if isinstance(target, ast.Call) else target.id
    bound = scope.env.get(func)
    return bound.name if isinstance(bound, Symbol) else func


# --- public API ------------------------------------------------------------------------------


def build(spec: ast.Spec) -> Network:
    """Build and check the module graph of a parsed spec.

    >>> from rpgraph.parse import parse
    >>> build(parse("network n { input x : 4\\n output y : 4\\n x -> tanh -> y }")).modules()
    ['tanh_0']
    """
    try:
        return _Builder(spec).build()
    except SpecError as err:
        raise err.located(spec.source, spec.filename) from None
    except RecursionError:
        raise SpecGraphError("spec nests too deeply to build").located(
            spec.source, spec.filename) from None


def loads(text: str, filename: str = "<string>") -> Network:
    """Parse spec text and build its :class:`Network`.

    >>> loads("network n { input x : 2\\n output y : 2\\n x -> y }").outputs
    ['y']
    """
    from .parse import parse

    return build(parse(text, filename))


def load(path: str | Path) -> Network:
    """Read a ``.rpg`` file and build its :class:`Network`.

    >>> net = load("specs/tutorial_rate.rpg")
    >>> net.name, net.inputs, net.outputs
    ('tutorial_rate', ['x'], ['y'])
    """
    from .parse import parse_file

    return build(parse_file(path))


def param_nodes(graph: nx.DiGraph) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(id, attributes)`` of every parameter node, in declaration order.

    >>> pid, d = next(param_nodes(load("specs/tutorial_rate.rpg").graph))
    >>> pid, d["shape"], d["family"]
    ('hidden.tau', (200,), 'taus')
    """
    for n, d in graph.nodes(data=True):
        if d["type"] == "param":
            yield n, d
