"""Atheris target for the front end (not run in CI).

    pip install atheris
    python fuzz/fuzz_parse.py -max_len=4096 -timeout=2 specs/

Any exception other than SpecError from parse or graph building is a finding; so is an
input that takes longer than -timeout seconds.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    import rpgraph
    from rpgraph.errors import SpecError


def test_one_input(data: bytes) -> None:
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
    try:
        rpgraph.loads(text)
    except SpecError as err:
        lines = text.count("\n") + 1
        if err.span is not None:
            assert 1 <= err.span.line <= lines + 1 and err.span.column >= 1, err.span
        str(err)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
