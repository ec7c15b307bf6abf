"""The one user-facing error family.

Every mistake in a spec, a data file, a checkpoint or on the command line is reported as a
:class:`SpecError` (or a subclass) that knows where it happened and how to fix it::

    specs/net.rpg:4:10: error: unknown module kind 'lineer'
        x -> lineer(8) -> y
             ^^^^^^
    hint: did you mean 'linear'?

The CLI prints ``str(err)`` and exits non-zero; users never see a traceback for their own
mistakes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar


@dataclass(frozen=True)
class Span:
    """A 1-based source region: where a construct starts and ends in its file."""

    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def point(line: int, column: int, width: int = 1) -> Span:
        return Span(line, column, line, column + max(width, 1))


#: The longest source line quoted whole under a message; of a longer line, a window of this
#: many characters around the place is shown, with '...' where it was cut.
MAX_QUOTE = 160
#: The longest message, hint or note text shown whole; longer ones (a huge name or number,
#: a list of thousands of names) keep their start and end around '...'.
MAX_TEXT = 400


def clip(text: str, width: int = 40) -> str:
    """``text`` if it has at most ``width`` characters, else its start and end around '...'.

    For user text quoted in messages (names, numbers), so that a pathological input cannot
    make a pathological message.

    >>> clip("7" * 5000, 23)
    '777777777777...77777777'
    """
    if len(text) <= width:
        return text
    tail = (width - 3) * 2 // 5
    return f"{text[: width - 3 - tail]}...{text[len(text) - tail:]}"


def _window(text: str, start: int, end: int) -> tuple[str, int, int]:
    """A piece of at most about :data:`MAX_QUOTE` characters of ``text`` that shows
    ``text[start:end]`` (or its beginning), and where that part is in the piece."""
    if len(text) <= MAX_QUOTE:
        return text, start, end
    lo = max(0, min(start - MAX_QUOTE // 4, len(text) - MAX_QUOTE))
    hi = lo + MAX_QUOTE
    left = "..." if lo else ""
    right = "..." if hi < len(text) else ""
    shift = len(left) - lo
    return left + text[lo:hi] + right, start + shift, min(end, hi) + shift


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest known spelling, or ``None``.

    >>> did_you_mean("lineer", ["linear", "lif"])
    "did you mean 'linear'?"
    """
    close = difflib.get_close_matches(name, sorted(set(choices)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def known_list(choices: Iterable[str]) -> str:
    """Known names for a hint, sorted and without repeats: ``known_list("ba") == "a, b"``."""
    return ", ".join(sorted(set(choices)))


_L = TypeVar("_L", bound="Located")


class Located(Exception):
    """A message about a place in a spec: what, where (file, line, column, a caret under
    the source) and a hint. :class:`SpecError` (a mistake) and :class:`SpecWarning`
    (legal, likely not meant) render this way.

    Args:
        message: what is wrong, e.g. ``"Expected size 8, got 4"``.
        span: where in ``source`` the problem is (``None`` for whole-file problems).
        source: the full text of the file (for the caret line).
        filename: shown before line and column; ``"<string>"`` for text specs.
        hint: how to fix it, e.g. ``"did you mean 'linear'?"``.
        notes: extra located lines (``(span, text)``), e.g. where a size came from.

    """

    kind = "note"

    def __init__(
        self,
        message: str,
        span: Span | None = None,
        source: str | None = None,
        filename: str | None = None,
        hint: str | None = None,
        notes: Iterable[tuple[Span | None, str]] = (),
    ) -> None:
        self.message = message
        self.span = span
        self.source = source
        self.filename = filename or "<string>"
        self.hint = hint
        self.notes = tuple(notes)
        super().__init__(self.render())

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        return self.span.column if self.span else None

    def located(self: _L, source: str | None, filename: str | None) -> _L:
        """Attach the file text and name (stages below the parser only know spans)."""
        if self.source is None and source is not None:
            self.source = source
        if filename is not None and self.filename == "<string>":
            self.filename = filename
        self.args = (self.render(),)
        return self

    def _caret(self, span: Span) -> list[str]:
        if self.source is None or span.line < 1:
            return []
        # '\n' only, as the parser counts lines (str.splitlines also splits at \f, \x1e,
        # \u2028... which may sit in comments and would shift the quoted line)
        lines = self.source.split("\n", span.line)
        if span.line > len(lines):
            return []
        text = lines[span.line - 1]
        end = span.end_column if span.end_line == span.line else len(text) + 1
        end = min(end, len(text) + 1)
        # tabs count as one column, as the lexer counts them
        text, start, end = _window(text.replace("\t", " "), span.column - 1, end - 1)
        return ["    " + text, "    " + " " * start + "^" * max(1, end - start)]

    def render(self) -> str:
        where = self.filename
        if self.span is not None:
            where += f":{self.span.line}:{self.span.column}"
        elif self.filename == "<string>":
            where = ""  # not about a place in a spec: no location to show
        message = clip(self.message, MAX_TEXT)
        out = [f"{where}: {self.kind}: {message}" if where else f"{self.kind}: {message}"]
        if self.span is not None:
            out += self._caret(self.span)
        for span, text in self.notes:
            if span is None:
                out.append(f"note: {clip(text, MAX_TEXT)}")
            else:
                out.append(f"{self.filename}:{span.line}:{span.column}: note: "
                           f"{clip(text, MAX_TEXT)}")
                out += self._caret(span)
        if self.hint:
            out.append(f"hint: {clip(self.hint, MAX_TEXT)}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.render()


class SpecError(Located):
    """A mistake in user input, with the place it happened and a hint to fix it (the
    arguments of :class:`Located`).

    >>> str(SpecError("unknown name 'z'", Span(1, 6, 1, 7), "x -> z", "<string>"))
    "<string>:1:6: error: unknown name 'z'\\n    x -> z\\n         ^"
    """

    kind = "error"


class SpecSyntaxError(SpecError):
    """The text is not valid .rpg syntax."""


class SpecNameError(SpecError):
    """An unknown, undefined or duplicate name (module kind, node, parameter, function...)."""


class SpecShapeError(SpecError):
    """Sizes do not agree along an edge, or an input/params/data shape is wrong."""


class SpecGraphError(SpecError):
    """The network's topology is invalid (algebraic loop, unreachable output...)."""


class SpecValueError(SpecError):
    """A value is invalid: bad unit, bound order, missing argument, wrong type."""


class DataError(SpecError):
    """A data set or data file does not fit the spec."""


class SpecWarning(Located, UserWarning):
    """Something in a spec that is legal but most likely not meant, located like an error
    and issued with :func:`warnings.warn` (the CLI prints it as it is, then goes on)."""

    kind = "warning"


class CheckpointError(SpecError):
    """A checkpoint or parameter file is missing, corrupt, or from another spec."""


class TrainingError(SpecError):
    """Training cannot continue (e.g. a non-finite loss)."""
