"""The README stays true: its spec listings are the shipped specs, its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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


def test_own_optax_loop_example_runs(tmp_path: Path) -> None:
    """The README's loop of one's own runs as printed (in a fresh interpreter, from the
    repository root) and trains."""
    import os
    import subprocess
    import sys

    start = README.index("**Your own optax loop.**")
    m = re.search(r"```python\n(.*?)```\n", README[start:], re.S)
    assert m is not None
    code = m.group(1)
    assert "rpgraph.constrained(" in code and "tx.update(grads, opt_state, params)" in code
    script = tmp_path / "loop.py"
    script.write_text(code, encoding="utf-8")
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    loss = float(done.stdout.split("loss after 2 epochs:")[1])
    # the same two epochs through fit (the spec's adam(lr = 1e-4), the same samples in the
    # same order) end on the same loss: the wrapper is what fit applies
    import rpgraph

    fused = rpgraph.fit(rpgraph.compile(ROOT / "specs" / "tutorial_rate.rpg"), epochs=2,
                        progress=False)
    assert loss == pytest.approx(float(fused.losses[-1]), rel=1e-3)
