"""Training: the seed tutorial's loop reproduced step for step (against Rockpool and
``jax.example_libraries.optimizers.adam``), bounds (projection checked after every step,
frozen parameters, user-edited bounds), minibatches and optax optimizers/schedules by name,
determinism, non-finite losses, .npz data, progress output, the run directory, exact resume
after a real SIGKILL, several devices, and a short classification run."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from itertools import count
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.example_libraries.optimizers import adam as seed_adam
from rockpool.nn.combinators import Sequential
from rockpool.nn.modules import InstantJax, LinearJax, RateJax
from rockpool.training import jax_loss
from rockpool.training.jax_loss import bounds_cost, make_bounds

import rpgraph
from rpgraph.bounds import from_json, project, to_json
from rpgraph.errors import CheckpointError, DataError, SpecError, TrainingError
from rpgraph.io.checkpoint import load_checkpoint
from rpgraph.io.data import Dataset, sinusoids
from rpgraph.objective import make_objective
from rpgraph.train import Progress, evaluate, fit, make_step, read_metrics, resolve
from rpgraph.train.plots import write_plots

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
PY = sys.executable
Tree = dict[str, dict[str, Any]]
TAU_MIN = np.float32(10e-3)  # the bound, as the float32 the parameters are stored in

SMALL = """
network small {
    input  x : 20
    output y : 2
    x -> linear(8) -> tanh -> linear(2) -> y
}

train {
    data      = sinusoids(classes = 4, length = 20, channels_in = 20)
    optimizer = adam(lr = 1e-2)
    epochs    = 3
}
"""


def sin_arrays(**kw: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of the built-in ``sinusoids`` data set."""
    ds = sinusoids(**kw)
    assert ds.targets is not None
    return ds.inputs, ds.targets


def rate_spec(enforce: str = "", *, tau: str = "12 ms", lr: str = "2e-3",
              loss: str = "mse(y, target)", extra: str = "", bounds_extra: str = "") -> str:
    """A small version of the seed's rate network; a high learning rate drives tau down."""
    return f"""
network rate_small (dt = 1 ms) {{
    input  x : 50
    output y : 2
    x -> linear(16) -> hidden: rate(activation = tanh, tau = {tau}) -> linear(2) -> y
}}

bounds {{
    {bounds_extra}
    hidden.tau >= 10 * dt  {enforce}
}}

train {{
    data      = sinusoids(classes = 3, length = 50, channels_in = 50)
    loss      = {loss}
    optimizer = adam(lr = {lr})
    epochs    = 3
    {extra}
}}
"""


def leaves(tree: Tree) -> dict[str, np.ndarray]:
    return {f"{n}.{k}": np.asarray(v) for n, d in tree.items() for k, v in d.items()}


def assert_same(a: Tree, b: Tree) -> None:
    la, lb = leaves(a), leaves(b)
    assert la.keys() == lb.keys()
    for k in la:
        assert np.array_equal(la[k], lb[k]), f"{k} differs"


@pytest.fixture(scope="module")
def small() -> rpgraph.Program:
    return rpgraph.compile(SMALL)


def test_top_level_fit_is_the_trainer_loaded_on_first_use() -> None:
    assert rpgraph.fit is fit and {"fit", "FitOptions", "FitResult"} <= set(rpgraph.__all__)
    code = "import sys, rpgraph; print('rpgraph.train' in sys.modules, 'optax' in sys.modules)"
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "False"]


# --- the seed tutorial's loop ----------------------------------------------------------------


def seed_loop(loss_fn: Any, params0: Tree, ds: Dataset, epochs: int) -> tuple[np.ndarray, Tree]:
    """The tutorial's training loop, verbatim apart from the data access."""
    init_fun, update_fun, get_params = seed_adam(1e-4)
    opt_state = init_fun(params0)
    loss_vgf = jax.jit(jax.value_and_grad(loss_fn))
    update_fun = jax.jit(update_fun)
    loss_t = []
    i_trial = count()
    for _ in range(epochs):
        for sample in ds:
            inp, target = sample[0], sample[1]
            params = get_params(opt_state)
            loss_val, grads = loss_vgf(params, inp, target)
            opt_state = update_fun(next(i_trial), grads, opt_state)
            loss_t.append(loss_val)
    return np.array(loss_t), get_params(opt_state)


def test_per_sample_reproduces_seed_mlp() -> None:
    ds = sinusoids(classes=3, length=100)
    net = Sequential(LinearJax((2000, 8)), InstantJax(8, jnp.tanh), LinearJax((8, 2)))
    p0 = net.parameters()

    def loss_mse(p: Tree, x: Any, t: Any) -> Any:
        y, _, _ = net.reset_state().set_attributes(p)(x)
        return jax_loss.mse(y, t)

    ref_losses, ref = seed_loop(loss_mse, p0, ds, epochs=4)
    prog = rpgraph.compile(SPECS / "tutorial_mlp.rpg")
    mine = {"linear_0": {"weight": p0["0_LinearJax"]["weight"]},
            "linear_1": {"weight": p0["2_LinearJax"]["weight"]}}
    r = fit(prog, epochs=4, params=mine, progress=False)  # the spec says adam(lr = 1e-4)
    assert r.losses.shape == (12,)
    np.testing.assert_allclose(r.losses, ref_losses, rtol=1e-4)
    for ours, theirs in (("linear_0", "0_LinearJax"), ("linear_1", "2_LinearJax")):
        np.testing.assert_allclose(r.params[ours]["weight"], ref[theirs]["weight"],
                                   rtol=1e-4, atol=1e-6)


def test_per_sample_reproduces_seed_rate_network_with_bounds_cost(tmp_path: Path) -> None:
    """The seed's stateful network (small width), with its l2 and bounds_cost terms active:
    some time constants start below the 10 ms bound."""
    width = 16
    spec = rate_spec(tau="20 ms", lr="1e-4",
                     loss="mse(y, target) + 1e3 * l2sqr(params) + 1e3 * bounds_cost")
    prog = rpgraph.compile(spec)
    ds = resolve(prog).data
    net = Sequential(LinearJax((50, width)), RateJax(width, activation_func="tanh"),
                     LinearJax((width, 2)))
    p0 = net.parameters()
    rng = np.random.default_rng(0)
    p0["1_RateJax"]["tau"] = jnp.asarray(rng.uniform(8e-3, 30e-3, width), jnp.float32)
    p0["1_RateJax"]["bias"] = jnp.asarray(rng.uniform(-0.1, 0.1, width), jnp.float32)
    lower, upper = make_bounds(p0)
    lower["1_RateJax"]["tau"] = 10e-3

    def loss_fn(p: Tree, x: Any, t: Any) -> Any:
        y, _, _ = net.reset_state().set_attributes(p)(x)
        return (jax_loss.mse(y, t) + jax_loss.l2sqr_norm(p) * 1e3
                + bounds_cost(p, lower, upper) * 1e3)

    ref_losses, ref = seed_loop(loss_fn, p0, ds, epochs=3)
    names = {"linear_0": "0_LinearJax", "hidden": "1_RateJax", "linear_1": "2_LinearJax"}
    mine = {ours: dict(p0[theirs]) for ours, theirs in names.items()}
    r = fit(prog, params=mine, progress=False, chunk=4)
    assert r.losses.shape == (9,)
    assert ref_losses[0] > 1.0  # the bounds cost is really part of the loss
    np.testing.assert_allclose(r.losses, ref_losses, rtol=1e-4)
    for ours, theirs in names.items():
        for k in ref[theirs]:
            np.testing.assert_allclose(r.params[ours][k], ref[theirs][k], rtol=1e-4, atol=1e-6,
                                       err_msg=f"{ours}.{k}")


# --- bounds ----------------------------------------------------------------------------------


def test_seed_rate_spec_trains_within_its_bound() -> None:
    prog = rpgraph.compile(SPECS / "tutorial_rate.rpg")
    r = fit(prog, epochs=2, progress=False, chunk=6)
    assert np.all(np.isfinite(r.losses)) and r.losses[-1] < r.losses[0]
    assert float(np.min(r.params["hidden"]["tau"])) >= TAU_MIN


def min_tau_trace(prog: rpgraph.Program, **kw: Any) -> list[float]:
    mins: list[float] = []
    fit(prog, progress=False, chunk=1, callback=lambda step, p: mins.append(
        float(np.min(np.asarray(p["hidden"]["tau"])))), **kw)
    return mins


def test_projection_keeps_tau_above_bound_after_every_step() -> None:
    # control: without projection (a penalty of weight 1, too weak to hold the bound) this
    # learning rate drives time constants below 10 ms
    free = min_tau_trace(rpgraph.compile(rate_spec(loss="mse(y, target) + bounds_penalty")))
    assert min(free) < 8e-3
    mins = min_tau_trace(rpgraph.compile(rate_spec("enforce project")))
    assert len(mins) == 9
    assert all(m >= TAU_MIN for m in mins), mins
    assert min(mins) == pytest.approx(10e-3)  # the bound is active, not merely unreached


def test_frozen_parameters_keep_their_value_bit_for_bit() -> None:
    spec = rate_spec(extra="freeze = [linear_0.weight, hidden.tau]")
    prog = rpgraph.compile(spec)
    p0 = prog.init(0)
    # weight decay changes parameters even where the gradient is zero: still frozen
    for opt, moments in (("adamw(lr = 1e-2, weight_decay = 0.5)", 2),
                         ("sgd(lr = 0.1, momentum = 0.9)", 1)):
        r = fit(prog, optimizer=opt, progress=False, chunk=9)
        assert np.array_equal(r.params["linear_0"]["weight"], p0["linear_0"]["weight"])
        assert np.array_equal(r.params["hidden"]["tau"], p0["hidden"]["tau"])
        assert not np.array_equal(r.params["linear_1"]["weight"], p0["linear_1"]["weight"])
        assert not np.array_equal(r.params["hidden"]["bias"], p0["hidden"]["bias"])
        # and no optimizer state: moments for the trained leaves only
        state = [a for a in jax.tree_util.tree_leaves(r.opt_state) if np.ndim(a) > 0]
        assert len(state) == (len(jax.tree_util.tree_leaves(p0)) - 2) * moments


def test_projection_lands_exactly_on_a_bound_far_from_the_old_value() -> None:
    """The step clips the updated parameters, not the updates: from weights of 1.0 it lands
    exactly on a lower bound of 1e-8, which no float32 update added to 1.0 can reach."""
    prog = rpgraph.compile("network n { input x : 3\n output y : 2\n x -> linear(2) -> y }\n"
                           "bounds {\n    enforce = project\n}\n")
    lower, upper = prog.bounds_template()
    lower["linear_0"]["weight"] = 1e-8
    p = jax.tree_util.tree_map(jnp.ones_like, prog.init(0))
    opt = optax.sgd(1e3)
    step = jax.jit(make_step(prog, opt, objective=make_objective(prog.network, (lower, upper))))
    new, _, _, _ = step(p, opt.init(p), jnp.ones((1, 5, 3)), jnp.full((1, 5, 2), -100.0))
    bound = np.asarray(project({"w": {"w": jnp.float32(-1.0)}}, {"w": {"w": 1e-8}},
                               {"w": {"w": math.inf}})["w"]["w"])
    assert bound >= 1e-8 and np.all(np.asarray(new["linear_0"]["weight"]) == bound)
    one = np.float32(1.0)
    assert one + (bound - one) != bound  # 'params + (projected - params)' would miss it


def test_user_bounds_are_projected_including_newly_bounded_params() -> None:
    prog = rpgraph.compile(rate_spec("enforce project", lr="1e-2",
                                     bounds_extra="enforce = project"))
    lower, upper = from_json(to_json(*prog.bounds_template()))
    lower["hidden"]["tau"] = 15e-3  # raised from 10 ms
    lower["linear_1"]["weight"], upper["linear_1"]["weight"] = -0.05, 0.05  # was unbounded
    seen: list[tuple[float, float]] = []
    fit(prog, progress=False, chunk=1, bounds=(lower, upper), callback=lambda s, p: seen.append(
        (float(np.min(p["hidden"]["tau"])), float(np.max(np.abs(p["linear_1"]["weight"]))))))
    assert len(seen) == 9
    assert all(t >= np.float32(15e-3) for t, _ in seen), seen
    assert all(w <= np.float32(0.05) for _, w in seen), seen
    assert min(t for t, _ in seen) == pytest.approx(15e-3)
    assert max(w for _, w in seen) == pytest.approx(0.05)


def test_user_bounds_reach_the_loss_bounds_terms() -> None:
    prog = rpgraph.compile(rate_spec(tau="20 ms", loss="mse(y, target) + bounds_cost"))
    ds = resolve(prog).data
    assert ds.targets is not None
    lower, upper = prog.bounds_template()
    lower["hidden"]["tau"] = 30e-3  # every tau (20 ms) now violates the user's bound
    p = prog.init(0)
    x, t = {"x": jnp.asarray(ds.inputs[:1])}, jnp.asarray(ds.targets[:1])
    opt = optax.sgd(0.0)
    for bounds, expect_cost in ((None, False), ((lower, upper), True)):
        objective = None if bounds is None else make_objective(prog.network, bounds)
        step = jax.jit(make_step(prog, opt, objective=objective))
        _, _, _, terms = step(p, opt.init(p), x, t)
        assert (float(terms["bounds_cost"]) > 1.0) is expect_cost
    spec_metrics = evaluate(prog, p, ds)
    user_metrics = evaluate(prog, p, ds, objective=make_objective(prog.network, (lower, upper)))
    assert user_metrics["loss"] > spec_metrics["loss"] + 1.0


def test_bad_user_bounds_are_a_clear_error(small: rpgraph.Program) -> None:
    lower, upper = small.bounds_template()
    del lower["linear_0"]["weight"]
    with pytest.raises(CheckpointError, match="no lower bound for 'linear_0.weight'"):
        fit(small, progress=False, bounds=(lower, upper))


# --- minibatches, optimizers, determinism ----------------------------------------------------


def test_minibatch_optimizers_and_schedules_by_name(small: rpgraph.Program) -> None:
    r = fit(small, batch_size=2, optimizer="sgd(lr = 0.1, momentum = 0.9)", progress=False,
            epochs=4)
    assert r.losses.shape == (8,) and np.all(np.isfinite(r.losses))
    assert r.losses[-2:].mean() < r.losses[:2].mean()
    named = fit(small, batch_size=2, progress=False, optimizer=(
        "adam(lr = exponential_decay(init_value = 1e-3, transition_steps = 10, "
        "decay_rate = 0.9))"))
    by_hand = fit(small, batch_size=2, progress=False, optimizer=optax.adam(
        optax.exponential_decay(init_value=1e-3, transition_steps=10, decay_rate=0.9)))
    assert_same(named.params, by_hand.params)
    plain = fit(small, batch_size=2, progress=False, optimizer="adam(lr = 1e-3)")
    assert not np.array_equal(named.params["linear_0"]["weight"],
                              plain.params["linear_0"]["weight"])


def test_unknown_optimizer_or_schedule_is_a_spec_error(small: rpgraph.Program) -> None:
    with pytest.raises(SpecError, match="unknown optimizer 'adma'"):
        fit(small, optimizer="adma(lr = 1e-3)", progress=False)
    with pytest.raises(SpecError, match="unknown schedule"):
        fit(small, optimizer="adam(lr = expo_decay(init_value = 1e-3))", progress=False)


def test_unknown_fit_option_names_the_closest(small: rpgraph.Program) -> None:
    from rpgraph.train.ensemble import fit_ensemble

    for call in (lambda: fit(small, epoch=3), lambda: fit_ensemble(small, seeds=[0], epoch=3)):
        with pytest.raises(TypeError) as err:
            call()
        assert str(err.value) == "unknown training option 'epoch'; did you mean 'epochs'?"
    with pytest.raises(TypeError, match=r"unknown training option 'zzz'; options: epochs, "):
        fit(small, zzz=1)


def test_same_seed_gives_bit_identical_params(small: rpgraph.Program) -> None:
    a = fit(small, batch_size=2, seed=3, progress=False)
    b = fit(small, batch_size=2, seed=3, progress=False)
    c = fit(small, batch_size=2, seed=4, progress=False)
    assert_same(a.params, b.params)
    assert np.array_equal(a.losses, b.losses)
    assert not np.array_equal(a.params["linear_0"]["weight"], c.params["linear_0"]["weight"])


# --- failures and data -----------------------------------------------------------------------


def test_non_finite_loss_names_step_and_term_and_keeps_checkpoint(
        small: rpgraph.Program, tmp_path: Path) -> None:
    inputs, targets = sin_arrays(classes=4, length=20, channels_in=20)
    targets = targets.copy()
    targets[2, 5, 1] = 1e30  # finite, but the squared error overflows float32
    path = tmp_path / "huge.npz"
    np.savez(path, inputs=inputs, targets=targets)
    run = tmp_path / "run"
    with pytest.raises(TrainingError) as info:
        fit(small, str(path), out_dir=run, progress=False, chunk=1, checkpoint_every=1)
    msg = str(info.value)
    assert "at step 2 " in msg and "mse(y, target)" in msg and str(run) in msg
    ck = load_checkpoint(run, params_like=small.init(0))
    assert int(ck.step) == 2
    assert all(np.all(np.isfinite(v)) for v in leaves(ck.params).values())
    assert [m["step"] for m in read_metrics(run / "metrics.jsonl")] == [0, 1]


def test_npz_targets_and_labels(small: rpgraph.Program, tmp_path: Path) -> None:
    inputs, targets = sin_arrays(classes=4, length=20, channels_in=20)
    np.savez(tmp_path / "reg.npz", inputs=inputs, targets=targets)
    r = fit(small, str(tmp_path / "reg.npz"), epochs=1, progress=False)
    assert r.losses.shape == (4,) and "mse" in r.metrics
    cls = rpgraph.compile(SMALL.replace(
        "epochs    = 3", "epochs = 1\n    loss = cross_entropy(y, target)"))
    np.savez(tmp_path / "cls.npz", inputs=inputs, labels=np.array([0, 1, 0, 1]))
    r = fit(cls, str(tmp_path / "cls.npz"), progress=False)
    assert r.losses.shape == (4,) and 0.0 <= r.metrics["accuracy"] <= 1.0


def test_data_shape_mismatch_names_file_array_and_shapes(
        small: rpgraph.Program, tmp_path: Path) -> None:
    inputs, targets = sin_arrays(classes=4, length=20, channels_in=20, channels_out=3)
    np.savez(tmp_path / "wide.npz", inputs=inputs, targets=targets)
    with pytest.raises(DataError) as info:
        fit(small, str(tmp_path / "wide.npz"), progress=False)
    msg = str(info.value)
    assert "wide.npz" in msg and "'targets'" in msg and "(4, 20, 3)" in msg
    assert "(N, T, 2)" in msg


# --- progress and the run directory ----------------------------------------------------------


def test_progress_plain_lines_when_not_a_tty(capsys: pytest.CaptureFixture[str]) -> None:
    bar = Progress(total=9, per_epoch=3, enabled=True)
    for s in range(1, 10):
        bar.update(s, 0.5)
    bar.close()
    err = capsys.readouterr().err.splitlines()
    assert err and all(line.startswith("epoch ") for line in err)
    assert err[-1].startswith("epoch 3/3  step 9/9  loss 0.5")
    assert "\r" not in "".join(err) and "\x1b" not in "".join(err)
    assert any(line.startswith("epoch 1/3  step 3/9") for line in err)  # step 3 ends epoch 1
    quiet = Progress(total=9, per_epoch=3, enabled=False)
    quiet.update(9, 0.5)
    assert capsys.readouterr() == ("", "")


def test_run_directory_and_metrics_appended(tmp_path: Path) -> None:
    prog = rpgraph.compile(rate_spec("enforce project", extra="seed = 1"))
    run = tmp_path / "run"
    snapshots: list[str] = []
    r = fit(prog, out_dir=run, progress=False, chunk=2, on_end=write_plots,
            callback=lambda s, p: snapshots.append((run / "metrics.jsonl").read_text()))
    # appended chunk by chunk: each snapshot extends the previous one
    assert len(snapshots) == 5
    for a, b in zip(snapshots, snapshots[1:], strict=False):
        assert b.startswith(a) and len(b) > len(a)
    names = {p.name for p in run.iterdir()}
    assert {"params.npz", "checkpoint.npz", "metrics.jsonl", "spec.rpg", "bounds.json",
            "config.json", "loss.png", "outputs.png", "param_hidden.tau.png"} <= names
    assert "accuracy.png" not in names
    assert (run / "spec.rpg").read_text() == prog.network.source
    config = json.loads((run / "config.json").read_text())
    assert config["epochs"] == 3 and config["seed"] == 1 and config["total_steps"] == 9
    lower, _ = from_json((run / "bounds.json").read_text())
    assert lower["hidden"]["tau"] == pytest.approx(0.01)
    assert lower["linear_0"]["weight"] == -math.inf
    metrics = read_metrics(run / "metrics.jsonl")
    assert [m["step"] for m in metrics] == list(range(9))
    np.testing.assert_allclose([m["loss"] for m in metrics], r.losses, rtol=1e-6)
    assert_same(prog.load_params(run), r.params)


def test_classification_spec_trains_above_chance(tmp_path: Path) -> None:
    prog = rpgraph.compile(SPECS / "digits_lif.rpg")
    run = tmp_path / "digits"
    r = fit(prog, epochs=1, out_dir=run, progress=False, chunk=64, on_end=write_plots)
    assert r.metrics["accuracy"] > 0.3 and r.metrics["test_accuracy"] > 0.3  # chance: 0.1
    names = {p.name for p in run.iterdir()}
    assert {"accuracy.png", "loss.png", "param_h.tau_mem.png", "param_h.tau_syn.png"} <= names
    assert "outputs.png" not in names
    assert float(np.min(r.params["h"]["tau_mem"])) >= np.float32(10e-3)


# --- resume ----------------------------------------------------------------------------------


RESUME_SPEC = rate_spec("enforce project", lr="1e-3",
                        extra="checkpoint_every = 2").replace("epochs    = 3", "epochs    = 4")


def test_resume_after_interruption_in_process(tmp_path: Path) -> None:
    prog = rpgraph.compile(RESUME_SPEC)
    full = fit(prog, progress=False, chunk=2, batch_size=2, epochs=6)

    def stop(step: int, params: Tree) -> None:
        if step == 6:
            raise KeyboardInterrupt

    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        fit(prog, out_dir=run, progress=False, chunk=2, batch_size=2, epochs=6, callback=stop)
    resumed = fit(prog, out_dir=run, resume=True, progress=False, chunk=2, batch_size=2,
                  epochs=6)
    assert_same(resumed.params, full.params)


def test_noisy_sgd_state_is_checkpointed_and_resumed_exactly(tmp_path: Path) -> None:
    """noisy_sgd's optimiser state carries a typed PRNG key (it used to fail at the first
    checkpoint): it is saved, restored with its key implementation, and resumes exactly."""
    prog = rpgraph.compile(SMALL.replace("adam(lr = 1e-2)", "noisy_sgd(lr = 1e-2)"))
    full = fit(prog, progress=False, chunk=2, epochs=4)

    def stop(step: int, params: Tree) -> None:
        if step == 4:
            raise KeyboardInterrupt

    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        fit(prog, out_dir=run, progress=False, chunk=2, epochs=4,
            checkpoint_every=2, callback=stop)
    resumed = fit(prog, out_dir=run, resume=True, progress=False, chunk=2, epochs=4)
    assert_same(resumed.params, full.params)


def test_resume_with_another_spec_or_nothing_is_a_clear_error(tmp_path: Path) -> None:
    prog = rpgraph.compile(SMALL)
    run = tmp_path / "run"
    fit(prog, out_dir=run, progress=False, epochs=1)
    other = rpgraph.compile(SMALL.replace("adam(lr = 1e-2)", "adam(lr = 1e-3)"))
    with pytest.raises(SpecError, match="spec"):
        fit(other, out_dir=run, resume=True, progress=False, epochs=1)
    assert (run / "spec.rpg").read_text() == prog.network.source  # not overwritten
    with pytest.raises(TrainingError, match="nothing to resume"):
        fit(prog, out_dir=tmp_path / "empty", resume=True, progress=False)
    with pytest.raises(CheckpointError, match="at step 4, past the 0 steps of this run"):
        fit(prog, out_dir=run, resume=True, progress=False, epochs=0, force=True)


def test_resume_with_more_epochs_extends_a_finished_run(tmp_path: Path) -> None:
    """#14: ``--resume --epochs N`` continues a finished run to N epochs, exactly as a run
    started with N epochs; resuming it again trains nothing."""
    prog = rpgraph.compile(SMALL)
    run = tmp_path / "run"
    fit(prog, out_dir=run, progress=False, epochs=1, chunk=1)
    longer = fit(prog, out_dir=run, resume=True, progress=False, epochs=2, chunk=1)
    assert (longer.start, longer.steps, len(longer.losses)) == (4, 8, 4)
    assert_same(longer.params, fit(prog, progress=False, epochs=2, chunk=1).params)
    assert [m["step"] for m in read_metrics(run / "metrics.jsonl")] == list(range(8))
    again = fit(prog, out_dir=run, resume=True, progress=False, epochs=2)
    assert (again.start, again.steps, len(again.losses)) == (8, 8, 0)


def test_resume_refuses_other_settings_listing_them_unless_forced(tmp_path: Path) -> None:
    """#18 stale resume: everything that determines the run is compared."""
    prog = rpgraph.compile(SMALL)
    run = tmp_path / "run"
    fit(prog, out_dir=run, progress=False, epochs=1)
    other = rpgraph.compile(SMALL.replace("adam(lr = 1e-2)", "adam(lr = 1e-3)"))
    with pytest.raises(TrainingError) as info:
        fit(other, out_dir=run, resume=True, progress=False, epochs=1, seed=7, batch_size=2,
            data="sinusoids(classes = 4, length = 20, channels_in = 20, seed = 3)")
    assert str(info.value) == (
        f"error: the run in '{run}' was started with other settings: the spec (its canonical "
        "text changed); seed 0 -> 7; data sinusoids(classes = 4, length = 20, channels_in = 20)"
        " -> sinusoids; optimizer "
        "adam(lr = 1e-2) -> adam(lr = 1e-3); batch size 1 -> 2\n"
        "hint: resume with the settings it was started with, choose another --out, or pass "
        "--force to continue it with these")
    forced = fit(prog, out_dir=run, resume=True, progress=False, epochs=2, seed=7, force=True)
    assert forced.start == 4 and forced.steps == 8
    assert json.loads((run / "config.json").read_text())["seed"] == 7


def test_comment_and_layout_edits_do_not_block_resume(tmp_path: Path) -> None:
    prog = rpgraph.compile(SMALL)
    run = tmp_path / "run"

    def stop(step: int, params: Tree) -> None:
        if step == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(prog, out_dir=run, progress=False, chunk=2, checkpoint_every=2, callback=stop)
    edited = rpgraph.compile("# my network\n" + SMALL.replace("-> linear(2) -> y",
                                                                "->linear(2)->y   # out"))
    resumed = fit(edited, out_dir=run, resume=True, progress=False, chunk=2)
    assert resumed.start == 4
    assert_same(resumed.params, fit(prog, progress=False, chunk=2).params)


# --- several devices -------------------------------------------------------------------------


DEVICES = """
import sys
import numpy as np, jax, rpgraph
from rpgraph.train import fit
assert len(jax.devices()) == 2, jax.devices()
prog = rpgraph.compile(sys.argv[1])
one = fit(prog, batch_size=4, devices=1, progress=False, epochs=2)
two = fit(prog, batch_size=4, devices=2, progress=False, epochs=2)
np.testing.assert_allclose(two.losses, one.losses, rtol=1e-5)
for n in one.params:
    for k in one.params[n]:
        np.testing.assert_allclose(two.params[n][k], one.params[n][k], rtol=1e-5, atol=1e-7)
print("ok", len(one.losses))
"""


def test_two_devices_match_one() -> None:
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "JAX_PLATFORMS": "cpu"}
    spec = SMALL.replace("classes = 4", "classes = 8")
    proc = subprocess.run([PY, "-c", textwrap.dedent(DEVICES), spec], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["ok", "4"]


def test_more_devices_than_available_is_a_clear_error(small: rpgraph.Program) -> None:
    with pytest.raises(SpecError, match="--devices 64"):
        fit(small, batch_size=2, devices=64, progress=False)


TINY_FIT = ("network n { input x : 3\n output y : 2\n x -> linear(2) -> y }\n"
            "train { data = sinusoids(classes = 2, length = 5, channels_in = 3)\n epochs = 1\n"
            " optimizer = sgd(lr = 0.1) }")


def test_only_rpgraphs_own_temp_files_are_removed_by_exact_name(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / ".rpgraph-run").write_text("")  # a run folder
    stale = run / ".checkpoint.npz.rpgraph.tmp"
    stale.write_bytes(b"half a checkpoint")
    mine = [run / ".x.npz.1.tmp", run / ".checkpoint.npz.123.abcd.tmp"]
    for p in mine:
        p.write_bytes(b"the user's")
    rpgraph.fit(rpgraph.compile(TINY_FIT), out_dir=run, progress=False)
    assert not stale.exists() and (run / "checkpoint.npz").exists()
    assert all(p.read_bytes() == b"the user's" for p in mine)


def test_out_folders_that_are_not_runs_and_links_are_refused(tmp_path: Path) -> None:
    prog = rpgraph.compile(TINY_FIT)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "config.json").write_text("mine")
    with pytest.raises(TrainingError) as info:
        fit(prog, out_dir=theirs, progress=False)
    assert str(info.value) == (
        f"error: '{theirs}' is not empty and is not an rpgraph run folder\n"
        "hint: choose a new or empty folder for --out (rpgraph marks its run folders with a "
        ".rpgraph-run file)")
    assert (theirs / "config.json").read_text() == "mine"
    run = tmp_path / "run"
    fit(prog, out_dir=run, progress=False)
    (tmp_path / "outside.txt").write_text("keep")
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(TrainingError) as info:
        fit(prog, out_dir=run, progress=False, force=True)
    assert str(info.value) == (
        f"error: '{run / 'metrics.jsonl'}' is a symbolic link\n"
        "hint: rpgraph never writes through links in a run folder; remove the link or choose "
        "another --out")
    assert (tmp_path / "outside.txt").read_text() == "keep"


def test_a_new_run_over_a_run_with_a_checkpoint_needs_force(tmp_path: Path) -> None:
    """A fresh run never leaves an old checkpoint behind for a later --resume."""
    prog = rpgraph.compile(TINY_FIT)
    run = tmp_path / "run"
    fit(prog, out_dir=run, progress=False)
    with pytest.raises(TrainingError) as info:
        fit(prog, out_dir=run, progress=False, seed=7)
    assert str(info.value) == (
        f"error: '{run}' holds a run with a checkpoint\n"
        "hint: continue it with --resume, choose another --out, or pass --force to start it "
        "over")

    def stop(step: int, params: Tree) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # interrupted before its first checkpoint
        fit(prog, out_dir=run, progress=False, seed=7, force=True, callback=stop)
    assert not (run / "checkpoint.npz").exists() and not (run / "params.npz").exists()
    with pytest.raises(TrainingError, match="nothing to resume"):
        fit(prog, out_dir=run, progress=False, seed=7, resume=True)


def test_a_second_train_in_a_locked_run_folder_fails_cleanly(tmp_path: Path) -> None:
    from rpgraph.train.run_dir import RunDir

    prog = rpgraph.compile(TINY_FIT)
    run = tmp_path / "run"
    holder = RunDir(run, "x", 1)
    holder.open(resume=False)
    try:
        with pytest.raises(TrainingError) as info:
            fit(prog, out_dir=run, progress=False)
        assert str(info.value) == (
            f"error: another rpgraph process is training in '{run}'\n"
            "hint: wait for it to finish, or choose another --out")
    finally:
        holder.close()
    fit(prog, out_dir=run, progress=False)  # free again


def test_checkpoint_every_is_honoured_exactly(tmp_path: Path) -> None:
    prog = rpgraph.compile(SMALL)
    run = tmp_path / "run"
    seen: list[tuple[int, int]] = []

    def watch(step: int, params: Tree) -> None:
        seen.append((step, int(load_checkpoint(run, params_like=params).step)))

    fit(prog, out_dir=run, progress=False, epochs=3, chunk=5, checkpoint_every=3,
        callback=watch)
    # chunks end on multiples of 5 and of 3; each checkpoint is the latest multiple of 3
    assert seen == [(s, s - s % 3 if s != 12 else 12) for s in (3, 5, 6, 9, 10, 12)]


def test_non_finite_update_names_parameters_and_says_no_checkpoint_exists(
        tmp_path: Path) -> None:
    """sgd(lr = 1e39): the loss is finite but the first update overflows; no checkpoint of
    NaN parameters is written, and the message says none exists."""
    prog = rpgraph.compile(TINY_FIT.replace("sgd(lr = 0.1)", "sgd(lr = 1e39)"))
    run = tmp_path / "run"
    with pytest.raises(TrainingError) as info:
        fit(prog, out_dir=run, progress=False, checkpoint_every=1)
    msg = str(info.value)
    assert msg.startswith("error: the update at step 0 (epoch 0) made linear_0.weight (6 of 6 "
                          "values)"), msg
    assert f"no checkpoint was written in '{run}'" in msg
    assert not (run / "checkpoint.npz").exists()


def test_non_finite_loss_names_a_negative_time_constant(tmp_path: Path) -> None:
    prog = rpgraph.compile(
        "network r (dt = 1 ms) {\n input x : 3\n output y : 2\n"
        " x -> linear(4) -> hidden: rate(tau = 12 ms) -> linear(2) -> y\n}\n"
        "train { data = sinusoids(classes = 2, length = 200, channels_in = 3) }")
    params = prog.init(0)
    params["hidden"]["tau"] = jnp.full_like(params["hidden"]["tau"], -0.00024)
    with pytest.raises(TrainingError) as info:
        fit(prog, params=params, progress=False, epochs=1)
    assert "time constants at or below zero: hidden.tau = -0.00024 (lower bound 0.0005)" in \
        str(info.value), str(info.value)


def test_params_file_names_its_arrays_after_the_parameters(tmp_path: Path) -> None:
    from rpgraph.io.checkpoint import save_checkpoint

    prog = rpgraph.compile(rate_spec())
    run = tmp_path / "run"
    r = fit(prog, out_dir=run, progress=False, epochs=1)
    with np.load(run / "params.npz") as npz:
        assert sorted(npz.files) == ["__rpgraph__", "hidden.bias", "hidden.tau",
                                     "hidden.threshold", "linear_0.weight",
                                     "linear_1.weight"], npz.files
        np.testing.assert_array_equal(npz["hidden.tau"], r.params["hidden"]["tau"])
    # an older, numbered file (a checkpoint has the same layout) still loads, shape-checked
    save_checkpoint(tmp_path / "old.npz", params=r.params, step=1, spec_hash="x")
    assert_same(rpgraph.io.checkpoint.load_params(tmp_path / "old.npz", prog.init(0)), r.params)
    like = prog.init(0)
    like["hidden"]["tau"] = np.ones(3)
    with pytest.raises(CheckpointError, match=r"params\['hidden'\]\['tau'\] has shape \(16,\)"):
        rpgraph.io.checkpoint.load_params(run / "params.npz", like)


def test_steps_past_2_31_resume(tmp_path: Path) -> None:
    """Steps are 64-bit: a run resumed at step 2**31 trains on (one step is 2 samples)."""
    from rpgraph.io.checkpoint import save_checkpoint

    prog = rpgraph.compile(TINY_FIT)
    run = tmp_path / "run"
    fit(prog, out_dir=run, progress=False)
    like = prog.init(0)
    opt = resolve(prog).optimizer
    ck = load_checkpoint(run, params_like=like, opt_state_like=opt.init(like))
    save_checkpoint(run, params=ck.params, opt_state=ck.opt_state, step=2**31,
                    spec_hash=ck.spec_hash, extra=ck.extra)
    r = fit(prog, out_dir=run, progress=False, resume=True, epochs=2**30 + 2)
    assert (r.start, r.steps, len(r.losses)) == (2**31, 2**31 + 4, 1)  # one aggregate entry
    assert read_metrics(run / "metrics.jsonl")[-1]["steps"] == 4


def test_metrics_past_the_log_limit_get_one_line_per_chunk(tmp_path: Path) -> None:
    prog = rpgraph.compile(SMALL)
    run = tmp_path / "run"
    r = fit(prog, out_dir=run, progress=False, epochs=3, chunk=4, log_limit=6)
    rows = read_metrics(run / "metrics.jsonl")
    assert [(m["step"], m.get("steps", 1)) for m in rows] == [
        (0, 1), (1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 2), (8, 4)]
    assert r.loss_steps.tolist() == [0, 1, 2, 3, 4, 5, 6, 8]
    np.testing.assert_allclose([m["loss"] for m in rows], r.losses, rtol=1e-6)


def test_resume_reads_only_the_tail_of_the_metrics(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from rpgraph.train import run_dir

    path = tmp_path / "metrics.jsonl"
    line = '{{"step": {}, "epoch": 0, "loss": 0.5}}\n'
    path.write_text("".join(line.format(i) for i in range(200_000)) + '{"step": 200000, "ep')
    read = []
    real = os.pread
    monkeypatch.setattr(run_dir.os, "pread", lambda fd, n, at: read.append(n) or real(fd, n, at))
    run_dir.trim_metrics(path, 199_990)
    assert sum(read) <= 2 * 65536
    tail = path.read_bytes()[-200:].decode().splitlines()
    assert json.loads(tail[-1])["step"] == 199_989


def test_eta_past_a_day_and_huge(capsys: pytest.CaptureFixture[str]) -> None:
    from rpgraph.train.progress import duration

    assert [duration(x) for x in (59.6, 86400 * 3 + 7, 1e300, math.nan)] == \
        ["0:01:00", "3d 0:00:07", "?", "?"]


def test_a_full_disk_names_the_metrics_file(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from rpgraph.train.run_dir import RunDir

    class Full:
        def write(self, text: str) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self) -> None:
            pass

    real = RunDir.start

    def start(self: RunDir, *args: Any) -> None:
        real(self, *args)
        self._metrics.close()  # type: ignore[union-attr]
        self._metrics = Full()  # type: ignore[assignment]

    monkeypatch.setattr(RunDir, "start", start)
    run = tmp_path / "run"
    with pytest.raises(TrainingError) as info:
        fit(rpgraph.compile(TINY_FIT), out_dir=run, progress=False)
    assert str(info.value) == (
        f"error: cannot write '{run / 'metrics.jsonl'}': No space left on device\n"
        "hint: free some disk space, then continue the run with --resume")


def test_noise_is_fresh_each_step_and_reproducible() -> None:
    from rpgraph.train import make_step

    text = ("network n (dt = 1 ms) { input x : 3\n output y : 2\n"
            " x -> linear(4) -> h: rate(noise_std = 0.5) -> linear(2) -> y }\n"
            "train { data = sinusoids(classes = 2, length = 10, channels_in = 3)\n"
            " epochs = 3\n optimizer = sgd(lr = 0.01) }")
    prog = rpgraph.compile(text)
    params = prog.init(0)
    opt = optax.sgd(0.0)
    step = jax.jit(make_step(prog, opt))
    x = {"x": jnp.ones((1, 10, 3))}
    t = jnp.zeros((1, 10, 2))
    losses = [float(step(params, opt.init(params), x, t, jax.random.PRNGKey(k))[2])
              for k in (0, 1, 0)]
    assert losses[0] != losses[1] and losses[0] == losses[2]
    a = rpgraph.fit(prog, seed=3, progress=False)
    b = rpgraph.fit(prog, seed=3, progress=False)
    c = rpgraph.fit(prog, seed=4, progress=False)
    np.testing.assert_array_equal(a.losses, b.losses)
    assert not np.array_equal(a.losses, c.losses)


def test_fusing_steps_into_chunks_changes_nothing() -> None:
    """The whole-run fusion is switchable (``chunk=1``: one step per dispatch) and gives
    bit-identical parameters and losses."""
    text = (Path(__file__).resolve().parents[1] / "specs" / "tutorial_rate.rpg").read_text()
    text = (text.replace("epochs = 1000", "epochs = 6").replace("x : 2000", "x : 50")
            .replace("classes = 3, length = 100", "classes = 3, length = 30, channels_in = 50"))
    prog = rpgraph.compile(text)
    runs = [rpgraph.fit(prog, chunk=c, progress=False) for c in (1, 7, None)]
    for other in runs[1:]:
        np.testing.assert_array_equal(runs[0].losses, other.losses)
        for a, b in zip(jax.tree_util.tree_leaves(runs[0].params),
                        jax.tree_util.tree_leaves(other.params), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# --- data and targets: several ports, validation, early stopping, chains, outputs ------------

def _readme_block(after: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(after)
    return text[text.index("```\n", start) + 4:text.index("```\n", text.index("```\n", start) + 4)]


def _events(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """The scalars of the TensorBoard event files in ``folder`` (TFRecord framing: length,
    its CRC, the Event proto, its CRC), by tag."""
    from tensorboardX.proto import event_pb2

    out: dict[str, list[tuple[int, float]]] = {}
    for f in folder.glob("events.out.tfevents.*"):
        data = f.read_bytes()
        i = 0
        while i < len(data):
            n = int.from_bytes(data[i:i + 8], "little")
            ev = event_pb2.Event.FromString(data[i + 12:i + 12 + n])
            i += 12 + n + 4
            for v in ev.summary.value:
                out.setdefault(v.tag, []).append((ev.step, v.simple_value))
    return out


def test_several_inputs_and_outputs_train_from_the_cli(tmp_path: Path) -> None:
    from rpgraph.cli import main

    # the README's example spec, as written there
    r = np.random.RandomState(0)
    np.savez(tmp_path / "two.npz", x_a=r.rand(20, 8, 3), x_b=r.rand(20, 8, 2),
             target_y1=r.rand(20, 8, 2), labels_y2=r.randint(0, 4, 20),
             test_x_a=r.rand(4, 8, 3), test_x_b=r.rand(4, 8, 2),
             test_target_y1=r.rand(4, 8, 2), test_labels_y2=r.randint(0, 4, 4))
    spec = tmp_path / "two.rpg"
    spec.write_text(_readme_block("**Several inputs and outputs.**"), encoding="utf-8")
    run = tmp_path / "run"
    assert main(["check", str(spec)]) == 0
    assert main(["train", str(spec), "--out", str(run), "--quiet", "--epochs", "3",
                 "--batch-size", "4"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    # metrics per output, on the training, validation and test parts
    for k in ("mse_y1", "accuracy_y2", "val_mse_y1", "val_accuracy_y2", "test_mse_y1",
              "test_accuracy_y2", "loss", "val_loss", "test_loss"):
        assert math.isfinite(summary[k]), k
    rows = [json.loads(line) for line in (run / "epochs.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [0, 1, 2]
    assert [row["step"] for row in rows] == [4, 8, 12]  # 18 training samples, batches of 4
    assert all({"loss", "accuracy_y2", "val_loss", "val_accuracy_y2"} <= set(row)
               for row in rows)
    # keep = best: the parameters are those of the epoch with the lowest validation loss
    best = min(rows, key=lambda row: row["val_loss"])
    assert summary["best_epoch"] == best["epoch"] and summary["kept"] == "best"
    assert summary["val_loss"] == pytest.approx(best["val_loss"], rel=1e-5)
    prog = rpgraph.compile(spec)
    assert_same(prog.load_params(run), prog.load_params(run / "best.npz"))
    # firing rates of the spiking layer
    assert set(summary["firing_rates"]["h"]) == {"mean", "max", "silent"}
    assert 0 <= summary["firing_rates"]["h"]["silent"] <= 1
    names = {p.name for p in run.iterdir()}
    assert {"outputs_y1.png", "accuracy.png", "validation.png", "spikes.png",
            "loss.png"} <= names
    scalars = _events(run / "tensorboard")
    assert [s for s, _ in scalars["train/loss"]] == list(range(12))
    assert [s for s, _ in scalars["epoch/val_loss"]] == [1, 2, 3]
    assert [v for _, v in scalars["epoch/val_loss"]] == pytest.approx(
        [row["val_loss"] for row in rows])


def _val_spec(optimizer: str, extra: str = "") -> str:
    return f"""
network n {{
    input  x : 3
    output y : 2
    x -> linear(2) -> y
}}

train {{
    data       = sinusoids(classes = 8, length = 5, channels_in = 3)
    validation = 0.25
    optimizer  = {optimizer}
    epochs     = 6
{extra}}}
"""


def test_validation_split_is_held_out_and_seeded() -> None:
    prog = rpgraph.compile(_val_spec("sgd(lr = 0)"))
    st = resolve(prog)
    assert (len(st.data), len(st.validation or [])) == (6, 2)
    full = sinusoids(classes=8, length=5, channels_in=3)
    rows = {tuple(np.ravel(x)) for x in full.inputs}
    train = {tuple(np.ravel(x)) for x in st.data.inputs}
    val = {tuple(np.ravel(x)) for x in (st.validation or full).inputs}
    assert train | val == rows and not train & val
    assert np.array_equal(resolve(prog).validation.inputs, st.validation.inputs)  # type: ignore


def test_early_stopping_stops_when_validation_loss_stalls(tmp_path: Path) -> None:
    # lr = 0: the validation loss never improves after the first epoch
    prog = rpgraph.compile(_val_spec("sgd(lr = 0)", "    early_stopping = 2\n"))
    r = fit(prog, progress=False, out_dir=tmp_path / "run")
    assert [row.get("stop", False) for row in r.epochs] == [False, False, True]
    assert r.steps == 3 * 6 and len(r.losses) == 18
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["stopped_early"] and summary["epochs_run"] == 3 and summary["steps"] == 18


def test_keep_best_returns_the_best_epoch_not_the_last() -> None:
    # a learning rate this high makes the loss grow every epoch after the first
    prog = rpgraph.compile(_val_spec("sgd(lr = 0.9)", "    keep = best\n"))
    r = fit(prog, progress=False)
    losses = [row["val_loss"] for row in r.epochs]
    assert losses[-1] > losses[0] * 10
    assert r.metrics["val_loss"] == pytest.approx(min(losses), rel=1e-5)
    last = fit(prog, progress=False, keep="last")
    assert last.metrics["val_loss"] == pytest.approx(losses[-1], rel=1e-5)


def test_optimizer_chain_in_the_spec_is_optax_chain(small: rpgraph.Program) -> None:
    text = "chain(clip_by_global_norm(0.5), adamw(lr = 1e-2, weight_decay = 0.1))"
    a = fit(small, epochs=2, optimizer=text, progress=False)
    b = fit(small, epochs=2, progress=False, optimizer=optax.chain(
        optax.clip_by_global_norm(0.5), optax.adamw(1e-2, weight_decay=0.1)))
    assert_same(a.params, b.params)
    c = fit(small, epochs=2, progress=False, optimizer="adamw(lr = 1e-2, weight_decay = 0.1)")
    assert not np.array_equal(leaves(a.params)["linear_0.weight"],
                              leaves(c.params)["linear_0.weight"])  # the clipping acted


def test_test_data_is_read_and_evaluated(tmp_path: Path) -> None:
    ds = sinusoids(classes=3, length=20, channels_in=20, seed=5)
    np.savez(tmp_path / "held.npz", inputs=ds.inputs, targets=ds.targets)
    spec = tmp_path / "s.rpg"
    spec.write_text(SMALL.replace("epochs    = 3", 'epochs = 1\n    test_data = "held.npz"'),
                    encoding="utf-8")
    r = fit(rpgraph.compile(spec), progress=False)
    prog = rpgraph.compile(spec)
    want = evaluate(prog, r.params, ds)
    assert r.metrics["test_mse"] == pytest.approx(want["mse"], rel=1e-5)


def test_tensorboard_without_the_writer_is_a_clear_error(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from rpgraph.cli import main

    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # 'import tensorboardX' fails
    spec = tmp_path / "s.rpg"
    spec.write_text(SMALL.replace("epochs    = 3", "epochs = 1\n    tensorboard = true"),
                    encoding="utf-8")
    with pytest.raises(SpecError) as err:
        fit(rpgraph.compile(spec), progress=False)
    message = ("TensorBoard logging (tensorboard = true, --tensorboard) needs the tensorboardX "
               "package")
    assert err.value.message == message
    assert err.value.hint == "pip install 'rpgraph[tensorboard]' (or pip install tensorboardX)"
    spec.write_text(SMALL, encoding="utf-8")
    monkeypatch.undo()
    with pytest.raises(SpecError, match="TensorBoard logging writes into the run directory"):
        fit(rpgraph.compile(spec), epochs=1, progress=False, tensorboard=True)
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    assert main(["train", str(spec), "--out", str(tmp_path / "r"), "--quiet", "--tensorboard",
                 "--no-plots"]) == 1
    assert capsys.readouterr().err == (
        f"{spec}: error: {message}\n"
        "hint: pip install 'rpgraph[tensorboard]' (or pip install tensorboardX)\n")


def test_interrupted_run_with_validation_resumes_to_the_same_epochs(tmp_path: Path) -> None:
    spec = _val_spec("sgd(lr = 0.3)", "    keep = best\n    early_stopping = 3\n")
    prog = rpgraph.compile(spec.replace("x -> linear(2) -> y",
                                        "x -> linear(4) -> tanh -> linear(2) -> y"))
    fit(prog, progress=False, out_dir=tmp_path / "a", checkpoint_every=6)

    class Stop(Exception):
        pass

    def stop_at_24(step: int, params: Tree) -> None:
        if step >= 24:
            raise Stop

    with pytest.raises(Stop):
        fit(prog, progress=False, out_dir=tmp_path / "b", checkpoint_every=6,
            callback=stop_at_24)
    assert len((tmp_path / "b" / "epochs.jsonl").read_text().splitlines()) == 4
    fit(prog, progress=False, out_dir=tmp_path / "b", checkpoint_every=6, resume=True)
    for name in ("epochs.jsonl", "summary.json"):
        a = (tmp_path / "a" / name).read_text()
        b = (tmp_path / "b" / name).read_text()
        if name == "summary.json":
            a, b = (json.loads(t) for t in (a, b))
            del a["seconds"], b["seconds"]
        assert a == b, name
    assert_same(prog.load_params(tmp_path / "a"), prog.load_params(tmp_path / "b"))


def test_fit_takes_arrays_named_after_the_ports() -> None:
    prog = rpgraph.compile("""
network two {
    input  a : 3
    input  b : 2
    output y1 : 2
    output y2 : 4
    a -> linear(4) -> h: tanh
    b -> linear(4) -> h
    h -> linear(2) -> y1
    h -> linear(4) -> y2
}

train {
    loss   = mse(y1, target_y1) + cross_entropy(y2, labels_y2)
    epochs = 2
}
""")
    r = np.random.RandomState(0)
    data = {"x_a": r.rand(8, 5, 3), "x_b": r.rand(8, 5, 2), "target_y1": r.rand(8, 5, 2),
            "labels_y2": r.randint(0, 4, 8)}
    res = fit(prog, data, progress=False, batch_size=4)
    assert res.steps == 4 and sorted(res.metrics) == ["accuracy_y2", "loss", "mse_y1"]
    # the loss of the trained parameters, through the Python API's dict targets
    x = {"a": data["x_a"], "b": data["x_b"]}
    want = prog.loss(res.params, x, {"y1": data["target_y1"], "y2": data["labels_y2"]})
    assert res.metrics["loss"] == pytest.approx(float(want), rel=1e-5)
    del data["x_b"]
    with pytest.raises(DataError, match="1 problem\n  - no array 'x_b' for input 'b' : 2"):
        fit(prog, data, progress=False)


def test_outputs_plot_has_one_colour_per_channel_and_a_legend(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rpgraph.train.plots import plot_outputs

    kept: list[Any] = []
    monkeypatch.setattr(plt, "close", kept.append)  # keep the figure to look at it
    y = np.random.RandomState(0).rand(2, 5, 3)
    plot_outputs(y, y + 1, tmp_path / "o.png", name="y1")
    ax = kept[0].axes[0]
    colours = [matplotlib.colors.to_hex(line.get_color()) for line in ax.get_lines()]
    assert colours[0::2] == colours[1::2]  # output and its target share a colour
    assert len(set(colours[0::2])) == 3  # one colour per channel
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "y1[0]", "target y1[0]", "y1[1]", "target y1[1]", "y1[2]", "target y1[2]"]
    assert (tmp_path / "o.png").stat().st_size > 0
