"""Tests for rpgraph.parse: text -> AST, spans, diagnostics, file handling, limits."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

import rpgraph.parse
from rpgraph import ast, parse_table
from rpgraph.ast import (
    BinOp,
    Block,
    Bool,
    Bound,
    Bounds,
    Call,
    Chain,
    Element,
    ListExpr,
    Name,
    Neg,
    Network,
    Num,
    Param,
    Port,
    Ref,
    Setting,
    Spec,
    Str,
    Train,
)
from rpgraph.errors import (
    MAX_TEXT,
    Span,
    SpecError,
    SpecNameError,
    SpecSyntaxError,
    SpecValueError,
)
from rpgraph.parse import grammar_path, parse, parse_file
from rpgraph.vocab import ATOM, BINARY, KEYWORDS, NEG, POWER, PRODUCT, SUM, UNARY, UNITS


def n(value: float, unit: str | None = None) -> Num:
    """An integer literal (``is_int``), as most literals in these tests are."""
    return Num(float(value), unit, True)


def f(value: float, unit: str | None = None) -> Num:
    return Num(value, unit, False)


def el(target: str | Call, label: str | None = None) -> Element:
    return Element(label, Name(target) if isinstance(target, str) else target)


def chain(*items: str | Call | Element) -> Chain:
    return Chain(tuple(i if isinstance(i, Element) else el(i) for i in items))


def expr(text: str) -> ast.Expr:
    """Parse ``text`` as the value of a network header argument."""
    return parse(f"network n (k = {text}) {{}}").network.sim[0][1]


def body(text: str) -> tuple[ast.Stmt, ...]:
    return parse(f"network n {{\n{text}\n}}").network.body


def error(text: str, filename: str = "<string>") -> SpecError:
    with pytest.raises(SpecError) as info:
        parse(text, filename)
    return info.value


# --- grammar ---------------------------------------------------------------------------------


def test_grammar_builds_strict_without_anonymous_terminals() -> None:
    parser = Lark(grammar_path().read_text(encoding="utf-8"), parser="lalr", strict=True)
    names = {t.name for t in parser.terminals}
    assert not [name for name in names if name.startswith("__")]
    assert {"NAME", "NUMBER", "ARROW", "RBRACE", "_NL"} <= names


def _tokens_and_spans(tree: Tree) -> list[tuple[object, ...]]:
    """Every subtree's rule and span and every token's type, value and position."""
    out: list[tuple[object, ...]] = []
    for sub in tree.iter_subtrees():
        m = sub.meta
        out.append((sub.data, *(getattr(m, k, None) for k in ("line", "column", "end_line",
                                                               "end_column"))))
        out += [(t.type, str(t), t.line, t.column, t.end_line, t.end_column)
                for t in sub.children if isinstance(t, Token)]
    return out


def test_shipped_parse_table_is_current_and_parses_as_the_grammar() -> None:
    grammar = grammar_path().read_text(encoding="utf-8")
    shipped = parse_table.loads(parse_table.TABLE.read_text(encoding="utf-8"), grammar,
                                postlex=rpgraph.parse._Layout(), propagate_positions=True)
    assert shipped is not None, (
        "rpgraph/parse_table.json is stale: run "
        "python -c \"import rpgraph.parse as p; p.write_table()\"")
    built = rpgraph.parse.build_parser()
    specs = Path(__file__).resolve().parents[1] / "specs"
    texts = [p.read_text(encoding="utf-8") for p in sorted(specs.glob("*.rpg"))]
    assert len(texts) > 5
    for text in texts:
        a, b = shipped.parse(text, start="start"), built.parse(text, start="start")
        assert a == b and _tokens_and_spans(a) == _tokens_and_spans(b)
    assert shipped.parse("-(2 * dt) ** 3", start="expr") == built.parse("-(2 * dt) ** 3",
                                                                          start="expr")
    for bad in ("network n {", "network n { input x : 2 output }"):  # the same errors
        with pytest.raises(UnexpectedInput) as e1:
            shipped.parse(bad, start="start")
        with pytest.raises(UnexpectedInput) as e2:
            built.parse(bad, start="start")
        seen = [(type(e.value), getattr(e.value, "token", None), e.value.line, e.value.column,
                 sorted(getattr(e.value, "expected", ()))) for e in (e1, e2)]
        assert seen[0] == seen[1]


def test_parse_table_of_another_grammar_or_lark_is_not_used(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    grammar = grammar_path().read_text(encoding="utf-8")
    text = parse_table.TABLE.read_text(encoding="utf-8")
    assert parse_table.loads(text, grammar + "\n// edited\n") is None
    monkeypatch.setattr(parse_table, "_lark_version", lambda: "0.0.1")
    assert parse_table.loads(text, grammar) is None
    built: list[Lark] = []
    build = lambda: built.append(rpgraph.parse.build_parser()) or built[-1]  # noqa: E731
    assert parse_table.load_or_build(grammar, build) is built[0]  # stale: built instead
    monkeypatch.setattr(parse_table, "TABLE", tmp_path / "missing.json")
    assert parse_table.load_or_build(grammar, build) is built[1]


def test_units_table() -> None:
    assert UNITS["s"] == (1, "time") and UNITS["ms"] == (1e-3, "time")
    assert UNITS["us"] == UNITS["\u00b5s"] == UNITS["\u03bcs"] == (1e-6, "time")
    assert UNITS["ns"] == (1e-9, "time")
    assert UNITS["Hz"] == (1, "frequency") and UNITS["kHz"] == (1e3, "frequency")


def test_vocabulary_matches_the_grammar() -> None:
    """The keywords and operators of rpgraph.vocab are those the grammar spells."""
    grammar = grammar_path().read_text(encoding="utf-8")
    words = set(re.findall(r'^([A-Z]+): "([a-z]+)"$', grammar, re.MULTILINE))
    assert {word for _, word in words} == KEYWORDS
    assert all(name == word.upper() for name, word in words)
    # each operator rule, 'left "op" right -> alias', with its operands at the levels that
    # vocab states (the formatter brackets by them)
    level = {"sum": SUM, "product": PRODUCT, "unary": UNARY, "power": POWER, "atom": ATOM}
    rules = {op: (alias, level[left], level[right]) for left, op, right, alias in
             re.findall(r'(\w+) "([-+*/]+)" (\w+)\s+-> (\w+)', grammar)}
    assert rules == {op.symbol: (op.rule, op.left, op.right) for op in BINARY.values()}
    assert re.search(rf'"\{NEG.symbol}" unary\s+-> {NEG.rule}\n', grammar)
    assert NEG.operand == UNARY


# --- whole specs -----------------------------------------------------------------------------

TUTORIAL = """\
# comments start with '#', anywhere
block resblock(n, act = tanh) {          # reusable sub-network
    input  i                              # inside blocks, port sizes are optional
    output o
    i -> w: linear(n) -> act -> o
    i -> o                                # several edges into one node are summed
}

network tutorial_rate (dt = 1 ms) {      # header args
    input  x : 2000
    output y : 2
    x -> linear(200) -> hidden: rate(activation = tanh, tau = 20 ms) -> linear(2) -> y
    x -> r1: resblock(64, act = relu); r1 -> y     # ';' also separates statements
    h -> w_rec: linear(64, weight = normal(0.1), bias = true) -> h
}
bounds {
    enforce = project                      # a setting: key = NAME
    hidden.tau >= 10 * dt                  # time constants at least ten solver steps
    *.tau <= 1 s
    hidden.* in [-1, 1] enforce penalty    # per-bound enforce: penalty | project | both
    res1.w.weight in [-1, 1]
}
train {
    data      = sinusoids(classes = 3, length = 100)
    loss      = mse(y, target) + 1e3 * l2sqr(params) + 1e3 * bounds_cost
    optimizer = adam(lr = 1e-4)
    epochs    = 1000
    batch_size = 1
    freeze    = [hidden.tau, *.threshold]
    data2     = "file.npz"
}
"""

TUTORIAL_AST = Spec(
    network=Network(
        "tutorial_rate",
        (("dt", n(1, "ms")),),
        (
            Port("input", "x", n(2000)),
            Port("output", "y", n(2)),
            chain(
                "x",
                Call("linear", (n(200),)),
                el(
                    Call("rate", (), (("activation", Name("tanh")), ("tau", n(20, "ms")))), "hidden"
                ),
                Call("linear", (n(2),)),
                "y",
            ),
            chain("x", el(Call("resblock", (n(64),), (("act", Name("relu")),)), "r1")),
            chain("r1", "y"),
            chain(
                "h",
                el(
                    Call(
                        "linear",
                        (n(64),),
                        (("weight", Call("normal", (f(0.1),))), ("bias", Bool(True))),
                    ),
                    "w_rec",
                ),
                "h",
            ),
        ),
    ),
    blocks=(
        Block(
            "resblock",
            (Param("n"), Param("act", Name("tanh"))),
            (
                Port("input", "i", None),
                Port("output", "o", None),
                chain("i", el(Call("linear", (Name("n"),)), "w"), "act", "o"),
                chain("i", "o"),
            ),
        ),
    ),
    bounds=Bounds(
        bounds=(
            Bound(Ref(("hidden", "tau")), BinOp("*", n(10), Name("dt")), None),
            Bound(Ref(("*", "tau")), None, n(1, "s")),
            Bound(Ref(("hidden", "*")), Neg(n(1)), n(1), "penalty"),
            Bound(Ref(("res1", "w", "weight")), Neg(n(1)), n(1)),
        ),
        settings=(Setting("enforce", Name("project")),),
    ),
    train=Train(
        (
            Setting("data", Call("sinusoids", (), (("classes", n(3)), ("length", n(100))))),
            Setting(
                "loss",
                BinOp(
                    "+",
                    BinOp(
                        "+",
                        Call("mse", (Name("y"), Name("target"))),
                        BinOp("*", f(1e3), Call("l2sqr", (Name("params"),))),
                    ),
                    BinOp("*", f(1e3), Name("bounds_cost")),
                ),
            ),
            Setting("optimizer", Call("adam", (), (("lr", f(1e-4)),))),
            Setting("epochs", n(1000)),
            Setting("batch_size", n(1)),
            Setting("freeze", ListExpr((Ref(("hidden", "tau")), Ref(("*", "threshold"))))),
            Setting("data2", Str("file.npz")),
        )
    ),
)


def test_tutorial_spec() -> None:
    spec = parse(TUTORIAL, "tutorial.rpg")
    assert spec == TUTORIAL_AST
    assert spec.filename == "tutorial.rpg" and spec.source == TUTORIAL


def test_sections_in_any_order_and_optional() -> None:
    text = "train { epochs = 1 }\nnetwork n { x -> y }\nblock b { input i }\nblock c() {}"
    spec = parse(text)
    assert spec.network.name == "n" and spec.bounds is None
    assert [b.name for b in spec.blocks] == ["b", "c"]
    assert spec.train == Train((Setting("epochs", n(1)),))
    assert parse("network n {}") == Spec(Network("n", (), ()))
    assert parse("network n () {}") == Spec(Network("n", (), ()))


# --- bodies ----------------------------------------------------------------------------------


def test_single_element_statements_and_labels() -> None:
    assert body("hidden: rate(tau = 20 ms)\nx") == (
        Chain((el(Call("rate", (), (("tau", n(20, "ms")),)), "hidden"),)),
        chain("x"),
    )


def test_semicolons_blank_lines_and_comments() -> None:
    text = "\n\n  # only a comment\nx -> y;; y -> z ;\n\n\n# c\nz -> x # trailing\n\n"
    assert body(text) == (chain("x", "y"), chain("y", "z"), chain("z", "x"))
    assert parse("network n { x -> y; }") == parse("network n {\n x -> y\n}")


def test_chain_continues_on_next_line() -> None:
    text = "x\n    -> linear(4)   # first layer\n    -> y\nx ->\n  z"
    assert body(text) == (chain("x", Call("linear", (n(4),)), "y"), chain("x", "z"))


def test_arguments_wrap_inside_brackets() -> None:
    text = "x -> linear(\n    4,\n    weight = normal(\n0.1),\n) -> y"
    call = Call("linear", (n(4),), (("weight", Call("normal", (f(0.1),))),))
    assert body(text) == (chain("x", call, "y"),)


def test_ports() -> None:
    assert body("input x : 2 * k\noutput y\ninput z:3") == (
        Port("input", "x", BinOp("*", n(2), Name("k"))),
        Port("output", "y", None),
        Port("input", "z", n(3)),
    )


def test_block_params_and_trailing_commas() -> None:
    spec = parse("block b(n, act = tanh,) { i -> o }\nnetwork m { x -> b(1, act = relu,) }")
    assert spec.blocks[0].params == (Param("n"), Param("act", Name("tanh")))
    assert spec.network.body[0] == chain("x", Call("b", (n(1),), (("act", Name("relu")),)))


def test_long_chain_is_flat() -> None:
    text = "x" + "".join(f" -> a{i}" for i in range(5000))
    (c,) = body(text)
    assert isinstance(c, Chain) and len(c.elements) == 5001


# --- expressions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("1 + 2 * 3", BinOp("+", n(1), BinOp("*", n(2), n(3)))),
        ("(1 + 2) * 3", BinOp("*", BinOp("+", n(1), n(2)), n(3))),
        ("1 - 2 - 3", BinOp("-", BinOp("-", n(1), n(2)), n(3))),
        ("8 / 4 / 2", BinOp("/", BinOp("/", n(8), n(4)), n(2))),
        ("2 ** 3 ** 2", BinOp("**", n(2), BinOp("**", n(3), n(2)))),
        ("-2 ** 2", Neg(BinOp("**", n(2), n(2)))),
        ("2 ** -1", BinOp("**", n(2), Neg(n(1)))),
        ("-a * b", BinOp("*", Neg(Name("a")), Name("b"))),
        ("--a", Neg(Neg(Name("a")))),
        ("a * -b + c", BinOp("+", BinOp("*", Name("a"), Neg(Name("b"))), Name("c"))),
        ("((a))", Name("a")),
    ],
)
def test_precedence(text: str, tree: ast.Expr) -> None:
    assert expr(text) == tree


@pytest.mark.parametrize(
    ("text", "num"),
    [
        ("20 ms", n(20, "ms")),
        ("20ms", n(20, "ms")),
        ("1.5 s", f(1.5, "s")),
        ("3 us", n(3, "us")),
        ("3 \u00b5s", n(3, "\u00b5s")),
        ("10 ns", n(10, "ns")),
        ("50 Hz", n(50, "Hz")),
        ("2.5 kHz", f(2.5, "kHz")),
        ("1e-4", f(1e-4)),
        ("1E3", f(1000.0)),
        (".5", f(0.5)),
        ("5.", f(5.0)),
        ("007", n(7)),
    ],
)
def test_numbers_and_units(text: str, num: Num) -> None:
    got = expr(text)
    assert got == num
    assert isinstance(got, Num) and got.is_int == num.is_int and got.unit == num.unit


def test_atoms() -> None:
    assert expr("true") == Bool(True) and expr("false") == Bool(False)
    assert expr('"a \\"q\\" \\\\ \\n é"') == Str('a "q" \\ \n é')
    assert expr("tanh") == Name("tanh")
    assert expr("[]") == ListExpr(())
    assert expr("[1, [a, b.c],]") == ListExpr((n(1), ListExpr((Name("a"), Ref(("b", "c"))))))
    assert expr("f()") == Call("f")
    assert expr("f(g(1), x = [2])") == Call("f", (Call("g", (n(1),)),), (("x", ListExpr((n(2),))),))


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("hidden.tau", ("hidden", "tau")),
        ("*.tau", ("*", "tau")),
        ("hidden.*", ("hidden", "*")),
        ("res1.w.weight", ("res1", "w", "weight")),
        ("*.*", ("*", "*")),
    ],
)
def test_refs(text: str, parts: tuple[str, ...]) -> None:
    assert expr(text) == Ref(parts)
    assert expr(f"[{text}, 2]") == ListExpr((Ref(parts), n(2)))


def test_expression_wraps_after_operator_and_inside_parentheses() -> None:
    text = "train {\n loss = mse(y, t) +\n   2 * l2(p)\n other = (1\n + 2)\n}"
    settings = parse("network n {}\n" + text).train
    assert settings == Train(
        (
            Setting(
                "loss",
                BinOp(
                    "+",
                    Call("mse", (Name("y"), Name("t"))),
                    BinOp("*", n(2), Call("l2", (Name("p"),))),
                ),
            ),
            Setting("other", BinOp("+", n(1), n(2))),
        )
    )


def test_wildcard_ref_may_end_a_line() -> None:
    spec = parse("network n {}\ntrain {\n freeze = h.*\n epochs = 1\n}")
    assert spec.train == Train((Setting("freeze", Ref(("h", "*"))), Setting("epochs", n(1))))


def test_one_target_syntax_in_freeze_bounds_and_losses() -> None:
    """``h.tau_*`` parses in ``freeze`` and in a loss exactly as in ``bounds``: a glob inside
    a segment is one GLOB token, so it never reads as a multiplication."""
    spec = parse("network n {}\nbounds {\n    h.tau_* >= 1 ms\n    w_*.weight <= 1\n}\n"
                 "train {\n    freeze = [h.tau_*, w_*.weight, *.threshold, *x*.*]\n"
                 "    loss = l2sqr(w_*.weight) + l1(h.*)\n}\n")
    assert spec.bounds is not None and spec.train is not None
    targets = [b.target for b in spec.bounds.bounds]
    assert targets == [Ref(("h", "tau_*")), Ref(("w_*", "weight"))]
    assert spec.train.settings[0] == Setting("freeze", ListExpr((
        Ref(("h", "tau_*")), Ref(("w_*", "weight")), Ref(("*", "threshold")),
        Ref(("*x*", "*")))))
    assert spec.train.settings[1].value == BinOp(
        "+", Call("l2sqr", (Ref(("w_*", "weight")),)), Call("l1", (Ref(("h", "*")),)))
    assert spec.train.settings[0].value.items[0].span == Span(7, 15, 7, 22)


@pytest.mark.parametrize(("text", "want"), [
    ("2*dt", BinOp("*", n(2), Name("dt"))),
    ("a*b", BinOp("*", Name("a"), Name("b"))),
    ("a* b", BinOp("*", Name("a"), Name("b"))),
    ("f(x)*h", BinOp("*", Call("f", (Name("x"),)), Name("h"))),
    ("2*h.tau", BinOp("*", n(2), Ref(("h", "tau")))),
    ("l1(h.*)*2", BinOp("*", Call("l1", (Ref(("h", "*")),)), n(2))),
    ("[tau_*]", ListExpr((Ref(("tau_*",)),))),
])
def test_globs_leave_multiplication_alone(text: str, want: ast.Expr) -> None:
    assert expr(text) == want


# --- bounds ----------------------------------------------------------------------------------


def test_bounds() -> None:
    text = """network n {}
bounds {
    a.tau >= 2 ms enforce both
    enforce = penalty
    a.b.c <= -1
    *.* in [0, 1 + 1] enforce project
    margin = 0.5
}"""
    assert parse(text).bounds == Bounds(
        (
            Bound(Ref(("a", "tau")), n(2, "ms"), None, "both"),
            Bound(Ref(("a", "b", "c")), None, Neg(n(1))),
            Bound(Ref(("*", "*")), n(0), BinOp("+", n(1), n(1)), "project"),
        ),
        (Setting("enforce", Name("penalty")), Setting("margin", f(0.5))),
    )
    assert parse(text).bounds.enforce == "penalty"
    assert parse("network n {}\nbounds {\n    a.b >= 1\n}").bounds.enforce is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a.b >= 1 enforce clip", "unknown enforce mode 'clip'"),
        ("a.b in [0, 1] enforce Project", "unknown enforce mode 'Project'"),
        ("enforce = projct", "unknown enforce mode 'projct'"),
        ("enforce = dt", "unknown enforce mode 'dt'"),
        ('enforce = "project"', "'enforce' must be one of: penalty, project, both"),
        ("enforce = 1", "'enforce' must be one of: penalty, project, both"),
        ("enforce = project + 1", "'enforce' must be one of: penalty, project, both"),
        ("enforce = project()", "'enforce' must be one of: penalty, project, both"),
        ("enforce = a.b", "'enforce' must be one of: penalty, project, both"),
    ],
)
def test_every_enforce_form_is_checked_by_the_parser(line: str, message: str) -> None:
    """The one stage that checks enforce modes: later stages read them as given."""
    with pytest.raises(SpecValueError) as info:
        parse(f"network n (dt = 1 ms) {{}}\nbounds {{\n    {line}\n}}")
    assert info.value.message == message


# --- UTF-8 -----------------------------------------------------------------------------------


def test_utf8_comments_strings_and_micro(tmp_path: Path) -> None:
    text = (
        "# Netz für Übungen — τ in µs\n"
        'network n (dt = 10 \u00b5s, label = "größe ✓") {\n'
        "    x -> y  # → ok\n"
        "}\n"
    )
    path = tmp_path / "u.rpg"
    path.write_text(text, encoding="utf-8")
    spec = parse_file(path)
    assert spec.network.sim == (("dt", n(10, "\u00b5s")), ("label", Str("größe ✓")))
    assert spec.filename == str(path)
    # spans count characters, not bytes
    assert spec.network.body[0].span == Span(3, 5, 3, 11)


def test_crlf_file(tmp_path: Path) -> None:
    path = tmp_path / "crlf.rpg"
    path.write_bytes(b"network n {\r\n  x -> y\r\n}\r\n")
    spec = parse_file(path)
    assert spec.network.body == (chain("x", "y"),)
    assert spec.network.body[0].span == Span(2, 3, 2, 9)


# --- spans -----------------------------------------------------------------------------------


def test_spans() -> None:
    spec = parse(TUTORIAL)
    net = spec.network
    assert net.span == Span(9, 1, 15, 2)
    assert net.sim[0][1].span == Span(9, 29, 9, 33)  # "1 ms"
    port = net.body[0]
    assert port.span == Span(10, 5, 10, 20)
    (x, lin, hidden, _, y) = net.body[2].elements  # type: ignore[union-attr]
    assert x.span == Span(12, 5, 12, 6)
    assert lin.target.span == Span(12, 10, 12, 21)
    call = hidden.target
    assert isinstance(call, Call)
    assert hidden.span == Span(12, 25, 12, 69)  # from the label to ')'
    assert call.span == Span(12, 33, 12, 69) and call.func_span == Span(12, 33, 12, 37)
    assert call.kwargs[1][1].span == Span(12, 63, 12, 68)  # "20 ms"
    assert net.body[2].span == Span(12, 5, 12, 87)
    assert spec.bounds is not None
    assert spec.bounds.bounds[0].span == Span(18, 5, 18, 26)
    assert spec.bounds.bounds[0].target.span == Span(18, 5, 18, 15)
    assert spec.blocks[0].params[1].span == Span(2, 19, 2, 29)
    assert spec.train is not None and spec.train.settings[3].span == Span(27, 5, 27, 21)


# --- diagnostics -----------------------------------------------------------------------------

ERRORS = [
    (
        "network n {\n    x -> }\n",
        """\
<string>:2:10: error: unexpected '}'; expected a module call or a name
        x -> }
             ^""",
    ),
    (
        "network n {\n    x -> y\n",
        """\
<string>:2:11: error: unexpected end of file; expected a new line, '(', '->', ':' or '}'
        x -> y
              ^
hint: is a '}' missing?""",
    ),
    (
        "network n {\n    x -> $y\n}",
        """\
<string>:2:10: error: unexpected character '$'
        x -> $y
             ^""",
    ),
    (
        "network n {\n    x => y\n}",
        """\
<string>:2:7: error: unexpected '='; expected a new line, '(', '->', ':' or '}'
        x => y
          ^
hint: edges are written '->'""",
    ),
    (
        "network n {\n    x -> linear(3 -> y\n}",
        """\
<string>:2:19: error: unexpected '->'; expected a unit, an operator, ')' or ','
        x -> linear(3 -> y
                      ^^
hint: is a ')' missing?""",
    ),
    (
        "network n {\n    x -> input\n}",
        """\
<string>:2:10: error: unexpected keyword 'input'; expected a module call or a name
        x -> input
             ^^^^^
hint: 'input' is a keyword and cannot be used as a name""",
    ),
    (
        "netwrk n {}",
        """\
<string>:1:1: error: unexpected 'netwrk'; expected end of file, 'block', 'bounds', \
'network' or 'train'
    netwrk n {}
    ^^^^^^
hint: did you mean 'network'?""",
    ),
    (
        "network n {\n    x -> linear(3, bias = true, 4) -> y\n}",
        """\
<string>:2:33: error: positional argument follows keyword argument
        x -> linear(3, bias = true, 4) -> y
                                    ^
hint: put positional arguments of 'linear' before 'name = value' ones""",
    ),
    (
        "network n (dt = 1 msec) {}",
        """\
<string>:1:19: error: unknown unit 'msec'
    network n (dt = 1 msec) {}
                      ^^^^
hint: did you mean 'ms'?""",
    ),
    (
        "network a {}\nnetwork b {}\n",
        """\
<string>:2:1: error: a spec has exactly one network, but 'b' is a second one
    network b {}
    ^^^^^^^^^^^^
<string>:1:1: note: network 'a' is defined here
    network a {}
    ^^^^^^^^^^^^
hint: put each network in its own file""",
    ),
    (
        "# nothing here\n",
        """\
error: no network in spec
hint: add one: 'network NAME { input x : 4 ... }'""",
    ),
    (
        "network n {}\ntrain {\n    epochs = 1\n    epochs = 2\n}",
        """\
<string>:4:5: error: duplicate setting 'epochs'
        epochs = 2
        ^^^^^^^^^^
<string>:3:5: note: 'epochs' first given here
        epochs = 1
        ^^^^^^^^^^""",
    ),
    (
        "network n {}\nbounds {\n    h.tau >= 1 ms enforce projct\n}",
        """\
<string>:3:27: error: unknown enforce mode 'projct'
        h.tau >= 1 ms enforce projct
                              ^^^^^^
hint: did you mean 'project'?""",
    ),
    (
        "network n {}\nbounds {\n    tau >= 1 ms\n}",
        """\
<string>:3:5: error: bound target 'tau' must name a node and a parameter
        tau >= 1 ms
        ^^^
hint: write e.g. 'tau.tau' or 'tau.*'""",
    ),
    (
        "network n {}\nbounds {\n    h.tau > 1 ms\n}",
        """\
<string>:3:11: error: unexpected character '>'
        h.tau > 1 ms
              ^
hint: bounds are written '>=' or '<=' (or 'in [lo, hi]')""",
    ),
    (
        "network n {\n    x -> f(a = 1, a = 2)\n}",
        """\
<string>:2:19: error: duplicate keyword argument 'a'
        x -> f(a = 1, a = 2)
                      ^
<string>:2:12: note: 'a' first given here
        x -> f(a = 1, a = 2)
               ^""",
    ),
    (
        'network n (s = "abc) {}',
        """\
<string>:1:16: error: unexpected character '"'
    network n (s = "abc) {}
                   ^
hint: this string is not closed before the end of the line""",
    ),
    (
        "network n {}\ntrain {\n    epochs 3\n}",
        """\
<string>:3:12: error: unexpected '3'; expected '='
        epochs 3
               ^""",
    ),
    (
        "network n {}\ntrain { x = f(1; 2) }",
        """\
<string>:2:16: error: unexpected ';'; expected ')' or ','
    train { x = f(1; 2) }
                   ^
hint: is a ')' missing?""",
    ),
    (
        "network n {}\nbounds { h.tau >= 1 }\nbounds { h.tau <= 2 }",
        """\
<string>:3:1: error: duplicate 'bounds' section
    bounds { h.tau <= 2 }
    ^^^^^^^^^^^^^^^^^^^^^
<string>:2:1: note: first 'bounds' section here
    bounds { h.tau >= 1 }
    ^^^^^^^^^^^^^^^^^^^^^
hint: merge both into one 'bounds { ... }'""",
    ),
    (
        "network n {\n    x -> caf\u00e9\n}",
        """\
<string>:2:13: error: unexpected character 'é'
        x -> café
                ^
hint: names may only use ASCII letters, digits and '_'""",
    ),
    (
        "network n {}\nbounds {\n    h.tau * >= 1 ms\n}\n",
        """\
<string>:3:11: error: unexpected '*'; expected '<=', '>=' or 'in'
        h.tau * >= 1 ms
              ^
hint: write a glob without spaces: 'tau*', 'w_*'""",
    ),
]


@pytest.mark.parametrize(("text", "message"), ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_error_messages(text: str, message: str) -> None:
    err = error(text)
    assert str(err) == message


def test_error_classes_and_filename() -> None:
    assert isinstance(error("network n { x -> }"), SpecSyntaxError)
    assert isinstance(error("network n (dt = 1 msec) {}"), SpecValueError)
    assert isinstance(error("network n {}\ntrain { a = 1; a = 2 }"), SpecNameError)
    err = error("network n { x -> }", "nets/a.rpg")
    assert str(err).startswith("nets/a.rpg:1:18: error: ")
    assert err.span == Span(1, 18, 1, 19) and err.filename == "nets/a.rpg"


def test_no_lark_exception_escapes() -> None:
    junk = [
        "}",
        "{",
        "network",
        "network n",
        "network n {",
        "network n { x -> y -> }",
        "network n { x: }",
        "network n (dt = ) {}",
        "network n {}\nbounds { a.b in [1] }",
        "network n {}\ntrain { = 1 }",
        "\x00",
        "network n {} )",
        "block {}",
        '"',
        "network n { x -> f(,) }",
        "network n { input x : }",
        "network n {}\n" * 3,
    ]
    for text in junk:
        with pytest.raises(SpecError):
            parse(text)


# --- files -----------------------------------------------------------------------------------


def test_parse_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "nope.rpg"
    with pytest.raises(SpecError) as info:
        parse_file(path)
    assert str(info.value) == f"{path}: error: spec file '{path}' does not exist"


def test_parse_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.rpg"
    path.write_bytes("network n {}\n# caf\u00e9\n".encode("latin-1"))
    with pytest.raises(SpecError) as info:
        parse_file(path)
    assert str(info.value) == (
        f"{path}: error: spec file '{path}' is not valid UTF-8 (byte 18 on line 2)\n"
        "hint: save the file as UTF-8"
    )


def test_parse_file_directory(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        parse_file(tmp_path)
    assert str(info.value) == f"{tmp_path}: error: spec file '{tmp_path}' is a directory"


def test_parse_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.rpg"
    path.write_text("network n {\n  x -> \n}\n", encoding="utf-8")
    with pytest.raises(SpecSyntaxError) as info:
        parse_file(path)
    assert str(info.value).startswith(f"{path}:3:1: error: unexpected '}}'")


def _parse_file_in_thread(path: Path) -> BaseException | None:
    """What ``parse_file(path)`` raised, run where a blocking open cannot hang the tests."""
    raised: list[BaseException] = []

    def read() -> None:
        try:
            parse_file(path)
        except BaseException as err:  # noqa: BLE001 - handed to the test
            raised.append(err)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():  # blocked opening the pipe: a writer lets it go
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        return None
    return raised[0] if raised else None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_parse_file_refuses_a_named_pipe(tmp_path: Path) -> None:
    path = tmp_path / "pipe.rpg"
    os.mkfifo(path)
    err = _parse_file_in_thread(path)
    assert isinstance(err, SpecError), "parse_file waited for a writer"
    assert str(err) == (f"{path}: error: spec file '{path}' is a named pipe\n"
                        "hint: save the spec as a file and give its path")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_parse_file_refuses_a_device() -> None:
    # in a child with a memory cap and a timeout: reading /dev/zero never ends
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (2**32, 2**32))\n"
            "from rpgraph.parse import parse_file\n"
            "try:\n    parse_file('/dev/zero')\nexcept Exception as err:\n    print(err)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parent.parent,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert proc.stdout == ("/dev/zero: error: spec file '/dev/zero' is a character device\n"
                           "hint: save the spec as a file and give its path\n")


def test_parse_file_reads_at_most_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = "network n {}\n"
    monkeypatch.setattr(rpgraph.parse, "MAX_SPEC_BYTES", len(spec))
    path = tmp_path / "n.rpg"
    path.write_text(spec, encoding="utf-8")
    assert parse_file(path).network.name == "n"  # exactly at the cap
    path.write_text(spec + "#", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        parse_file(path)
    assert info.value.message == f"spec file '{path}' is larger than 0 MB"
    assert rpgraph.parse.MAX_SPEC_BYTES == len(spec)


# --- long input, short messages --------------------------------------------------------------


def test_a_huge_number_gives_a_short_message() -> None:
    err = error("network n (k = " + "7" * 5000 + ") {}")
    assert str(err) == (
        "<string>:1:16: error: number 777777777777...77777777 is too large\n"
        "    network n (k = " + "7" * 145 + "...\n"
        "                   " + "^" * 145
    )


def test_a_long_sum_gives_a_short_message() -> None:
    line = "network n (k = " + " + ".join(["1"] * 2000) + ") {}"
    err = error(line)
    assert err.span == Span(1, 16, 1, 16 + 101 * 4 - 3)  # the first 101 terms
    quoted, caret = str(err).split("\n")[1:3]
    assert quoted == "    " + line[:160] + "..."
    assert caret == "    " + " " * 15 + "^" * 145
    assert len(str(err)) < 500


def test_quoted_line_is_a_window_around_the_place() -> None:
    line = "a" * 300 + "XYZ" + "b" * 300
    err = SpecError("bad", Span(1, 301, 1, 304), line)
    quoted, caret = str(err).split("\n")[1:3]
    lo = 300 - 160 // 4  # 40 characters before the place
    assert quoted == "    ..." + line[lo : lo + 160] + "..."
    assert caret == "    " + " " * (3 + 300 - lo) + "^^^"
    # at the end of the line: the window ends there, the caret just past the last character
    err = SpecError("bad", Span(1, 604, 1, 605), line)
    quoted, caret = str(err).split("\n")[1:3]
    assert quoted == "    ..." + line[-160:]
    assert caret == "    " + " " * 163 + "^"
    # tabs count as one column, as the lexer counts them
    err = SpecError("bad", Span(1, 3, 1, 4), "\t\tx")
    assert str(err).split("\n")[1:3] == ["      x", "      ^"]


def test_long_messages_are_clipped_but_kept_whole_on_the_error() -> None:
    name = "n" * 100_000
    err = SpecError(f"undefined name '{name}'", hint=f"did you mean '{name}'?",
                    notes=[(None, name)])
    lines = str(err).split("\n")
    assert [len(line) for line in lines] == [7 + MAX_TEXT, 6 + MAX_TEXT, 6 + MAX_TEXT]
    assert lines[0].startswith("error: undefined name 'nnn") and lines[0].endswith("nnn'")
    assert "..." in lines[0]
    assert err.message == f"undefined name '{name}'"


def test_rendering_a_huge_line_is_fast() -> None:
    """The 200,000-term sum of issue #18: a 1.2 MB line quoted under its error."""
    line = "network n (k = " + " + ".join(["1"] * 200_000) + ") {}"
    t0 = time.perf_counter()
    text = str(SpecError("expression nested too deeply", Span(1, 16, 1, 417), line))
    assert time.perf_counter() - t0 < 0.5
    assert len(text) < 500


def test_long_names_are_clipped_in_syntax_errors() -> None:
    err = error("network n { x -> y " + "z" * 10_000 + " }")
    assert err.message == (f"unexpected '{'z' * 23}...{'z' * 14}'; expected a new line, '(', "
                           "'->', ':' or '}'")


# --- limits ----------------------------------------------------------------------------------


def test_thousand_layer_chain() -> None:
    """The spec `python -m benchmarks.run --cases parse` times (the < 1 s goal lives there)."""
    from benchmarks.parse import chain_spec

    spec = parse(chain_spec(1000))
    assert len(spec.network.body[2].elements) == 1002  # type: ignore[union-attr]


def test_ten_thousand_element_chain() -> None:
    text = "network n {\n x" + "".join(f" -> a{i}" for i in range(10_000)) + "\n}"
    spec = parse(text)  # no recursion error: chains are flat lists
    assert len(spec.network.body[0].elements) == 10_001  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "inner",
    [
        "(" * 10_000 + "1" + ")" * 10_000,  # parentheses add no nodes: fine
        "-" * 10_000 + "1",
        "[" * 10_000 + "]" * 10_000,
        "f(" * 10_000 + ")" * 10_000,
        " + ".join(["1"] * 10_000),
        " ** ".join(["2"] * 10_000),
    ],
    ids=["parens", "neg", "lists", "calls", "sum", "power"],
)
def test_deep_nesting_never_overflows(inner: str) -> None:
    old = sys.getrecursionlimit()
    try:
        spec = parse(f"network n (k = {inner}) {{}}")
    except SpecSyntaxError as err:
        assert "nested too deeply (limit 100 levels)" in err.message
    else:
        assert spec.network.sim[0][1] == n(1)
    assert sys.getrecursionlimit() == old


def test_depth_limit_allows_reasonable_expressions() -> None:
    text = " + ".join(["1"] * 99)
    assert isinstance(expr(text), BinOp)
