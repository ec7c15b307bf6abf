"""Start-up: ``rpgraph check`` without JAX where it can, the persistent compilation cache,
and one compiled chunk program per run (timings live in benchmarks/)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import rpgraph
from rpgraph.compile.cache import default_cache_dir
from rpgraph.train import fit

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RPGRAPH_CACHE_DIR"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def test_check_never_imports_jax_or_optax() -> None:
    # Optimizers with numbers, booleans and schedules are checked against the shipped optax
    # signature table (rpgraph/optax_table.json), so checking every spec with a train block
    # here needs neither optax nor JAX. Not tour.rpg: it bounds a weight drawn from
    # normal(0.01), so checking it against [-1, 1] draws it.
    specs = [str(SPECS / f"{name}.rpg") for name in (
        "residual", "srnn", "tutorial_rate", "tutorial_mlp", "digits_lif", "digits_conv",
        "digits_alif_rec")]
    code = ("import sys\n"
            "from rpgraph.cli import main\n"
            f"code = main(['check', *{specs!r}])\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'optax'))\n"
            "print('heavy:', heavy[:3], 'code:', code)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(), timeout=120, check=True).stdout
    assert out.splitlines()[-1] == "heavy: [] code: 0"


def test_cache_folder_defaults_and_switches_off() -> None:
    assert default_cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/rpgraph/jax")
    assert default_cache_dir({}) == Path.home() / ".cache" / "rpgraph" / "jax"
    assert default_cache_dir({"RPGRAPH_CACHE_DIR": "~/c", "XDG_CACHE_HOME": "/x"}) == \
        Path.home() / "c"
    assert default_cache_dir({"RPGRAPH_CACHE_DIR": "OFF"}) is None


def test_train_fills_the_cache_and_no_cache_leaves_it_alone(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.rpg"
    spec.write_text("network n { input x : 3\n output y : 2\n x -> linear(2) -> y }\n"
                    "train { data = sinusoids(classes = 2, length = 5, channels_in = 3, "
                    "channels_out = 2)\n epochs = 2 }\n")
    cmd = [sys.executable, "-m", "rpgraph.cli", "train", str(spec), "--quiet", "--no-plots"]
    subprocess.run([*cmd, "--out", str(tmp_path / "a"), "--no-cache"], env=_env(
        XDG_CACHE_HOME=str(tmp_path / "off")), check=True, timeout=300)
    assert not (tmp_path / "off").exists()
    subprocess.run([*cmd, "--out", str(tmp_path / "b")], env=_env(
        XDG_CACHE_HOME=str(tmp_path / "on")), check=True, timeout=300)
    entries = [p.name for p in (tmp_path / "on" / "rpgraph" / "jax").iterdir()]
    assert any(name.startswith("jit_run-") for name in entries), entries


def test_a_run_compiles_one_chunk_program_whatever_its_length() -> None:
    # 7 steps in chunks of 3: 3 + 3 + 1; the last chunk is padded, not compiled again
    prog = rpgraph.compile("network n { input x : 3\n output y : 2\n x -> linear(2) -> y }\n"
                           "train { data = sinusoids(classes = 7, length = 5, channels_in = 3,"
                           " channels_out = 2)\n epochs = 1 }")
    sizes: list[int] = []
    import rpgraph.train.loop as loop

    real = loop.make_chunk

    def counting(*a: object, **k: object) -> object:
        chunk = real(*a, **k)  # type: ignore[arg-type]

        def call(*args: object, **kw: object) -> object:
            out = chunk(*args, **kw)
            sizes.append(chunk.jitted._cache_size())  # type: ignore[attr-defined]
            return out

        return call

    loop.make_chunk = counting  # type: ignore[assignment]
    try:
        r = fit(prog, progress=False, chunk=3)
    finally:
        loop.make_chunk = real
    assert len(sizes) == 3 and sizes[-1] == 1
    one_by_one = fit(prog, progress=False, chunk=1)
    np.testing.assert_array_equal(r.losses, one_by_one.losses)
