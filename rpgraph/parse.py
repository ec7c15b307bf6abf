"""Parse .rpg spec text into the typed syntax tree of :mod:`rpgraph.ast`.

The grammar lives in ``grammar/rpgraph.lark`` (shipped inside wheels as
``rpgraph/grammar/rpgraph.lark``). Parsing is three steps:

1. Lark's basic lexer and LALR(1) parser, with :class:`_Layout` as post-lexer so that
   newlines only separate statements where they are not mere layout;
2. :class:`_Builder`, a non-recursive transformer from the Lark tree to :mod:`rpgraph.ast`
   nodes with spans, which also checks what the grammar cannot (units, argument order,
   duplicates, ``enforce`` names, one network per file);
3. every Lark error is turned into a :class:`~rpgraph.errors.SpecSyntaxError` that says in
   words what was expected, so users never see a Lark exception.

Expressions may nest at most :data:`MAX_DEPTH` levels, so that later stages (which walk
expressions recursively) can never hit Python's recursion limit.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.tree import Meta

from . import ast
from .errors import (
    Span,
    SpecError,
    SpecNameError,
    SpecSyntaxError,
    SpecValueError,
    clip,
    did_you_mean,
)
from .parse_table import TABLE, dumps, load_or_build
from .vocab import BINARY, ENFORCE_MODES, KEYWORD_GROUP_SETTINGS, KEYWORDS, UNITS

__all__ = ["MAX_DEPTH", "MAX_SPEC_BYTES", "parse", "parse_expr", "parse_file"]

#: How deep an expression may nest (``-(-(-x))``, ``[[[x]]]``, ``a + b + c + ...``).
MAX_DEPTH = 100

# --- grammar loading -------------------------------------------------------------------------

_HERE = Path(__file__).resolve().parent
_GRAMMAR_PATHS = (
    _HERE / "grammar" / "rpgraph.lark",  # installed wheel (force-included by pyproject)
    _HERE.parent / "grammar" / "rpgraph.lark",  # editable install / source checkout
)


def grammar_path() -> Path:
    """The grammar file in use: the packaged copy if present, else the repository's."""
    for path in _GRAMMAR_PATHS:
        if path.is_file():
            return path
    raise FileNotFoundError(f"rpgraph grammar not found; looked in {_GRAMMAR_PATHS}")


class _Layout:
    """Post-lexer: drop newlines that are layout, so the grammar sees only separators.

    Newlines are dropped inside ``(``/``[``, after tokens that cannot end a statement
    (``{ } -> , = :`` and operators), before ``}`` and ``->`` (so a chain may continue on
    the next line), in runs, and at both ends of the file. ``;`` is a separator too, but
    inside brackets it is passed through so that the parser reports it.
    """

    always_accept = ("_NL",)

    # Tokens after which a line break never ends a statement.
    _JOIN_AFTER = frozenset(
        "LBRACE RBRACE ARROW COMMA EQUAL COLON PLUS MINUS SLASH POW GE LE IN LPAR LSQB".split()
    )
    _JOIN_BEFORE = frozenset({"RBRACE", "ARROW"})
    _OPEN = {"LPAR": "(", "LSQB": "[", "LBRACE": "{"}
    _CLOSE = frozenset({"RPAR", "RSQB", "RBRACE"})

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        return self._layout(_join_globs(stream))

    def _layout(self, stream: Iterator[Token]) -> Iterator[Token]:
        brackets: list[str] = []
        prev: Token | None = None
        before_prev: Token | None = None
        pending: Token | None = None
        for tok in stream:
            if tok.type == "_NL":
                in_parens = bool(brackets) and brackets[-1] != "{"
                if in_parens and tok.value == ";":
                    yield tok  # a ';' inside (...) is an error; let the parser say so
                    before_prev, prev = prev, tok
                elif not in_parens and pending is None:
                    pending = tok
                continue
            if pending is not None:
                if prev is not None and tok.type not in self._JOIN_BEFORE:
                    if not self._joins(prev, before_prev):
                        yield pending
                pending = None
            if tok.type in self._OPEN:
                brackets.append(self._OPEN[tok.type])
            elif tok.type in self._CLOSE and brackets:
                brackets.pop()
            yield tok
            before_prev, prev = prev, tok

    def _joins(self, prev: Token, before: Token | None) -> bool:
        if prev.type == "STAR":
            # '*' after '.' is a wildcard (``hidden.*``) and may end a statement.
            return before is None or before.type != "DOT"
        return prev.type in self._JOIN_AFTER


def _adjacent(a: Token, b: Token) -> bool:
    """Whether ``b`` starts exactly where ``a`` ends (no space or comment between)."""
    return (b.line, b.column) == (a.end_line, a.end_column)


# Tokens after which a '*' is multiplication, never the start of a glob (``2*h``, ``f(x)*y``).
_OPERAND_END = frozenset({"NUMBER", "MU_UNIT", "RPAR", "RSQB", "STRING", "TRUE", "FALSE",
                          "NAME", "GLOB"})


_GLOB_END = frozenset({"RPAR", "RSQB", "COMMA", "_NL", "RBRACE"})


def _join_globs(stream: Iterator[Token]) -> Iterator[Token]:
    """Join a run of names and ``*`` written without spaces next to a ``.`` into one GLOB
    token: ``w_*.weight`` is GLOB('w_*') DOT NAME('weight'), ``h.tau_*`` is NAME DOT
    GLOB('tau_*'). So a glob inside a segment is one token, and ``tau *`` (with a space) or
    ``2*dt`` stay what they were; the grammar then has one target rule for bounds,
    ``freeze`` and loss terms without a conflict between a glob's '*' and multiplication.
    """
    run: list[Token] = []
    before: Token | None = None  # the last token passed on before the run

    def flush(nxt: Token | None) -> Iterator[Token]:
        near_dot = (before is not None and before.type == "DOT" and _adjacent(before, run[0])
                    ) or (nxt is not None and nxt.type == "DOT" and _adjacent(run[-1], nxt))
        # a trailing '*' before ')' ']' ',' or a line end has no right operand: a glob
        # (``freeze = [tau_*]`` is then reported as a target without a node, not a syntax error)
        trailing = run[-1].type == "STAR" and (nxt is None or nxt.type in _GLOB_END)
        if len(run) > 1 and (near_dot or trailing) and any(t.type == "STAR" for t in run):
            first, last = run[0], run[-1]
            yield Token("GLOB", "".join(str(t) for t in run), first.start_pos, first.line,
                        first.column, last.end_line, last.end_column, last.end_pos)
        else:
            yield from run

    for tok in stream:
        if tok.type in ("NAME", "STAR"):
            if run and _adjacent(run[-1], tok):
                run.append(tok)
                continue
            if run:
                yield from flush(tok)
                before, run = run[-1], []
            if tok.type == "STAR" and before is not None and before.type in _OPERAND_END:
                yield tok  # multiplication
                before = tok
                continue
            run = [tok]
            continue
        if run:
            yield from flush(tok)
            run = []
        yield tok
        before = tok
    if run:
        yield from flush(None)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    """The Lark parser, once per process: from the shipped tables when they match the
    grammar (:mod:`rpgraph.parse_table`, 3 ms), else built (0.1 s)."""
    grammar = grammar_path().read_text(encoding="utf-8")
    return load_or_build(grammar, lambda: build_parser(grammar), postlex=_Layout(),
                         propagate_positions=True)


def build_parser(grammar: str | None = None) -> Lark:
    """Build the Lark parser from ``grammar`` (default: the grammar file's text); what
    ``parse_table.json`` holds."""
    import lark.lexer

    # Lark checks every pair of terminals for collisions with interegular when it is
    # installed (0.7 s at every start); the strict build in tests/test_parse.py proves once
    # what this would re-prove each time.
    saved = lark.lexer.has_interegular
    lark.lexer.has_interegular = False
    try:
        return Lark(
            grammar if grammar is not None else grammar_path().read_text(encoding="utf-8"),
            parser="lalr",
            lexer="basic",
            postlex=_Layout(),
            propagate_positions=True,
            maybe_placeholders=False,
            # conflicts and terminal collisions are ruled out by a strict build in the
            # tests; strict mode at run time would make interegular a dependency for nothing
            strict=False,
            start=["start", "expr"],  # "expr" serves parse_expr (settings given on the CLI)
        )
    finally:
        lark.lexer.has_interegular = saved


def write_table() -> Path:
    """Write ``rpgraph/parse_table.json`` from the grammar file; returns its path. Run it
    after editing the grammar: ``python -c "import rpgraph.parse as p; p.write_table()"``.
    (Lark numbers its LALR states in set order, so two builds may differ in the file yet
    parse the same; the test compares parses, not bytes.)"""
    grammar = grammar_path().read_text(encoding="utf-8")
    TABLE.write_text(dumps(build_parser(grammar), grammar), encoding="utf-8")
    return TABLE


# --- tree -> AST -----------------------------------------------------------------------------


def _span(meta: Meta) -> Span:
    if getattr(meta, "empty", True):
        return ast.NOWHERE
    return Span(meta.line, meta.column, meta.end_line, meta.end_column)


def _tspan(tok: Token) -> Span:
    line, col = tok.line or 0, tok.column or 0
    return Span(line, col, tok.end_line or line, tok.end_column or col + len(tok))


def _unescape(tok: Token) -> str:
    body = tok.value[1:-1]
    if "\\" not in body:
        return str(body)
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt not in _ESCAPES:
                col = (tok.column or 0) + 1 + i
                raise SpecSyntaxError(
                    f"unknown escape '\\{nxt}' in string",
                    Span(tok.line or 0, col, tok.line or 0, col + 2),
                    hint='strings know the escapes \\" \\\\ and \\n',
                )
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n"}


def _check_duplicates(
    items: Sequence[tuple[str, Span]], what: str, error: type[SpecError] = SpecNameError
) -> None:
    """Raise at the second of two equal keys, with a note at the first."""
    seen: dict[str, Span] = {}
    for key, span in items:
        if key in seen:
            raise error(
                f"duplicate {what} '{key}'",
                span,
                notes=[(seen[key], f"'{key}' first given here")],
            )
        seen[key] = span


def _check_enforce(name: str, span: Span) -> None:
    if name not in ENFORCE_MODES:
        hint = did_you_mean(name, ENFORCE_MODES) or "use one of: " + ", ".join(ENFORCE_MODES)
        raise SpecValueError(f"unknown enforce mode '{clip(name)}'", span, hint=hint)


#: Grammar alias of each binary operator (``add``) -> its symbol (``+``).
_OPERATOR_RULES = {op.rule: op.symbol for op in BINARY.values()}


class _Builder:
    """Lark tree -> :mod:`rpgraph.ast`, one method per rule or alias.

    The walk is iterative (Lark's recursive Transformer would overflow the stack on deeply
    nested input) and calls methods directly, which is several times faster than
    ``v_args(meta=True)`` on long chains.
    """

    def __init__(self) -> None:
        # Nesting depth of each expression node built so far, keyed by id() (the nodes stay
        # alive until the transform ends, so ids are not reused).
        self._depth: dict[int, int] = {}

    def transform(self, tree: Tree) -> Any:
        # Children-first order without recursion: push each tree twice, build on the 2nd pop.
        done: list[Any] = []
        todo: list[tuple[Any, bool]] = [(tree, False)]
        while todo:
            node, expanded = todo.pop()
            if not isinstance(node, Tree):
                done.append(node)
            elif expanded:
                n = len(node.children)
                args = done[len(done) - n :] if n else []
                del done[len(done) - n :]
                if node.data in _OPERATOR_RULES:  # add, sub, ...: one method for all
                    done.append(self._binop(_OPERATOR_RULES[node.data], node.meta, args))
                else:
                    done.append(getattr(self, node.data)(node.meta, args))
            else:
                todo.append((node, True))
                todo.extend((child, False) for child in reversed(node.children))
        return done[0]

    def _expr(self, node: Any, *children: Any) -> Any:
        depth = 1
        for child in children:
            depth = max(depth, self._depth[id(child)] + 1)
        if depth > MAX_DEPTH:
            raise SpecSyntaxError(
                f"expression nested too deeply (limit {MAX_DEPTH} levels)",
                node.span,
                hint="split it into named constants or simplify it",
            )
        self._depth[id(node)] = depth
        return node

    # expressions

    def number(self, meta: Meta, ch: list[Token]) -> ast.Num:
        tok = ch[0]
        text = tok.value
        is_int = text.isdigit()
        try:
            value = float(int(text)) if is_int else float(text)
        except (OverflowError, ValueError):  # ValueError: over Python's 4300-digit limit
            value = math.inf
        if not math.isfinite(value):
            raise SpecValueError(f"number {clip(text, 23)} is too large", _tspan(tok))
        unit: str | None = None
        if len(ch) > 1:
            unit = str(ch[1].value)
            if unit not in UNITS:
                hint = did_you_mean(unit, UNITS) or "known units: " + ", ".join(UNITS)
                raise SpecValueError(f"unknown unit '{clip(unit)}'", _tspan(ch[1]), hint=hint)
        return self._expr(ast.Num(value, unit, is_int, _span(meta), str(text)))

    def string(self, meta: Meta, ch: list[Token]) -> ast.Str:
        return self._expr(ast.Str(_unescape(ch[0]), _span(meta)))

    def true(self, meta: Meta, ch: list[Token]) -> ast.Bool:
        return self._expr(ast.Bool(True, _span(meta)))

    def false(self, meta: Meta, ch: list[Token]) -> ast.Bool:
        return self._expr(ast.Bool(False, _span(meta)))

    def name(self, meta: Meta, ch: list[Token]) -> ast.Name:
        return self._expr(ast.Name(str(ch[0]), _span(meta)))

    def target(self, meta: Meta, ch: list[str]) -> ast.Name | ast.Ref:
        # the one target rule (bounds, freeze, loss terms); a lone name is a plain name
        if len(ch) == 1 and "*" not in ch[0]:
            return self._expr(ast.Name(ch[0], _span(meta)))
        return self._expr(ast.Ref(tuple(ch), _span(meta)))

    def segment(self, meta: Meta, ch: list[Token]) -> str:
        return str(ch[0])

    def list_expr(self, meta: Meta, ch: list[Any]) -> ast.ListExpr:
        return self._expr(ast.ListExpr(tuple(ch), _span(meta)), *ch)

    def tuple_expr(self, meta: Meta, ch: list[Any]) -> ast.TupleExpr:
        return self._expr(ast.TupleExpr(tuple(ch), _span(meta)), *ch)

    def neg(self, meta: Meta, ch: list[Any]) -> ast.Neg:
        return self._expr(ast.Neg(ch[0], _span(meta)), ch[0])

    def _binop(self, op: str, meta: Meta, ch: list[Any]) -> ast.BinOp:
        return self._expr(ast.BinOp(op, ch[0], ch[1], _span(meta)), ch[0], ch[1])

    def kwarg(self, meta: Meta, ch: list[Any]) -> tuple[Token, ast.Expr]:
        return (ch[0], ch[1])

    def call(self, meta: Meta, ch: list[Any]) -> ast.Call:
        func: Token = ch[0]
        args: list[ast.Expr] = []
        kwargs: list[tuple[Token, ast.Expr]] = []
        for item in ch[1:]:
            if isinstance(item, tuple):
                kwargs.append(item)
            elif kwargs:
                raise SpecSyntaxError(
                    "positional argument follows keyword argument",
                    item.span,
                    hint=f"put positional arguments of '{func}' before 'name = value' ones",
                )
            else:
                args.append(item)
        _check_duplicates(
            [(str(k), _tspan(k)) for k, _ in kwargs], "keyword argument", SpecSyntaxError
        )
        values = [v for _, v in kwargs]
        node = ast.Call(
            str(func),
            tuple(args),
            tuple((str(k), v) for k, v in kwargs),
            _span(meta),
            _tspan(func),
            tuple(_tspan(k) for k, _ in kwargs),
        )
        return self._expr(node, *args, *values)

    # network and block bodies

    def label(self, meta: Meta, ch: list[Token]) -> Token:
        return ch[0]

    def element(self, meta: Meta, ch: list[Any]) -> ast.Element:
        label = str(ch[0]) if len(ch) == 2 else None
        return ast.Element(label, ch[-1], _span(meta))

    def chain(self, meta: Meta, ch: list[ast.Element]) -> ast.Chain:
        return ast.Chain(tuple(ch), _span(meta))

    def port(self, meta: Meta, ch: list[Any]) -> ast.Port:
        size = ch[2] if len(ch) == 3 else None
        return ast.Port(str(ch[0]), str(ch[1]), size, _span(meta))

    def body(self, meta: Meta, ch: list[ast.Stmt]) -> tuple[ast.Stmt, ...]:
        return tuple(ch)

    def param(self, meta: Meta, ch: list[Any]) -> ast.Param:
        return ast.Param(str(ch[0]), ch[1] if len(ch) == 2 else None, _span(meta))

    def params(self, meta: Meta, ch: list[ast.Param]) -> tuple[ast.Param, ...]:
        _check_duplicates([(p.name, p.span) for p in ch], "block parameter")
        return tuple(ch)

    def sim_args(self, meta: Meta, ch: list[tuple[Token, ast.Expr]]) -> list[Any]:
        _check_duplicates([(str(k), _tspan(k)) for k, _ in ch], "network parameter")
        return [(str(k), v) for k, v in ch]

    def block(self, meta: Meta, ch: list[Any]) -> ast.Block:
        params: tuple[ast.Param, ...] = ch[1] if len(ch) == 3 else ()
        return ast.Block(str(ch[0]), params, ch[-1], _span(meta))

    def network(self, meta: Meta, ch: list[Any]) -> ast.Network:
        sim = tuple(ch[1]) if len(ch) == 3 else ()
        return ast.Network(str(ch[0]), sim, ch[-1], _span(meta))

    # bounds and train

    def enforce(self, meta: Meta, ch: list[Token]) -> str:
        _check_enforce(str(ch[0]), _tspan(ch[0]))
        return str(ch[0])

    def _bound(self, meta: Meta, target: ast.Name | ast.Ref, lo: Any, hi: Any, rest: list[Any]
               ) -> ast.Bound:
        if isinstance(target, ast.Name) or len(target.parts) < 2:
            text = target.id if isinstance(target, ast.Name) else target.text
            raise SpecValueError(
                f"bound target '{text}' must name a node and a parameter",
                target.span,
                hint=f"write e.g. '{text}.tau' or '{text}.*'",
            )
        enforce = rest[0] if rest else None
        return ast.Bound(target, lo, hi, enforce, _span(meta))

    def bound_ge(self, meta: Meta, ch: list[Any]) -> ast.Bound:
        return self._bound(meta, ch[0], ch[1], None, ch[2:])

    def bound_le(self, meta: Meta, ch: list[Any]) -> ast.Bound:
        return self._bound(meta, ch[0], None, ch[1], ch[2:])

    def bound_in(self, meta: Meta, ch: list[Any]) -> ast.Bound:
        return self._bound(meta, ch[0], ch[1], ch[2], ch[3:])

    def setting(self, meta: Meta, ch: list[Any]) -> ast.Setting:
        value = ch[1]
        if isinstance(value, ast.Call) and not value.func \
                and str(ch[0]) not in KEYWORD_GROUP_SETTINGS:
            raise SpecSyntaxError(
                f"'{ch[0]}' takes no nameless group of keyword values", value.span,
                hint=f"name what the values are for, e.g. {ch[0]} = NAME(...); nameless groups "
                f"are for {', '.join(KEYWORD_GROUP_SETTINGS)}")
        return ast.Setting(str(ch[0]), value, _span(meta))

    def kwgroup(self, meta: Meta, ch: list[Any]) -> ast.Call:
        """``(patience = 5)``: a call without a name (``func == ""``)."""
        _check_duplicates([(str(k), _tspan(k)) for k, _ in ch], "keyword argument",
                          SpecSyntaxError)
        node = ast.Call("", (), tuple((str(k), v) for k, v in ch), _span(meta), _span(meta),
                        tuple(_tspan(k) for k, _ in ch))
        return self._expr(node, *(v for _, v in ch))

    def bsetting(self, meta: Meta, ch: list[Any]) -> ast.Setting:
        setting = self.setting(meta, ch)
        if setting.key == "enforce":
            value = setting.value
            if not isinstance(value, ast.Name):
                raise SpecValueError(
                    "'enforce' must be one of: " + ", ".join(ENFORCE_MODES), value.span
                )
            _check_enforce(value.id, value.span)
        return setting

    def bounds(self, meta: Meta, ch: list[Any]) -> ast.Bounds:
        settings = [c for c in ch if isinstance(c, ast.Setting)]
        _check_duplicates([(s.key, s.span) for s in settings], "setting")
        bounds = tuple(c for c in ch if isinstance(c, ast.Bound))
        return ast.Bounds(bounds, tuple(settings), _span(meta))

    def train(self, meta: Meta, ch: list[ast.Setting]) -> ast.Train:
        _check_duplicates([(s.key, s.span) for s in ch], "setting")
        return ast.Train(tuple(ch), _span(meta))

    def start(self, meta: Meta, ch: list[Any]) -> ast.Spec:
        networks = [c for c in ch if isinstance(c, ast.Network)]
        if not networks:
            raise SpecSyntaxError(
                "no network in spec", hint="add one: 'network NAME { input x : 4 ... }'"
            )
        if len(networks) > 1:
            raise SpecSyntaxError(
                f"a spec has exactly one network, but '{networks[1].name}' is a second one",
                networks[1].span,
                notes=[(networks[0].span, f"network '{networks[0].name}' is defined here")],
                hint="put each network in its own file",
            )
        sections: dict[type, Any] = {}
        for node in ch:
            if isinstance(node, (ast.Bounds, ast.Train)):
                word = "bounds" if isinstance(node, ast.Bounds) else "train"
                if type(node) in sections:
                    raise SpecSyntaxError(
                        f"duplicate '{word}' section",
                        node.span,
                        notes=[(sections[type(node)].span, f"first '{word}' section here")],
                        hint=f"merge both into one '{word} {{ ... }}'",
                    )
                sections[type(node)] = node
        blocks = tuple(c for c in ch if isinstance(c, ast.Block))
        return ast.Spec(networks[0], blocks, sections.get(ast.Bounds), sections.get(ast.Train))


# --- Lark errors -> SpecSyntaxError ----------------------------------------------------------

_WORDS: dict[str, str] = {
    "NAME": "a name",
    "NUMBER": "a number",
    "MU_UNIT": "a unit",
    "STRING": "a string",
    "ARROW": "'->'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "DOT": "'.'",
    "GE": "'>='",
    "LE": "'<='",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "POW": "'**'",
    "STAR": "'*'",
    "GLOB": "a name pattern",
    "SLASH": "'/'",
    "_NL": "a new line",
    "$END": "end of file",
    **{kw.upper(): f"'{kw}'" for kw in KEYWORDS},
}
_MAX_EXPECTED = 6
_OPERATORS = frozenset({"PLUS", "MINUS", "STAR", "SLASH", "POW"})
_TOP_LEVEL = ("block", "network", "bounds", "train")


def _expected_words(expected: set[str], after: Any) -> str:
    words: set[str] = set()
    after_type = after.type if isinstance(after, Token) else None
    for term in expected:
        if term in _OPERATORS:
            words.add("an operator")  # five operator symbols would crowd out the rest
        elif term in ("NAME", "MU_UNIT") and after_type == "NUMBER":
            words.add("a unit")  # a name right after a number can only be its unit
        elif term == "NAME" and after_type in ("ARROW", "COLON"):
            # after '->' or 'label:' a name starts either a node reference or a module call
            words.update(("a module call", "a name"))
        else:
            words.add(_WORDS.get(term, term))
    # descriptions first, then quoted symbols
    ordered = sorted(words, key=lambda w: (w.startswith("'"), w))
    if len(ordered) > _MAX_EXPECTED:
        ordered = ordered[:_MAX_EXPECTED] + ["..."]
    if len(ordered) == 1:
        return ordered[0]
    return ", ".join(ordered[:-1]) + " or " + ordered[-1]


def _describe(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    if tok.type == "_NL":
        return "';'" if tok.value == ";" else "end of line"
    if tok.value in KEYWORDS:
        return f"keyword '{tok.value}'"
    return f"'{clip(str(tok.value))}'"


def _token_hint(tok: Token, expected: set[str], after: Any) -> str | None:
    value = str(tok.value)
    if tok.type != "NAME" and value in KEYWORDS and "NAME" in expected:
        return f"'{value}' is a keyword and cannot be used as a name"
    if tok.type == "NAME" and expected & {"BLOCK", "NETWORK"} and "NAME" not in expected:
        return did_you_mean(value, _TOP_LEVEL) or "a spec holds: " + ", ".join(_TOP_LEVEL)
    if "RPAR" in expected and tok.type not in ("COMMA", "RPAR"):
        return "is a ')' missing?"
    if "RSQB" in expected and tok.type not in ("COMMA", "RSQB"):
        return "is a ']' missing?"
    if "RBRACE" in expected and tok.type in ("$END", "NETWORK", "BLOCK", "BOUNDS", "TRAIN"):
        return "is a '}' missing?"
    if tok.type == "STAR" and "GE" in expected:
        return "write a glob without spaces: 'tau*', 'w_*'"
    if tok.type == "EQUAL" and "ARROW" in expected:
        return "edges are written '->'"
    if tok.type == "_NL" and isinstance(after, Token) and after.type == "NAME":
        if "EQUAL" in expected and "ARROW" not in expected:
            return f"write '{after.value} = value'"
    return None


def _point(line: int, column: int, width: int = 1) -> Span:
    return Span.point(line, column, width)


def _acceptable(err: UnexpectedToken) -> set[str]:
    """The terminals that could really come next.

    ``err.expected`` is the LALR state's lookahead set, which merges the contexts a state
    is shared by (after a number it lists ']' even inside '(...)'); trying each candidate
    on a copy of the parser keeps only those that lead somewhere.
    """
    expected = set(err.expected)
    interactive = getattr(err, "interactive_parser", None)
    if interactive is not None:
        try:
            expected = set(interactive.accepts()) or expected
        except Exception:  # noqa: BLE001 - a best-effort refinement; keep Lark's own set
            pass
    return expected


def _convert(err: UnexpectedInput, text: str) -> SpecSyntaxError:
    """A Lark parse error as a SpecSyntaxError that says what was expected in words."""
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream or 0
        char = text[pos] if pos < len(text) else ""
        span = _point(err.line, err.column)
        hint: str | None = None
        if char == ">" and text[pos - 1 : pos] in ("=", "-"):
            hint = "edges are written '->'; bounds use '>=' or '<='"
        elif char == ">" or char == "<":
            hint = "bounds are written '>=' or '<=' (or 'in [lo, hi]')"
        elif char == '"':
            hint = "this string is not closed before the end of the line"
        elif char == "'":
            hint = 'strings use double quotes: "text"'
        elif not char.isascii():
            hint = "names may only use ASCII letters, digits and '_'"
        return SpecSyntaxError(f"unexpected character {char!r}", span, hint=hint)
    if isinstance(err, UnexpectedToken):
        tok: Token = err.token
        expected = _acceptable(err)
        state = getattr(err, "state", None)
        stack = getattr(state, "value_stack", None) or []
        after = stack[-1] if stack else None
        if tok.type == "$END":
            # Lark borrows the last token's position; point just past it instead.
            line = tok.end_line or tok.line or 1
            col = tok.end_column or tok.column or 1
            span = _point(line, col)
        elif tok.type == "_NL" and tok.value == "\n":
            span = _point(tok.line or 1, tok.column or 1)
        else:
            span = _tspan(tok)
        message = f"unexpected {_describe(tok)}"
        if expected:
            message += f"; expected {_expected_words(expected, after)}"
        return SpecSyntaxError(message, span, hint=_token_hint(tok, expected, after))
    if isinstance(err, UnexpectedEOF):
        expected = set(err.expected)
        message = "unexpected end of file"
        if expected:
            message += f"; expected {_expected_words(expected, None)}"
        lines = text.splitlines() or [""]
        return SpecSyntaxError(message, _point(len(lines), len(lines[-1]) + 1))
    line, column = getattr(err, "line", 1), getattr(err, "column", 1)
    return SpecSyntaxError("invalid syntax", _point(max(line, 1), max(column, 1)))


# --- public API ------------------------------------------------------------------------------


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Parsing allocates many small, acyclic objects; the cyclic collector's repeated passes
    over them made long specs (10,000 statements) take twice as long."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse(text: str, filename: str = "<string>") -> ast.Spec:
    """Parse spec text into an :class:`rpgraph.ast.Spec`.

    Raises :class:`~rpgraph.errors.SpecError` (never a Lark error) for invalid input.

    >>> spec = parse("network n { input x : 2; output y : 1; x -> linear(1) -> y }")
    >>> spec.network.body[2].elements[1].target.func
    'linear'
    """
    spec = _transform(text, filename, "start")
    assert isinstance(spec, ast.Spec)
    return ast.Spec(spec.network, spec.blocks, spec.bounds, spec.train, text, filename)


def parse_expr(text: str, filename: str = "<string>") -> ast.Expr:
    """Parse one expression, e.g. an optimizer given outside a spec.

    >>> parse_expr("adam(lr = 1e-3)").func
    'adam'
    """
    return _transform(text, filename, "expr")  # type: ignore[no-any-return]


def _transform(text: str, filename: str, start: str) -> Any:
    """``text`` parsed from rule ``start`` and built into AST nodes; every failure a
    located :class:`SpecError`."""
    try:
        with _gc_paused():
            return _Builder().transform(_parser().parse(text, start=start))
    except UnexpectedInput as err:
        raise _convert(err, text).located(text, filename) from None
    except SpecError as err:
        raise err.located(text, filename) from None
    except RecursionError:
        raise SpecSyntaxError("spec nested too deeply", filename=filename, source=text) from None


#: Largest spec file :func:`parse_file` reads, in bytes. Specs are small text files; the cap
#: keeps a wrong path (a device, a huge log) from being read without limit.
MAX_SPEC_BYTES = 10 * 2**20

# What a path names when it is not a regular file, in words (directories keep their message).
_NOT_REGULAR: dict[Callable[[int], bool], str] = {
    stat.S_ISDIR: "a directory",
    stat.S_ISFIFO: "a named pipe",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISSOCK: "a socket",
}


def _read_spec(path: str | Path, name: str) -> bytes:
    """The bytes of the regular file ``path``, refusing other files and those over the cap.

    The file is opened without blocking (a named pipe without a writer would otherwise wait
    forever) and checked on the open descriptor, so nothing can swap it in between.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = next((w for test, w in _NOT_REGULAR.items() if test(mode)),
                        "not a regular file")
            hint = None if stat.S_ISDIR(mode) else "save the spec as a file and give its path"
            raise SpecError(f"spec file '{name}' is {what}", filename=name, hint=hint)
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(MAX_SPEC_BYTES + 1)  # one byte more tells a file over the cap
    finally:
        os.close(fd)
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(f"spec file '{name}' is larger than {MAX_SPEC_BYTES // 2**20} MB",
                        filename=name, hint="specs are short text files: is it the right path?")
    return raw


def parse_file(path: str | Path) -> ast.Spec:
    """Read a UTF-8 ``.rpg`` file and parse it; file problems are SpecErrors too.

    Only regular files of at most :data:`MAX_SPEC_BYTES` are read.

    >>> parse_file("specs/tutorial_rate.rpg").network.name  # doctest: +SKIP
    'tutorial_rate'
    """
    name = str(path)
    try:
        raw = _read_spec(path, name)
    except FileNotFoundError:
        raise SpecError(f"spec file '{name}' does not exist", filename=name) from None
    except IsADirectoryError:
        raise SpecError(f"spec file '{name}' is a directory", filename=name) from None
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise SpecError(f"cannot read spec file '{name}': {reason}", filename=name) from None
    except ValueError:  # e.g. a NUL character in the path
        raise SpecError(f"cannot read spec file {name!r}: not a valid path",
                        filename=repr(name)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise SpecError(
            f"spec file '{name}' is not valid UTF-8 (byte {err.start} on line {line})",
            filename=name,
            hint="save the file as UTF-8",
        ) from None
    # Universal newlines, as text-mode open() would give: spans count '\n'-separated lines.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]  # a UTF-8 byte-order mark is not part of the spec
    return parse(text, name)
