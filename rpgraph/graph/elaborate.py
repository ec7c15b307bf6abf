"""Elaboration: the syntax tree's names, blocks and arguments resolved into a module graph.

The result is a :class:`networkx.DiGraph` of :class:`~rpgraph.graph.records.PortNode` and
:class:`~rpgraph.graph.records.ModuleNode` records joined by data edges, plus a
:class:`Context` for the passes (:mod:`rpgraph.graph.passes`) that size, check and annotate
it. Block instances are expanded in place (their nodes are named ``<instance>.<name>``);
expansion stops at a node budget (``max_nodes``) so a small spec cannot build a huge graph.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from .. import ast
from ..errors import (
    Span,
    SpecGraphError,
    SpecNameError,
    SpecShapeError,
    SpecValueError,
    did_you_mean,
)
from ..expr import Quantity, Symbol, Value, as_float, as_int, describe, evaluate
from ..modules import ACTIVATIONS, INITIALISERS, KINDS, Init
from ..modules.base import INIT_ARG_RANGES, REQUIRED, Arg
from ..modules.surrogates import SURROGATES, Surrogate
from ..ranges import range_error
from .records import ModuleNode, PortNode, put, record

DEFAULT_DT = 1e-3
MAX_SIZE = 2**24  # far beyond what trains on one device; keeps absurd sizes a spec error
_AUTO_NAME = re.compile(r".*_[0-9]+")  # the form of generated names (linear_0)
#: The default budget of graph nodes (ports, modules, block junctions) a spec may expand to.
MAX_NODES = 100_000


@dataclass
class Context:
    """What the passes need besides the graph: the spec, its constants (``dt`` as a
    :class:`~rpgraph.expr.Quantity`, then the network's sim parameters), the top-level
    ports, and the network's default enforcement mode (set by the bounds pass)."""

    spec: ast.Spec
    consts: dict[str, Value]
    dt: float  # seconds
    inputs: list[str]
    outputs: list[str]
    enforce: str = "penalty"


@dataclass
class _Scope:
    """Names visible in one network or block instance body."""

    prefix: str  # "" for the network, "res1." inside block instance res1
    env: dict[str, Value]  # constants: sim params and block arguments
    nodes: dict[str, str] = field(default_factory=dict)  # local name -> graph node id
    counters: dict[str, int] = field(default_factory=dict)
    in_port: str | None = None
    out_port: str | None = None
    within: tuple[tuple[str, Span], ...] = ()  # (block, instance span), outermost first

    def fresh(self, kind: str, taken: Callable[[str], bool]) -> str:
        while True:
            i = self.counters.get(kind, 0)
            self.counters[kind] = i + 1
            local = f"{kind}_{i}"
            if local not in self.nodes and not taken(self.prefix + local):
                return local


@dataclass(frozen=True)
class _Instance:
    """A block instance: a name that resolves to its input and output junctions."""

    block: str
    in_port: str
    out_port: str
    span: Span


class Elaborator:
    """Builds the unsized module graph of one spec (see :func:`elaborate`).

    >>> from rpgraph.parse import parse
    >>> el = Elaborator(parse("block b { input i\\n output o\\n i -> tanh -> o }\\n"
    ...                       "network n { input x : 2\\n output y : 2\\n x -> b -> y }"))
    >>> g, _ = el.run()
    >>> list(g), el.instances["b_0"].out_port
    (['x', 'y', 'b_0.i', 'b_0.o', 'b_0.tanh_0'], 'b_0.o')
    """

    def __init__(self, spec: ast.Spec, max_nodes: int = MAX_NODES) -> None:
        self.spec = spec
        self.max_nodes = max_nodes
        self.g = nx.DiGraph()
        self.instances: dict[str, _Instance] = {}
        self.least: dict[str, int] = {}  # block -> lower bound on the nodes it adds
        self.sim_names = set(dict(spec.network.sim))
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
    def run(self) -> tuple[nx.DiGraph, Context]:
        net = self.spec.network
        sim, self.dt = _sim_constants(net)
        self._body(net.body, _Scope(prefix="", env=sim), top=True)
        inputs = [n for n, d in self.g.nodes(data=True) if d["type"] == "input"]
        outputs = [n for n, d in self.g.nodes(data=True) if d["type"] == "output"]
        if not inputs:
            raise SpecGraphError(f"network '{net.name}' declares no input", net.span,
                                 hint="add a line like 'input x : 16'")
        if not outputs:
            raise SpecGraphError(f"network '{net.name}' declares no output", net.span,
                                 hint="add a line like 'output y : 2'")
        return self.g, Context(self.spec, sim, self.dt, inputs, outputs)

    def _taken(self, node: str) -> bool:
        return node in self.g or node in self.instances

    def _add(self, node: str, rec: PortNode | ModuleNode, scope: _Scope) -> None:
        """Add a node, counting it against the budget."""
        if len(self.g) >= self.max_nodes:
            raise _over_budget(self.max_nodes, scope, rec.span)
        put(self.g, node, rec)

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
        shape: tuple[int, ...] = ()
        if port.size is not None:
            shape = _shape(evaluate(port.size, scope.env), port.size)
            size = _shape_size(shape, port.size)
            shape = shape if len(shape) > 1 else ()  # a vector port keeps its plain record
        elif top:
            raise SpecShapeError(f"{port.direction} '{port.name}' needs a size", port.span,
                                 hint=f"write '{port.direction} {port.name} : 16'")
        if top:
            self._add(node, PortNode(node, port.direction, size or 0, port.span, size,
                                     shape=shape), scope)
        else:
            attr = "in_port" if port.direction == "input" else "out_port"
            if getattr(scope, attr) is not None:
                raise SpecGraphError(
                    f"a block has exactly one {port.direction}; '{port.name}' is a second one",
                    port.span)
            setattr(scope, attr, node)
            # the ports remember their block (NIR export writes each instance as a subgraph)
            self._add(node, PortNode(node, "junction", size or 0, port.span, size,
                                     direction=port.direction, block=scope.within[-1][0],
                                     shape=shape), scope)
        scope.nodes[port.name] = node

    def _claim(self, name: str, span: Span, scope: _Scope) -> None:
        if name in scope.nodes:
            first = self._span_of(scope.nodes[name])
            raise SpecNameError(f"duplicate name '{name}'", span,
                                notes=[(first, f"'{name}' is first declared here")] if first
                                else ())

    def _span_of(self, node: str) -> Span | None:
        if node in self.g:
            return record(self.g, node).span
        inst = self.instances.get(node)
        return inst.span if inst is not None else None

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
            local = scope.fresh(kind_name, self._taken)
            node = self._instantiate(el.target, local, scope, el.span)
            scope.nodes[local] = node
        inst = self.instances.get(node)
        if inst is not None:
            return inst.out_port, inst.in_port
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
        if self._taken(node):
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
        cfg, arg_spans = bind_args(kind.args, call, scope.env, f"'{func}'")
        problem = kind.check_args(cfg, arg_spans)
        if problem:
            raise SpecValueError(f"'{func}': {problem[1]}",
                                 arg_spans.get(problem[0], call.span))
        self._add(node, ModuleNode(node, func, cfg, 0, 0, kind.stateful, span, call.span,
                                   arg_spans), scope)
        return node

    def _block_instance(self, block: ast.Block, call: ast.Call, node: str, scope: _Scope,
                        span: Span) -> str:
        if len(scope.within) > 32:
            raise SpecGraphError(f"block '{block.name}' instantiates itself too deeply", span,
                                 hint="blocks may not be recursive")
        env = self._block_env(block, call, scope)
        inner = _Scope(prefix=node + ".", env=env, within=(*scope.within, (block.name, span)))
        # fail before expanding what cannot fit (the count in _add is the exact check)
        if len(self.g) + self._least(block.name) > self.max_nodes:
            raise _over_budget(self.max_nodes, inner, span)
        self._body(block.body, inner, top=False)
        if inner.in_port is None or inner.out_port is None:
            raise SpecGraphError(f"block '{block.name}' needs one input and one output",
                                 block.span, hint="declare 'input i' and 'output o' in it")
        # the instance itself is a name that resolves to its ports, not a graph node
        self.instances[node] = _Instance(block.name, inner.in_port, inner.out_port, span)
        return node

    def _least(self, name: str) -> int:
        """A lower bound on the nodes one instance of block ``name`` adds: its ports, and what
        its elements certainly instantiate (a name that might refer to a node counts 0)."""
        if name in self.least:
            return self.least[name]
        self.least[name] = 0  # a recursive block: the depth limit stops it
        block = self.blocks[name]
        params = {p.name for p in block.params}
        local = {s.name for s in block.body if isinstance(s, ast.Port)} | {
            el.label for s in block.body if isinstance(s, ast.Chain) for el in s.elements
            if el.label is not None}
        total = 0
        for stmt in block.body:
            for el in stmt.elements if isinstance(stmt, ast.Chain) else ():
                t = el.target
                func = t.func if isinstance(t, ast.Call) else t.id
                if isinstance(t, ast.Name) and el.label is None and (
                        func in local or _AUTO_NAME.fullmatch(func)):
                    continue  # may refer to an existing node
                if func in params or func in KINDS:
                    total += 1
                elif func in self.blocks:
                    total += self._least(func)
            total += isinstance(stmt, ast.Port)
        self.least[name] = total
        return total

    def _block_env(self, block: ast.Block, call: ast.Call, scope: _Scope) -> dict[str, Value]:
        """The constants inside one instance: ``dt``, sim parameters and the arguments."""
        env: dict[str, Value] = {k: v for k, v in scope.env.items() if k == "dt"
                                 or k in self.sim_names}
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
        return env

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


def _sim_constants(net: ast.Network) -> tuple[dict[str, Value], float]:
    """``dt`` (a checked positive time) and the network's sim parameters, evaluated."""
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
    return sim, dt


def _over_budget(max_nodes: int, scope: _Scope, span: Span) -> SpecGraphError:
    """The error for a node past the budget, at the innermost block instance being expanded
    (with a note at the network's statement that uses it)."""
    hint = "raise the budget with max_nodes = N in rpgraph.load, loads or build"
    if not scope.within:
        return SpecGraphError(f"the network has more than {max_nodes} nodes", span, hint=hint)
    block, where = scope.within[-1]
    top, top_span = scope.within[0]
    return SpecGraphError(
        f"expanding block '{block}' takes the network past its budget of {max_nodes} nodes",
        where, notes=[(top_span, f"inside block '{top}', used here")] if len(scope.within) > 1
        else (), hint=f"a block that uses another twice doubles the network; {hint}")


# --- arguments -------------------------------------------------------------------------------


def bind_args(args: tuple[Arg, ...], call: ast.Call, env: Mapping[str, Value],
              what: str) -> tuple[dict[str, Any], dict[str, Span]]:
    """A kind's configuration from a call: arguments matched to ``args`` (positionally:
    required ones first) and converted by :data:`CONVERTERS`; also where each was given.

    >>> from rpgraph.parse import parse_expr
    >>> cfg, _ = bind_args(KINDS["linear"].args, parse_expr("linear(3)"), {}, "'linear'")
    >>> cfg["out"], cfg["bias"]
    (3, False)
    """
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
            # e.g. a surrogate on a non-spiking kind: say which kinds take it
            owners = [k for k, kd in KINDS.items() if key in {a.name for a in kd.args}]
            raise SpecNameError(
                f"{what} has no argument '{key}'", call.key_span(i),
                hint=did_you_mean(key, by_name)
                or (f"'{key}' is an argument of {', '.join(owners)}, not of {what}"
                    if key in ("surrogate", "spikes") else "")
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
                                     call.span, hint=f"write {call.func}({a.name} = ...)")
            cfg[a.name] = a.default
            continue
        expr = given[a.name]
        spans[a.name] = getattr(expr, "span", call.span)
        v = evaluate(expr, env, calls=True)
        cfg[a.name] = CONVERTERS[a.type](a, v, expr, env)
        _check_range(a, cfg[a.name], expr, what)
    return cfg, spans


def _check_range(a: Arg, value: Any, expr: ast.Expr, what: str) -> None:
    """The value (every value an initialiser can produce, where known) lies in the range
    the kind declares for the argument: ``rate(tau = -5 ms)`` is refused here, at check."""
    if a.range is None:
        return
    for v in a.range_values(value):
        message = range_error(a.name, v, a.range, a.unit)
        if message is not None:
            raise SpecValueError(f"{what}: {message}", expr.span)


Converter = Callable[[Arg, Value, ast.Expr, Mapping[str, Value]], Any]


def _to_int(arg: Arg, v: Value, expr: ast.Expr, env: Mapping[str, Value]) -> int:
    return _size(v, expr)


def _to_float(arg: Arg, v: Value, expr: ast.Expr, env: Mapping[str, Value]) -> float:
    return as_float(v, expr)


def _to_time(arg: Arg, v: Value, expr: ast.Expr, env: Mapping[str, Value]) -> float:
    t = as_float(v, expr, time=True)
    if t <= 0:
        raise SpecValueError(f"Expected a positive time, got {t:g} s", expr.span)
    return t


def _to_bool(arg: Arg, v: Value, expr: ast.Expr, env: Mapping[str, Value]) -> bool:
    if not isinstance(v, bool):
        raise SpecValueError(f"Expected true or false, got {describe(v)}", expr.span)
    return v


def _name(v: Value) -> str | None:
    return v.name if isinstance(v, Symbol) else (v if isinstance(v, str) else None)


def _to_activation(arg: Arg, v: Value, expr: ast.Expr, env: Mapping[str, Value]) -> str:
    name = _name(v)
    if name in ACTIVATIONS:
        assert name is not None
        return name
    raise SpecNameError(
        f"unknown activation '{name}'" if name else
        f"Expected an activation name, got {describe(v)}", expr.span,
        hint=(did_you_mean(name, ACTIVATIONS) if name else None)
        or f"known activations: {', '.join(sorted(ACTIVATIONS))}")


def _to_str(arg: Arg, v: Value, expr: ast.Expr, env: Mapping[str, Value]) -> str:
    name = _name(v)
    if name is None:
        raise SpecValueError(f"Expected a name, got {describe(v)}", expr.span)
    if arg.choices and name not in arg.choices:
        raise SpecNameError(
            f"unknown {arg.name} '{name}'", expr.span,
            hint=did_you_mean(name, arg.choices)
            or f"{arg.name} is one of: {', '.join(arg.choices)}")
    return name


def _to_surrogate(arg: Arg, v: Value, expr: ast.Expr, env: Mapping[str, Value]
                  ) -> Surrogate:
    """``pwl``, ``atan(2)`` or ``fast_sigmoid(slope = 25)``: a name from
    :data:`~rpgraph.modules.surrogates.SURROGATES` with positive arguments."""
    known = f"known surrogates: {', '.join(SURROGATES)}"
    name = _name(v) if not isinstance(v, ast.Call) else v.func
    span = v.func_span if isinstance(v, ast.Call) else expr.span
    if name is None:
        raise SpecValueError(f"Expected a surrogate gradient, got {describe(v)}", expr.span,
                             hint=f"e.g. fast_sigmoid(slope = 25); {known}")
    if name not in SURROGATES:
        raise SpecNameError(f"unknown surrogate '{name}'", span,
                            hint=did_you_mean(name, SURROGATES) or known)
    fam = SURROGATES[name]
    usage = f"{name}({', '.join(f'{k} = {d:g}' for k, d in fam.args)})"
    given: dict[str, float] = {}
    if isinstance(v, ast.Call):
        names = [k for k, _ in fam.args]
        if len(v.args) > len(names):
            raise SpecValueError(f"surrogate '{name}' takes {len(names)} argument"
                                 f"{'s' if len(names) != 1 else ''}, got {len(v.args)}",
                                 v.span, hint=f"write {usage}")
        pairs = list(zip(names, v.args)) + list(v.kwargs)
        for i, (key, a) in enumerate(pairs):
            if key not in names:
                raise SpecNameError(f"surrogate '{name}' has no argument '{key}'",
                                    v.key_span(i - len(v.args)),
                                    hint=did_you_mean(key, names) or f"write {usage}")
            x = as_float(evaluate(a, env), a)
            if not (x > 0 and x < float("inf")):
                raise SpecValueError(f"surrogate '{name}': {key} must be positive, got {x:g}",
                                     a.span, hint=f"e.g. {usage}")
            given[key] = x
    return Surrogate.make(name, given)


def _to_init(arg: Arg, v: Value, expr: ast.Expr, env: Mapping[str, Value]) -> Init | bool:
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
        return _make_init(v.name, (), v.span)
    if isinstance(v, ast.Call):
        if v.func not in INITIALISERS:
            raise SpecNameError(
                f"unknown initialiser '{v.func}'", v.func_span,
                hint=did_you_mean(v.func, INITIALISERS)
                or f"known initialisers: {', '.join(sorted(INITIALISERS))}")
        if v.kwargs:
            raise SpecValueError(f"initialiser '{v.func}' takes positional arguments only",
                                 v.span, hint=f"write {INITIALISERS[v.func][2]}")
        vals = tuple(as_float(evaluate(a, env), a, time=True) for a in v.args)
        return _make_init(v.func, vals, v.span)
    raise SpecValueError(
        f"Expected an initialiser or a number for '{arg.name}', got {describe(v)}",
        expr.span, hint="e.g. kaiming, normal(0.1), uniform(-1, 1) or 20 ms")


def _make_init(name: str, args: tuple[float, ...], span: Span) -> Init:
    _, counts, usage = INITIALISERS[name]
    if len(args) not in counts:
        raise SpecValueError(
            f"initialiser '{name}' takes {' or '.join(map(str, counts))} argument"
            f"{'s' if counts != (1,) else ''}, got {len(args)}", span,
            hint=f"write {usage}")
    for (arg_name, rng), v in zip(INIT_ARG_RANGES.get(name, {}).get(len(args), ()), args):
        message = range_error(arg_name, v, rng) if rng is not None else None
        if message is not None:
            raise SpecValueError(f"initialiser '{name}': {message}", span,
                                 hint=f"write {usage}")
    if name == "uniform" and len(args) == 2 and args[0] > args[1]:
        raise SpecValueError(f"uniform(lo, hi) needs lo <= hi, got {args[0]:g} > "
                             f"{args[1]:g}", span)
    return Init(name, args)


def _to_ints(arg: Arg, v: Value, expr: ast.Expr, env: Mapping[str, Value]
             ) -> int | str | tuple[int, ...]:
    """An integer, a tuple of integers (``(3, 3)``) or one of the argument's names
    (``same``); the kind checks the ranges (it knows the input's shape)."""
    name = _name(v)
    if name is not None and arg.choices:
        return _to_str(arg, v, expr, env)
    if isinstance(v, (tuple, list)):
        items = expr.items if isinstance(expr, (ast.TupleExpr, ast.ListExpr)) else ()
        if not v:
            raise SpecValueError(f"Expected at least one integer for '{arg.name}'", expr.span)
        return tuple(as_int(x, items[i] if i < len(items) else expr, "an integer")
                     for i, x in enumerate(v))
    return as_int(v, expr, "an integer" + (" or " + " or ".join(arg.choices)
                                           if arg.choices else ""))


#: How a value given for an argument becomes its configuration entry, by ``Arg.type``.
CONVERTERS: dict[str, Converter] = {
    "int": _to_int,
    "float": _to_float,
    "time": _to_time,
    "bool": _to_bool,
    "activation": _to_activation,
    "init": _to_init,
    "str": _to_str,
    "ints": _to_ints,
    "surrogate": _to_surrogate,
}


# --- helpers ---------------------------------------------------------------------------------


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


def _shape(v: Value, expr: ast.Expr) -> tuple[int, ...]:
    """A port's shape: a size ``64`` is the vector ``(64,)``; a tuple ``(2, 34, 34)`` is
    (channels, *spatial), each a positive integer.

    >>> _shape((2, 3), ast.Num(0))
    (2, 3)
    """
    if not isinstance(v, tuple):
        return (_size(v, expr),)
    items = expr.items if isinstance(expr, ast.TupleExpr) else ()
    out = []
    for i, x in enumerate(v):
        at = items[i] if i < len(items) else expr
        n = as_int(x, at, "an integer size")
        if n <= 0:
            raise SpecShapeError(f"Expected a positive size in a shape, got {n}", at.span,
                                 hint="every axis of a shape has at least one element")
        out.append(n)
    return tuple(out)


def _shape_size(shape: tuple[int, ...], expr: ast.Expr) -> int:
    """The number of elements of a shape, within :data:`MAX_SIZE`."""
    n = 1
    for d in shape:
        n *= d
    if n > MAX_SIZE:
        shown = f"{n:.3g}" if n > 10**12 else str(n)
        raise SpecShapeError(f"Expected a shape of at most {MAX_SIZE} elements, got {shown}",
                             expr.span)
    return n


def _kind_name(target: ast.Name | ast.Call, scope: _Scope) -> str:
    func = target.func if isinstance(target, ast.Call) else target.id
    bound = scope.env.get(func)
    return bound.name if isinstance(bound, Symbol) else func


def elaborate(spec: ast.Spec, max_nodes: int = MAX_NODES) -> tuple[nx.DiGraph, Context]:
    """The unsized module graph of a parsed spec, and the context the passes need.

    >>> from rpgraph.parse import parse
    >>> g, ctx = elaborate(parse("network n { input x : 4\\n output y : 2\\n"
    ...                          " x -> linear(2) -> y }"))
    >>> list(g.nodes), ctx.inputs, g.nodes["linear_0"]["node"].size_out
    (['x', 'y', 'linear_0'], ['x'], 0)
    """
    return Elaborator(spec, max_nodes).run()
