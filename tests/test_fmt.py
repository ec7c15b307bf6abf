"""Tests for rpgraph.fmt: canonical output, round trips, idempotence."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rpgraph import ast
from rpgraph.fmt import comments, fmt, format_expr, format_spec
from rpgraph.parse import parse
from rpgraph.vocab import KEYWORDS, UNITS

TUTORIAL = """\
# comments start with '#', anywhere
block resblock(n, act = tanh) {          # reusable sub-network
    input  i
    output o
    i -> w: linear(n) -> act -> o
    i -> o
}

network tutorial_rate (dt = 1 ms) {
    input  x : 2000
    output y : 2
    x -> linear(200) -> hidden: rate(activation = tanh, tau = 20 ms) -> linear(2) -> y
    x -> r1: resblock(64, act = relu); r1 -> y
    h -> w_rec: linear(64, weight = normal(0.1), bias = true) -> h
}
bounds {
    enforce = project
    hidden.tau >= 10 * dt
    *.tau <= 1 s
    hidden.* in [-1, 1] enforce penalty
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

TUTORIAL_FORMATTED = """\
# comments start with '#', anywhere
block resblock(n, act = tanh) {  # reusable sub-network
    input i
    output o
    i -> w: linear(n) -> act -> o
    i -> o
}

network tutorial_rate (dt = 1 ms) {
    input x : 2000
    output y : 2
    x -> linear(200) -> hidden: rate(activation = tanh, tau = 20 ms) -> linear(2) -> y
    x -> r1: resblock(64, act = relu)
    r1 -> y
    h -> w_rec: linear(64, weight = normal(0.1), bias = true) -> h
}

bounds {
    enforce = project
    hidden.tau >= 10 * dt
    *.tau <= 1 s
    hidden.* in [-1, 1] enforce penalty
    res1.w.weight in [-1, 1]
}

train {
    data = sinusoids(classes = 3, length = 100)
    loss = mse(y, target) + 1e3 * l2sqr(params) + 1e3 * bounds_cost
    optimizer = adam(lr = 1e-4)
    epochs = 1000
    batch_size = 1
    freeze = [hidden.tau, *.threshold]
    data2 = "file.npz"
}
"""

SPECS = [
    TUTORIAL,
    "network n {}",
    "network n () { }",
    "network   n{input x:2;output y:1;x->linear(1)->y}",
    "block b { input i; output o; i -> o }\nblock c() {}\nnetwork n { x -> b() -> c }",
    "network n {\n  x\n    -> linear(4)  # a layer\n    -> y\n}\n",
    "network n (a = -2 ** 2, b = (-2) ** 2, c = 2 ** -1, d = (2 ** 3) ** 2) {}",
    "network n (a = 2 ** 3 ** 2, b = a - (b - c), c = (a + b) * c, d = -(a + b)) {}",
    "network n (a = --a, b = a / (b * c), c = a * b / c, d = a - -b, e = (a)) {}",
    "network n (a = 1.5e300, b = .5, c = 5., d = 1e-4, e = 100000000000000000000) {}",
    "network n (a = 3 us, b = 2 \u00b5s, c = 1 kHz, d = 0.25 Hz, e = 7 ns, f = 1.0 s) {}",
    'network n (s = "q\\"uote\\\\ \\n é ✓", t = true, u = false, v = []) {}',
    "network n (r = [a.b, *.c, d.*, *.*.e, [1, [2]]], f = g(h(1), k = [x.y])) {}",
    "network n {}\nbounds { a.b >= 1 enforce both; c.d <= 2 ms; *.e in [-1, 1 + 2] }",
    "network n {}\nbounds { *.tau_* >= 2 ms; w_*.w* in [-1, 1]; *x*.* <= 3 }",
    "network n {}\ntrain { freeze = [h.tau_*, w_*.weight, *.threshold]\n"
    " loss = 1e-3 * l2sqr(w_*.weight) + l1(h.*)*2 + (rate(h) - 0.05) ** 2 + l2sqr(h.vmem) }",
    "network n {}\nbounds {\n enforce = penalty\n}\ntrain {\n x = 1\n}",
    "network n {}\ntrain { loss = (mse(y, t)\n + 1) * 2 }",
    "network n {\n input x\n output y : n * 2 + 1\n a: f(1) \n b: g -> a\n}",
]


@pytest.mark.parametrize("text", SPECS, ids=[str(i) for i in range(len(SPECS))])
def test_round_trip_and_idempotent(text: str) -> None:
    once = fmt(text)
    assert parse(once) == parse(text)
    assert fmt(once) == once
    assert once.endswith("}\n") and "\t" not in once and "  \n" not in once


def test_exact_output() -> None:
    assert fmt(TUTORIAL) == TUTORIAL_FORMATTED


# --- comments --------------------------------------------------------------------------------

COMMENTED = """\
# file header

# about the block
block b(n,  # width
        m = 2) {  # reusable
    # first port
    input  i   # in
    output o

    # a paragraph
    i -> o;  i -> w: linear(n) -> o    # two statements, one comment
    i
      -> a   # after a
      # between
      -> o
    # end of block body
}
# about the network
network n (dt = 1 ms) {}  # empty body


bounds {
    a.tau >= 1 ms    # a bound
    enforce = project   # printed first
    # end of bounds

}   # after bounds
train {
    loss = (mse(y, t)   # inner
        # inside the expression

        + 1) * 2    # outer
    epochs = 3
    # end of train
}

# end of file
#no space after the hash   \t
"""

COMMENTED_FORMATTED = """\
# file header

# about the block
# width
block b(n, m = 2) {  # reusable
    # first port
    input i  # in
    output o

    # a paragraph
    i -> o
    i -> w: linear(n) -> o  # two statements, one comment
    i
        -> a  # after a
        # between
        -> o
    # end of block body
}

# about the network
network n (dt = 1 ms) {
}  # empty body

bounds {
    enforce = project  # printed first
    a.tau >= 1 ms  # a bound
    # end of bounds
}  # after bounds

train {
    # inner
    # inside the expression
    loss = (mse(y, t) + 1) * 2  # outer
    epochs = 3
    # end of train
}

# end of file
#no space after the hash
"""


def test_comments_exact_output() -> None:
    assert fmt(COMMENTED) == COMMENTED_FORMATTED
    assert fmt(COMMENTED_FORMATTED) == COMMENTED_FORMATTED
    assert parse(COMMENTED_FORMATTED) == parse(COMMENTED)


@pytest.mark.parametrize(
    ("text", "out"),
    [
        (
            "# top\nnetwork n { # c\n x -> y # t\n}\n",
            "# top\nnetwork n {  # c\n    x -> y  # t\n}\n",
        ),
        ("network n {\n    x -> y\n\n}\n\n\n# eof\n", "network n {\n    x -> y\n}\n\n# eof\n"),
        ("network n { x -> y }\n# eof", "network n {\n    x -> y\n}\n\n# eof\n"),
        ("network n {\n}\n  # a\n\n\n  # b\n", "network n {\n}\n\n# a\n\n# b\n"),
        ('network n (s = "# no comment") {}', 'network n (s = "# no comment") {\n}\n'),
        ('network n (s = "a\\"#") {} # c "x"', 'network n (s = "a\\"#") {\n}  # c "x"\n'),
        ("\n\n# a\n\nnetwork n {}", "# a\n\nnetwork n {\n}\n"),
        ("network n {\n\n  # a\n  x -> y\n}", "network n {\n    # a\n    x -> y\n}\n"),
        ("network n {\n  x -> y\n\n  z -> w\n}", "network n {\n    x -> y\n    z -> w\n}\n"),
        (
            "network n {\n  x -> y\n  # a\n\n  z -> w\n}",
            "network n {\n    x -> y\n    # a\n\n    z -> w\n}\n",
        ),
    ],
)
def test_comment_placement(text: str, out: str) -> None:
    assert fmt(text) == out
    assert fmt(out) == out


def test_comments_found_outside_strings_only() -> None:
    found = comments('# a\nnetwork n (s = "#x") {  # b "c"\n}')
    assert [(c.line, c.column, c.text, c.own_line) for c in found] == [
        (1, 1, "# a", True),
        (2, 25, '# b "c"', False),
    ]


def test_format_spec_can_drop_comments() -> None:
    spec = parse("# top\nnetwork n { # c\n x -> y # t\n}\n")
    assert format_spec(spec, keep_comments=False) == "network n {\n    x -> y\n}\n"



def test_format_spec_prints_a_spec_built_in_code() -> None:
    """A tree with no source spans (as the NIR import builds) prints on one line per
    statement; a block without parameters, like a network without settings, has no ``()``."""
    body = (ast.Port("input", "i", None), ast.Port("output", "o", None),
            ast.Chain((ast.Element(None, ast.Name("i")),
                       ast.Element("w", ast.Call("linear", (ast.Num(2, is_int=True),))),
                       ast.Element(None, ast.Name("o")))))
    net = ast.Network("n", (("dt", ast.Num(1e-4)),), (
        ast.Port("input", "x", ast.Num(2, is_int=True)),
        ast.Chain((ast.Element(None, ast.Name("x")), ast.Element("b", ast.Name("blk")))),))
    spec = ast.Spec(net, (ast.Block("blk", (), body),))
    assert format_spec(spec, keep_comments=False) == (
        "block blk {\n    input i\n    output o\n    i -> w: linear(2) -> o\n}\n\n"
        "network n (dt = 1e-4) {\n    input x : 2\n    x -> b: blk\n}\n")
    assert parse(format_spec(spec, keep_comments=False)) == spec

# --- shipped specs ---------------------------------------------------------------------------

SHIPPED = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.rpg"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_specs_are_canonical(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert fmt(text) == text, f"run 'rpgraph fmt --write {path.name}'"


def _commented(text: str, rng: random.Random) -> tuple[str, list[str]]:
    """``text`` with comments after random lines and comment or blank lines between lines.

    Neither changes the syntax tree: a comment runs to the end of its line, and an empty or
    comment-only line is layout wherever a line break is.
    """
    out: list[str] = []
    added: list[str] = []
    for i, line in enumerate(text.split("\n")):
        roll = rng.random()
        if roll < 0.2:
            out.append("")
        elif roll < 0.45:
            added.append(f"# own {i}")
            out.append(" " * rng.randrange(6) + added[-1])
        if line.strip() and '"' not in line and "#" not in line and rng.random() < 0.4:
            added.append(f"# after {i}")
            line += " " * rng.randrange(4) + added[-1]
        out.append(line)
    return "\n".join(out), added


@pytest.mark.parametrize("seed", range(40))
def test_comments_survive_and_settle(seed: int) -> None:
    rng = random.Random(seed)
    sources = [p.read_text(encoding="utf-8") for p in SHIPPED] + SPECS + [COMMENTED]
    text, added = _commented(sources[seed % len(sources)], rng)
    once = fmt(text)
    assert parse(once) == parse(text)
    assert fmt(once) == once
    assert sorted(c.text for c in comments(once)) == sorted(c.text for c in comments(text))
    assert all(a in once for a in added)
    assert "\t" not in once and "  \n" not in once and "\n\n\n" not in once


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("1e3", "1e3"),
        ("1000", "1000"),
        ("1000.0", "1000.0"),  # numbers keep their spelling
        ("1e-3", "1e-3"),
        ("0.001", "0.001"),
        ("1E-05", "1E-05"),
        ("20.0", "20.0"),
        ("0.1", "0.1"),
        ("20 ms", "20 ms"),
        ("20ms", "20 ms"),
        ("-2 ** 2", "-2 ** 2"),
        ("(-2) ** 2", "(-2) ** 2"),
        ("((1 + 2)) * 3", "(1 + 2) * 3"),
        ("1 + (2 + 3)", "1 + (2 + 3)"),
        ("(1 + 2) + 3", "1 + 2 + 3"),
        ("a*b", "a * b"),
        ("f( 1 ,k=2, )", "f(1, k = 2)"),
        ("[ 1,2, ]", "[1, 2]"),
    ],
)
def test_expression_layout(text: str, out: str) -> None:
    value = parse(f"network n (k = {text}) {{}}").network.sim[0][1]
    assert format_expr(value) == out


@pytest.mark.parametrize(
    ("num", "out"),
    [
        (ast.Num(1000.0, is_int=True), "1000"),
        (ast.Num(1000.0), "1e3"),
        (ast.Num(1e-4), "1e-4"),
        (ast.Num(1e-5), "1e-5"),
        (ast.Num(20.0, "ms"), "20.0 ms"),
        (ast.Num(0.1), "0.1"),
        # a spelling that no longer reads back to the value is not used
        (ast.Num(2e-3, text="1e-3"), "0.002"),
        (ast.Num(5.0, text="5", is_int=False), "5.0"),
    ],
)
def test_numbers_built_in_code_are_spelled_canonically(num: ast.Num, out: str) -> None:
    assert format_expr(num) == out


def test_hand_written_numbers_pass_check() -> None:
    text = ("network n (dt = 0.5 ms) {\n    input x : 2\n    output y : 2\n    x -> y\n}\n\n"
            "train {\n    optimizer = adam(lr = 1e-3)\n    loss = mse(y, target) + 0.001 * "
            "l2sqr(params) + 1E3 * bounds_cost\n    epochs = 1000\n}\n")
    assert fmt(text) == text


# --- property: generated syntax trees survive format -> parse ------------------------------

_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: s not in KEYWORDS
)
_UNIT = st.none() | st.sampled_from(sorted(UNITS))
_STR_CHARS = st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from('\n"\\')


def _num() -> st.SearchStrategy[ast.Num]:
    ints = st.integers(0, 10**20).map(float)
    floats = st.floats(0, 1e300, allow_nan=False, allow_infinity=False)
    return st.one_of(
        st.builds(ast.Num, ints, _UNIT, st.just(True)),
        st.builds(ast.Num, floats, _UNIT, st.just(False)),
    )


_LEAVES: st.SearchStrategy[ast.Expr] = st.one_of(
    _num(),
    st.builds(ast.Bool, st.booleans()),
    st.builds(ast.Str, st.text(_STR_CHARS, max_size=8)),
    st.builds(ast.Name, _NAMES),
    st.builds(
        ast.Ref,
        st.lists(_NAMES | st.just("*"), min_size=2, max_size=3).map(tuple),
    ),
)


def _kwargs(values: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[tuple]:
    return st.dictionaries(_NAMES, values, max_size=3).map(lambda d: tuple(d.items()))


def _extend(inner: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
    return st.one_of(
        st.builds(ast.BinOp, st.sampled_from(["+", "-", "*", "/", "**"]), inner, inner),
        st.builds(ast.Neg, inner),
        st.builds(ast.ListExpr, st.lists(inner, max_size=3).map(tuple)),
        st.builds(ast.Call, _NAMES, st.lists(inner, max_size=3).map(tuple), _kwargs(inner)),
    )


EXPRS = st.recursive(_LEAVES, _extend, max_leaves=12)

_CALLS = st.builds(ast.Call, _NAMES, st.lists(EXPRS, max_size=2).map(tuple), _kwargs(EXPRS))
_ELEMENTS = st.builds(ast.Element, st.none() | _NAMES, st.builds(ast.Name, _NAMES) | _CALLS)
_STMTS = st.one_of(
    st.builds(ast.Port, st.sampled_from(["input", "output"]), _NAMES, st.none() | EXPRS),
    st.builds(ast.Chain, st.lists(_ELEMENTS, min_size=1, max_size=4).map(tuple)),
)
_BODY = st.lists(_STMTS, max_size=4).map(tuple)
_SETTINGS = st.dictionaries(_NAMES, EXPRS, max_size=3).map(
    lambda d: tuple(ast.Setting(k, v) for k, v in d.items())
)
_PARAMS = st.dictionaries(_NAMES, st.none() | EXPRS, max_size=3).map(
    lambda d: tuple(ast.Param(k, v) for k, v in d.items())
)


@st.composite
def _bound(draw: st.DrawFn) -> ast.Bound:
    target = ast.Ref(tuple(draw(st.lists(_NAMES | st.just("*"), min_size=2, max_size=3))))
    lower, upper = draw(st.sampled_from([(True, False), (False, True), (True, True)]))
    return ast.Bound(
        target,
        draw(EXPRS) if lower else None,
        draw(EXPRS) if upper else None,
        draw(st.none() | st.sampled_from(["penalty", "project", "both"])),
    )


SPEC_TREES = st.builds(
    ast.Spec,
    network=st.builds(ast.Network, _NAMES, _kwargs(EXPRS), _BODY),
    blocks=st.lists(st.builds(ast.Block, _NAMES, _PARAMS, _BODY), max_size=2).map(tuple),
    bounds=st.none() | st.builds(ast.Bounds, st.lists(_bound(), max_size=3).map(tuple), _SETTINGS),
    train=st.none() | st.builds(ast.Train, _SETTINGS),
)


@settings(max_examples=50, deadline=None)
@given(SPEC_TREES)
def test_generated_trees_round_trip(spec: ast.Spec) -> None:
    text = format_spec(spec)
    assert parse(text) == spec
    assert fmt(text) == text


@settings(max_examples=50, deadline=None)
@given(EXPRS)
def test_generated_expressions_round_trip(value: ast.Expr) -> None:
    spec = parse(f"network n (k = {format_expr(value)}) {{}}")
    assert spec.network.sim == (("k", value),)
