"""The built wheel works on its own: the grammar and the optax signature table ship inside
it, the CLI entry point exists."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # no build isolation: the build backend (hatchling) is a test dependency, so this needs
    # no network and takes a few seconds
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(ROOT)], check=True, capture_output=True)
    (whl,) = out.glob("rpgraph-*.whl")
    return whl


def test_wheel_contains_grammar_and_entry_point(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert "rpgraph/grammar/rpgraph.lark" in names
        assert z.read("rpgraph/grammar/rpgraph.lark") == (
            ROOT / "grammar" / "rpgraph.lark").read_bytes()
        # the tables rpgraph check reads instead of importing optax / building the parser
        for table in ("optax_table.json", "parse_table.json"):
            assert z.read(f"rpgraph/{table}") == (ROOT / "rpgraph" / table).read_bytes()
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        assert "rpgraph = rpgraph.cli:run" in z.read(entry).decode()


def test_installed_wheel_parses_with_its_own_grammar(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(site), str(wheel)], check=True, capture_output=True)
    code = (
        "import rpgraph, rpgraph.parse as p\n"
        "print(rpgraph.__file__)\n"
        "print(p.grammar_path())\n"
        "net = rpgraph.loads('network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }')\n"
        "print(net.modules())\n"
    )
    # run from an empty folder with the wheel's copy first on the path, so neither the
    # source tree nor an editable install can supply the grammar
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=True)
    module, grammar, modules = done.stdout.splitlines()
    assert module.startswith(str(site)) and grammar.startswith(str(site))
    assert modules == "['linear_0']"
