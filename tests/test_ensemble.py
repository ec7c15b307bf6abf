"""Ensembles (rpgraph.train.ensemble): K seeds in one program equal K single runs within
float tolerance (see the module docstring for why not bit for bit), per-epoch validation,
early stopping and keep = best included."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pytest

import rpgraph
from rpgraph.cli import _stopped, build_parser, main
from rpgraph.train import fit
from rpgraph.train.ensemble import fit_ensemble
from rpgraph.train.sweep import fit_sweep, parse_axis

SPEC = ("network n (dt = 1 ms) { input x : 3\n output y : 2\n"
        " x -> linear(6) -> h: rate(activation = tanh) -> linear(2) -> y }\n"
        "train { data = sinusoids(classes = 4, length = 8, channels_in = 3, channels_out = 2)\n"
        " epochs = 3\n batch_size = 2\n optimizer = adam(lr = 1e-2) }\n")


VAL_SPEC = SPEC.replace("classes = 4", "classes = 8").replace(
    " epochs = 3\n", " epochs = 12\n validation = 0.25\n early_stopping = (patience = 2)\n"
    " keep = best\n").replace("lr = 1e-2", "lr = 0.2")


def _same(a: object, b: object) -> bool:
    """Bit for bit, leaf by leaf."""
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(
        jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True))


def test_ensemble_equals_each_seed_trained_alone(tmp_path: Path) -> None:
    prog = rpgraph.compile(SPEC)
    seeds = [0, 5, 9]
    # minibatches: each seed permutes the data its own way; chunk 4 of 6 steps pads the last
    ens = fit_ensemble(prog, seeds=seeds, progress=False, chunk=4, out_dir=tmp_path)
    batched = fit_ensemble(prog, seeds=seeds, progress=False, chunk=4, batched=True)
    for s, r, rb in zip(seeds, ens, batched, strict=True):
        alone = fit(prog, seed=s, progress=False, chunk=4)
        # the models one after another inside one program: exactly their single runs
        assert np.array_equal(r.losses, alone.losses) and _same(r.params, alone.params)
        # vmapped: within float tolerance (batched products may sum in another order)
        np.testing.assert_allclose(rb.losses, alone.losses, rtol=1e-5)
        for a, b in zip(jax.tree_util.tree_leaves(rb.params),
                        jax.tree_util.tree_leaves(alone.params), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        lines = (tmp_path / f"seed-{s}" / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(x)["loss"] for x in lines] == [float(v) for v in r.losses]
        assert json.loads((tmp_path / f"seed-{s}" / "config.json").read_text())["seed"] == s
    assert not np.allclose(ens[0].losses, ens[1].losses)  # the seeds differ
    # --init-params: every model starts from the given parameters
    start = prog.init(42)
    given = fit_ensemble(prog, seeds=seeds[:2], progress=False, chunk=4, params=start)
    for s, r in zip(seeds[:2], given, strict=True):
        alone = fit(prog, seed=s, progress=False, chunk=4, params=start)
        assert np.array_equal(r.losses, alone.losses) and _same(r.params, alone.params)
    # per-sample steps: one data order shared by the models (one wide matrix product)
    single = [fit(prog, seed=s, progress=False, batch_size=1, epochs=1).losses for s in (1, 2)]
    for batched_ in (False, True):
        ens = fit_ensemble(prog, seeds=[1, 2], progress=False, batch_size=1, epochs=1,
                           batched=batched_)
        for r, alone in zip(ens, single, strict=True):
            np.testing.assert_allclose(r.losses, alone, rtol=0 if not batched_ else 1e-5)


def test_a_spiking_ensemble_is_bit_identical_to_its_single_runs() -> None:
    """Spikes make float differences grow (a flipped spike changes everything after it;
    batched, ``digits_lif`` drifts 0.3% in one epoch): the default ensemble still reproduces
    each seed's run bit for bit."""
    prog = rpgraph.compile(SPEC.replace("h: rate(activation = tanh)", "h: lif(threshold = 0.5)")
                           .replace("length = 8", "length = 30"))
    ens = fit_ensemble(prog, seeds=[0, 3], progress=False, chunk=4)
    for s, r in zip([0, 3], ens, strict=True):
        alone = fit(prog, seed=s, progress=False, chunk=4)
        assert np.array_equal(r.losses, alone.losses) and _same(r.params, alone.params)
    rec = prog.evolve(ens[0].params, np.asarray(ens[0].data.inputs, np.float32),  # type: ignore[union-attr]
                      record=True)[2]
    spikes = np.asarray(rec["h"]["spikes"])
    assert 0 < float(spikes.mean()) and float(spikes.max()) > 1  # several spikes in a step


def test_cli_seeds_writes_one_run_per_seed(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "n.rpg"
    spec.write_text(VAL_SPEC)  # validated every epoch, per model
    out = tmp_path / "runs"
    args = ["train", str(spec), "--seeds", "2", "--seed", "3", "--no-plots", "--out", str(out)]
    assert main([*args, "--epochs", "1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["seed-3", "seed-4"]
    assert (out / "seed-4" / "params.npz").is_file()
    # interrupted now: every model has a checkpoint, so the message says how to go on
    runs = sorted(out.iterdir())
    capsys.readouterr()
    given = build_parser().parse_args([*args, "--epochs", "1"])
    assert _stopped(given, out, runs, KeyboardInterrupt()) == 130
    assert capsys.readouterr().err == (f"interrupted; continue the run with: rpgraph train "
                                       f"{spec} --seed 3 --seeds 2 --out {out} --resume\n")
    assert main([*args, "--epochs", "2", "--resume"]) == 0  # more epochs extend it
    assert "trained 2 models x 3 steps" in capsys.readouterr().out  # epoch 2 of 2
    rows = (out / "seed-4" / "epochs.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in rows] == [0, 1] and "val_loss" in rows[0]


def test_sweep_equals_each_point_trained_alone(tmp_path: Path) -> None:
    """``--set optimizer.lr=...,... --set seed=...``: learning rates as optimizer state
    (inject_hyperparams) in one vmapped program; each point equals its own run within float
    tolerance (1e-5 relative; measured about 2e-6 on the losses)."""
    prog = rpgraph.compile(SPEC)
    axes = [parse_axis("optimizer.lr=0.001,0.03", prog.network), parse_axis("seed=0,3")]
    rs = fit_sweep(prog, axes=axes, progress=False, chunk=4, out_dir=tmp_path)
    assert [r.run_dir.name for r in rs if r.run_dir] == [
        "optimizer.lr=0.001_seed=0", "optimizer.lr=0.001_seed=3", "optimizer.lr=0.03_seed=0",
        "optimizer.lr=0.03_seed=3"]
    # two of the four points alone (each differs from the other in both keys)
    for r, (lr, s) in [(rs[0], (0.001, 0)), (rs[3], (0.03, 3))]:
        alone = fit(prog, seed=s, optimizer=f"adam(lr = {lr})", progress=False, chunk=4)
        np.testing.assert_allclose(r.losses, alone.losses, rtol=1e-5)
        for a, b in zip(jax.tree_util.tree_leaves(r.params),
                        jax.tree_util.tree_leaves(alone.params), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    assert not np.allclose(rs[0].losses, rs[2].losses)  # the learning rates differ


def test_ensemble_validates_stops_and_keeps_best_per_model(tmp_path: Path) -> None:
    """Each model splits the data with its own seed, is validated every epoch, stops early
    and keeps its best parameters exactly as its own run does; a stopped model keeps the
    parameters it stopped with while the others go on."""
    prog = rpgraph.compile(VAL_SPEC)
    seeds = [0, 1, 2]
    ens = fit_ensemble(prog, seeds=seeds, progress=False, out_dir=tmp_path / "ens")
    stops = set()
    for s, r in zip(seeds, ens, strict=True):
        alone = fit(prog, seed=s, progress=False, out_dir=tmp_path / f"alone-{s}")
        assert len(r.epochs) == len(alone.epochs) and r.steps == alone.steps
        stops.add(r.steps)
        assert r.epochs == alone.epochs  # validation losses, best and stop marks, exactly
        assert np.array_equal(r.losses, alone.losses) and _same(r.params, alone.params)
        assert r.metrics == alone.metrics
        summary = json.loads((tmp_path / "ens" / f"seed-{s}" / "summary.json").read_text())
        single = json.loads((tmp_path / f"alone-{s}" / "summary.json").read_text())
        assert summary["ensemble"] == seeds
        for key in ("steps", "epochs_run", "best_epoch", "kept", "stopped_early"):
            assert summary.get(key) == single.get(key), key
        assert (tmp_path / "ens" / f"seed-{s}" / "best.npz").is_file()
    assert len(stops) > 1  # some models stopped at other epochs than others


def test_ensemble_resumes_as_if_never_interrupted(tmp_path: Path) -> None:
    """``--resume`` continues every model from its checkpoint (a model that had stopped
    early stays stopped), bit for bit as the uninterrupted ensemble; run files included."""
    prog = rpgraph.compile(VAL_SPEC)
    seeds = [0, 1, 2]
    whole = fit_ensemble(prog, seeds=seeds, progress=False, out_dir=tmp_path / "whole")
    cut = fit_ensemble(prog, seeds=seeds, progress=False, epochs=4, out_dir=tmp_path / "cut")
    assert any(r.epochs[-1].get("stop") for r in cut) and not all(
        r.epochs[-1].get("stop") for r in cut)  # one stopped before the cut, one did not
    again = fit_ensemble(prog, seeds=seeds, progress=False, resume=True,
                         out_dir=tmp_path / "cut")
    for s, a, b in zip(seeds, whole, again, strict=True):
        assert (a.steps, a.epochs) == (b.steps, b.epochs) and _same(a.params, b.params)
        for name in ("metrics.jsonl", "epochs.jsonl"):
            assert (tmp_path / "whole" / f"seed-{s}" / name).read_text() == (
                tmp_path / "cut" / f"seed-{s}" / name).read_text(), (s, name)
