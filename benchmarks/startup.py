"""Case 6: start-up, whole process. What a user waits for from typing the command to the
prompt, measured with fresh ``python`` processes:

* ``rpgraph train specs/tutorial_rate.rpg --out DIR --quiet`` (plots included) with an empty
  compilation cache (``cold cache``) and again with the cache the first run filled
  (``warm cache``);
* the seed tutorial's Rockpool loop for the same epochs as one process
  (``python -m benchmarks.startup rockpool``: import, build, train, exit);
* ``rpgraph check specs/tutorial_rate.rpg``.

Also counted, in process: the chunk programs one ``fit`` compiles for a run whose last chunk
is shorter (the target is one). Python bytecode is written and warmed first (one untimed
``rpgraph check``), as in an installed package, even where ``PYTHONDONTWRITEBYTECODE`` is set.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import Row

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "tutorial_rate.rpg"
CASE = "startup: train tutorial_rate, whole process"


@dataclass(frozen=True)
class StartupConfig:
    """Sizes: the tutorial's by default (1000 epochs of 3 samples, 2000 -> 200 -> 2)."""

    epochs: int = 1000
    channels_in: int = 2000
    hidden: int = 200
    length: int = 100
    repeats: int = 1  # runs of each command (the median is reported)
    check_repeats: int = 3  # runs of `rpgraph check` (short, so more of them), after a warm-up
    plots: bool = True  # rpgraph train writes its plots, as the main job does (the smoke test
    # leaves them out: matplotlib twice is a third of its time)


def spec_text(cfg: StartupConfig) -> str:
    """The tutorial rate spec at ``cfg``'s sizes."""
    text = SPEC.read_text(encoding="utf-8")
    return (text.replace(": 2000", f": {cfg.channels_in}")
            .replace("linear(200)", f"linear({cfg.hidden})")
            .replace("length = 100", f"length = {cfg.length}, channels_in = {cfg.channels_in}")
            .replace("epochs = 1000", f"epochs = {cfg.epochs}"))


def _env(cache: Path | str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["RPGRAPH_CACHE_DIR"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """``(wall s, CPU s of the child)`` of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _median(xs: list[tuple[float, float]]) -> tuple[float, float]:
    walls = sorted(x[0] for x in xs)
    cpus = sorted(x[1] for x in xs)
    return walls[len(walls) // 2], cpus[len(cpus) // 2]


def count_chunk_programs(epochs: int = 7, chunk: int = 3) -> int:
    """Chunk programs one ``fit`` compiles for ``epochs`` steps in chunks of ``chunk``."""
    import rpgraph
    import rpgraph.train.loop as loop
    from rpgraph.train import fit

    prog = rpgraph.compile(
        "network n { input x : 3\n output y : 2\n x -> linear(2) -> y }\n"
        f"train {{ data = sinusoids(classes = 1, length = 5, channels_in = 3, "
        f"channels_out = 2)\n epochs = {epochs} }}")
    seen: list[Any] = []
    real = loop.make_chunk

    def keep(*a: Any, **k: Any) -> Any:
        seen.append(real(*a, **k))
        return seen[-1]

    loop.make_chunk = keep  # type: ignore[assignment]
    try:
        fit(prog, progress=False, chunk=chunk)
    finally:
        loop.make_chunk = real
    return int(seen[0].jitted._cache_size())


def run_case(cfg: StartupConfig, log: Callable[[str], None] = print) -> list[Row]:
    py = sys.executable
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="rpgraph-startup-") as tmp:
        d = Path(tmp)
        spec = d / "tutorial_rate.rpg"
        spec.write_text(spec_text(cfg), encoding="utf-8")
        off = _env("off")
        check = [py, "-m", "rpgraph.cli", "check", str(spec)]
        if cfg.check_repeats > 1:  # the warm-up writes the bytecode an installed package has
            subprocess.run(check, env=off, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        log("  [startup] rpgraph check ...")
        t_check = _median([_timed(check, off) for _ in range(max(1, cfg.check_repeats))])
        cold, warm, loops = [], [], []
        for i in range(cfg.repeats):
            cache = d / f"cache{i}"
            env = _env(cache)
            for label, runs in (("cold", cold), ("warm", warm)):
                log(f"  [startup] rpgraph train, {label} cache ...")
                out = d / f"run-{label}-{i}"
                runs.append(_timed([py, "-m", "rpgraph.cli", "train", str(spec), "--out",
                                    str(out), "--quiet",
                                    *([] if cfg.plots else ["--no-plots"])], env))
                if label == "warm":
                    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
                    loops.append(float(summary["seconds"]))
        log("  [startup] Rockpool tutorial loop ...")
        rock = [_timed([py, "-m", "benchmarks.startup", "rockpool", "--epochs",
                        str(cfg.epochs), "--channels-in", str(cfg.channels_in), "--hidden",
                        str(cfg.hidden), "--length", str(cfg.length)], off)
                for _ in range(cfg.repeats)]
    note = f"{cfg.epochs} epochs x 3 samples, " + ("plots written" if cfg.plots else "no plots")
    for impl, runs in (("rpgraph cold cache", cold), ("rpgraph warm cache", warm),
                       ("rockpool", rock)):
        wall, cpu = _median(runs)
        extra: dict[str, Any] = {"runs": runs}
        if impl == "rpgraph warm cache":
            extra["training_s"] = sorted(loops)[len(loops) // 2]
        rows.append(Row(CASE, impl, wall, "s", False, note=note if impl != "rockpool" else
                        "the seed tutorial's loop as one process", cpu_value=cpu, extra=extra))
    rows.append(Row("startup: rpgraph check tutorial_rate", "rpgraph", t_check[0], "s", False,
                    note="whole process (optax signatures from the shipped table, no JAX)",
                    cpu_value=t_check[1]))
    rows.append(Row("startup: chunk programs per run", "rpgraph", count_chunk_programs(),
                    "programs", False, note="7 steps in chunks of 3 (3 + 3 + 1)"))
    return rows


def warm_training_ratio(rows: Sequence[Row]) -> float | None:
    """Whole-process wall of the warm-cache run over its training loop's seconds."""
    row = next((r for r in rows if r.case == CASE and r.impl == "rpgraph warm cache"), None)
    if row is None or row.value is None or not row.extra.get("training_s"):
        return None
    return float(row.value) / float(row.extra["training_s"])


# --- the Rockpool loop as one process -----------------------------------------------------


def rockpool_main(epochs: int, channels_in: int, hidden: int, length: int) -> None:
    """The seed tutorial's rate network trained with its own loop (cell [15]), as
    :func:`benchmarks.seed.run_rockpool` does, for ``epochs`` epochs; then exit."""
    from itertools import count

    import jax
    from jax.example_libraries.optimizers import adam

    from rpgraph.io.data import sinusoids

    from .seed import LR, SeedConfig, rockpool_loss, rockpool_net

    cfg = SeedConfig(channels_in=channels_in, hidden=hidden, length=length)
    ds = sinusoids(classes=3, length=length, channels_in=channels_in, channels_out=2)
    net = rockpool_net("rate", cfg)
    loss_fn = rockpool_loss("rate", net)
    init_fun, update_fun, get_params = adam(LR)
    opt_state = init_fun(net.parameters())
    loss_vgf = jax.jit(jax.value_and_grad(loss_fn))
    update_fun = jax.jit(update_fun)
    i_trial = count()
    for _ in range(epochs):
        for sample in ds:
            params = get_params(opt_state)
            loss_val, grads = loss_vgf(params, net, sample[0], sample[1])
            opt_state = update_fun(next(i_trial), grads, opt_state)
    jax.block_until_ready(opt_state)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.startup")
    ap.add_argument("what", choices=("rockpool",))
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--channels-in", type=int, default=2000)
    ap.add_argument("--hidden", type=int, default=200)
    ap.add_argument("--length", type=int, default=100)
    a = ap.parse_args(argv)
    rockpool_main(a.epochs, a.channels_in, a.hidden, a.length)
    return 0


if __name__ == "__main__":
    sys.exit(main())
