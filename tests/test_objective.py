"""The objective built once: loss terms, bounds template, masks, and a bounds override that
reaches both projection and the loss's bounds terms without touching the compiled graph."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import rpgraph
from rpgraph.bounds import bounds_cost
from rpgraph.errors import CheckpointError
from rpgraph.losses import mse
from rpgraph.objective import make_objective
from rpgraph.train import freeze, make_step

SPEC = """network n (dt = 1 ms) {
    input x : 3
    output y : 2
    x -> w: linear(4, weight = normal(0.1)) -> h: rate(tau = 20 ms) -> r: linear(2) -> y
}
bounds {
    enforce = project
    h.tau >= 10 ms
    h.threshold in [-1, 1] enforce both
    r.weight in [-2, 2] enforce penalty
}
train {
    loss = mse(y, target) + 10 * bounds_cost
    freeze = [h.bias]
}
"""


@pytest.fixture(scope="module")
def prog() -> rpgraph.Program:
    return rpgraph.compile(SPEC)


def test_masks_follow_the_spec(prog: rpgraph.Program) -> None:
    obj = prog.objective
    assert obj.lower["h"]["tau"] == 0.01 and obj.upper["h"]["tau"] == math.inf
    assert obj.project == {"w": {"weight": False}, "h": {"bias": False, "tau": True,
                                                         "threshold": True},
                           "r": {"weight": False}}
    assert obj.penalised == {"w": {"weight": False}, "h": {"bias": False, "tau": False,
                                                           "threshold": True},
                             "r": {"weight": True}}
    assert obj.frozen == {"w": {"weight": False}, "h": {"bias": True, "tau": False,
                                                        "threshold": False},
                          "r": {"weight": False}}
    # every tree has the template's layout (Rockpool's make_bounds order)
    lower, _ = prog.bounds_template()
    for tree in (obj.upper, obj.project, obj.penalised, obj.frozen):
        assert list(tree) == list(lower)
        assert all(list(tree[n]) == list(lower[n]) for n in lower)


def test_terms_equal_program_loss_terms_and_sum_to_the_loss(prog: rpgraph.Program) -> None:
    params = prog.init(0)
    params["h"]["tau"] = jnp.full_like(params["h"]["tau"], 0.005)  # below its bound
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 7, 3)), jnp.float32)
    t = jnp.zeros((2, 7, 2))
    y, _, _ = prog.evolve(params, x)
    obj = make_objective(prog.network)
    terms = obj.terms({"y": y}, t, params)
    assert list(terms) == ["mse(y, target)", "10 * bounds_cost"]
    got = prog.loss_terms(params, x, t)
    assert list(got) == list(terms)
    for k in terms:
        np.testing.assert_allclose(np.asarray(got[k]), np.asarray(terms[k]), rtol=1e-6)
    assert float(terms["10 * bounds_cost"]) > 1.0  # the spec's bound is counted
    np.testing.assert_allclose(float(terms["mse(y, target)"]), float(mse(y, t)), rtol=1e-6)
    total = sum(jnp.asarray(v, jnp.float32) for v in got.values())
    assert float(prog.loss(params, x, t)) == float(jnp.float32(total))
    loss, both = obj.loss_and_terms({"y": y}, t, params)
    assert float(loss) == float(obj.loss({"y": y}, t, params)) and list(both) == list(terms)


def test_a_bounds_override_reaches_projection_and_bounds_cost(prog: rpgraph.Program) -> None:
    lower, upper = prog.bounds_template()
    lower["h"]["tau"] = 0.05  # tighter than the spec's 10 ms
    lower["w"]["weight"], upper["w"]["weight"] = -0.01, 0.01  # unbounded in the spec
    obj = make_objective(prog.network, (lower, upper))
    assert obj.lower["h"]["tau"] == 0.05 and obj.lower["w"]["weight"] == -0.01
    # w.weight takes the bounds block's default mode (project), so it is now clipped
    assert obj.project["w"]["weight"] and not obj.penalised["w"]["weight"]
    params = prog.init(0)  # tau = 20 ms: inside the spec's bound, below the override
    outs = {"y": jnp.zeros((1, 4, 2))}
    t = jnp.zeros((1, 4, 2))
    want = 10 * float(bounds_cost(params, obj.lower, obj.upper))
    assert want > 0
    np.testing.assert_allclose(float(obj.terms(outs, t, params)["10 * bounds_cost"]), want,
                               rtol=1e-6)
    assert float(prog.objective.terms(outs, t, params)["10 * bounds_cost"]) == 0.0
    # the training step projects onto the override; the compiled network is untouched
    opt = optax.sgd(0.0)
    new, _, _, _ = make_step(prog, opt, objective=obj)(
        params, freeze(opt, obj.frozen).init(params), jnp.zeros((1, 4, 3)), t)
    assert float(jnp.min(new["h"]["tau"])) >= 0.05
    assert float(jnp.max(jnp.abs(new["w"]["weight"]))) <= 0.01
    assert prog.objective.lower["h"]["tau"] == 0.01
    assert prog.network.param("h.tau").lower == 0.01


def test_an_override_must_name_every_parameter(prog: rpgraph.Program) -> None:
    lower, upper = prog.bounds_template()
    del lower["h"]["tau"]
    with pytest.raises(CheckpointError) as info:
        make_objective(prog.network, (lower, upper))
    assert str(info.value) == "error: bounds file 'bounds' has no lower bound for 'h.tau'"


def test_repeated_terms_are_all_counted() -> None:
    prog = rpgraph.compile("network n { input x : 2\n output y : 2\n x -> linear(2) -> y }\n"
                           "train {\n loss = mse(y, target) + mse(y, target)\n}\n")
    params = prog.init(0)
    x, t = jnp.ones((1, 5, 2)), jnp.zeros((1, 5, 2))
    one = float(rpgraph.compile("network n { input x : 2\n output y : 2\n x -> linear(2) "
                                "-> y }").loss(params, x, t))
    assert float(prog.loss(params, x, t)) == pytest.approx(2 * one, rel=1e-6)
    opt = optax.sgd(0.0)
    _, _, loss, terms = make_step(prog, opt)(params, opt.init(params), x, t)
    assert float(loss) == float(prog.loss(params, x, t))
    assert list(terms) == ["mse(y, target)"]  # one name for both, for diagnostics


def test_default_loss_is_mse_of_the_first_output() -> None:
    prog = rpgraph.compile("network n { input x : 2\n output y : 2\n x -> y }")
    obj = prog.objective
    out = obj.terms({"y": jnp.ones((1, 3, 2))}, jnp.zeros((1, 3, 2)), {})
    assert list(out) == ["mse(y, target)"] and float(out["mse(y, target)"]) == 1.0
    assert obj.lower == obj.upper == obj.project == obj.penalised == obj.frozen == {}
