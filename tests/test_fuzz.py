"""Fuzzing the front end: parser, graph builder and compiler never crash.

Whatever the text, ``rpgraph.parse.parse`` and ``rpgraph.loads`` either succeed or raise a
:class:`~rpgraph.errors.SpecError` whose line and column point into the text; nothing else
escapes (no Lark error, ``ValueError``, ``RecursionError``...), and no input takes more than
a second. Strategies: random text (printable, unicode, control characters), random
sequences of the grammar's tokens, and mutations (deletions, duplications, swaps,
truncations, insertions) of every spec in ``specs/``. Pathological sizes (10,000-deep
nesting, 10,000-term sums, 10,000-node chains, a 12,000-node chain declared bottom-up, blocks
that double at each of 30 levels) are checked explicitly.

Budget: the whole file runs in well under 40 s (``max_examples`` below are explicit and the
examples are derandomized, so CI sees the same inputs every time).
"""

from __future__ import annotations

import math
import random
import re
import string
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rpgraph
from rpgraph.errors import MAX_QUOTE, MAX_TEXT, SpecError, clip
from rpgraph.parse import parse
from rpgraph.vocab import KEYWORDS

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.rpg"))
SPEC_TEXTS = [p.read_text(encoding="utf-8") for p in SPECS]

#: The longest any single fuzz input may take through parse + graph building.
PER_INPUT_S = 1.0
#: Pathological inputs (10,000 levels or nodes) must finish, with a result or a SpecError,
#: within this many seconds. This is a hang guard, not a speed goal: it catches exponential
#: blow-ups and endless loops even on a loaded CI machine (the slowest case takes about 2 s on
#: a quiet one and 37 s was seen with eight other jobs on two cores). Speed goals, such as the
#: linear-time graph build of the 12,000-node chain declared bottom-up, live in
#: benchmarks/parse.py.
STRESS_S = 90.0
#: The number of examples per strategy (recorded in the module docstring of the report).
EXAMPLES = {"text": 250, "ascii": 250, "tokens": 400, "mutations": 400, "lines": 150}

FUZZ = settings(
    max_examples=100,  # overridden per test below
    deadline=None,  # timing is checked explicitly, per input, against PER_INPUT_S
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: How many inputs each strategy fed through parse/loads (printed with ``pytest -s``).
TRIED: dict[str, int] = {}


# --- the property ----------------------------------------------------------------------------


def _check_error(err: SpecError, text: str) -> None:
    """A SpecError's location (and those of its notes) must lie inside ``text``."""
    lines = text.count("\n") + 1
    spans = [err.span] + [s for s, _ in err.notes]
    for span in spans:
        if span is None:
            continue  # whole-file problems (e.g. "no network in spec") have no location
        assert 1 <= span.line <= lines + 1, (span, lines, str(err))
        assert span.column >= 1, (span, str(err))
    rendered = str(err)  # rendering never fails either
    assert clip(err.message, MAX_TEXT) in rendered and "Traceback" not in rendered
    if err.span is not None and 1 <= err.span.line <= lines:
        # the caret line quotes the very line the error is on (split on '\n' only: the
        # parser counts lines that way, whatever other characters str.splitlines likes),
        # a long one as a window with '...' where it is cut
        shown = text.split("\n")[err.span.line - 1].expandtabs(1)
        if shown.strip():
            quoted = [line[4:] for line in rendered.split("\n") if line.startswith("    ")]
            whole = len(shown) <= MAX_QUOTE
            assert any(q == shown if whole else q.strip(".") in shown for q in quoted), (
                rendered, shown)


def _run(fn: Callable[[str], Any], text: str, limit: float = PER_INPUT_S) -> str:
    """``"ok"`` or ``"error"``; any other exception, or a slow input, fails the test.

    An input over the limit is timed once more and judged by the faster run: a slow input is
    slow both times, a pause of a loaded CI machine (or a garbage collection) is not."""
    elapsed = math.inf
    for _ in range(2):
        t0 = time.perf_counter()
        try:
            fn(text)
            outcome = "ok"
        except SpecError as err:
            _check_error(err, text)
            outcome = "error"
        elapsed = min(elapsed, time.perf_counter() - t0)
        if elapsed < limit:
            break
    assert elapsed < limit, f"{elapsed:.2f} s for input {text[:200]!r}"
    return outcome


def check_front_end(text: str, strategy: str) -> None:
    TRIED[strategy] = TRIED.get(strategy, 0) + 1
    parsed = _run(parse, text)
    built = _run(rpgraph.loads, text)
    if parsed == "error":
        assert built == "error", "loads accepted what parse rejected"


# --- strategies ------------------------------------------------------------------------------

_PUNCT = ["->", "(", ")", "[", "]", "{", "}", ",", ":", "=", ".", ">=", "<=", "+", "-", "**",
          "*", "/", ";", "\n", "\n\n", "<", ">", "'", '"']
_NAMES = ["x", "y", "h", "i", "o", "n", "dt", "tau", "linear", "lif", "rate", "tanh", "relu",
          "expsyn", "weight", "activation", "sinusoids", "adam", "lr", "mse", "target",
          "params", "penalty", "project", "both", "data", "loss", "optimizer", "epochs",
          "_", "a1", "lineer", "freeze", "bias", "kaiming", "normal", "uniform"]
_LITERALS = ["0", "1", "2", "8", "64", "1.5", ".5", "1e3", "1e-3", "1e999", "00", "3.", "20",
             "ms", "s", "us", "Hz", "kHz", "\u00b5s", "\u03bcs", "ns", "1ms", "20 ms", '"a"',
             '"x.npz"', '"\\n"', '"\\q"', '"open', "# comment", "\t", " ", "\r", "\x00",
             "\u00e9", "\u2028", "\ufeff", "9" * 400, "9" * 5000]
TOKENS = sorted(KEYWORDS) + _PUNCT + _NAMES + _LITERALS

_SEPARATORS = st.sampled_from([" ", " ", " ", "", "\n", "  ", "\t", ";"])


@st.composite
def token_soup(draw: st.DrawFn) -> str:
    toks = draw(st.lists(st.sampled_from(TOKENS), min_size=0, max_size=60))
    out: list[str] = []
    for tok in toks:
        out.append(tok)
        out.append(draw(_SEPARATORS))
    return "".join(out)


@st.composite
def network_with_soup(draw: st.DrawFn) -> str:
    """Token soup placed inside an otherwise valid network, so the builder sees more."""
    soup = draw(token_soup())
    where = draw(st.integers(0, 3))
    parts = ["network n (dt = 1 ms) {\n input x : 4\n output y : 2\n", "x -> ", soup,
             " -> y\n}\n"]
    if where == 1:
        parts = ["network n {\n input x : 4\n output y : 2\n x -> linear(2) -> y\n}\n",
                 "bounds {\n linear_0.", soup, "\n}\n"]
    elif where == 2:
        parts = ["network n {\n input x : 4\n output y : 2\n x -> linear(2) -> y\n}\n",
                 "train {\n ", soup, "\n}\n"]
    elif where == 3:
        parts = ["block b(", soup, ") { input i\n output o\n i -> o }\n",
                 "network n {\n input x : 2\n output y : 2\n x -> b -> y\n}\n"]
    return "".join(parts)


_UNITS = re.compile(r"\S+|\s+")


def _mutate(text: str, ops: list[tuple[int, int, int, int]], lexical: bool) -> str:
    """Apply edit operations to ``text``, as characters or as word/space pieces."""
    pieces: list[str] = _UNITS.findall(text) if lexical else list(text)
    for op, a, b, c in ops:
        if not pieces:
            break
        n = len(pieces)
        i, j = sorted((a % n, b % n))
        if op == 0:  # delete a range
            del pieces[i:j + 1]
        elif op == 1:  # duplicate a range
            pieces[j + 1:j + 1] = pieces[i:j + 1]
        elif op == 2:  # swap two pieces
            pieces[i], pieces[j] = pieces[j], pieces[i]
        elif op == 3:  # truncate
            del pieces[j:]
        elif op == 4:  # insert a grammar token
            pieces.insert(i, TOKENS[c % len(TOKENS)])
        else:  # replace a piece by a token
            pieces[i] = TOKENS[c % len(TOKENS)]
    return "".join(pieces)


_OP = st.tuples(st.integers(0, 5), st.integers(0, 10**6), st.integers(0, 10**6),
                st.integers(0, 10**6))


@st.composite
def mutated_spec(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SPEC_TEXTS))
    ops = draw(st.lists(_OP, min_size=1, max_size=4))
    return _mutate(text, ops, lexical=draw(st.booleans()))


@st.composite
def shuffled_lines(draw: st.DrawFn) -> str:
    """Whole lines of the specs deleted, duplicated or swapped (the structure stays sane,
    so more of these reach the graph builder)."""
    lines = draw(st.sampled_from(SPEC_TEXTS)).split("\n")
    for op, a, b, _ in draw(st.lists(_OP, min_size=1, max_size=3)):
        i, j = a % len(lines), b % len(lines)
        if op % 3 == 0 and len(lines) > 1:
            del lines[i]
        elif op % 3 == 1:
            lines.insert(j, lines[i])
        else:
            lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


# --- the fuzz tests --------------------------------------------------------------------------


@settings(FUZZ, max_examples=EXAMPLES["text"])
@given(st.text(max_size=300))
def test_random_unicode_text(text: str) -> None:
    check_front_end(text, "text")


@settings(FUZZ, max_examples=EXAMPLES["ascii"])
@given(st.text(alphabet=st.sampled_from(string.printable + "\x00\x07\x1b\x7f\u00b5\u03bc"),
               max_size=300))
def test_random_printable_and_control_text(text: str) -> None:
    check_front_end(text, "ascii")


@settings(FUZZ, max_examples=EXAMPLES["tokens"])
@given(st.one_of(token_soup(), network_with_soup()))
def test_random_token_sequences(text: str) -> None:
    check_front_end(text, "tokens")


@settings(FUZZ, max_examples=EXAMPLES["mutations"])
@given(mutated_spec())
def test_mutated_specs(text: str) -> None:
    check_front_end(text, "mutations")


@settings(FUZZ, max_examples=EXAMPLES["lines"])
@given(shuffled_lines())
def test_shuffled_spec_lines(text: str) -> None:
    check_front_end(text, "lines")


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_every_truncation_point_of_each_spec(path: Path) -> None:
    """Cut each shipped spec after every token boundary: an editor's view while typing."""
    text = path.read_text(encoding="utf-8")
    cuts = sorted({m.end() for m in _UNITS.finditer(text)} | {0})
    for cut in cuts:
        check_front_end(text[:cut], "truncations")


def test_shipped_specs_build() -> None:
    """The mutations start from valid specs (otherwise the fuzzing proves little)."""
    for text in SPEC_TEXTS:
        rpgraph.loads(text)


# --- pathological sizes ----------------------------------------------------------------------

N = 10_000
_HDR = "network n {\n input x : 2\n output y : 2\n x -> "


def _in_arg(expr: str) -> str:
    return _HDR + f"linear({expr}) -> y\n}}\n"


STRESS: dict[str, str] = {
    "parens": _in_arg("(" * N + "2" + ")" * N),
    "neg_parens": _in_arg("-(" * N + "2" + ")" * N),
    "neg_bare": _in_arg("-" * N + "2"),
    "sum": _in_arg("+".join(["1"] * N)),
    "difference": _in_arg("-".join(["1"] * N)),
    "product": _in_arg("*".join(["1"] * N)),
    "power": _in_arg("**".join(["1"] * N)),
    "lists": _in_arg("[" * N + "2" + "]" * N),
    "calls": _in_arg("f(" * N + "2" + ")" * N),
    "ref": _in_arg(".".join(["a"] * N)),
    "long_list": _in_arg("[" + ", ".join(["1"] * N) + "]"),
    "many_kwargs": _HDR + "linear(2, " + ", ".join(f"k{i} = 1" for i in range(N)) + ") -> y }",
    "chain": _HDR + " -> ".join(["tanh"] * N) + " -> y\n}\n",
    "labelled_chain": _HDR + " -> ".join(f"h{i}: tanh" for i in range(N)) + " -> y\n}\n",
    "statements": "network n {\n input x : 2\n output y : 2\n"
    + "\n".join(f"x -> a{i}: tanh -> y" for i in range(N)) + "\n}\n",
    "blank_lines": "\n" * N + _HDR + "y\n}\n" + "\n" * N,
    "comments": "# c\n" * N + _HDR + "y\n}\n",
    "block_nesting": "".join(f"block b{i} {{ input i\n output o\n i -> b{i - 1} -> o }}\n"
                             for i in range(1, 1000))
    + "block b0 { input i\n output o\n i -> tanh -> o }\n" + _HDR + "b999 -> y\n}\n",
    "recursive_block": "block b { input i\n output o\n i -> b -> o }\n" + _HDR + "b -> y\n}\n",
    # each block uses the one before it twice: 2**30 modules unless the node budget stops it
    "doubling_blocks": "block b0 { input i\n output o\n i -> tanh -> o }\n"
    + "".join(f"block b{i} {{ input i\n output o\n i -> b{i - 1} -> b{i - 1} -> o }}\n"
              for i in range(1, 31)) + _HDR + "b30 -> y\n}\n",
    # a 12,000-node chain declared bottom-up (each line feeds the one above it): the order
    # that made size inference quadratic (52 s); its time is tracked in benchmarks/parse.py
    "reversed_chain": "network n {\n input x : 2\n output y : 2\n h11999 -> y\n"
    + "\n".join(f"{'x' if i == 0 else f'h{i - 1}'} -> h{i}: tanh"
                for i in reversed(range(12_000))) + "\n}\n",
    "bounds": "network n {\n input x : 2\n output y : 2\n x -> h: rate(activation = tanh)"
    " -> y\n}\nbounds {\n" + "\n".join("h.tau >= 1 ms" for _ in range(N)) + "\n}\n",
    "huge_integer": _in_arg("9" * 5000),
    "huge_power": _in_arg("10 ** 10 ** 10"),
    "huge_power_2": _in_arg("2 ** 100000"),
    "squaring_blocks": "".join(f"block b{i}(n) {{ input i\n output o\n i -> b{i - 1}(n = n * n)"
                               " -> o }\n" for i in range(1, 31))
    + "block b0(n) { input i\n output o\n i -> linear(2) -> o }\n" + _HDR
    + "b30(n = 99999999) -> y\n}\n",
    "unclosed": _in_arg("(" * N),
    "closers": _in_arg(")" * N),
    "long_name": _HDR + "a" * 100_000 + " -> y\n}\n",
    "long_string": _in_arg('"' + "a" * 100_000 + '"'),
}


@pytest.mark.parametrize("name", sorted(STRESS))
def test_pathological_inputs_finish_quickly(name: str) -> None:
    text = STRESS[name]
    for fn in (parse, rpgraph.loads):
        _run(fn, text, limit=STRESS_S)


def test_numbers_beyond_float_range_are_spec_errors() -> None:
    for expr in ("1e999", "9" * 400, "9" * 5000, "10 ** 400", "2 ** 2000", "3 ** 5000",
                 "(10 ** 300) * (10 ** 300)", "1e308 * 10"):
        with pytest.raises(SpecError) as info:
            rpgraph.loads(_in_arg(expr))
        assert info.value.line == 4, (expr, str(info.value))
        assert len(info.value.message) < 200


# --- the compiler on specs that build --------------------------------------------------------

COMPILE_EXAMPLES = 20
MAX_PARAMS = 2_000_000  # fresh parameters are only drawn for networks below this size


def _param_count(net: rpgraph.Network) -> int:
    return sum(math.prod(p.shape) for p in net.params())


def test_compile_mutated_specs_that_build() -> None:
    """Mutations of the shipped specs that pass graph building also compile (or raise a
    SpecError), and their parameters initialise. A fixed seed keeps CI deterministic."""
    rng = random.Random(20240611)
    compiled = errors = attempts = 0
    while compiled + errors < COMPILE_EXAMPLES and attempts < 5000:
        attempts += 1
        text = SPEC_TEXTS[rng.randrange(len(SPEC_TEXTS))]
        ops = [(rng.randrange(6), rng.randrange(10**6), rng.randrange(10**6),
                rng.randrange(10**6)) for _ in range(rng.randint(1, 3))]
        mutant = _mutate(text, ops, lexical=rng.random() < 0.7)
        try:
            net = rpgraph.loads(mutant)
        except SpecError:
            continue
        try:
            prog = rpgraph.compile(net)
            if _param_count(net) <= MAX_PARAMS:
                prog.init(0)
            compiled += 1
        except SpecError as err:
            _check_error(err, mutant)
            errors += 1
    TRIED["compile"] = compiled + errors
    assert compiled + errors == COMPILE_EXAMPLES, attempts
    assert compiled >= COMPILE_EXAMPLES // 2


def test_report_counts() -> None:
    """Not a check: prints how many inputs each strategy tried (``pytest -s``)."""
    print("\nfuzz inputs tried:", dict(sorted(TRIED.items())))
