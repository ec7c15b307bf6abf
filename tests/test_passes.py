"""Each graph pass (rpgraph.graph.passes) on its own, on a small graph: hand-built from
records where the pass needs nothing else, elaborated from a few lines of spec otherwise."""

from __future__ import annotations

import math
from typing import Any

import networkx as nx
import pytest

from rpgraph import ast
from rpgraph.errors import Span, SpecGraphError, SpecShapeError, SpecWarning
from rpgraph.graph.elaborate import CONVERTERS, Context, bind_args, elaborate
from rpgraph.graph.passes import (
    PASSES,
    add_params,
    apply_bounds,
    check_topology,
    floor_time_constants,
    freeze,
    infer_sizes,
    mark_recurrent,
    warn_unitless_time_constants,
)
from rpgraph.graph.records import ModuleNode, ParamNode, PortNode, put, record
from rpgraph.modules import KINDS, Init
from rpgraph.parse import parse, parse_expr

S = Span(1, 1, 1, 2)
HEAD = "network n {\n    input x : 4\n    output y : 2\n"


def module(name: str, call: str) -> ModuleNode:
    """An unsized module record, configured as ``call`` (e.g. ``"linear(3)"``) would be."""
    expr = parse_expr(call if "(" in call else call + "()")
    assert isinstance(expr, ast.Call)
    cfg, spans = bind_args(KINDS[expr.func].args, expr, {}, f"'{expr.func}'")
    return ModuleNode(name, expr.func, cfg, 0, 0, KINDS[expr.func].stateful, S, S, spans)


def hand_built(records: list[Any], edges: list[tuple[str, str]]) -> tuple[nx.DiGraph, Context]:
    g = nx.DiGraph()
    for rec in records:
        put(g, rec.name, rec)
    for u, v in edges:
        g.add_edge(u, v, type="data", recurrent=False, span=S)
    ports = [r for r in records if isinstance(r, PortNode)]
    ctx = Context(ast.Spec(ast.Network("n", (), ())), {}, 1e-3,
                  [p.name for p in ports if p.role == "input"],
                  [p.name for p in ports if p.role == "output"])
    return g, ctx


def elaborated(text: str) -> tuple[nx.DiGraph, Context]:
    """The graph of ``text`` after the passes before the ones under test have run."""
    return elaborate(parse(text))


def test_the_passes_and_their_order() -> None:
    assert PASSES == (infer_sizes, check_topology, mark_recurrent, add_params, apply_bounds,
                      floor_time_constants, warn_unitless_time_constants, freeze)


def test_infer_sizes_from_the_inputs_whatever_the_declaration_order() -> None:
    # declared last to first: each node's size comes from a node declared after it
    y, b, a = PortNode("y", "output", 3, S, 3), module("b", "tanh"), module("a", "linear(3)")
    x = PortNode("x", "input", 4, S, 4)
    g, ctx = hand_built([y, b, a, x], [("x", "a"), ("a", "b"), ("b", "y")])
    assert infer_sizes(g, ctx) is None  # in place: records replaced
    assert [(r.size_in, r.size_out) for r in map(lambda n: record(g, n), "ab")] == [(4, 3),
                                                                                    (3, 3)]
    assert record(g, "y") == y and record(g, "b") != b


def test_infer_sizes_names_the_predecessor_that_gave_the_size() -> None:
    g, ctx = hand_built([PortNode("x", "input", 4, S, 4), PortNode("y", "output", 3, S, 3),
                         module("a", "linear(3)"), module("b", "tanh")],
                        [("x", "a"), ("a", "b"), ("x", "b"), ("b", "y")])
    with pytest.raises(SpecShapeError, match="size mismatch into 'b': 'x' gives 4 but 'a' "
                       "gives 3"):
        infer_sizes(g, ctx)


def test_infer_sizes_a_block_port_with_a_size_is_a_source() -> None:
    g, ctx = hand_built([PortNode("x", "input", 4, S, 4), PortNode("y", "output", 2, S, 2),
                         PortNode("b.i", "junction", 2, S, 2, "input", "b"),
                         module("t", "tanh")], [("b.i", "t"), ("t", "y")])
    infer_sizes(g, ctx)
    assert record(g, "t").size_out == 2  # type: ignore[union-attr]
    g, ctx = hand_built([PortNode("x", "input", 4, S, 4), PortNode("y", "output", 4, S, 4),
                         PortNode("b.i", "junction", 0, S, None, "input", "b")],
                        [("x", "b.i"), ("b.i", "y")])
    infer_sizes(g, ctx)
    assert record(g, "b.i").size == 4  # type: ignore[union-attr]


def test_check_topology() -> None:
    g, ctx = elaborated(HEAD + "    input u : 3\n    x -> linear(2) -> y\n}\n")
    infer_sizes(g, ctx)
    with pytest.raises(SpecGraphError, match="input 'u' is not connected to anything"):
        check_topology(g, ctx)
    g, ctx = elaborated(HEAD + "    x -> linear(2) -> y\n}\n")
    infer_sizes(g, ctx)
    assert check_topology(g, ctx) is None


def test_mark_recurrent_cuts_an_edge_leaving_a_stateful_node() -> None:
    g, ctx = hand_built([PortNode("x", "input", 2, S, 2), PortNode("y", "output", 2, S, 2),
                         module("h", "rate"), module("w", "linear(2)")],
                        [("x", "h"), ("h", "w"), ("w", "h"), ("h", "y")])
    mark_recurrent(g, ctx)
    assert [(u, v) for u, v, e in g.edges(data=True) if e["recurrent"]] == [("h", "w")]
    g, ctx = hand_built([PortNode("x", "input", 2, S, 2), PortNode("y", "output", 2, S, 2),
                         module("a", "tanh"), module("w", "linear(2)")],
                        [("x", "a"), ("a", "w"), ("w", "a"), ("a", "y")])
    with pytest.raises(SpecGraphError, match="algebraic loop a -> w -> a"):
        mark_recurrent(g, ctx)


def test_add_params_one_node_per_parameter_with_an_edge_to_its_module() -> None:
    g, ctx = elaborated(HEAD + "    x -> h: lif(tau_mem = 30 ms) -> linear(2) -> y\n}\n")
    infer_sizes(g, ctx)
    add_params(g, ctx)
    params = [d["node"] for _, d in g.nodes(data=True) if d["type"] == "param"]
    assert [p.id for p in params] == ["h.tau_mem", "h.tau_syn", "h.bias", "h.threshold",
                                      "linear_0.weight"]
    tau = record(g, "h.tau_mem")
    assert tau == ParamNode("h.tau_mem", "h", "tau_mem", (4,), "taus",
                            Init("constant", (0.03,)), span=Span(4, 27, 4, 32))  # "30 ms"
    assert all(g.edges[p.id, p.module]["type"] == "param" for p in params)


def test_apply_bounds_intersects_boxes_and_sets_modes() -> None:
    g, ctx = elaborated(HEAD + "    x -> h: rate -> linear(2) -> y\n}\nbounds {\n"
                        "    enforce = project\n    h.tau >= 2 ms\n    *.tau <= 1\n"
                        "    h.bias in [-1, 1] enforce both\n}\n")
    infer_sizes(g, ctx)
    add_params(g, ctx)
    apply_bounds(g, ctx)
    tau, bias, w = (record(g, p) for p in ("h.tau", "h.bias", "linear_0.weight"))
    assert isinstance(tau, ParamNode) and isinstance(bias, ParamNode)
    assert (tau.lower, tau.upper, tau.enforce, len(tau.bound_spans)) == (
        pytest.approx(2e-3), 1.0, "project", 2)
    assert (bias.lower, bias.upper, bias.enforce) == (-1.0, 1.0, "both")
    assert isinstance(w, ParamNode) and not w.bounded and w.enforce == "project"
    assert ctx.enforce == "project"


def test_apply_bounds_without_a_bounds_block_leaves_modes_unset() -> None:
    g, ctx = elaborated(HEAD + "    x -> linear(2) -> y\n}\n")
    infer_sizes(g, ctx)
    add_params(g, ctx)
    apply_bounds(g, ctx)
    p = record(g, "linear_0.weight")
    assert isinstance(p, ParamNode) and p.enforce is None and p.upper == math.inf


def test_freeze_marks_the_named_parameters_untrainable() -> None:
    g, ctx = elaborated(HEAD + "    x -> h: rate -> linear(2) -> y\n}\n"
                        "train {\n    freeze = [h.tau, *.weight]\n}\n")
    infer_sizes(g, ctx)
    add_params(g, ctx)
    freeze(g, ctx)
    frozen = {n for n, d in g.nodes(data=True) if d["type"] == "param"
              and not d["node"].trainable}
    assert frozen == {"h.tau", "linear_0.weight"}


def test_every_argument_type_has_a_converter() -> None:
    assert {a.type for kind in KINDS.values() for a in kind.args} <= set(CONVERTERS)


# --- warnings --------------------------------------------------------------------------------


def _spec_warnings(text: str) -> list[str]:
    import warnings

    from rpgraph.graph import loads

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loads(text, "w.rpg")
    return [str(w.message) for w in caught if issubclass(w.category, SpecWarning)]


def test_a_long_time_constant_without_a_unit_is_warned_about() -> None:
    chain = "x -> h: lif(tau_mem = {}, tau_syn = {}) -> y"
    net = "network n (dt = {}) {{\n    input x : 2\n    output y : 2\n    {}\n}}\n"
    assert _spec_warnings(net.format("1 ms", chain.format("20", "5 ms"))) == [
        "w.rpg:4:27: warning: 'h.tau_mem' = 20 has no unit, so it is 20 s: 20000 steps of "
        "dt = 1 ms\n"
        "        x -> h: lif(tau_mem = 20, tau_syn = 5 ms) -> y\n"
        "                              ^^\n"
        "hint: write 20 ms if you meant milliseconds (a number without a unit is in seconds)"]
    # with a unit, in seconds below 1000 steps, as an expression, or at a step of seconds
    for dt, a, b in (("1 ms", "20 ms", "5 ms"), ("1 ms", "0.02", "0.5"),
                     ("1 ms", "20 * dt", "5 * dt"), ("1", "20", "5")):
        assert _spec_warnings(net.format(dt, chain.format(a, b))) == []
    # inside a block: the number where the block is written
    block = ("block b { input i\n output o\n i -> lif(tau_syn = 3) -> o }\n"
             "network n (dt = 1 ms) { input x : 2\n output y : 2\n x -> b -> y }\n")
    (only,) = _spec_warnings(block)
    assert only.startswith("w.rpg:3:21: warning: 'b_0.lif_0.tau_syn' = 3 has no unit")
