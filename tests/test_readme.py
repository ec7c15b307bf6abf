"""The README stays true: its spec listings are the shipped specs, its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _block_after(heading: str) -> str:
    start = README.index(heading)
    m = re.search(r"```\n(.*?)```\n", README[start:], re.S)
    assert m is not None, f"no code block after {heading!r}"
    return m.group(1)


def test_tutorial_listing_is_the_shipped_spec() -> None:
    assert _block_after("In rpgraph it is this file") == (
        ROOT / "specs" / "tutorial_rate.rpg").read_text(encoding="utf-8")


def test_language_tour_is_the_shipped_tour_spec() -> None:
    assert _block_after("## Language tour") == (ROOT / "specs" / "tour.rpg").read_text(
        encoding="utf-8")


def test_test_command_is_what_ci_runs() -> None:
    assert "bash .ci/run" in README
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pytest" in ci and "ruff check" in ci and "mypy" in ci


def test_pipeline_map_names_existing_modules() -> None:
    section = README[README.index("## How it works"):]
    for path in re.findall(r"`((?:rpgraph|grammar)/[\w/.]+)`", section):
        assert (ROOT / path).exists(), path
