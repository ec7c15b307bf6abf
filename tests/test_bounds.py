"""Parameter bounds: templates in Rockpool's ``make_bounds`` layout, Rockpool's
``bounds_cost`` reproduced exactly, the continuous penalty, projection into the box, and the
JSON / Python forms of a template."""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rockpool.nn.combinators import Sequential
from rockpool.nn.modules import LinearJax, RateJax
from rockpool.training import jax_loss

import rpgraph
import rpgraph.io.data
from rpgraph import bounds
from rpgraph.errors import CheckpointError

INF = math.inf


@pytest.fixture(scope="module")
def seed_prog() -> rpgraph.Program:
    return rpgraph.compile("specs/tutorial_rate.rpg")


def test_template_matches_make_bounds(seed_prog: rpgraph.Program) -> None:
    lower, upper = seed_prog.bounds_template()
    assert lower == {"linear_0": {"weight": -INF},
                     "hidden": {"bias": -INF, "tau": 0.01, "threshold": -INF},
                     "linear_1": {"weight": -INF}}
    assert list(lower) == ["linear_0", "hidden", "linear_1"]  # data-flow order, as Rockpool
    net = Sequential(LinearJax((2000, 200)), RateJax(200, activation_func="tanh"),
                     LinearJax((200, 2)))
    r_lower, r_upper = jax_loss.make_bounds(net.parameters())
    r_lower["1_RateJax"]["tau"] = 10e-3
    names = dict(zip(r_lower, lower))
    assert {names[k]: v for k, v in r_lower.items()} == lower
    assert {names[k]: v for k, v in r_upper.items()} == upper
    assert [list(v) for v in r_lower.values()] == [list(v) for v in lower.values()]


def _random_tree(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any],
                                                    dict[str, Any]]:
    params: dict[str, Any] = {}
    lower: dict[str, Any] = {}
    upper: dict[str, Any] = {}
    for node in ("a", "b", "c"):
        params[node], lower[node], upper[node] = {}, {}, {}
        for leaf in ("w", "tau"):
            shape = tuple(rng.integers(1, 5, rng.integers(0, 3)))
            params[node][leaf] = jnp.asarray(rng.normal(0, 2, shape), jnp.float32)
            lo, hi = sorted(rng.normal(0, 1.5, 2))
            lower[node][leaf] = float(lo) if rng.random() < 0.7 else -INF
            upper[node][leaf] = float(hi) if rng.random() < 0.7 else INF
    return params, lower, upper


@pytest.mark.parametrize("seed", range(5))
def test_bounds_cost_equals_rockpool(seed: int) -> None:
    params, lower, upper = _random_tree(np.random.default_rng(seed))
    mine = bounds.bounds_cost(params, lower, upper)
    theirs = jax_loss.bounds_cost(params, lower, upper)
    np.testing.assert_allclose(float(mine), float(theirs), rtol=1e-6)


def test_bounds_cost_in_the_seed_loss(seed_prog: rpgraph.Program) -> None:
    lower, upper = seed_prog.bounds_template()
    params = seed_prog.init(0)
    assert float(bounds.bounds_cost(params, lower, upper)) == 0.0
    params["hidden"]["tau"] = params["hidden"]["tau"].at[:3].set(5e-3)
    np.testing.assert_allclose(float(bounds.bounds_cost(params, lower, upper)),
                               float(jax_loss.bounds_cost(params, lower, upper)), rtol=1e-6)
    np.testing.assert_allclose(float(bounds.bounds_cost(params, lower, upper)),
                               3 * math.exp(-(5e-3 - 10e-3)), rtol=1e-6)


def test_penalty_is_continuous_where_cost_jumps() -> None:
    eps = 1e-4
    lower, upper = {"h": {"tau": 0.01}}, {"h": {"tau": INF}}

    def at(v: float) -> dict[str, Any]:
        return {"h": {"tau": jnp.asarray([v], jnp.float32)}}

    inside, outside = at(0.01 + eps), at(0.01 - eps)
    cost_in = float(bounds.bounds_cost(inside, lower, upper))
    cost_out = float(bounds.bounds_cost(outside, lower, upper))
    assert cost_in == 0.0 and cost_out == pytest.approx(1.0, abs=1e-3)  # a jump of ~1
    pen_in = float(bounds.bounds_penalty(inside, lower, upper))
    pen_out = float(bounds.bounds_penalty(outside, lower, upper))
    assert pen_in == 0.0 and 0.0 < pen_out <= 2 * eps**2  # continuous: O(eps^2)
    assert float(bounds.bounds_penalty(at(0.01), lower, upper)) == 0.0
    upper2 = {"h": {"tau": 1.0}}
    assert float(bounds.bounds_penalty(at(3.0), {"h": {"tau": -INF}}, upper2)) == \
        pytest.approx(4.0)


TINY = float(np.finfo(np.float32).tiny)


@pytest.mark.parametrize("lo, hi", [(1e-41, 1.0), (-1.0, 1e-41), (-1e-41, 1.0), (-1.0, -1e-41)])
def test_project_handles_subnormal_bounds(lo: float, hi: float) -> None:
    params = {"n": {"w": jnp.asarray([-5.0, 0.0, 5.0], jnp.float32)}}
    out = np.asarray(bounds.project(params, {"n": {"w": lo}}, {"n": {"w": hi}})["n"]["w"])
    assert np.all(out >= np.float32(lo)) and np.all(out <= np.float32(hi)), out


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 3), max_size=2),
       # subnormal bounds have no float32 box under XLA's flush-to-zero when lower == upper;
       # test_project_handles_subnormal_bounds covers them
       lo=st.one_of(st.just(-INF), st.floats(-10, 10).filter(lambda v: v == 0 or abs(v) > TINY)),
       width=st.one_of(st.just(INF), st.floats(0, 10)),
       seed=st.integers(0, 2**31 - 1), masked=st.booleans())
def test_project_keeps_values_in_the_box(shape: list[int], lo: float, width: float,
                                         seed: int, masked: bool) -> None:
    hi = lo + width if lo > -INF else (width if width < INF else INF)
    rng = np.random.default_rng(seed)
    p = jnp.asarray(rng.normal(0, 20, shape), jnp.float32)
    params = {"n": {"w": p, "v": p}}
    lower = {"n": {"w": lo, "v": lo}}
    upper = {"n": {"w": hi, "v": hi}}
    mask = {"n": {"w": True, "v": not masked}}
    out = bounds.project(params, lower, upper, mask)
    w = np.asarray(out["n"]["w"])
    lo32, hi32 = np.float32(lo), np.float32(hi)
    assert w.shape == tuple(shape)
    assert np.all(w >= lo32) and np.all(w <= hi32)
    inside = (np.asarray(p) >= lo32) & (np.asarray(p) <= hi32)
    np.testing.assert_array_equal(w[inside], np.asarray(p)[inside])  # inside: untouched
    # a projected parameter costs nothing (float32 comparisons, as in the loss)
    assert float(bounds.bounds_cost({"w": out["n"]["w"]}, {"w": lo}, {"w": hi})) == 0.0
    if masked:
        np.testing.assert_array_equal(np.asarray(out["n"]["v"]), np.asarray(p))


def test_json_round_trip_with_infinities(seed_prog: rpgraph.Program) -> None:
    lower, upper = seed_prog.bounds_template()
    text = bounds.to_json(lower, upper)
    assert '"-inf"' in text and '"inf"' in text and "Infinity" not in text
    assert bounds.from_json(text) == (lower, upper)
    lower2 = {**lower, "hidden": {**lower["hidden"], "bias": -1.5}}
    assert bounds.from_json(bounds.to_json(lower2, upper)) == (lower2, upper)


def test_from_json_errors() -> None:
    with pytest.raises(CheckpointError) as err:
        bounds.from_json('{"lower": {}}', "b.json")
    assert str(err.value) == ("error: bounds file 'b.json' must hold an object with keys "
                              "'lower' and 'upper'")
    with pytest.raises(CheckpointError) as err:
        bounds.from_json('{"lower": {"h": {"tau": "big"}}, "upper": {}}', "b.json")
    assert str(err.value) == ("error: bounds file 'b.json': lower.h.tau must be a number, "
                              "\"inf\", \"-inf\" or a list of those, got 'big'")


def test_to_python_matches_the_seed_printout(seed_prog: rpgraph.Program) -> None:
    lower, upper = seed_prog.bounds_template()
    assert bounds.to_python(lower, upper) == (
        "from math import inf\n\n"
        "lower_bounds = {\n"
        "    'linear_0': {'weight': -inf},\n"
        "    'hidden': {'bias': -inf, 'tau': 0.01, 'threshold': -inf},\n"
        "    'linear_1': {'weight': -inf}\n"
        "}\n"
        "upper_bounds = {\n"
        "    'linear_0': {'weight': inf},\n"
        "    'hidden': {'bias': inf, 'tau': inf, 'threshold': inf},\n"
        "    'linear_1': {'weight': inf}\n"
        "}\n")


def test_check_like(seed_prog: rpgraph.Program) -> None:
    lower, upper = seed_prog.bounds_template()
    net = seed_prog.network
    bounds.check_like(lower, upper, net, "b.json")  # the template itself is fine
    cases = [
        ({k: v for k, v in lower.items() if k != "linear_0"}, upper,
         "error: bounds file 'b.json' has no lower bound for 'linear_0.weight'"),
        (lower, {**upper, "extra": {"w": 1.0}},
         "error: bounds file 'b.json' names 'extra.w', which is not a parameter of this "
         "network"),
        ({**lower, "hidden": {**lower["hidden"], "tau": 2.0}},
         {**upper, "hidden": {**upper["hidden"], "tau": 1.0}},
         "error: bounds file 'b.json': lower bound 2 of 'hidden.tau' is above its upper "
         "bound 1"),
    ]
    for lo, hi, message in cases:
        with pytest.raises(CheckpointError) as err:
            bounds.check_like(lo, hi, net, "b.json")
        assert str(err.value) == message


_KINDS = {
    "rate": ("rate(activation = tanh)", ["tau"]),
    "lif": ("lif(tau_syn = 5 ms)", ["tau_mem", "tau_syn"]),
    "expsyn": ("expsyn(tau = 20 ms)", ["tau"]),
}


@settings(max_examples=8, deadline=None, derandomize=True)
@given(kind=st.sampled_from(sorted(_KINDS)),
       width=st.integers(2, 6),
       lo_ms=st.floats(1.0, 5.0),
       hi_ms=st.floats(25.0, 60.0),
       w_hi=st.floats(1.3, 2.0),
       lr=st.sampled_from([0.05, 0.3, 1.0]),
       seed=st.integers(0, 3))
def test_projection_keeps_every_bounded_parameter_inside_during_training(
        kind: str, width: int, lo_ms: float, hi_ms: float, w_hi: float, lr: float,
        seed: int) -> None:
    """Hard enforcement as a property: random networks, boxes and (large, random) gradient
    steps; after every single update each bounded parameter is inside its box."""
    call, taus = _KINDS[kind]
    text = (
        f"network p (dt = 1 ms) {{\n    input x : 4\n    output y : {width}\n"
        f"    x -> w: linear({width}) -> h: {call} -> y\n}}\n"
        "bounds {\n    enforce = project\n"
        + "".join(f"    h.{t} in [{lo_ms} ms, {hi_ms} ms]\n" for t in taus)
        + f"    w.weight in [-{w_hi}, {w_hi}]\n}}\n"
        f"train {{\n    optimizer = sgd(lr = {lr})\n    epochs = 2\n}}\n"
    )
    prog = rpgraph.compile(text)
    lower, upper = prog.bounds_template()
    rng = np.random.RandomState(seed)
    data = rpgraph.io.data.Dataset(rng.randn(3, 15, 4).astype(np.float32) * 5,
                                targets=rng.randn(3, 15, width).astype(np.float32) * 10)
    seen: list[int] = []

    def check(step: int, params: Any) -> None:
        seen.append(step)
        for node, leaves in lower.items():
            for name, lo in leaves.items():
                p = np.asarray(params[node][name])
                assert np.all(p >= lo) and np.all(p <= upper[node][name]), (node, name, step)

    rpgraph.fit(prog, data, chunk=1, progress=False, callback=check, seed=seed)
    assert seen == list(range(1, 7))


# --- runnable Python, per-element bounds, hostile JSON ----------------------------------------


def test_python_format_runs_and_gives_the_template(tmp_path: Any) -> None:
    """``rpgraph bounds --format python`` prints Python that runs in a fresh interpreter and
    holds the template's values (per-element bounds as lists)."""
    import subprocess
    import sys

    from tests.test_reliability import run_cli

    spec = tmp_path / "s.rpg"
    spec.write_text("network n (dt = 1 ms) {\n input x : 2\n output y : 2\n"
                    " x -> h: rate -> y\n}\nbounds {\n h.bias in [-1, 1]\n}\n",
                    encoding="utf-8")
    rc, out, err = run_cli(["bounds", str(spec), "--format", "python"], tmp_path)
    assert rc == 0, err
    code = out + "import json\nprint(json.dumps([lower_bounds, upper_bounds]))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    lower, upper = __import__("json").loads(done.stdout.replace("Infinity", "1e999"))
    assert lower == {"h": {"bias": -1.0, "tau": 0.0005, "threshold": -INF}}
    assert upper == {"h": {"bias": 1.0, "tau": INF, "threshold": INF}}
    text = bounds.to_python({"h": {"w": np.array([0.0, -INF])}}, {"h": {"w": INF}})
    assert "'w': [0.0, -inf]" in text and compile(text, "<bounds>", "exec")


def test_per_element_bounds_in_json_and_the_objective(seed_prog: rpgraph.Program) -> None:
    """A bound may be an array shaped like its parameter: read from JSON, checked, used by
    projection and the penalties element by element."""
    from rpgraph.objective import make_objective

    net = seed_prog.network
    lower, upper = seed_prog.bounds_template()
    tau_lo = np.linspace(0.01, 0.03, 200)
    lower["hidden"]["tau"] = tau_lo.tolist()
    text = bounds.to_json(lower, upper)
    lo2, up2 = bounds.from_json(text, "b.json")
    np.testing.assert_array_equal(lo2["hidden"]["tau"], tau_lo)
    obj = make_objective(net, (lo2, up2))
    p = {"hidden": {"tau": jnp.full(200, 0.02, jnp.float32)}}
    below = tau_lo > 0.02
    want = float(np.sum((tau_lo[below] - 0.02) ** 2))
    got = bounds.bounds_penalty(p, {"hidden": {"tau": obj.lower["hidden"]["tau"]}},
                                {"hidden": {"tau": INF}})
    assert float(got) == pytest.approx(want, rel=1e-4)
    cost = bounds.bounds_cost(p, {"hidden": {"tau": obj.lower["hidden"]["tau"]}},
                              {"hidden": {"tau": INF}})
    assert float(cost) == pytest.approx(float(np.sum(np.exp(-(0.02 - tau_lo[below])))),
                                        rel=1e-5)
    clipped = bounds.project(p, {"hidden": {"tau": obj.lower["hidden"]["tau"]}},
                             {"hidden": {"tau": INF}})["hidden"]["tau"]
    assert np.all(np.asarray(clipped, np.float64) >= tau_lo)
    assert np.all(np.asarray(clipped)[~below] == np.float32(0.02))
    # a wrong shape, a NaN and a crossing are refused by check_like
    bad = {**lower, "hidden": {**lower["hidden"], "tau": [0.01, 0.02]}}
    with pytest.raises(CheckpointError) as info:
        bounds.check_like(bad, upper, net, "b.json")
    assert str(info.value) == ("error: bounds file 'b.json': the lower bound of 'hidden.tau' "
                               "has shape (2,); expected a number or an array of shape (200,)")
    cross = {**upper, "hidden": {**upper["hidden"], "bias": np.r_[np.ones(199), -1.0]}}
    lo3 = {**lower, "hidden": {**lower["hidden"], "bias": np.zeros(200)}}
    with pytest.raises(CheckpointError) as info:
        bounds.check_like(lo3, cross, net, "b.json")
    assert str(info.value) == ("error: bounds file 'b.json': lower bound 0 of "
                               "'hidden.bias[199]' is above its upper bound -1")


def test_fit_takes_per_element_bounds() -> None:
    """``fit(bounds=...)`` with an array leaf projects each element onto its own box."""
    prog = rpgraph.compile("network n (dt = 1 ms) {\n input x : 2\n output y : 2\n"
                           " x -> w: linear(2, weight = constant(0.5)) -> y\n}\n")
    lower, upper = prog.bounds_template()
    lower["w"]["weight"] = np.array([[0.0, 0.0], [0.0, 0.0]])
    upper["w"]["weight"] = np.array([[0.1, 0.2], [0.3, 0.4]])
    result = rpgraph.fit(prog, rpgraph.io.data.sinusoids(classes=1, length=5,
                                                         channels_in=2, channels_out=2),
                         epochs=1, bounds=(lower, upper), progress=False,
                         optimizer="sgd(lr = 0.0)")
    np.testing.assert_allclose(np.asarray(result.params["w"]["weight"]),
                               [[0.1, 0.2], [0.3, 0.4]], rtol=1e-6)


@pytest.mark.parametrize(("text", "message"), [
    ('{"lower": {"h": {"tau": NaN}}, "upper": {}}',
     "error: bounds file 'b.json': NaN is not a bound\n"
     'hint: leave a side unbounded with "inf" or "-inf"'),
    ('{"lower": {"h": {"tau": ' + "7" * 5000 + '}}, "upper": {}}',
     "error: bounds file 'b.json': a number of 5000 characters (777777777777...) is too long\n"
     'hint: write bounds as ordinary numbers, or "inf"'),
    ('{"lower": {"h": {"tau": 1e999}}, "upper": {}}',
     "error: bounds file 'b.json': number 1e999 is too large\n"
     'hint: write an infinite bound as "inf" or "-inf"'),
    ('{"lower": ' + "[" * 100_000 + "]" * 100_000 + ', "upper": {}}',
     "error: bounds file 'b.json' is nested too deeply\n"
     'hint: a bounds file is {"lower": {node: {param: value}}, "upper": ...}'),
    ('{"lower": {"h": {"tau": [[1], [2, 3]]}}, "upper": {}}',
     "error: bounds file 'b.json': lower.h.tau is a ragged list; a per-element bound has its "
     "parameter's shape"),
])
def test_hostile_bounds_json_is_a_clean_error(text: str, message: str) -> None:
    with pytest.raises(CheckpointError) as info:
        bounds.from_json(text, "b.json")
    assert str(info.value) == message


def test_cli_shows_the_floor_and_trains_with_per_element_bounds(tmp_path: Any) -> None:
    """``rpgraph bounds`` lists a time constant's default floor; ``rpgraph train --bounds``
    takes a JSON whose bound is a list shaped like its parameter."""
    import json

    from tests.test_reliability import run_cli

    spec = tmp_path / "s.rpg"
    spec.write_text("network n (dt = 1 ms) {\n input x : 2\n output y : 2\n"
                    " x -> w: linear(2, weight = constant(0.5)) -> h: rate -> y\n}\n"
                    "train {\n data = sinusoids(classes = 1, length = 5, channels_in = 2,"
                    " channels_out = 2)\n optimizer = sgd(lr = 0.0)\n epochs = 1\n}\n",
                    encoding="utf-8")
    rc, out, err = run_cli(["bounds", str(spec)], tmp_path)
    assert rc == 0, err
    assert "h.tau        (2,)    taus        0.0005  inf    project (default floor)" in \
        out.splitlines()
    rc, out, err = run_cli(["bounds", str(spec), "--format", "json", "-o", "b.json"], tmp_path)
    assert rc == 0, err
    data = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    data["lower"]["w"]["weight"] = [[0, 0], [0, 0]]
    data["upper"]["w"]["weight"] = [[0.1, 0.2], [0.3, 0.4]]
    (tmp_path / "b.json").write_text(json.dumps(data), encoding="utf-8")
    rc, out, err = run_cli(["train", str(spec), "--bounds", "b.json", "--out", "run",
                            "--quiet", "--no-plots"], tmp_path)
    assert rc == 0, err
    with np.load(tmp_path / "run" / "params.npz") as npz:
        weights = [npz[k] for k in npz.files if npz[k].shape == (2, 2)]
    np.testing.assert_allclose(weights[0], [[0.1, 0.2], [0.3, 0.4]], rtol=1e-6)
    saved = json.loads((tmp_path / "run" / "bounds.json").read_text(encoding="utf-8"))
    assert saved["upper"]["w"]["weight"] == [[0.1, 0.2], [0.3, 0.4]]
