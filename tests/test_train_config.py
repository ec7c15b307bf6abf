"""The train block elaborated once into a typed config: values, defaults, and every mistake
as a located error (messages in full), without the trainer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optax
import pytest

import rpgraph
from rpgraph import ast
from rpgraph.errors import DataError, SpecError, SpecValueError
from rpgraph.graph import loads
from rpgraph.train_config import (
    DataSpec,
    OptimizerSpec,
    ScheduleSpec,
    TrainConfig,
    elaborate_train,
    open_data,
    optimizer_spec,
)

ROOT = Path(__file__).resolve().parents[1]
HEAD = ("network n (dt = 1 ms) {\n    input x : 2\n    output y : 2\n    x -> h: rate -> y\n}\n"
        "train {\n")


def config(body: str) -> TrainConfig | None:
    return elaborate_train(loads(HEAD + body + "}\n"))


def test_no_train_block_is_none_and_defaults_are_the_trainers() -> None:
    assert elaborate_train(loads(HEAD.split("train")[0])) is None
    empty = config("")
    assert empty == TrainConfig()
    assert (empty.data, empty.loss, empty.epochs, empty.batch_size, empty.seed,
            empty.checkpoint_every, empty.freeze) == (None, None, 100, 1, 0, None, ())
    assert empty.optimizer == optimizer_spec("adam(lr = 1e-3)")
    assert empty.optimizer.text == "adam(lr = 1e-3)"


def test_a_full_block_is_typed() -> None:
    c = config("    data = digits(encoding = rate, length = 10 * 2)\n"
               "    loss = mse(y, target) + bounds_cost\n"
               "    optimizer = adamw(lr = cosine_decay_schedule(init_value = 1e-3,"
               " decay_steps = 20), weight_decay = 1e-4)\n"
               "    epochs = 2 * 3\n    batch_size = 4\n    seed = 7\n"
               "    checkpoint_every = 5\n    freeze = [h.tau, *.bias]\n"
               '    test_data = "held_out.npz"\n')
    assert c is not None
    assert c.data == DataSpec("digits", (("encoding", "rate"), ("length", 20)),
                              text="digits(encoding = rate, length = 10 * 2)")
    assert c.test_data == DataSpec("npz", path="held_out.npz", text='"held_out.npz"')
    assert isinstance(c.loss, ast.BinOp)
    assert c.optimizer == OptimizerSpec(
        "adamw", (("learning_rate", ScheduleSpec("cosine_decay_schedule", (
            ("init_value", 0.001), ("decay_steps", 20)))), ("weight_decay", 0.0001)),
        "adamw(lr = cosine_decay_schedule(init_value = 1e-3, decay_steps = 20), "
        "weight_decay = 1e-4)")
    assert (c.epochs, c.batch_size, c.seed, c.checkpoint_every) == (6, 4, 7, 5)
    assert [r.text for r in c.freeze] == ["h.tau", "*.bias"]
    assert c.spans["epochs"].line == 10 and set(c.spans) == {
        "data", "loss", "optimizer", "epochs", "batch_size", "seed", "checkpoint_every",
        "freeze", "test_data"}
    assert isinstance(c.optimizer.build(), optax.GradientTransformation)


def test_early_stopping_spellings_are_one_rule() -> None:
    """``(patience = 5)`` is ``plateau(patience = 5)``; ``fmt`` keeps each spelling."""
    from rpgraph.fmt import format_spec
    from rpgraph.parse import parse
    from rpgraph.train_config import EarlyStopping

    val = "    validation = 0.5\n"
    for body in ("    early_stopping = (patience = 5, min_delta = 0.1)\n",
                 "    early_stopping = plateau(patience = 5, min_delta = 0.1)\n"):
        c = config(val + body)
        assert c is not None and c.early_stopping == EarlyStopping(5, 0.1)
        assert body.strip() in format_spec(parse(HEAD + val + body + "}\n"))
    assert config(val + "    early_stopping = 5\n").early_stopping == EarlyStopping(5)  # type: ignore[union-attr]


def test_time_values_use_the_networks_dt() -> None:
    c = config("    optimizer = sgd(lr = 2 * dt)\n")
    assert c is not None and c.optimizer.kwargs == (("learning_rate", 0.002),)


def test_overrides_are_checked() -> None:
    c = TrainConfig().override(epochs=0, batch_size=None, seed=3)
    assert (c.epochs, c.batch_size, c.seed) == (0, 1, 3)
    with pytest.raises(SpecValueError) as info:
        TrainConfig().override(batch_size=0)
    assert str(info.value) == "error: Expected batch_size >= 1, got 0"


MISTAKES = {
    "unknown_setting": ("    epoch = 3\n", (
        "<string>:7:5: error: unknown train setting 'epoch'\n"
        "        epoch = 3\n"
        "        ^^^^^^^^^\n"
        "hint: did you mean 'epochs'?")),
    "unknown_optimizer": ("    optimizer = adamm(lr = 1e-3)\n", (
        "<string>:7:17: error: unknown optimizer 'adamm'\n"
        "        optimizer = adamm(lr = 1e-3)\n"
        "                    ^^^^^\n"
        "hint: did you mean 'adam'?")),
    "not_an_optimizer": ("    optimizer = 3\n", (
        "<string>:7:17: error: Expected an optimizer such as adam(lr = 1e-4)\n"
        "        optimizer = 3\n"
        "                    ^")),
    "unknown_schedule": ("    optimizer = adam(lr = expo_decay(init_value = 1e-3))\n", (
        "<string>:7:27: error: unknown schedule 'expo_decay'\n"
        "        optimizer = adam(lr = expo_decay(init_value = 1e-3))\n"
        "                              ^^^^^^^^^^\n"
        "hint: did you mean 'exponential_decay'?")),
    "optimizer_argument": ("    optimizer = adam(lrr = 1e-3)\n", (
        "<string>:7:22: error: optimizer 'adam' has no argument 'lrr'\n"
        "        optimizer = adam(lrr = 1e-3)\n"
        "                         ^^^\n"
        "hint: did you mean 'lr'?")),
    "schedule_argument": ("    optimizer = adam(lr = exponential_decay(init = 1e-3))\n", (
        "<string>:7:45: error: 'exponential_decay' has no argument 'init'\n"
        "        optimizer = adam(lr = exponential_decay(init = 1e-3))\n"
        "                                                ^^^^\n"
        "hint: arguments: init_value, transition_steps, decay_rate, transition_begin, "
        "staircase, end_value")),
    "positional": ("    optimizer = sgd(1, 2, 3, 4, 5, 6)\n", (
        "<string>:7:17: error: optimizer 'sgd' takes at most 4 positional arguments\n"
        "        optimizer = sgd(1, 2, 3, 4, 5, 6)\n"
        "                    ^^^^^^^^^^^^^^^^^^^^^")),
    "optimizer_needs": ("    optimizer = adam\n", (
        "<string>:7:17: error: optimizer 'adam' needs argument 'learning_rate'\n"
        "        optimizer = adam\n"
        "                    ^^^^\n"
        "hint: write adam(learning_rate = ...)")),
    "schedule_needs": ("    optimizer = adam(lr = exponential_decay(init_value = 1e-3))\n", (
        "<string>:7:27: error: schedule 'exponential_decay' needs argument "
        "'transition_steps'\n"
        "        optimizer = adam(lr = exponential_decay(init_value = 1e-3))\n"
        "                              ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
        "hint: write exponential_decay(transition_steps = ...)")),
    "undefined": ("    optimizer = adam(lr = rate)\n", (
        "<string>:7:27: error: undefined name 'rate'\n"
        "        optimizer = adam(lr = rate)\n"
        "                              ^^^^")),
    "negative_epochs": ("    epochs = -1\n", (
        "<string>:7:14: error: Expected epochs >= 0, got -1\n"
        "        epochs = -1\n"
        "                 ^^")),
    "fractional_epochs": ("    epochs = 2.5\n", (
        "<string>:7:14: error: Expected an integer epochs, got the number 2.5\n"
        "        epochs = 2.5\n"
        "                 ^^^")),
    "time_batch": ("    batch_size = 2 ms\n", (
        "<string>:7:18: error: Expected an integer batch_size, got a time\n"
        "        batch_size = 2 ms\n"
        "                     ^^^^")),
    "zero_checkpoint": ("    checkpoint_every = 0\n", (
        "<string>:7:24: error: Expected checkpoint_every >= 1, got 0\n"
        "        checkpoint_every = 0\n"
        "                           ^")),
    "data_positional": ("    data = sinusoids(3)\n", (
        "<string>:7:12: error: data set 'sinusoids' takes keyword arguments only\n"
        "        data = sinusoids(3)\n"
        "               ^^^^^^^^^^^^\n"
        "hint: write sinusoids(name = value, ...)")),
    "unknown_dataset": ("    data = sinusoid(classes = 2)\n", (
        "<string>:7:12: error: unknown data set 'sinusoid'; known data sets: digits, "
        "encoded, events, nmnist, shd, sinusoids, ssc\n"
        "        data = sinusoid(classes = 2)\n"
        "               ^^^^^^^^^^^^^^^^^^^^^\n"
        "hint: did you mean 'sinusoids'?")),
    "unknown_dataset_name": ("    data = sinusoid\n", (
        "error: unknown data set 'sinusoid'; known data sets: digits, encoded, events, "
        "nmnist, shd, sinusoids, ssc\n"
        "hint: did you mean 'sinusoids'?")),
    "dataset_argument": ("    data = sinusoids(clases = 2)\n", (
        "<string>:7:12: error: dataset 'sinusoids' has no argument 'clases'; it accepts: "
        "classes, length, channels_in, channels_out, seed\n"
        "        data = sinusoids(clases = 2)\n"
        "               ^^^^^^^^^^^^^^^^^^^^^\n"
        "hint: did you mean 'classes'?")),
    "dataset_type": ("    data = sinusoids(classes = 2.5)\n", (
        "<string>:7:12: error: dataset 'sinusoids': argument 'classes' expects int, got "
        "float 2.5\n"
        "        data = sinusoids(classes = 2.5)\n"
        "               ^^^^^^^^^^^^^^^^^^^^^^^^")),
    "call_in_data_argument": ("    data = sinusoids(classes = f(2))\n", (
        "<string>:7:32: error: 'f(...)' is not allowed here; expected a value\n"
        "        data = sinusoids(classes = f(2))\n"
        "                                   ^^^^")),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_mistakes_are_located_errors(name: str) -> None:
    body, message = MISTAKES[name]
    with pytest.raises(SpecError) as info:
        config(body)
    assert str(info.value) == message
    # compiling elaborates the train block too, with the same message
    with pytest.raises(SpecError) as info:
        rpgraph.compile(HEAD + body + "}\n")
    assert str(info.value) == message


def test_data_is_only_read_when_opened(tmp_path: Path) -> None:
    spec = tmp_path / "s.rpg"
    spec.write_text(HEAD + '    data = "missing.npz"\n}\n', encoding="utf-8")
    net = rpgraph.load(spec)
    c = elaborate_train(net)  # no file access here
    assert c is not None and c.data == DataSpec("npz", path="missing.npz",
                                                text='"missing.npz"')
    with pytest.raises(DataError) as info:
        open_data(net, c)
    assert str(info.value).startswith(f"{spec}: error: data file 'missing.npz' ")


def test_opening_without_data_says_so() -> None:
    net = loads(HEAD + "    epochs = 1\n}\n")
    with pytest.raises(DataError) as info:
        open_data(net, elaborate_train(net))
    assert str(info.value) == ("error: no data: the spec's train block has no 'data' setting\n"
                               "hint: add 'data = sinusoids(...)' or pass --data FILE.npz")


def test_check_validates_the_train_block_without_the_trainer() -> None:
    code = ("import sys\nfrom rpgraph.cli import main\n"
            "assert main(['check', 'specs/tutorial_rate.rpg']) == 0\n"
            "assert 'rpgraph.train' not in sys.modules, 'the trainer was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "specs/tutorial_rate.rpg: ok\n"


# --- every optimizer the spec accepts runs (or is refused at check) ---------------------------


def test_every_optimizer_name_takes_a_training_step() -> None:
    """One tiny program, one jitted gradient; each optimizer's update (with the loss, as
    ``polyak_sgd`` needs) applied once, as the training step applies it."""
    import inspect

    import jax
    import jax.numpy as jnp

    from rpgraph.train.step import make_step
    from rpgraph.train_config import OPTIMIZERS

    prog = rpgraph.compile("network n { input x : 2\n output y : 2\n x -> linear(2) -> y }")
    params = prog.init(0)
    x, t = jnp.ones((1, 3, 2)), jnp.zeros((1, 3, 2))
    loss, grads = jax.jit(jax.value_and_grad(prog.loss))(params, x, t)
    for name in sorted(OPTIMIZERS):
        needs_lr = "learning_rate" in inspect.signature(OPTIMIZERS[name]).parameters
        spec = optimizer_spec(f"{name}(lr = 1e-2)" if needs_lr else name)
        tx = optax.with_extra_args_support(spec.build())
        updates, _ = tx.update(grads, tx.init(params), params, value=loss)
        new = optax.apply_updates(params, updates)
        assert all(bool(jnp.all(jnp.isfinite(a))) for a in jax.tree_util.tree_leaves(new)), name
    # and through the real step, for the one that needs the loss
    opt = optimizer_spec("polyak_sgd").build()
    step = jax.jit(make_step(prog, opt))
    new, _, step_loss, _ = step(params, opt.init(params), x, t)
    assert float(step_loss) == pytest.approx(float(loss))
