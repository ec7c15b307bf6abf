"""Ranges stated once where an argument is declared (rpgraph/ranges.py), and every place
that checks them: module kinds' ``arg()``, initialiser arguments, the integer train settings,
optax arguments (types from optax's signatures) and built-in data sets (``Annotated``
signatures). Each value here used to train silently with another meaning or end in an
internal error."""

from __future__ import annotations

import pytest

from rpgraph.errors import DataError, SpecError, SpecValueError
from rpgraph.graph import loads
from rpgraph.modules import KINDS
from rpgraph.optax_table import Param, params
from rpgraph.ranges import POSITIVE, SEED, Range, range_error, shown
from rpgraph.train_config import (
    ARG_RULES,
    OPTIMIZERS,
    SCHEDULES,
    TrainConfig,
    _check_optax_arg,
    elaborate_train,
)

HDR = "network n {\n    input x : 4\n    output y : 4\n"


def test_range_text_and_membership() -> None:
    assert Range(0, 1, hi_open=True).text("split") == "0 <= split < 1"
    assert not POSITIVE.contains(float("nan")) and not POSITIVE.contains(float("inf"))
    assert Range(0, float("inf")).contains(float("inf"))
    assert range_error("seed", 2**70, SEED) == "Expected 0 <= seed <= 4294967295, got 1.18e+21"
    assert range_error("x", 10**5000, POSITIVE) is None  # too large for a float, still > 0
    assert shown(-(10**5000)) == "-about 10^5000"


def test_every_time_constant_and_noise_declares_its_range() -> None:
    declared = {(k, a.name): a.range for k, kind in KINDS.items() for a in kind.args}
    for key in [("rate", "tau"), ("expsyn", "tau"), ("lif", "tau_mem"), ("lif", "tau_syn")]:
        assert declared[key] == POSITIVE, key
    for key in [("rate", "noise_std"), ("expsyn", "noise_std"), ("lif", "noise_std")]:
        assert declared[key] == Range(0), key


@pytest.mark.parametrize(("body", "message"), [
    ("rate(tau = -5 ms)", "'rate': Expected tau > 0, got -0.005 s"),
    ("rate(tau = 0 ms)", "'rate': Expected tau > 0, got 0 s"),
    ("rate(tau = uniform(-1 ms, 2 ms))", "'rate': Expected tau > 0, got -0.001 s"),
    ("expsyn(noise_std = -1)", "'expsyn': Expected noise_std >= 0, got -1"),
    ("lif(threshold = 0)", "'lif': Expected threshold > 0, got 0"),
    ("softmax(temperature = 0)", "'softmax': Expected temperature > 0, got 0"),
    ("linear(4, weight = normal(-1))", "initialiser 'normal': Expected std >= 0, got -1"),
    ("linear(4, weight = normal(0, -1))", "initialiser 'normal': Expected std >= 0, got -1"),
])
def test_module_arguments_out_of_range_are_refused(body: str, message: str) -> None:
    with pytest.raises(SpecValueError) as info:
        loads(HDR + f"    x -> {body} -> y\n}}\n")
    assert str(info.value).splitlines()[0].split(" error: ")[1] == message


def test_initialisers_without_known_bounds_are_accepted() -> None:
    loads(HDR + "    x -> rate(tau = normal(20 ms, 1 ms)) -> y\n}\n")


TRAIN = "network n {\n    input x : 4\n    output y : 4\n    x -> y\n}\ntrain {\n    "


@pytest.mark.parametrize(("body", "cls", "message"), [
    ("seed = 2**70", SpecValueError, "Expected seed <= 4294967295, got 1.18e+21"),
    ("epochs = -1", SpecValueError, "Expected epochs >= 0, got -1"),
    ('optimizer = adam(lr = "abc")', SpecValueError,
     "optimizer 'adam' argument 'learning_rate' expects a number or a schedule, got the "
     'string "abc"'),
    ("optimizer = adam(lr = 1e-3, b1 = 2)", SpecValueError,
     "optimizer 'adam': Expected 0 <= b1 <= 1, got 2"),
    ("optimizer = adam(lr = 1e-3, nesterov = 1)", SpecValueError,
     "optimizer 'adam' argument 'nesterov' expects true or false, got the number 1"),
    ("optimizer = noisy_sgd(lr = 0.1, seed = -1)", SpecValueError,
     "optimizer 'noisy_sgd': Expected 0 <= seed <= 4294967295, got -1"),
    ("optimizer = sgd(lr = cosine_decay_schedule(init_value = 1, decay_steps = -1))",
     SpecValueError, "'cosine_decay_schedule': Expected decay_steps >= 1, got -1"),
    ("optimizer = sgd(lr = cosine_decay_schedule(init_value = 1, decay_steps = 1.5))",
     SpecValueError, "'cosine_decay_schedule' argument 'decay_steps' expects an integer, got "
     "the number 1.5"),
    ("optimizer = sgd(lr = piecewise_constant_schedule(init_value = 1, boundaries_and_scales "
     "= [1]))", SpecValueError, "'piecewise_constant_schedule' argument "
     "'boundaries_and_scales' expects a list of [step, scale] pairs with distinct steps >= 0"
     " and scales >= 0, e.g. [[100, 0.1], [200, 0.1]], got the list [1]"),
    ("optimizer = sgd(lr = piecewise_constant_schedule(init_value = 1, boundaries_and_scales "
     "= [[5, -0.5]]))", SpecValueError, "'piecewise_constant_schedule' argument "
     "'boundaries_and_scales' expects a list of [step, scale] pairs with distinct steps >= 0"
     " and scales >= 0, e.g. [[100, 0.1], [200, 0.1]], got the list [[5, -0.5]]"),
    # every argument of every optimizer and schedule is checked before optax sees it
    ('optimizer = adam(lr = 1e-3, b1 = "x")', SpecValueError,
     "optimizer 'adam' argument 'b1' expects a number, got the string \"x\""),
    ("optimizer = adam(lr = 1e-3, b1 = true)", SpecValueError,
     "optimizer 'adam' argument 'b1' expects a number, got the boolean true"),
    ("optimizer = sgd(lr = 0.1, momentum = -1)", SpecValueError,
     "optimizer 'sgd': Expected 0 <= momentum <= 1, got -1"),
    ('optimizer = sgd(lr = cosine_decay_schedule(init_value = 1, decay_steps = 9, alpha = "a"))',
     SpecValueError, "'cosine_decay_schedule' argument 'alpha' expects a number, got the "
     'string "a"'),
    ("optimizer = adam(lr = -1e-3)", SpecValueError,
     "optimizer 'adam': Expected learning_rate >= 0, got -0.001"),
    ("optimizer = adamw(lr = 1e-3, weight_decay = -1)", SpecValueError,
     "optimizer 'adamw': Expected weight_decay >= 0, got -1"),
    ("optimizer = rmsprop(lr = 1e-3, initial_scale = -1)", SpecValueError,
     "optimizer 'rmsprop': Expected initial_scale >= 0, got -1"),
    ("optimizer = rprop(lr = 1e-3, eta_plus = 0.5)", SpecValueError,
     "optimizer 'rprop': Expected eta_plus >= 1, got 0.5"),
    ("optimizer = adam(lr = 1e-3, mu_dtype = 3)", SpecValueError,
     "optimizer 'adam' argument 'mu_dtype' expects a type name (float32, bfloat16, float16), "
     "got the number 3"),
    ("optimizer = adamw(lr = 1e-3, mask = 1)", SpecValueError,
     "optimizer 'adamw' argument 'mask' expects true or false, got the number 1"),
    ("optimizer = noisy_sgd(lr = 0.1, key = 1.5)", SpecValueError,
     "optimizer 'noisy_sgd' argument 'key' expects an integer seed (0 to 4294967295), got the "
     "number 1.5"),
    ("optimizer = sgd(lr = sgdr_schedule(cosine_kwargs = [1]))", SpecValueError,
     "'sgdr_schedule' argument 'cosine_kwargs' expects a list of "
     "warmup_cosine_decay_schedule(...) calls, one per cycle, got the list [1]"),
    ("optimizer = sgd(lr = linear_schedule(init_value = 0.1, end_value = -0.1, "
     "transition_steps = 10))", SpecValueError, "optimizer 'sgd': Expected learning_rate >= 0,"
     " got -0.1 (end_value of schedule 'linear_schedule')"),
    ("optimizer = sgd(lr = cosine_onecycle_schedule(transition_steps = 9, peak_value = 1, "
     "div_factor = 0))", SpecValueError,
     "'cosine_onecycle_schedule': Expected div_factor > 0, got 0"),
    ('optimizer = polyak_sgd(variant = "nope")', SpecValueError, "optimizer 'polyak_sgd' "
     "cannot run with these arguments: Invalid argument value for Polyak SGD: "
     "variant='nope'"),
    ("data = sinusoids(seed = -1)", DataError,
     "dataset 'sinusoids': Expected 0 <= seed <= 4294967295, got -1"),
    ("data = sinusoids(classes = 0)", DataError, "dataset 'sinusoids': Expected classes >= 1, "
     "got 0"),
    ("data = digits(split = 1.5)", DataError, "dataset 'digits': Expected 0 <= split < 1, got "
     "1.5"),
    ("data = digits(gain = -1)", DataError, "dataset 'digits': Expected gain >= 0, got -1"),
    ("data = digits(split = 0.999999)", DataError,
     "dataset 'digits': a split of 0.999999 leaves 0 of 1797 samples on one side; each side "
     "needs at least 10 (one per class)"),
])
def test_train_values_out_of_range_are_located_errors(body: str, cls: type[SpecError],
                                                      message: str) -> None:
    with pytest.raises(cls) as info:
        elaborate_train(loads(TRAIN + body + "\n}\n"))
    first = str(info.value).splitlines()[0]
    assert first.startswith("<string>:7:") and first.split(" error: ")[1] == message


@pytest.mark.parametrize(("given", "message"), [
    ({"seed": 10**23}, "Expected seed <= 4294967295, got 1e+23"),
    ({"epochs": 1.5}, "Expected epochs to be an integer, got float 1.5"),
    ({"batch_size": True}, "Expected batch_size to be an integer, got bool True"),
])
def test_overrides_are_typed_and_bounded(given: dict, message: str) -> None:
    with pytest.raises(SpecValueError) as info:
        TrainConfig().override(**given)
    assert str(info.value) == f"error: {message}"


@pytest.mark.parametrize("optimizer", [
    "adam(lr = 1e-3, mu_dtype = bfloat16)",
    'sgd(lr = 0.1, momentum = 0.9, accumulator_dtype = "float16")',
    "adamw(lr = 1e-3, mask = false)",
    "lars(lr = 1e-3, weight_decay_mask = false, trust_ratio_mask = true)",
    "noisy_sgd(lr = 0.1, key = 5)",
    "sgd(lr = piecewise_constant_schedule(init_value = 0.1, "
    "boundaries_and_scales = [[10, 0.5], [20, 0.1]]))",
    "sgd(lr = sgdr_schedule(cosine_kwargs = [warmup_cosine_decay_schedule(init_value = 0, "
    "peak_value = 0.1, warmup_steps = 2, decay_steps = 10), warmup_cosine_decay_schedule("
    "init_value = 0, peak_value = 0.05, warmup_steps = 2, decay_steps = 10)]))",
])
def test_arguments_without_a_checkable_annotation_are_written_as_the_spec_can(
        optimizer: str) -> None:
    """dtypes (names), masks (true/false), piecewise boundaries ([step, scale] pairs) and
    SGDR cycles (warmup_cosine_decay_schedule calls) are checked, then built for optax."""
    config = elaborate_train(loads(TRAIN + f"optimizer = {optimizer}\n}}\n"))
    assert config is not None
    config.optimizer.build()


def test_piecewise_boundaries_reach_optax_as_a_dict() -> None:
    config = elaborate_train(loads(TRAIN + "optimizer = sgd(lr = piecewise_constant_schedule("
                                   "init_value = 1, boundaries_and_scales = [[2, 0.5]]))\n}\n"))
    assert config is not None
    schedule = dict(config.optimizer.kwargs)["learning_rate"].build()
    assert [float(schedule(i)) for i in (0, 1, 2, 3)] == [1.0, 1.0, 0.5, 0.5]


def test_every_optimizer_and_schedule_argument_is_checked() -> None:
    """Each argument of each optimizer and schedule the spec accepts has a type the spec can
    check (from optax's signature) or a rule (:data:`ARG_RULES`): a new optax argument
    typed ``Any`` shows up here, not as an optax traceback at train time."""
    unchecked = [f"{name}.{p.name}" for reg in (OPTIMIZERS, SCHEDULES) for name in reg
                 for p in params(name) if "any" in p.accepts and p.name not in ARG_RULES]
    assert unchecked == []


def test_an_argument_the_spec_cannot_check_is_refused() -> None:
    p = Param("hook", "keyword", False, frozenset({"any"}))
    with pytest.raises(SpecValueError, match="argument 'hook' cannot be written in a spec"):
        _check_optax_arg("optimizer 'x'", p, 1, None)
    _check_optax_arg("optimizer 'x'", p, 1, None, strict=False)  # chain(...)'s transforms
