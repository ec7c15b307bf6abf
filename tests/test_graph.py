"""The module graph (spec text -> nodes, edges, attributes) and its diagnostics: every
mistake is a located SpecError whose full rendered message is checked here."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

import rpgraph
from rpgraph.errors import (
    SpecError,
    SpecGraphError,
    SpecNameError,
    SpecShapeError,
    SpecValueError,
)
from rpgraph.graph import Network, loads
from rpgraph.graph.show import to_dot, to_json
from rpgraph.modules import Init

HEAD = "network n (dt = 1 ms) {\n    input x : 4\n    output y : 2\n"
BLOCK = "block b(n) {\n    input i\n    output o\n    i -> linear(n) -> o\n}\n"


def data_edges(net: Network) -> set[tuple[str, str, bool]]:
    return {(u, v, bool(e["recurrent"])) for u, v, e in net.graph.edges(data=True)
            if e["type"] == "data"}


def modules(net: Network) -> dict[str, tuple[str, int, int]]:
    return {m.name: (m.kind, m.size_in, m.size_out) for m in map(net.module, net.modules())}


def param(net: Network, pid: str) -> dict[str, Any]:
    d = net.param(pid)
    return {k: getattr(d, k) for k in ("module", "name", "shape", "family", "init",
                                       "trainable", "lower", "upper", "enforce")}


# --- structure --------------------------------------------------------------------------------


def test_inline_naming_and_sizes() -> None:
    net = loads(HEAD + "    x -> linear(8) -> tanh -> linear(2) -> y\n}\n")
    assert modules(net) == {"linear_0": ("linear", 4, 8), "tanh_0": ("tanh", 8, 8),
                            "linear_1": ("linear", 8, 2)}
    assert data_edges(net) == {("x", "linear_0", False), ("linear_0", "tanh_0", False),
                               ("tanh_0", "linear_1", False), ("linear_1", "y", False)}
    assert net.modules() == ["linear_0", "tanh_0", "linear_1"]
    assert net.inputs == ["x"] and net.outputs == ["y"] and net.shape == (4, 2)
    assert net.dt == 1e-3


def test_labels_and_use_before_declaration() -> None:
    net = loads(HEAD + "    h -> out: linear(2) -> y\n    x -> h: rate(tau = 30 ms)\n}\n")
    assert modules(net) == {"h": ("rate", 4, 4), "out": ("linear", 4, 2)}
    assert net.module("h").cfg["tau"] == Init("constant", (0.03,))
    assert net.module("h").stateful is True


def test_block_expansion_namespacing_and_residual_sum() -> None:
    net = rpgraph.load("specs/residual.rpg")
    g = net.graph
    assert {"r1.w", "r1.tanh_0", "r2.w", "r2.relu_0", "r3.w", "r3.tanh_0"} <= set(g.nodes)
    assert g.nodes["r1.i"]["type"] == "junction" and g.nodes["r1.o"]["type"] == "junction"
    # the block's output sums the transformed path and the skip path
    assert set(g.predecessors("r1.o")) == {"r1.tanh_0", "r1.i"}
    assert ("r1.i", "r1.o", False) in data_edges(net)
    assert ("r1.o", "r2.i", False) in data_edges(net)
    assert ("r3.o", "h", False) in data_edges(net)
    assert modules(net)["r2.relu_0"] == ("relu", 64, 64)
    assert "r1" not in g.nodes  # the instance is a name, not a node
    assert net.modules()[:3] == ["linear_0", "r1.w", "r1.tanh_0"]


def test_recurrent_edge_marking() -> None:
    net = rpgraph.load("specs/srnn.rpg")
    assert [(u, v) for u, v, r in data_edges(net) if r] == [("h", "w_rec")]
    assert not net.graph.edges["w_rec", "h"]["recurrent"]
    # a feed-forward chain of stateful nodes stays same-step
    ff = loads(HEAD + "    x -> a: rate -> b: lif -> linear(2) -> y\n}\n")
    assert not any(r for _, _, r in data_edges(ff))
    # a self loop on a stateful node is its own delay
    self_loop = loads(HEAD + "    x -> h: rate -> h\n    h -> linear(2) -> y\n}\n")
    assert ("h", "h", True) in data_edges(self_loop)


def test_parameter_nodes() -> None:
    net = loads(HEAD + "    x -> w: linear(8, bias = true) -> h: lif(n_syn = 2, tau_mem = 30 ms)"
                " -> linear(2, weight = normal(0.1)) -> y\n}\n")
    assert param(net, "w.weight") == {
        "module": "w", "name": "weight", "shape": (4, 8), "family": "weights",
        "init": Init("kaiming"), "trainable": True, "lower": -math.inf, "upper": math.inf,
        "enforce": None}
    assert param(net, "w.bias")["init"] == Init("uniform_sqrt")
    assert param(net, "h.tau_syn")["shape"] == (4, 2)
    assert param(net, "h.tau_mem")["init"] == Init("constant", (0.03,))
    assert param(net, "h.tau_mem")["family"] == "taus"
    assert param(net, "linear_0.weight")["init"] == Init("normal", (0.1,))
    assert modules(net)["h"] == ("lif", 8, 4)
    assert "h.w_rec" not in net.graph.nodes
    assert net.parameters() == ["w.weight", "w.bias", "h.tau_mem", "h.tau_syn", "h.bias",
                                "h.threshold", "linear_0.weight"]
    assert all(net.graph.edges[p, net.param(p).module]["type"] == "param"
               for p in net.parameters())


def test_bounds_wildcards_and_enforce() -> None:
    net = rpgraph.load("specs/residual.rpg")
    for r in ("r1", "r2", "r3"):
        assert (param(net, f"{r}.w.weight")["lower"], param(net, f"{r}.w.weight")["upper"]) \
            == (-1.0, 1.0)
    assert param(net, "linear_0.weight")["lower"] == -math.inf
    assert param(net, "h.tau")["lower"] == pytest.approx(0.01)
    net = loads(HEAD + "    x -> hidden: rate -> o: lif -> linear(2) -> y\n}\n"
                "bounds {\n    enforce = project\n    *.tau >= 2 ms\n    o.tau_syn >= 2 ms\n"
                "    hidden.* <= 5\n    o.threshold in [0.5, 2] enforce both\n}\n")
    assert {p: param(net, p)["lower"] for p in ("hidden.tau", "o.tau_mem", "o.tau_syn")} == \
        pytest.approx({"hidden.tau": 2e-3, "o.tau_mem": 1e-6, "o.tau_syn": 2e-3})
    assert {p: param(net, p)["upper"] for p in ("hidden.tau", "hidden.bias",
                                                 "hidden.threshold", "o.bias")} == \
        {"hidden.tau": 5.0, "hidden.bias": 5.0, "hidden.threshold": 5.0, "o.bias": math.inf}
    assert param(net, "o.threshold")["enforce"] == "both"
    assert param(net, "hidden.tau")["enforce"] == "project"
    assert net.enforce == "project"


def test_bounds_globs_inside_a_segment() -> None:
    """``tau*`` and ``w_*``: fnmatch globs inside one segment of a bound target."""
    net = loads(HEAD + "    x -> w_in: linear(4) -> h: lif -> w_out: linear(2) -> y\n}\n"
                "bounds {\n    *.tau* >= 2 ms\n    w_*.weight in [-1, 1]\n"
                "    h.thr* <= 3\n}\n")
    assert {p: param(net, p)["lower"] for p in ("h.tau_mem", "h.tau_syn", "h.bias")} == \
        pytest.approx({"h.tau_mem": 2e-3, "h.tau_syn": 2e-3, "h.bias": -math.inf})
    assert [param(net, p)["upper"] for p in ("w_in.weight", "w_out.weight")] == [1.0, 1.0]
    assert param(net, "h.threshold")["upper"] == 3.0


def test_freeze_list() -> None:
    net = loads(HEAD + "    x -> h: rate -> out: linear(2) -> y\n}\n"
                "train {\n    freeze = [h.tau, *.threshold]\n}\n")
    frozen = {p.id for p in net.params() if not p.trainable}
    assert frozen == {"h.tau", "h.threshold"}


def test_json_and_dot_export() -> None:
    net = rpgraph.load("specs/srnn.rpg")
    data = json.loads(to_json(net))
    assert data["name"] == "srnn" and data["dt"] == 1e-3
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes["h"]["kind"] == "lif" and nodes["h"]["cfg"]["tau_mem"] == "constant(0.02)"
    assert nodes["h.tau_mem"]["lower"] == pytest.approx(0.01)
    assert nodes["h.tau_mem"]["upper"] == "inf"
    assert nodes["h.bias"]["lower"] == "-inf"
    assert {(e["source"], e["target"]) for e in data["edges"] if e.get("recurrent")} == \
        {("h", "w_rec")}
    assert to_dot(net) == "\n".join([
        'digraph "srnn" {',
        "    rankdir=LR;",
        '    "x" [shape=ellipse, label="x (16)"];',
        '    "y" [shape=ellipse, label="y (4)"];',
        '    "w_in" [shape=box, label="w_in\\nlinear (16, 64)"];',
        '    "h" [shape=box, label="h\\nlif (64,)"];',
        '    "w_rec" [shape=box, label="w_rec\\nlinear (64, 64)"];',
        '    "readout" [shape=box, label="readout\\nexpsyn (4,)"];',
        '    "linear_0" [shape=box, label="linear_0\\nlinear (64, 4)"];',
        '    "x" -> "w_in";',
        '    "w_in" -> "h";',
        '    "h" -> "w_rec" [style=dashed, label="z^-1"];',
        '    "h" -> "linear_0";',
        '    "w_rec" -> "h";',
        '    "readout" -> "y";',
        '    "linear_0" -> "readout";',
        "}"])


def test_summary_marks_a_reset_rockpool_lacks() -> None:
    net = loads(HEAD + "    x -> a: lif -> b: lif(reset = v_reset) -> linear(2) -> y\n}\n")
    lines = net.summary().splitlines()
    assert ("    lif 'a' with shape (4,)  [LIFJax]  spikes = multi (at most 65536 per step), "
            "surrogate = pwl(window = 0.5)") in lines
    assert ("    lif 'b' with shape (4,)  [like LIFJax; reset = v_reset]  spikes = binary, "
            "surrogate = pwl(window = 0.5)") in lines


def test_summary() -> None:
    net = rpgraph.load("specs/srnn.rpg")
    assert str(net) == "\n".join([
        "Network 'srnn' with shape (16, 4) {",
        "    linear 'w_in' with shape (16, 64)  [LinearJax]",
        "    linear 'w_rec' with shape (64, 64)  [LinearJax]",
        "    lif 'h' with shape (64,)  [LIFJax]  spikes = multi (at most 65536 per step), "
        "surrogate = pwl(window = 0.5)",
        "    linear 'linear_0' with shape (64, 4)  [LinearJax]",
        "    expsyn 'readout' with shape (4,)  [ExpSynJax]",
        "    recurrent h -> w_rec (one step delay)",
        "    bound h.tau_mem in [0.01, inf] (project)",
        "    bound h.tau_syn in [0.002, inf] (project)",
        "    bound readout.tau in [1e-06, inf] (project, default floor)",
        "}"])


# --- diagnostics ------------------------------------------------------------------------------


def lines(*rows: str) -> str:
    return "\n".join(rows)


DIAGNOSTICS: dict[str, tuple[str, type[SpecError], str]] = {
    "unknown-kind": (
        HEAD + "    x -> lineer(2) -> y\n}\n", SpecNameError, lines(
            "<string>:4:10: error: unknown module kind 'lineer'",
            "        x -> lineer(2) -> y",
            "             ^^^^^^",
            "hint: did you mean 'linear'?")),
    "unknown-activation": (
        HEAD + "    x -> linear(2) -> rate(activation = tanhh) -> y\n}\n", SpecNameError, lines(
            "<string>:4:41: error: unknown activation 'tanhh'",
            "        x -> linear(2) -> rate(activation = tanhh) -> y",
            "                                            ^^^^^",
            "hint: did you mean 'tanh'?")),
    "unknown-reset": (
        HEAD + "    x -> linear(2) -> lif(reset = vreset) -> y\n}\n", SpecNameError, lines(
            "<string>:4:35: error: unknown reset 'vreset'",
            "        x -> linear(2) -> lif(reset = vreset) -> y",
            "                                      ^^^^^^",
            "hint: did you mean 'v_reset'?")),
    "unknown-reset-no-guess": (
        HEAD + "    x -> linear(2) -> lif(reset = zero) -> y\n}\n", SpecNameError, lines(
            "<string>:4:35: error: unknown reset 'zero'",
            "        x -> linear(2) -> lif(reset = zero) -> y",
            "                                      ^^^^",
            "hint: reset is one of: subtract, v_reset")),
    "unknown-initialiser": (
        HEAD + "    x -> linear(2, weight = kaimng) -> y\n}\n", SpecNameError, lines(
            "<string>:4:29: error: unknown initialiser 'kaimng'",
            "        x -> linear(2, weight = kaimng) -> y",
            "                                ^^^^^^",
            "hint: did you mean 'kaiming'?")),
    "duplicate-name": (
        HEAD + "    x -> a: linear(2) -> y\n    x -> a: linear(2) -> y\n}\n", SpecNameError,
        lines(
            "<string>:5:10: error: duplicate name 'a'",
            "        x -> a: linear(2) -> y",
            "             ^^^^^^^^^^^^",
            "<string>:4:10: note: 'a' is first declared here",
            "        x -> a: linear(2) -> y",
            "             ^^^^^^^^^^^^")),
    "undefined-name": (
        HEAD + "    x -> linear(2) -> z\n}\n", SpecNameError, lines(
            "<string>:4:23: error: undefined name 'z'",
            "        x -> linear(2) -> z",
            "                          ^",
            "hint: declare it, e.g. 'z: linear(8)', or use one of: x, y, linear_0")),
    "size-mismatch": (
        HEAD + "    x -> a: linear(3) -> b: tanh\n    x -> b\n    b -> linear(2) -> y\n}\n",
        SpecShapeError, lines(
            "<string>:5:10: error: size mismatch into 'b': 'x' gives 4 but 'a' gives 3",
            "        x -> b",
            "             ^",
            "<string>:2:5: note: 'x' has output size 4",
            "        input x : 4",
            "        ^^^^^^^^^^^",
            "<string>:4:10: note: 'a' has output size 3",
            "        x -> a: linear(3) -> b: tanh",
            "             ^^^^^^^^^^^^",
            "hint: make the sizes agree, e.g. insert 'linear(3)' after 'x'")),
    "size-mismatch-output": (
        HEAD + "    x -> linear(3) -> y\n}\n", SpecShapeError, lines(
            "<string>:4:23: error: size mismatch into output 'y': declared 2, got 3",
            "        x -> linear(3) -> y",
            "                          ^",
            "<string>:3:5: note: 'y' is declared with size 2",
            "        output y : 2",
            "        ^^^^^^^^^^^^",
            "hint: end the chain with 'linear(2)' before 'y'")),
    "algebraic-loop": (
        HEAD + "    x -> a: linear(4) -> b: tanh -> a\n    b -> linear(2) -> y\n}\n",
        SpecGraphError, lines(
            "<string>:4:37: error: algebraic loop a -> b -> a: no stateful node delays it",
            "        x -> a: linear(4) -> b: tanh -> a",
            "                                        ^",
            "hint: put a stateful node (rate, lif, expsyn) in the loop")),
    "output-unreachable": (
        "network n {\n    input x : 4\n    output y : 4\n    output z : 2\n    x -> y\n}\n",
        SpecGraphError, lines(
            "<string>:4:5: error: output 'z' is not reachable from any input",
            "        output z : 2",
            "        ^^^^^^^^^^^^",
            "hint: connect it, e.g. 'x -> ... -> z'")),
    "output-fed-by-unreachable-loop": (
        HEAD + "    x -> linear(4) -> tanh -> linear(2) -> y\n"
        "    a: rate -> b: linear(2) -> a\n    b -> y\n}\n",
        SpecGraphError, lines(
            "<string>:5:5: error: 'a' is not reachable from any input",
            "        a: rate -> b: linear(2) -> a",
            "        ^^^^^^^",
            "hint: connect it, e.g. 'x -> a'")),
    "node-without-input": (
        HEAD + "    x -> linear(4)\n    h: rate -> y\n}\n", SpecGraphError, lines(
            "<string>:5:5: error: 'h' has no input",
            "        h: rate -> y",
            "        ^^^^^^^",
            "hint: connect something to it: 'x -> h'")),
    "bound-on-missing-parameter": (
        HEAD + "    x -> h: rate -> linear(2) -> y\n}\nbounds {\n    h.tau_mem >= 10 ms\n}\n",
        SpecNameError, lines(
            "<string>:7:5: error: 'h.tau_mem' matches no parameter",
            "        h.tau_mem >= 10 ms",
            "        ^^^^^^^^^",
            "hint: did you mean 'h.tau'?")),
    "lower-above-upper": (
        HEAD + "    x -> h: rate -> linear(2) -> y\n}\nbounds {\n    h.tau in [20 ms, 10 ms]\n}\n",
        SpecValueError, lines(
            "<string>:7:5: error: lower bound 0.02 is above upper bound 0.01",
            "        h.tau in [20 ms, 10 ms]",
            "        ^^^^^^^^^^^^^^^^^^^^^^^")),
    "frequency-for-time": (
        HEAD + "    x -> h: rate(tau = 20 Hz) -> linear(2) -> y\n}\n", SpecValueError, lines(
            "<string>:4:24: error: Expected a time (s, ms, us), got a frequency",
            "        x -> h: rate(tau = 20 Hz) -> linear(2) -> y",
            "                           ^^^^^")),
    "frequency-in-bound": (
        HEAD + "    x -> h: rate -> linear(2) -> y\n}\nbounds {\n    h.tau >= 20 Hz\n}\n",
        SpecValueError, lines(
            "<string>:7:14: error: Expected a time (s, ms, us), got a frequency",
            "        h.tau >= 20 Hz",
            "                 ^^^^^")),
    "missing-required-argument": (
        HEAD + "    x -> linear() -> y\n}\n", SpecValueError, lines(
            "<string>:4:10: error: 'linear' is missing required argument 'out'",
            "        x -> linear() -> y",
            "             ^^^^^^^^",
            "hint: write linear(out = ...)")),
    "too-many-positional": (
        HEAD + "    x -> linear(2, true, kaiming, 3) -> y\n}\n", SpecValueError, lines(
            "<string>:4:35: error: 'linear' takes at most 3 positional arguments, got 4",
            "        x -> linear(2, true, kaiming, 3) -> y",
            "                                      ^",
            "hint: arguments of 'linear': out, bias, weight")),
    "unknown-keyword": (
        HEAD + "    x -> linear(2, bais = true) -> y\n}\n", SpecNameError, lines(
            "<string>:4:20: error: 'linear' has no argument 'bais'",
            "        x -> linear(2, bais = true) -> y",
            "                       ^^^^",
            "hint: did you mean 'bias'?")),
    "block-too-many-arguments": (
        BLOCK + HEAD + "    x -> b(2, 3) -> y\n}\n", SpecValueError, lines(
            "<string>:9:10: error: block 'b' takes 1 argument, got 2",
            "        x -> b(2, 3) -> y",
            "             ^^^^^^^",
            "hint: arguments of block 'b': n")),
    "block-missing-argument": (
        BLOCK + HEAD + "    x -> b() -> y\n}\n", SpecValueError, lines(
            "<string>:9:10: error: block 'b' is missing argument 'n'",
            "        x -> b() -> y",
            "             ^^^",
            "hint: write b(n = ...)")),
    "block-unknown-keyword": (
        BLOCK + HEAD + "    x -> b(m = 2) -> y\n}\n", SpecNameError, lines(
            "<string>:9:12: error: block 'b' has no argument 'm'",
            "        x -> b(m = 2) -> y",
            "               ^",
            "hint: arguments of block 'b': n")),
    "block-without-output": (
        "block b(n) {\n    input i\n    i -> linear(n)\n}\n" + HEAD + "    x -> b(2) -> y\n}\n",
        SpecGraphError, lines(
            "<string>:1:1: error: block 'b' needs one input and one output",
            "    block b(n) {",
            "    ^^^^^^^^^^^^",
            "hint: declare 'input i' and 'output o' in it")),
    "freeze-unknown-parameter": (
        HEAD + "    x -> h: rate -> linear(2) -> y\n}\ntrain {\n    freeze = [h.taux]\n}\n",
        SpecNameError, lines(
            "<string>:7:15: error: 'h.taux' matches no parameter",
            "        freeze = [h.taux]",
            "                  ^^^^^^",
            "hint: did you mean 'h.tau'?")),
    "initial-value-outside-bound": (
        HEAD + "    x -> h: rate(tau = 5 ms) -> linear(2) -> y\n}\nbounds {\n"
        "    h.tau >= 10 ms\n}\n", SpecValueError, lines(
            "<string>:7:5: error: initial value 0.005 of 'h.tau' violates its bound (>= 0.01)",
            "        h.tau >= 10 ms",
            "        ^^^^^^^^^^^^^^",
            "<string>:4:24: note: 'h.tau' is initialised by constant(0.005)",
            "        x -> h: rate(tau = 5 ms) -> linear(2) -> y",
            "                           ^^^^",
            "hint: change the initialiser or the bound so that they agree")),
}


@pytest.mark.parametrize("name", list(DIAGNOSTICS))
def test_diagnostic(name: str) -> None:
    text, cls, message = DIAGNOSTICS[name]
    with pytest.raises(cls) as err:
        rpgraph.compile(text)
    assert str(err.value) == message


def test_initial_value_is_checked_at_compile_not_build() -> None:
    text = DIAGNOSTICS["initial-value-outside-bound"][0]
    assert loads(text).param("h.tau").lower == pytest.approx(0.01)


def test_diagnostic_names_the_file(tmp_path: Any) -> None:
    path = tmp_path / "bad.rpg"
    path.write_text(DIAGNOSTICS["unknown-kind"][0])
    with pytest.raises(SpecNameError) as err:
        rpgraph.load(path)
    assert str(err.value).startswith(f"{path}:4:10: error: unknown module kind 'lineer'")


def test_absurd_sizes_are_spec_errors() -> None:
    with pytest.raises(SpecShapeError) as err:
        rpgraph.loads("network n { input x : 1e300\n output y : 2\n x -> linear(2) -> y }")
    assert str(err.value) == (
        "<string>:1:23: error: Expected a size of at most 16777216, got 1e+300\n"
        "    network n { input x : 1e300\n"
        "                          ^^^^^")


# --- the node budget --------------------------------------------------------------------------


def doubling_blocks(depth: int) -> str:
    """Block b<i> uses b<i-1> twice: 2**depth tanh modules if nothing stops it."""
    return ("block b0 {\n    input i\n    output o\n    i -> tanh -> o\n}\n"
            + "".join(f"block b{i} {{\n    input i\n    output o\n    i -> b{i - 1} -> b{i - 1}"
                      " -> o\n}\n" for i in range(1, depth + 1))
            + HEAD + f"    x -> b{depth} -> linear(2) -> y\n}}\n")


def test_block_expansion_stops_at_the_node_budget() -> None:
    """A 2 KB spec that would expand to 5 * 2**30 nodes is refused before expanding."""
    with pytest.raises(SpecGraphError) as err:
        loads(doubling_blocks(30))
    assert str(err.value) == lines(
        "<string>:159:10: error: expanding block 'b30' takes the network past its budget of "
        "100000 nodes",
        "        x -> b30 -> linear(2) -> y",
        "             ^^^",
        "hint: a block that uses another twice doubles the network; raise the budget with "
        "max_nodes = N in rpgraph.load, loads or build")


def test_node_budget_is_a_keyword_of_build_load_and_loads(tmp_path: Any) -> None:
    from rpgraph.graph import build, load
    from rpgraph.parse import parse

    text = doubling_blocks(3)  # x, y, linear_0 and 38 nodes of b3
    assert len(loads(text).graph) == 41 + 1  # and the linear's weight
    assert len(loads(text, max_nodes=41).graph) == 42
    with pytest.raises(SpecGraphError, match="the network has more than 40 nodes"):
        loads(text, max_nodes=40)  # b3 fits, linear_0 after it does not
    with pytest.raises(SpecGraphError, match="'b3' takes the network past its budget of 39"):
        loads(text, max_nodes=39)
    with pytest.raises(SpecGraphError, match="budget of 39 nodes"):
        build(parse(text), max_nodes=39)
    path = tmp_path / "d.rpg"
    path.write_text(text)
    with pytest.raises(SpecGraphError, match="budget of 39 nodes"):
        load(path, max_nodes=39)
    # plain modules count too
    with pytest.raises(SpecGraphError) as err:
        loads(HEAD + "    x -> tanh -> tanh -> linear(2) -> y\n}\n", max_nodes=4)
    assert str(err.value) == lines(
        "<string>:4:26: error: the network has more than 4 nodes",
        "        x -> tanh -> tanh -> linear(2) -> y",
        "                             ^^^^^^^^^",
        "hint: raise the budget with max_nodes = N in rpgraph.load, loads or build")


def test_node_budget_error_inside_a_block_names_the_instance_that_uses_it() -> None:
    # 'f' is a block argument naming a block: only the expansion itself knows its size
    text = ("block b0 {\n    input i\n    output o\n    i -> tanh -> tanh -> tanh -> o\n}\n"
            "block w(f) {\n    input i\n    output o\n    i -> f -> o\n}\n"
            + HEAD + "    x -> w(f = b0) -> linear(2) -> y\n}\n")
    assert len(loads(text, max_nodes=10).graph) == 11
    with pytest.raises(SpecGraphError) as err:
        loads(text, max_nodes=8)
    assert str(err.value) == lines(
        "<string>:9:10: error: expanding block 'b0' takes the network past its budget of 8 "
        "nodes",
        "        i -> f -> o",
        "             ^",
        "<string>:14:10: note: inside block 'w', used here",
        "        x -> w(f = b0) -> linear(2) -> y",
        "             ^^^^^^^^^",
        "hint: a block that uses another twice doubles the network; raise the budget with "
        "max_nodes = N in rpgraph.load, loads or build")
