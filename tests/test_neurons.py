"""Spiking kinds beyond Rockpool's (``alif``, ``if``), the ``li`` readout and ``delay``
against independent numpy simulations; surrogate gradients against their formulas; spike
modes."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rpgraph
from rpgraph.graph import loads
from rpgraph.modules import KINDS
from rpgraph.modules.surrogates import SURROGATES, Surrogate, spike

DT = 1e-3


def run(name: str, values: dict[str, Any], params: dict[str, Any], x: Any,
        record: bool = False) -> tuple[Any, Any, Any]:
    kind = KINDS[name]
    cfg = kind.configure(values, dt=DT)
    b, _, n = x.shape
    state = kind.init_state(n, kind.size_out(n, cfg), cfg, b)
    return kind.scan(params, kind.prepare(params, cfg), state, jnp.asarray(x), None, cfg, record)


def by_step(name: str, values: dict[str, Any], params: dict[str, Any], x: Any) -> Any:
    """The same kind step by step (the path a node inside a recurrent loop takes)."""
    kind = KINDS[name]
    cfg = kind.configure(values, dt=DT)
    b, t, n = x.shape
    state = kind.init_state(n, kind.size_out(n, cfg), cfg, b)
    prep = kind.prepare(params, cfg)
    ys = []
    for i in range(t):
        state, y, _ = kind.step(params, prep, state, jnp.asarray(x[:, i]), None, cfg)
        ys.append(y)
    return np.stack([np.asarray(y) for y in ys], 1)


def f32(*a: float) -> Any:
    return np.asarray(a, np.float32)


# --- surrogates --------------------------------------------------------------------------------

# each derivative written again here, from the docstring's formula, in numpy
FORMULAS = {
    "pwl": lambda v, t, window: (v >= t - window) / t,
    "fast_sigmoid": lambda v, t, slope: 1 / (1 + slope * np.abs(v - t)) ** 2,
    "atan": lambda v, t, alpha: alpha / 2 / (1 + (np.pi / 2 * alpha * (v - t)) ** 2),
    "sigmoid": lambda v, t, slope: slope * np.exp(-slope * (v - t))
    / (1 + np.exp(-slope * (v - t))) ** 2,
    "triangle": lambda v, t, width: np.maximum(0, 1 - np.abs(v - t) / width) / width,
    "exponential": lambda v, t, slope: slope / 2 * np.exp(-slope * np.abs(v - t)),
}


@pytest.mark.parametrize("name", sorted(SURROGATES))
@pytest.mark.parametrize("binary", [False, True])
def test_surrogate_derivative_is_its_formula(name: str, binary: bool) -> None:
    assert set(FORMULAS) == set(SURROGATES)
    v = np.linspace(-1.5, 3.5, 41).astype(np.float32)
    thr = np.float32(1.3)
    for arg in (None, 0.7):
        given = {} if arg is None else {SURROGATES[name].args[0][0]: arg}
        s = Surrogate.make(name, given)
        value = dict(s.args)[SURROGATES[name].args[0][0]]
        grad = jax.vmap(jax.grad(lambda x, s=s: spike(x, jnp.float32(thr), s, binary)))(v)
        np.testing.assert_allclose(grad, FORMULAS[name](v, thr, value), rtol=1e-5, atol=1e-6)
    # the forward pass does not depend on the surrogate
    np.testing.assert_array_equal(spike(v, thr, s, binary), spike(v, thr, Surrogate.make("pwl"),
                                                                  binary))


def test_surrogate_threshold_tangent() -> None:
    v, thr = jnp.float32(1.1), jnp.float32(1.0)
    s = Surrogate.make("atan")
    assert float(jax.grad(lambda t: spike(v, t, s, True))(thr)) == pytest.approx(
        -FORMULAS["atan"](1.1, 1.0, 2.0), rel=1e-5)


def test_spike_modes_and_surrogate_arguments() -> None:
    v, thr = jnp.asarray(f32(0.5, 1.0, 2.5, 7.0)), jnp.ones(4)
    assert spike(v, thr).tolist() == [0, 1, 2, 7]
    assert spike(v, thr, Surrogate.make("pwl"), False, 3.0).tolist() == [0, 1, 2, 3]
    assert spike(v, thr, Surrogate.make("pwl"), True).tolist() == [0, 0, 1, 1]
    with pytest.raises(KeyError):
        Surrogate.make("atan", {"slope": 1.0})
    with pytest.raises(ValueError, match="alpha must be positive"):
        Surrogate.make("atan", {"alpha": 0.0})


def test_lif_binary_spikes_and_graph_shows_the_mode() -> None:
    x = np.full((1, 6, 2), 3.0, np.float32)
    p = {"tau_mem": jnp.full(2, 0.02), "tau_syn": jnp.full((2, 1), 0.02),
         "bias": jnp.zeros(2), "threshold": jnp.ones(2)}
    _, multi, _ = run("lif", {}, p, x)
    _, binary, _ = run("lif", {"spikes": "binary", "surrogate": Surrogate.make("atan")}, p, x)
    assert float(multi.max()) > 1 and set(np.unique(binary).tolist()) <= {0.0, 1.0}
    net = loads("network n { input x : 2\n output y : 2\n"
                " x -> a: lif(spikes = binary, surrogate = triangle(width = 0.5)) -> y }")
    assert ("    lif 'a' with shape (2,)  [LIFJax]  spikes = binary, "
            "surrogate = triangle(width = 0.5)") in net.summary().splitlines()


# --- alif ----------------------------------------------------------------------------------------


def alif_numpy(x: np.ndarray, p: dict[str, np.ndarray], binary: bool = True,
               w_rec: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """ALIF by the equations in rpgraph.modules.alif's docstring, in float64."""
    b_, t_, n = x.shape
    a = np.exp(-DT / p["tau_mem"])
    k = np.exp(-DT / p["tau_syn"])
    rho = np.exp(-DT / p["tau_adapt"])
    i = np.zeros((b_, n))
    v = np.zeros((b_, n))
    b = np.zeros((b_, n))
    s = np.zeros((b_, n))
    out, th = [], []
    for t in range(t_):
        i = k * (i + x[:, t] + (s @ w_rec if w_rec is not None else 0))
        v = a * v + i + p["bias"]
        theta = p["threshold"] + p["beta"] * b
        s = (v > theta) * 1.0 if binary else np.where(v >= theta, np.floor(v / theta), 0)
        v = v - s * theta
        b = rho * b + (1 - rho) * s
        out.append(s)
        th.append(theta)
    return np.stack(out, 1), np.stack(th, 1)


ALIF_P = {"tau_mem": f32(0.02, 0.01, 0.03), "tau_syn": f32(0.005, 0.002, 0.01),
          "tau_adapt": f32(0.1, 0.2, 0.05), "beta": f32(1.5, 0.5, 3.0),
          "threshold": f32(1.0, 0.8, 1.2), "bias": f32(0.0, 0.1, -0.1)}


@pytest.mark.parametrize("rec, spikes", [(False, "binary"), (True, "binary"),
                                         (False, "multi")])
def test_alif_matches_numpy(rec: bool, spikes: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 0.4, (2, 60, 3)).astype(np.float32)
    p = {k: jnp.asarray(v) for k, v in ALIF_P.items()}
    w = rng.normal(0, 0.5, (3, 3)).astype(np.float32)
    if rec:
        p["w_rec"] = jnp.asarray(w)
    values = {"rec": rec, "spikes": spikes}
    _, ys, rec_ = run("alif", values, p, x, record=True)
    want, theta = alif_numpy(x.astype(np.float64), {k: v.astype(np.float64)
                                                     for k, v in ALIF_P.items()},
                             spikes == "binary", w if rec else None)
    np.testing.assert_allclose(ys, want, atol=1e-6)
    assert want.sum() > 10  # the test exercises firing and adaptation
    np.testing.assert_allclose(ALIF_P["threshold"] + ALIF_P["beta"] * np.asarray(rec_["b"])[:, :-1],
                               theta[:, 1:], rtol=1e-4, atol=1e-5)
    # adaptation slows firing: beta = 0 fires more
    p0 = dict(p, beta=jnp.zeros(3))
    assert float(run("alif", values, p0, x)[1].sum()) > float(ys.sum())


def test_alif_gradient_matches_finite_differences_below_threshold() -> None:
    """Far below threshold the surrogate is 0 (pwl) or tiny: the gradient is the smooth
    membrane's, which finite differences check."""
    x = np.full((1, 20, 3), 0.02, np.float32)
    p = {k: jnp.asarray(v, jnp.float32) for k, v in ALIF_P.items()}
    p["bias"] = jnp.zeros(3)

    def loss(p: dict[str, Any]) -> Any:
        kind = KINDS["alif"]
        cfg = kind.configure({}, dt=DT)
        st = kind.init_state(3, 3, cfg, 1)
        _, _, rec = kind.scan(p, kind.prepare(p, cfg), st, jnp.asarray(x), None, cfg, True)
        return jnp.sum(rec["vmem"])

    g = jax.grad(loss)(p)
    for name in ("tau_mem", "tau_syn", "bias"):
        eps = 1e-4 if name != "bias" else 1e-3
        d = jnp.zeros(3).at[1].set(eps)
        fd = (loss(dict(p, **{name: p[name] + d})) - loss(dict(p, **{name: p[name] - d}))) / (
            2 * eps)
        assert float(g[name][1]) == pytest.approx(float(fd), rel=2e-2), name


def test_alif_surrogate_gradient_reaches_the_input() -> None:
    x = jnp.asarray(np.random.default_rng(1).uniform(0, 2, (1, 30, 3)).astype(np.float32))
    p = {k: jnp.asarray(v) for k, v in ALIF_P.items()}
    for surrogate in ("pwl", "fast_sigmoid", "atan"):
        cfg = {"surrogate": Surrogate.make(surrogate)}
        g = jax.grad(lambda x, cfg=cfg: jnp.sum(run("alif", cfg, p, x)[1]))(x)
        assert np.all(np.isfinite(g)) and float(jnp.abs(g).sum()) > 0, surrogate


# --- if, li, delay -------------------------------------------------------------------------------


@pytest.mark.parametrize("reset", ["subtract", "v_reset"])
def test_if_matches_numpy(reset: str) -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(-0.2, 1.0, (2, 40, 4)).astype(np.float32)
    r, thr, vr = f32(1.0, 0.5, 2.0, 1.5), f32(1.0, 1.0, 2.0, 0.7), f32(0, 0.2, -0.5, 0)
    p = {"r": jnp.asarray(r), "threshold": jnp.asarray(thr)}
    if reset == "v_reset":
        p["v_reset"] = jnp.asarray(vr)
    v = np.zeros((2, 4))
    want = []
    for t in range(40):
        v = v + r * x[:, t]
        s = (v > thr) * 1.0
        v = np.where(s > 0, vr, v) if reset == "v_reset" else v - s * thr
        want.append(s)
    ys = run("if", {"reset": reset}, p, x)[1]
    np.testing.assert_allclose(ys, np.stack(want, 1), atol=0)
    assert np.stack(want, 1).sum() > 10


def li_numpy(x: np.ndarray, tau: np.ndarray, r: np.ndarray, v_leak: np.ndarray) -> np.ndarray:
    """NIR LI, tau dv/dt = v_leak - v + r I, by forward Euler."""
    v = np.zeros(x.shape[::2])
    out = []
    for t in range(x.shape[1]):
        v = v + DT / tau * (v_leak - v + r * x[:, t])
        out.append(v)
    return np.stack(out, 1)


def test_li_matches_numpy_and_differs_from_expsyn() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (2, 50, 3)).astype(np.float32)
    tau, r, vl = f32(0.01, 0.02, 0.005), f32(1.0, 2.0, 0.5), f32(0.0, 0.3, -0.2)
    p = {"tau": jnp.asarray(tau), "r": jnp.asarray(r), "v_leak": jnp.asarray(vl)}
    ys = run("li", {}, p, x)[1]
    np.testing.assert_allclose(ys, li_numpy(x.astype(np.float64), tau, r, vl), rtol=1e-4,
                               atol=1e-5)
    ex = run("expsyn", {}, {"tau": jnp.asarray(tau)}, x)[1]
    assert float(jnp.abs(ys - ex).max()) > 0.1


def test_li_gradient_matches_finite_differences() -> None:
    x = jnp.asarray(np.random.default_rng(4).normal(0, 1, (1, 30, 2)).astype(np.float32))
    p = {"tau": jnp.asarray(f32(0.01, 0.02)), "r": jnp.ones(2), "v_leak": jnp.zeros(2)}

    def loss(p: dict[str, Any]) -> Any:
        return jnp.sum(run("li", {}, p, x)[1] ** 2)

    g = jax.grad(loss)(p)
    for name, eps in (("tau", 1e-4), ("r", 1e-2), ("v_leak", 1e-2)):
        d = jnp.zeros(2).at[0].set(eps)
        fd = (loss(dict(p, **{name: p[name] + d})) - loss(dict(p, **{name: p[name] - d}))) / (
            2 * eps)
        assert float(g[name][0]) == pytest.approx(float(fd), rel=1e-2), name


def test_delay_shifts_each_channel_and_step_equals_scan() -> None:
    from rpgraph.modules.base import Init
    x = np.random.default_rng(5).normal(0, 1, (2, 12, 3)).astype(np.float32)
    d = f32(0.0, 2e-3, 4.4e-3)  # 0, 2 and 4 steps
    values = {"d": Init("uniform", (0.0, 5e-3))}
    p = {"d": jnp.asarray(d)}
    want = np.zeros_like(x)
    for i, steps in enumerate((0, 2, 4)):
        want[:, steps:, i] = x[:, :x.shape[1] - steps, i]
    ys = run("delay", values, p, x)[1]
    np.testing.assert_array_equal(ys, want)
    np.testing.assert_array_equal(by_step("delay", values, p, x), want)
    # carried state: two halves give the same series as one run
    kind = KINDS["delay"]
    cfg = kind.configure(values, dt=DT)
    st = kind.init_state(3, 3, cfg, 2)
    prep = kind.prepare(p, cfg)
    st, y1, _ = kind.scan(p, prep, st, jnp.asarray(x[:, :5]), None, cfg, False)
    _, y2, _ = kind.scan(p, prep, st, jnp.asarray(x[:, 5:]), None, cfg, False)
    np.testing.assert_array_equal(np.concatenate([y1, y2], 1), want)


def _np_learned_delay(x: np.ndarray, d: np.ndarray, longest: int) -> np.ndarray:
    """Independent reference: ``y[t] = (1 - f) x[t - k] + f x[t - k - 1]`` with
    ``s = clip(d / dt, 0, longest)``, ``k = floor(s)``, ``f = s - k``; the past is 0."""
    b, t, n = x.shape
    padded = np.concatenate([np.zeros((b, longest + 1, n)), x.astype(np.float64)], axis=1)
    y = np.zeros((b, t, n))
    for i in range(n):
        s = min(max(float(d[i]) / DT, 0.0), float(longest))
        k = int(np.floor(s))
        f = s - k
        for step in range(t):
            now = step + longest + 1
            y[:, step, i] = (1 - f) * padded[:, now - k, i] + f * padded[:, now - k - 1, i]
    return y


def test_learned_delay_interpolates_between_steps_and_has_a_gradient() -> None:
    """``delay(d, learn = true)``: the delays are trainable; between whole steps the output
    is the linear interpolation of the two neighbouring steps (numpy reference), by scan
    and step by step; ``dL/dd`` equals its formula and finite differences."""
    from rpgraph.modules.base import Init

    x = np.random.default_rng(7).normal(0, 1, (2, 12, 4)).astype(np.float32)
    values = {"d": Init("uniform", (0.0, 5e-3)), "learn": True}
    d = f32(0.0, 1.25e-3, 3.5e-3, 5e-3)  # whole, a quarter, a half step, the longest
    want = _np_learned_delay(x, d, 5)
    p = {"d": jnp.asarray(d)}
    np.testing.assert_allclose(run("delay", values, p, x)[1], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(by_step("delay", values, p, x), want, rtol=1e-5, atol=1e-6)
    kind = KINDS["delay"]
    cfg = kind.configure(values, dt=DT)
    assert kind.params(4, 4, cfg)["d"].trainable
    assert not kind.params(4, 4, kind.configure({"d": values["d"]}, dt=DT))["d"].trainable
    # the gradient: dL/dd_i = sum_t w (x[t - k - 1] - x[t - k]) / dt (inside a step)
    w = np.random.default_rng(8).normal(0, 1, x.shape).astype(np.float32)
    d_in = f32(0.4e-3, 1.25e-3, 2.7e-3, 4.5e-3)

    def loss(dd: Any) -> Any:
        return jnp.sum(run("delay", values, {"d": dd}, x)[1] * w)

    grad = np.asarray(jax.grad(loss)(jnp.asarray(d_in)))
    eps = 1e-5
    up, down = (_np_learned_delay(x, d_in + sign * eps, 5) for sign in (1, -1))
    numeric = np.sum((up - down) * w, axis=(0, 1)) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-3)
    ref = np.zeros(4)
    for i, di in enumerate(d_in):
        k = int(np.floor(di / DT))
        shifted = _np_learned_delay(x, np.full(4, k * DT), 5)[..., i]
        older = _np_learned_delay(x, np.full(4, (k + 1) * DT), 5)[..., i]
        ref[i] = np.sum(w[..., i] * (older - shifted)) / DT
    np.testing.assert_allclose(grad, ref, rtol=1e-4)
    assert np.all(np.abs(grad) > 0)


NET = """network n (dt = 1 ms) {
  input x : 3
  output y : 2
  x -> linear(4) -> dl: delay(uniform(0 ms, 3 ms)) -> a: alif(rec = true) -> linear(2)
    -> r: li(tau = 10 ms) -> y
  x -> linear(2) -> f: if -> r
}
"""


@pytest.fixture(scope="module")
def net_prog() -> Any:
    net = loads(NET)
    return net, rpgraph.compile(net)


def test_network_with_new_kinds_compiles_trains_and_bounds(net_prog: Any) -> None:
    net, prog = net_prog
    params = prog.init(0)
    lower, upper = prog.bounds_template()
    assert set(lower["a"]) == {"tau_mem", "tau_syn", "tau_adapt", "beta", "threshold", "bias",
                               "w_rec"}
    assert set(lower["r"]) == {"tau", "r", "v_leak"} and set(lower["f"]) == {"r", "threshold"}
    assert not prog.parameter_info()["dl.d"]["trainable"]
    assert math.isinf(upper["dl"]["d"])
    x = jnp.ones((2, 10, 3))
    out = prog.evolve(params, x)[0]
    assert np.asarray(out).shape == (2, 10, 2) and np.all(np.isfinite(np.asarray(out)))
    lines = net.summary().splitlines()
    assert "    alif 'a' with shape (4,)  spikes = binary, surrogate = pwl(window = 0.5)" in lines
    assert "    delay 'dl' with shape (4,)" in lines and "    li 'r' with shape (2,)" in lines


def test_adaptation_parameters_of_the_wrong_shape_are_refused(net_prog: Any) -> None:
    _, prog = net_prog
    params = prog.init(0)
    params["a"]["beta"] = jnp.ones(3)
    with pytest.raises(rpgraph.SpecError) as err:
        prog.check_params(params)
    assert str(err.value) == "error: params 'a.beta' has shape (3,); expected (4,)"


def test_digits_rows_encoding_is_a_time_series() -> None:
    from sklearn.datasets import load_digits

    from rpgraph.io.data import digits

    ds = digits(encoding="rows", length=16, gain=1.0, split=0.0)
    assert ds.inputs.shape == (1797, 16, 8)
    images = load_digits().images / 16.0  # (N, 8, 8)
    # the samples are shuffled: find sample 0's image, then check each row is held 2 steps
    match = [i for i in range(len(images))
             if np.allclose(np.repeat(images[i], 2, axis=0), ds.inputs[0], atol=1e-6)]
    assert match and int(load_digits().target[match[0]]) == int(ds.labels[0])


def test_li_if_and_delay_export_to_nir_nodes() -> None:
    import nir

    net = loads("network n (dt = 1 ms) {\n input x : 2\n output y : 2\n"
                " x -> dl: delay(uniform(0 ms, 3 ms)) -> f: if(r = 0.5, reset = v_reset)"
                " -> linear(2) -> r: li(tau = 10 ms, r = 2) -> y\n}\n")
    prog = rpgraph.compile(net)
    params = prog.init(0)
    params["dl"]["d"] = jnp.asarray(f32(0.0012, 0.0026))
    graph = rpgraph.to_nir(prog, params, convention="nir")
    nodes = graph.nodes
    assert isinstance(nodes["dl"], nir.Delay) and isinstance(nodes["f"], nir.IF)
    assert isinstance(nodes["r"], nir.LI)
    np.testing.assert_allclose(nodes["dl"].delay, [0.001, 0.003])
    np.testing.assert_allclose(nodes["f"].r, [500.0, 500.0])  # r / dt
    np.testing.assert_allclose(nodes["r"].tau, [0.01, 0.01])
    np.testing.assert_allclose(nodes["r"].r, [2.0, 2.0])
    with pytest.raises(rpgraph.SpecError, match="reset = subtract"):
        sub = rpgraph.compile(loads("network n { input x : 2\n output y : 2\n x -> if -> y }"))
        rpgraph.to_nir(sub, sub.init(0), convention="nir")


def test_nir_delay_round_trip() -> None:
    """delay -> NIR Delay -> delay: same delays, same output."""
    net = loads("network n (dt = 1 ms) {\n input x : 3\n output y : 3\n"
                " x -> dl: delay(uniform(0 ms, 4 ms)) -> y\n}\n")
    prog = rpgraph.compile(net)
    params = prog.init(0)
    params["dl"]["d"] = jnp.asarray(f32(0.0, 0.002, 0.004))
    graph = rpgraph.to_nir(prog, params, convention="nir")
    back, bparams = rpgraph.from_nir(graph, dt=1e-3, convention="nir")
    x = np.random.default_rng(6).normal(0, 1, (10, 3)).astype(np.float32)
    bprog = rpgraph.compile(back)
    np.testing.assert_allclose(bprog.evolve(bparams, x)[0], prog.evolve(params, x)[0])
    assert "x -> dl: delay(uniform(0.0, 0.004)) -> y" in back.source


def test_learned_delay_in_a_network_trains_and_exports_rounded() -> None:
    """``learn = true`` in a spec: ``dl.d`` is trainable, the loss has a gradient in it
    through the compiled program, and the NIR export rounds (and says so)."""
    prog = rpgraph.compile("network n (dt = 1 ms) {\n input x : 2\n output y : 2\n"
                           " x -> dl: delay(uniform(0 ms, 3 ms), learn = true) -> y\n}\n")
    assert prog.parameter_info()["dl.d"]["trainable"]
    params = {"dl": {"d": jnp.asarray(f32(0.3e-3, 1.6e-3))}}
    x = jnp.asarray(np.random.default_rng(3).normal(0, 1, (1, 8, 2)).astype(np.float32))
    grad = jax.grad(lambda p: jnp.sum(prog.evolve(p, x)[0] * jnp.arange(16.0).reshape(
        1, 8, 2)))(params)
    assert np.all(np.abs(np.asarray(grad["dl"]["d"])) > 0)
    with pytest.warns(UserWarning, match="learned delays between whole steps"):
        graph = rpgraph.to_nir(prog, params, convention="nir")
    np.testing.assert_allclose(graph.nodes["dl"].delay, [0.0, 0.002])

