"""The objective built once: loss terms, bounds template, masks, and a bounds override that
reaches both projection and the loss's bounds terms without touching the compiled graph."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import rpgraph
import rpgraph.io.data
from rpgraph.bounds import bounds_cost
from rpgraph.errors import CheckpointError, SpecShapeError, SpecValueError
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


# --- loss terms over parameter globs, node outputs and recorded states ------------------------

SNN = """network s (dt = 1 ms) {
    input x : 3
    output y : 2
    x -> w_in: linear(4, weight = normal(1.0)) -> h: lif -> w_out: linear(2) -> y
}
train {
    loss = mse(y, target) + 0.5 * l2sqr(w_*.weight) + l1(h.*) + (rate(h) - 0.05) ** 2 +
        1e-3 * l2sqr(h.vmem)
    freeze = [h.tau_*]
}
"""


@pytest.fixture(scope="module")
def snn() -> rpgraph.Program:
    return rpgraph.compile(SNN)


def _mean_sq(*arrays: object) -> float:
    return float(np.mean([np.mean(np.asarray(a) ** 2) for a in arrays]))


def test_terms_over_globs_outputs_and_records(snn: rpgraph.Program) -> None:
    """Each term reads what its target names: ``w_*.weight`` the two weights, ``h.*`` every
    parameter of h, ``rate(h)`` h's spikes, ``h.vmem`` its recorded membrane."""
    params = snn.init(0)
    x = jnp.asarray(np.random.default_rng(1).uniform(size=(2, 30, 3)) * 2, jnp.float32)
    t = jnp.zeros((2, 30, 2))
    assert snn.objective.records
    terms = snn.loss_terms(params, x, t)
    assert list(terms) == ["mse(y, target)", "0.5 * l2sqr(w_*.weight)", "l1(h.*)",
                           "(rate(h) - 0.05) ** 2", "1e-3 * l2sqr(h.vmem)"]
    y, _, rec = snn.evolve(params, x, record=True)
    w = (params["w_in"]["weight"], params["w_out"]["weight"])
    h = params["h"]
    spikes = np.asarray(rec["h"]["spikes"])
    assert spikes.sum() > 0  # the rate term sees real spikes
    want = {
        "mse(y, target)": float(np.mean(np.asarray(y) ** 2)),
        "0.5 * l2sqr(w_*.weight)": 0.5 * _mean_sq(*w),
        "l1(h.*)": float(np.mean([np.mean(np.abs(np.asarray(h[k]))) for k in sorted(h)])),
        "(rate(h) - 0.05) ** 2": (float(spikes.mean()) - 0.05) ** 2,
        "1e-3 * l2sqr(h.vmem)": 1e-3 * _mean_sq(rec["h"]["vmem"]),
    }
    for k, v in want.items():
        assert float(terms[k]) == pytest.approx(v, rel=1e-5), k
    assert float(snn.loss(params, x, t)) == pytest.approx(sum(want.values()), rel=1e-5)
    # the rate term is differentiable (surrogate gradient) and reaches the input weights
    only_rate = rpgraph.compile(SNN.replace(
        "mse(y, target) + 0.5 * l2sqr(w_*.weight) + l1(h.*) + ", "").replace(
        " +\n        1e-3 * l2sqr(h.vmem)", ""))
    g = jax.grad(only_rate.loss)(params, x, t)
    assert float(jnp.abs(g["w_in"]["weight"]).sum()) > 0
    assert float(jnp.abs(g["w_out"]["weight"]).sum()) == 0.0


def test_freeze_takes_the_bounds_glob_syntax(snn: rpgraph.Program) -> None:
    assert snn.objective.frozen["h"] == {"bias": False, "tau_mem": True, "tau_syn": True,
                                         "threshold": False}


def test_python_loss_replaces_the_expression(snn: rpgraph.Program) -> None:
    """``fit(loss=fn)``: ``fn(outputs, target, params, records)`` is the loss the loop
    minimises and reports; every bounded parameter is then projected."""
    seen: dict[str, object] = {}

    def vmem_loss(outs: dict, target: object, params: dict, records: dict) -> object:
        seen["keys"] = (sorted(outs), sorted(records["h"]))
        return jnp.mean(records["h"]["vmem"] ** 2) + jnp.mean(outs["y"] ** 2)

    obj = make_objective(snn.network, loss=vmem_loss)
    assert obj.records and not any(jax.tree_util.tree_leaves(obj.penalised))
    assert obj.project["h"]["tau_mem"]  # the default floor, projected
    ds = rpgraph.io.data.sinusoids(classes=1, length=10, channels_in=3, channels_out=2)
    result = rpgraph.fit(snn, ds, epochs=2, loss=vmem_loss, progress=False,
                         optimizer="sgd(lr = 0.0)")
    assert seen["keys"] == (["y"], ["isyn", "output", "spikes", "vmem"])
    params = snn.init(0)
    x = jnp.asarray(ds.inputs[:1], jnp.float32)
    _, _, rec = snn.evolve(params, x, record=True)
    y, _, _ = snn.evolve(params, x)
    want = float(jnp.mean(rec["h"]["vmem"] ** 2) + jnp.mean(y ** 2))
    assert result.losses.tolist() == pytest.approx([want, want], rel=1e-5)
    assert result.metrics["loss"] == pytest.approx(want, rel=1e-5)


def test_python_loss_mistakes(snn: rpgraph.Program) -> None:
    with pytest.raises(SpecValueError) as info:
        make_objective(snn.network, loss=3)  # type: ignore[arg-type]
    assert str(info.value) == ("error: Expected loss to be a function fn(outputs, target, "
                               "params, records) -> scalar, got int")
    obj = make_objective(snn.network, loss=lambda o, t, p, r: o["y"])
    with pytest.raises(SpecShapeError) as err:
        obj.loss({"y": jnp.zeros((1, 4, 2))}, None, {}, {})
    assert str(err.value) == ("error: Expected the loss function to return a scalar, got an "
                              "array of shape (1, 4, 2)")


# --- bounds that cannot silently do nothing, and the floor of time constants --------------------

NET = "network n (dt = 1 ms) {\n    input x : 3\n    output y : 3\n    x -> h: rate -> y\n}\n"


@pytest.mark.parametrize(("extra", "modes"), [
    # no bounds term in the loss: the default mode is projection
    ("bounds {\n    h.bias in [-1, 1]\n}\n", ("project", True, False)),
    # a bounds term: the default mode is the penalty (Rockpool's tutorial)
    ("bounds {\n    h.bias in [-1, 1]\n}\ntrain {\n    loss = mse(y, target) + bounds_cost\n}\n",
     ("penalty", False, True)),
    ("bounds {\n    h.bias in [-1, 1] enforce both\n}\n", ("both", True, True)),
])
def test_the_default_enforcement_follows_the_loss(extra: str, modes: tuple) -> None:
    prog = rpgraph.compile(NET + extra)
    obj = prog.objective
    assert (prog.network.param("h.bias").enforce, obj.project["h"]["bias"],
            obj.penalised["h"]["bias"]) == modes


def test_time_constants_get_a_projected_floor() -> None:
    """Without a lower bound, ``h.tau`` keeps ``>= dt / 2``: a step that would drive it
    negative lands on the floor; a spec bound replaces the floor."""
    prog = rpgraph.compile(NET + "train {\n    loss = 1e3 * l1(h.tau)\n}\n")
    p = prog.network.param("h.tau")
    assert (p.lower, p.enforce, p.floor) == (0.0005, "project", True)
    opt = optax.sgd(1.0)
    params = prog.init(0)
    new, _, _, _ = make_step(prog, opt)(params, opt.init(params), jnp.ones((1, 4, 3)),
                                        jnp.zeros((1, 4, 3)))
    assert float(new["h"]["tau"][0]) == pytest.approx(0.0005, rel=1e-6)
    mine = rpgraph.compile(NET + "bounds {\n    h.tau >= 0.2 ms\n}\n").network.param("h.tau")
    assert (mine.lower, mine.floor) == (pytest.approx(2e-4), False)


def test_constrained_is_what_fit_applies() -> None:
    """The README's loop of one's own: ``rpgraph.constrained(opt, prog.objective)`` gives
    the same parameters as the fused training step."""
    prog = rpgraph.compile(NET + "bounds {\n    h.bias in [-0.01, 0.01]\n}\n"
                           "train {\n    freeze = [h.threshold]\n}\n")
    params = prog.init(0)
    x, t = jnp.ones((1, 5, 3)), jnp.full((1, 5, 3), 3.0)
    opt = optax.adam(0.1)
    tx = rpgraph.constrained(opt, prog.objective)
    grads = jax.grad(prog.loss)(params, x, t)
    mine, _ = jax.jit(tx.update)(grads, tx.init(params), params)
    fused, _, _, _ = make_step(prog, opt)(params, freeze(opt, prog.objective.frozen).init(
        params), x, t)
    for k in ("bias", "tau", "threshold"):
        np.testing.assert_array_equal(np.asarray(mine["h"][k]), np.asarray(fused["h"][k]))
    assert float(jnp.max(mine["h"]["bias"])) <= 0.01
    np.testing.assert_array_equal(np.asarray(mine["h"]["threshold"]),
                                  np.asarray(params["h"]["threshold"]))
