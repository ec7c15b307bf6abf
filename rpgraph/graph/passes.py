"""The passes that turn an elaborated graph into a checked module graph, in order.

Each pass is a plain function ``(graph, context) -> None | graph`` (``None``: it changed the
graph in place); :data:`PASSES` lists them in the order :func:`rpgraph.graph.build` runs them,
the way an optimizer lists its rules. Records are frozen: a pass replaces the record of a
node it changes (:func:`~rpgraph.graph.records.put`). Every problem is a located
:class:`~rpgraph.errors.SpecError`.
"""

from __future__ import annotations

import fnmatch
import heapq
import math
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields, is_dataclass, replace

import networkx as nx

from .. import ast
from ..errors import (
    SpecGraphError,
    SpecNameError,
    SpecShapeError,
    SpecValueError,
    SpecWarning,
    did_you_mean,
)
from ..expr import as_float, describe, evaluate
from ..modules import KINDS
from ..vocab import BOUND_TERMS, DEFAULT_ENFORCE
from .elaborate import Context
from .records import ModuleNode, ParamNode, PortNode, put, record

Pass = Callable[[nx.DiGraph, Context], "nx.DiGraph | None"]


def _data(g: nx.DiGraph, n: str) -> PortNode | ModuleNode:
    rec = record(g, n)
    assert not isinstance(rec, ParamNode)
    return rec


def _stateful(g: nx.DiGraph, n: str) -> bool:
    rec = record(g, n)
    return isinstance(rec, ModuleNode) and rec.stateful


def _reachable(g: nx.DiGraph, sources: Iterable[str]) -> set[str]:
    """Every node a path from ``sources`` reaches (the sources included), in linear time."""
    seen = set(sources)
    stack = list(seen)
    while stack:
        for v in g.successors(stack.pop()):
            if v not in seen:
                seen.add(v)
                stack.append(v)
    return seen


# --- sizes -----------------------------------------------------------------------------------


def infer_sizes(g: nx.DiGraph, ctx: Context) -> None:
    """Give every port and module its sizes, from the inputs forward.

    A node takes its input size from its first predecessor (in edge order) that is sized
    when the node's turn comes, turns being visits in node order, round after round. That
    order is the one earlier versions computed by repeated full sweeps; here it is found
    once with a priority queue on (round, position), so the pass is O(E log V).

    >>> from rpgraph.parse import parse
    >>> from rpgraph.graph.elaborate import elaborate
    >>> g, ctx = elaborate(parse("network n { input x : 4\\n output y : 2\\n"
    ...                          " x -> linear(2) -> y }"))
    >>> infer_sizes(g, ctx)
    >>> g.nodes["linear_0"]["node"].size_in, g.nodes["linear_0"]["node"].size_out
    (4, 2)
    """
    pos = {n: i for i, n in enumerate(g)}
    # inputs, and block ports declared with a size, are sized from the start
    sources = [n for n, d in g.nodes(data=True) if d["type"] == "input" or (
        d["type"] == "junction" and d["node"].declared is not None)]
    sized: dict[str, tuple[int, int]] = {n: (0, -1) for n in sources}  # node -> turn sized
    best: dict[str, tuple[int, int]] = {}
    heap: list[tuple[int, int, str]] = []
    origin: dict[str, str] = {}

    def reach_from(p: str) -> None:
        k, i = sized[p]
        for n in g.successors(p):
            if n not in sized:
                turn = (k, pos[n]) if pos[n] > i else (k + 1, pos[n])
                if n not in best or turn < best[n]:
                    best[n] = turn
                    heapq.heappush(heap, (*turn, n))

    for s in sources:
        reach_from(s)
    while heap:
        k, i, n = heapq.heappop(heap)
        if n in sized or best[n] != (k, i):
            continue
        first = next(p for p in g.predecessors(n) if p in sized)
        _set_shape_in(g, n, _data(g, first).shape_out, ctx.dt, first)
        origin[n] = first
        sized[n] = (k, i)
        reach_from(n)
    _check_unsized(g, ctx, [n for n in g if n not in sized])
    _check_edge_sizes(g, origin)


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return f"({shape[0]},)" if len(shape) == 1 else f"({', '.join(map(str, shape))})"


def _set_shape_in(g: nx.DiGraph, n: str, shape: tuple[int, ...], dt: float, src: str
                  ) -> None:
    """Give ``n`` the input ``shape`` (from ``src``) and its output shape; vectors keep the
    messages sizes always had, shaped tensors name both shapes."""
    size = math.prod(shape)
    rec = _data(g, n)
    if isinstance(rec, PortNode) and rec.role == "output" and rec.shape_in != shape and (
            len(shape) > 1 or len(rec.shape_in) > 1):
        raise SpecShapeError(
            f"shape mismatch into output '{n}': declared {_fmt_shape(rec.shape_in)}, got "
            f"{_fmt_shape(shape)} from '{src}'", g.edges[src, n]["span"],
            notes=[(rec.span, f"'{n}' is declared with shape {_fmt_shape(rec.shape_in)}")],
            hint=None if rec.size != size else f"insert 'flatten' before '{n}'"
            if len(rec.shape_in) == 1 else
            f"insert 'unflatten({_fmt_shape(rec.shape_in)})' before '{n}'")
    if isinstance(rec, ModuleNode):
        kind = KINDS[rec.kind]
        cfg = kind.configure(rec.cfg, dt=dt, shape_in=shape)
        msg = kind.shape_in_rule(shape, cfg)
        if msg:
            raise SpecShapeError(
                (f"'{n}' on input {_fmt_shape(shape)} from '{src}': {msg}" if len(shape) > 1
                 else f"'{n}': {msg}"), rec.span,
                hint=f"flatten first: '{src} -> flatten -> {n}'" if kind.vector_only
                and len(shape) > 1 else None)
        out = tuple(kind.shape_out(shape, cfg))
        put(g, n, replace(rec, size_in=size, size_out=math.prod(out), shape_in=tuple(shape),
                          shape_out=out))
        return
    _set_size_in(g, n, size, dt)
    if len(shape) > 1:
        rec = _data(g, n)
        assert isinstance(rec, PortNode)
        put(g, n, replace(rec, shape=tuple(shape)))


def _set_size_in(g: nx.DiGraph, n: str, size: int, dt: float) -> None:
    rec = _data(g, n)
    if isinstance(rec, PortNode):
        if rec.role == "output" and rec.size != size:
            pred = next(iter(g.predecessors(n)))
            raise SpecShapeError(
                f"size mismatch into output '{n}': declared {rec.size}, got {size}",
                g.edges[pred, n]["span"],
                notes=[(rec.span, f"'{n}' is declared with size {rec.size}")],
                hint=f"end the chain with 'linear({rec.size})' before '{n}'")
        put(g, n, replace(rec, size=size))  # a junction without a declared size
        return
    kind = KINDS[rec.kind]
    cfg = kind.configure(rec.cfg, dt=dt)
    msg = kind.size_in_rule(size, cfg)
    if msg:
        raise SpecShapeError(f"'{n}': {msg}", rec.span)
    put(g, n, replace(rec, size_in=size, size_out=kind.size_out(size, cfg)))


def _check_unsized(g: nx.DiGraph, ctx: Context, unsized: list[str]) -> None:
    inputs = ctx.inputs
    reach = _reachable(g, inputs)
    # report the root cause first: a node fed by nothing, then one no input reaches
    for n in sorted(unsized, key=lambda n: g.in_degree(n) != 0):
        span = _data(g, n).span
        if g.nodes[n]["type"] == "output" and n not in reach:
            raise SpecGraphError(f"output '{n}' is not reachable from any input", span,
                                 hint=f"connect it, e.g. '{inputs[0]} -> ... -> {n}'")
        if g.in_degree(n) == 0:
            raise SpecGraphError(f"'{n}' has no input", span,
                                 hint=f"connect something to it: '{inputs[0]} -> {n}'")
    for n in unsized:
        span = _data(g, n).span
        if n not in reach:
            raise SpecGraphError(f"'{n}' is not reachable from any input", span,
                                 hint=f"connect it, e.g. '{inputs[0]} -> {n}'")
        raise SpecShapeError(f"cannot infer the size of '{n}'", span,
                             hint="give a size to a node in its loop")


def _check_edge_sizes(g: nx.DiGraph, origin: dict[str, str]) -> None:
    """Every edge must agree with its target's size."""
    for u, v, e in g.edges(data=True):
        su, sv = _data(g, u).size_out, _data(g, v).size_in
        hu, hv = _data(g, u).shape_out, _data(g, v).shape_in
        if su == sv and hu != hv:
            first = origin.get(v, u)
            raise SpecShapeError(
                f"shape mismatch into '{v}': '{u}' gives {_fmt_shape(hu)} but '{first}' "
                f"gives {_fmt_shape(hv)}", e["span"],
                notes=[(_data(g, u).span, f"'{u}' has output shape {_fmt_shape(hu)}"),
                       (_data(g, first).span, f"'{first}' has output shape {_fmt_shape(hv)}")],
                hint="make the shapes agree, e.g. with 'flatten' or 'unflatten(...)'")
        if su != sv:
            first = origin.get(v, u)
            raise SpecShapeError(
                f"size mismatch into '{v}': '{u}' gives {su} but '{first}' gives {sv}",
                e["span"],
                notes=[(_data(g, u).span, f"'{u}' has output size {su}"),
                       (_data(g, first).span, f"'{first}' has output size {sv}")],
                hint=f"make the sizes agree, e.g. insert 'linear({sv})' after '{u}'")


# --- topology --------------------------------------------------------------------------------


def check_topology(g: nx.DiGraph, ctx: Context) -> None:
    """Every output and node is reachable from an input; every input feeds something.

    >>> from rpgraph.parse import parse
    >>> from rpgraph.graph.elaborate import elaborate
    >>> g, ctx = elaborate(parse("network n { input x : 2\\n input u : 2\\n output y : 2\\n"
    ...                          " x -> y }"))
    >>> check_topology(g, ctx)
    Traceback (most recent call last):
    rpgraph.errors.SpecGraphError: <string>:2:2: error: input 'u' is not connected to anything...
    """
    inputs = ctx.inputs
    reach = _reachable(g, inputs)
    for o in ctx.outputs:
        if o not in reach:
            raise SpecGraphError(f"output '{o}' is not reachable from any input",
                                 _data(g, o).span,
                                 hint=f"connect it, e.g. '{inputs[0]} -> ... -> {o}'")
    for n, d in g.nodes(data=True):
        if n not in reach and d["type"] != "input":
            raise SpecGraphError(f"'{n}' is not reachable from any input", d["node"].span)
    for i in inputs:
        if g.out_degree(i) == 0:
            raise SpecGraphError(f"input '{i}' is not connected to anything",
                                 _data(g, i).span, hint=f"use it: '{i} -> ...'")


def mark_recurrent(g: nx.DiGraph, ctx: Context) -> None:
    """Choose the one-step-delayed edges: in each strongly connected component, cut edges
    leaving stateful nodes until the rest is acyclic, keeping as many undelayed (in
    declaration order) as possible so feed-forward stateful chains stay same-step like
    Rockpool's Sequential.

    >>> from rpgraph.parse import parse
    >>> from rpgraph.graph.elaborate import elaborate
    >>> g, ctx = elaborate(parse("network n { input x : 2\\n output y : 2\\n"
    ...                          " x -> h: rate -> h\\n h -> y }"))
    >>> mark_recurrent(g, ctx)
    >>> [(u, v) for u, v, e in g.edges(data=True) if e["recurrent"]]
    [('h', 'h')]
    """
    pos = {n: i for i, n in enumerate(g.nodes)}
    # declaration order throughout (not set order), so messages do not vary per run
    comps = sorted(nx.strongly_connected_components(g), key=lambda c: min(pos[n] for n in c))
    for comp in comps:
        if len(comp) == 1:
            n = next(iter(comp))
            if not g.has_edge(n, n):
                continue
        members = sorted(comp, key=pos.__getitem__)
        edges = sorted(g.subgraph(members).edges, key=lambda e: (pos[e[0]], pos[e[1]]))
        stateful_out = [(u, v) for u, v in edges if _stateful(g, u)]
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


# --- parameters, bounds, freezing ------------------------------------------------------------


def add_params(g: nx.DiGraph, ctx: Context) -> None:
    """A parameter node ``"<module>.<param>"`` per parameter of each module, with an edge
    ``param -> module`` (``type="param"``), in module declaration order.

    >>> from rpgraph.parse import parse
    >>> from rpgraph.graph.elaborate import elaborate
    >>> g, ctx = elaborate(parse("network n { input x : 4\\n output y : 2\\n"
    ...                          " x -> linear(2) -> y }"))
    >>> infer_sizes(g, ctx); add_params(g, ctx)
    >>> g.nodes["linear_0.weight"]["node"].shape
    (4, 2)
    """
    modules = [n for n, d in g.nodes(data=True) if d["type"] == "module"]
    for n in modules:
        m = record(g, n)
        assert isinstance(m, ModuleNode)
        kind = KINDS[m.kind]
        cfg = kind.configure(m.cfg, dt=ctx.dt, shape_in=m.shape_in)
        for pname, ps in kind.param_specs(m.size_in, m.size_out, cfg).items():
            pid = f"{n}.{pname}"
            if pid in g:
                raise SpecNameError(f"name '{pid}' is both a node and a parameter", m.span)
            put(g, pid, ParamNode(pid, n, pname, tuple(ps.shape), ps.family, ps.init,
                                  span=m.arg_spans.get(pname, m.call_span or m.span),
                                  trainable=ps.trainable))
            g.add_edge(pid, n, type="param")


def _params(g: nx.DiGraph) -> list[ParamNode]:
    return [d["node"] for _, d in g.nodes(data=True) if d["type"] == "param"]


def match_params(params: Iterable[ParamNode], ref: ast.Ref, what: str = "parameter"
                 ) -> list[str]:
    """Ids of the parameters a (globbed) ``node.param`` target names: the one matcher of
    bounds, ``freeze`` and loss terms. The last segment matches the parameter name, the
    others the node (``*`` and globs inside a segment as in :mod:`fnmatch`); no match is a
    located error.

    >>> from rpgraph.graph import loads
    >>> net = loads("network n { input x : 2\\n output y : 2\\n"
    ...             " x -> w_in: linear(2) -> h: rate -> w_out: linear(2) -> y }")
    >>> match_params(net.params(), ast.Ref(("w_*", "weight")))
    ['w_in.weight', 'w_out.weight']
    >>> match_params(net.params(), ast.Ref(("h", "t*")))
    ['h.tau', 'h.threshold']
    """
    params = list(params)
    node_pat, param_pat = ".".join(ref.parts[:-1]), ref.parts[-1]
    out = [p.id for p in params if fnmatch.fnmatchcase(p.module, node_pat)
           and fnmatch.fnmatchcase(p.name, param_pat)]
    if not out:
        ids = [p.id for p in params]
        raise SpecNameError(f"'{ref.text}' matches no {what}", ref.span,
                            hint=did_you_mean(ref.text, ids)
                            or f"parameters: {', '.join(ids[:12])}"
                            + (", ..." if len(ids) > 12 else ""))
    return out


def loss_has_bound_term(loss: ast.Expr | None) -> bool:
    """Whether a loss expression mentions ``bounds_cost`` or ``bounds_penalty``.

    >>> from rpgraph.parse import parse_expr
    >>> loss_has_bound_term(parse_expr("mse(y, target) + 1e3 * bounds_cost"))
    True
    >>> loss_has_bound_term(parse_expr("mse(y, target)"))
    False
    """
    todo: list[ast.Expr] = [loss] if loss is not None else []
    while todo:
        e = todo.pop()
        if isinstance(e, ast.Name) and e.id in BOUND_TERMS:
            return True
        if isinstance(e, ast.Call):
            if e.func in BOUND_TERMS:
                return True
            todo.extend((*e.args, *(v for _, v in e.kwargs)))
        elif isinstance(e, ast.BinOp):
            todo.extend((e.left, e.right))
        elif isinstance(e, ast.Neg):
            todo.append(e.operand)
        elif isinstance(e, ast.ListExpr):
            todo.extend(e.items)
    return False


def _spec_loss(spec: ast.Spec) -> ast.Expr | None:
    s = spec.train.get("loss") if spec.train is not None else None
    return s.value if s is not None else None


_NO_TERM_HINT = ("add a bounds term to the loss (e.g. '+ 1e3 * bounds_penalty'), or enforce "
                 "it by projection ('enforce project')")


def apply_bounds(g: nx.DiGraph, ctx: Context) -> None:
    """The ``bounds`` block: each parameter's box (intersected over the bounds that match
    it) and enforcement mode; the block's default mode goes to ``ctx.enforce``. The parser
    has already checked every enforce mode, so it is taken as written.

    A bound cannot silently do nothing: when the block sets no ``enforce``, the default is
    ``penalty`` if the loss has a bounds term (``bounds_cost``/``bounds_penalty``) and
    ``project`` if it has none; a bound (or block) that asks for ``penalty``/``both`` while
    the loss has no bounds term is an error here.

    >>> from rpgraph.parse import parse
    >>> from rpgraph.graph.elaborate import elaborate
    >>> g, ctx = elaborate(parse("network n { input x : 4\\n output y : 2\\n"
    ...                          " x -> linear(2) -> y }\\nbounds { *.weight <= 1 }"))
    >>> infer_sizes(g, ctx); add_params(g, ctx); apply_bounds(g, ctx)
    >>> p = g.nodes["linear_0.weight"]["node"]
    >>> p.upper, p.enforce, ctx.enforce
    (1.0, 'project', 'project')
    """
    term = loss_has_bound_term(_spec_loss(ctx.spec))
    ctx.enforce = DEFAULT_ENFORCE if term else "project"
    bounds = ctx.spec.bounds
    if bounds is None:
        return
    for s in bounds.settings:
        if s.key != "enforce":
            raise SpecNameError(f"unknown bounds setting '{s.key}'", s.span,
                                hint=did_you_mean(s.key, ["enforce"])
                                or "the only setting is 'enforce'")
        if not term and bounds.enforce == "penalty":
            raise SpecValueError(
                f"bounds are enforced as '{bounds.enforce}', but the loss has no "
                "bounds_cost or bounds_penalty term, so they would do nothing", s.span,
                hint=_NO_TERM_HINT.replace("it by", "them by").replace(
                    "'enforce project'", "'enforce = project'"))
    ctx.enforce = bounds.enforce or ctx.enforce  # a mode the parser checked
    params = _params(g)
    for b in bounds.bounds:
        if not term and b.enforce == "penalty":
            raise SpecValueError(
                f"bound on '{b.target.text}' is enforced as '{b.enforce}', but the loss has "
                "no bounds_cost or bounds_penalty term, so it would do nothing", b.span,
                hint=_NO_TERM_HINT)
        lo = -math.inf if b.lower is None else as_float(evaluate(b.lower, ctx.consts), b.lower,
                                                         time=True)
        hi = math.inf if b.upper is None else as_float(evaluate(b.upper, ctx.consts), b.upper,
                                                        time=True)
        if lo > hi:
            raise SpecValueError(f"lower bound {lo:g} is above upper bound {hi:g}", b.span)
        for pid in match_params(params, b.target):
            p = record(g, pid)
            assert isinstance(p, ParamNode)
            p = replace(p, lower=max(p.lower, lo), upper=min(p.upper, hi),
                        bound_spans=(*p.bound_spans, b.span),
                        enforce=b.enforce if b.enforce is not None else p.enforce)
            if p.lower > p.upper:
                raise SpecValueError(
                    f"bounds on '{pid}' contradict: lower {p.lower:g} is above upper "
                    f"{p.upper:g}", b.span,
                    notes=[(s, "another bound on it") for s in p.bound_spans[:-1]])
            put(g, pid, p)
    for p in _params(g):
        if p.enforce is None:
            put(g, p.id, replace(p, enforce=ctx.enforce))


def floor_time_constants(g: nx.DiGraph, ctx: Context) -> None:
    """Every time constant (a parameter of family ``taus``: ``tau``, ``tau_mem``,
    ``tau_syn`` of any kind) without a lower bound gets its kind's default floor,
    ``tau_floor * dt`` (``dt / 2`` for the forward-Euler ``rate``, ``dt / 1000`` for the
    exponential ``lif`` and ``expsyn``), projected after each update, so training cannot
    drive it to zero or below. A lower bound in the spec replaces the floor.

    >>> from rpgraph.graph import loads
    >>> p = {p.id: p for p in loads("network n (dt = 1 ms) { input x : 2\\n output y : 2\\n"
    ...                             " x -> h: rate -> y }").params()}["h.tau"]
    >>> p.lower, p.enforce, p.floor
    (0.0005, 'project', True)
    """
    for p in _params(g):
        if p.family != "taus" or p.lower > -math.inf:
            continue
        m = record(g, p.module)
        assert isinstance(m, ModuleNode)
        floor = KINDS[m.kind].tau_floor * ctx.dt
        # the floor is projected whatever the parameter's other bounds use
        enforce = "project" if not p.bound_spans or p.enforce == "project" else "both"
        put(g, p.id, replace(p, lower=min(floor, p.upper), enforce=enforce, floor=True))


#: A time constant written without a unit is in seconds; one this many steps long or longer
#: was most likely meant in milliseconds (``tau_mem = 20``: 20 s, 20,000 steps of 1 ms).
UNITLESS_TAU_STEPS = 1000


def _unitless_numbers(node: object) -> Iterator[ast.Num]:
    """Every number without a unit in an AST (sub)tree."""
    if isinstance(node, ast.Num):
        if node.unit is None:
            yield node
        return
    if isinstance(node, (tuple, list)):
        for item in node:
            yield from _unitless_numbers(item)
    elif is_dataclass(node):
        for f in fields(node):
            yield from _unitless_numbers(getattr(node, f.name))


def warn_unitless_time_constants(g: nx.DiGraph, ctx: Context) -> None:
    """A time constant given as a bare number of seconds that is at least
    :data:`UNITLESS_TAU_STEPS` steps long gets a located :class:`SpecWarning` that names the
    value in seconds and suggests the unit (the spec still builds: long time constants are
    legal, just rarely meant).

    >>> import warnings
    >>> from rpgraph.graph import loads
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     _ = loads("network n (dt = 1 ms) { input x : 2\\n output y : 2\\n"
    ...               " x -> h: rate(tau = 20) -> y }")
    >>> print(w[0].message)
    <string>:3:21: warning: 'h.tau' = 20 has no unit, so it is 20 s: 20000 steps of dt = 1 ms
         x -> h: rate(tau = 20) -> y }
                            ^^
    hint: write 20 ms if you meant milliseconds (a number without a unit is in seconds)
    """
    long = [p for p in _params(g) if p.family == "taus" and p.init.name == "constant"
            and p.init.args and p.init.args[0] >= UNITLESS_TAU_STEPS * ctx.dt]
    if not long:  # the usual case: no need to look at how numbers were written
        return
    numbers = {n.span: n for n in _unitless_numbers(ctx.spec)}
    for p in long:
        num = numbers.get(p.span) if p.span is not None else None
        if num is None:
            continue
        text = num.text or f"{num.value:g}"
        warnings.warn(SpecWarning(
            f"'{p.id}' = {text} has no unit, so it is {num.value:g} s: "
            f"{num.value / ctx.dt:.0f} steps of dt = {ctx.dt * 1e3:g} ms", num.span,
            ctx.spec.source, ctx.spec.filename,
            hint=f"write {text} ms if you meant milliseconds (a number without a unit is in "
            "seconds)"), stacklevel=2)


def freeze(g: nx.DiGraph, ctx: Context) -> None:
    """``freeze = [...]`` in the train block: the parameters it names are not trained.
    Targets are written as in ``bounds`` (``h.tau_*``, ``w_*.weight``, ``*.threshold``).

    >>> from rpgraph.parse import parse
    >>> from rpgraph.graph.elaborate import elaborate
    >>> g, ctx = elaborate(parse("network n { input x : 4\\n output y : 2\\n"
    ...                          " x -> linear(2) -> y }\\ntrain { freeze = *.weight }"))
    >>> infer_sizes(g, ctx); add_params(g, ctx); freeze(g, ctx)
    >>> g.nodes["linear_0.weight"]["node"].trainable
    False
    """
    train = ctx.spec.train
    s = train.get("freeze") if train is not None else None
    if s is None:
        return
    items = s.value.items if isinstance(s.value, ast.ListExpr) else (s.value,)
    params = _params(g)
    for item in items:
        if not isinstance(item, ast.Ref) or len(item.parts) < 2:
            got = (f"'{item.text}'" if isinstance(item, ast.Ref)
                   else describe(evaluate(item, {}, calls=True)))
            raise SpecValueError(
                f"Expected parameter names like hidden.tau or *.threshold, got {got}",
                item.span)
        for pid in match_params(params, item):
            p = record(g, pid)
            assert isinstance(p, ParamNode)
            put(g, pid, replace(p, trainable=False))


#: The passes :func:`rpgraph.graph.build` runs after elaboration, in order.
PASSES: tuple[Pass, ...] = (infer_sizes, check_topology, mark_recurrent, add_params,
                            apply_bounds, floor_time_constants, warn_unitless_time_constants,
                            freeze)
