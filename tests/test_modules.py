"""Module kinds against the real Rockpool 3.1 Jax modules: outputs, states, traces,
gradients (including the LIF surrogate), noise, initialisers, and associative scans."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from rockpool.nn.modules import ExpSynJax, InstantJax, LIFJax, LinearJax, RateJax
from rockpool.training import jax_loss

from rpgraph.modules import KINDS, Init, KindConfig
from rpgraph.modules.base import linear_recurrence

DT = 1e-3
T = 50
RTOL, ATOL = 1e-5, 1e-6


def close(a: Any, b: Any, rtol: float = RTOL, atol: float = ATOL) -> None:
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def grads_close(ga: dict[str, Any], gb: dict[str, Any]) -> None:
    assert set(ga) == set(gb), (set(ga), set(gb))
    for k in ga:
        a, b = np.asarray(ga[k]), np.asarray(gb[k]).reshape(np.shape(ga[k]))
        scale = max(1.0, float(np.max(np.abs(b))))
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * scale, err_msg=k)


def conf(name: str, values: dict[str, Any]) -> KindConfig:
    """Kind ``name``'s config from argument values, plus ``dt`` (default ``DT``),
    ``assoc_scan`` and ``unroll`` when given."""
    values = dict(values)
    options = {k: values.pop(k) for k in ("dt", "assoc_scan", "unroll") if k in values}
    return KINDS[name].configure(values, **{"dt": DT, **options})


def run(name: str, cfg: dict[str, Any], params: dict[str, Any], x: Any, noise: Any = None,
        record: bool = True, state: dict[str, Any] | None = None) -> tuple[Any, Any, Any]:
    """Our kind's whole-sequence evaluation (prepared as the compiler does), from zero state
    unless given."""
    kind, c = KINDS[name], conf(name, cfg)
    b, _, n_in = x.shape
    if state is None:
        state = kind.init_state(n_in, kind.size_out(n_in, c), c, b)

    # one compiled program per call: eager dispatch compiles every small op of an
    # associative scan on its own, which costs seconds per test
    @jax.jit
    def go(params: Any, state: Any, x: Any, noise: Any) -> Any:
        return kind.scan(params, kind.prepare(params, c), state, x, noise, c, record)

    return go(params, state, x, noise)


def rp_params(mod: Any) -> dict[str, Any]:
    return {k: jnp.asarray(v, jnp.float32) for k, v in mod.parameters().items()}


def rp_noise(mod: Any, shape: tuple[int, ...]) -> Any:
    """The standard-normal draws a Rockpool module uses in its next evolve."""
    _, sub = jax.random.split(mod.rng_key)
    return jax.random.normal(sub, shape=shape)


def rp_grads(mod: Any, x: Any, w: Any) -> tuple[dict[str, Any], Any]:
    def loss(p: Any, x: Any) -> Any:
        out, _, _ = mod.set_attributes(p)(x)
        return jnp.sum(out * w) + jnp.mean(out**2)

    return jax.grad(loss, argnums=(0, 1))(mod.parameters(), x)


def our_grads(name: str, cfg: dict[str, Any], params: Any, x: Any, w: Any,
              noise: Any = None) -> tuple[dict[str, Any], Any]:
    def loss(p: Any, x: Any) -> Any:
        _, out, _ = run(name, cfg, p, x, noise, record=False)
        return jnp.sum(out * w) + jnp.mean(out**2)

    return jax.jit(jax.grad(loss, argnums=(0, 1)))(params, x)


def inputs(b: int, n: int, scale: float = 1.0, seed: int = 0) -> Any:
    return scale * jax.random.normal(jax.random.PRNGKey(seed), (b, T, n))


# --- linear and instant kinds ----------------------------------------------------------------


@pytest.mark.parametrize("has_bias", [False, True])
def test_linear_matches_rockpool(has_bias: bool) -> None:
    mod = LinearJax((4, 3), has_bias=has_bias)
    params = rp_params(mod)
    cfg = conf("linear", {"out": 3, "bias": has_bias})
    kind = KINDS["linear"]
    assert set(kind.params(4, 3, cfg)) == set(params)
    for b in (1, 3):
        x = inputs(b, 4)
        close(kind.apply(params, x, cfg), mod(x)[0])
        w = inputs(b, 3, seed=1)
        mine = jax.grad(lambda p, x, w: jnp.sum(kind.apply(p, x, cfg) * w), (0, 1))(
            params, x, w)
        theirs = jax.grad(lambda p, x, w: jnp.sum(mod.set_attributes(p)(x)[0] * w), (0, 1))(
            mod.parameters(), x, w)
        grads_close(mine[0], theirs[0])
        close(mine[1], theirs[1], atol=1e-5)
    close(kind.apply(params, inputs(1, 4)[0], cfg), mod(inputs(1, 4)[0])[0])


def test_linear_params_and_init() -> None:
    kind = KINDS["linear"]
    specs = kind.params(50, 7, conf("linear", {"out": 7, "bias": True}))
    assert specs["weight"].shape == (50, 7) and specs["weight"].family == "weights"
    assert specs["bias"].shape == (7,) and specs["bias"].family == "biases"
    w = specs["weight"].init(jax.random.PRNGKey(0), (50, 7))
    lim = np.sqrt(6 / 50)
    assert float(jnp.max(jnp.abs(w))) <= lim and float(jnp.max(jnp.abs(w))) > 0.8 * lim
    b = specs["bias"].init(jax.random.PRNGKey(1), (7,))
    assert float(jnp.max(jnp.abs(b))) <= np.sqrt(1 / 7)
    assert "bias" not in kind.params(50, 7, conf("linear", {"out": 7, "bias": False}))
    cfg = conf("linear", {"out": 7, "bias": Init("normal", (0.1,))})
    assert kind.params(50, 7, cfg)["bias"].init == Init("normal", (0.1,))
    assert kind.size_out(50, conf("linear", {"out": 7})) == 7


@pytest.mark.parametrize(
    "name, fn, cfg",
    [
        ("tanh", jnp.tanh, {}),
        ("relu", jax.nn.relu, {}),
        ("sigmoid", jax.nn.sigmoid, {}),
        ("softplus", jax.nn.softplus, {}),
        ("identity", lambda x: x, {}),
        ("exp", jnp.exp, {}),
        ("leaky_relu", lambda x: jax.nn.leaky_relu(x, 0.2), {"slope": 0.2}),
    ],
)
def test_instant_matches_rockpool(name: str, fn: Any, cfg: dict[str, Any]) -> None:
    mod = InstantJax(5, fn)
    kind, cfg = KINDS[name], conf(name, cfg)
    assert not kind.stateful and kind.size_out(5, cfg) == 5
    x = inputs(3, 5)
    close(kind.apply({}, x, cfg), mod(x)[0])
    g = jax.grad(lambda x: jnp.sum(kind.apply({}, x, cfg) ** 2))(x)
    close(g, jax.grad(lambda x: jnp.sum(mod(x)[0] ** 2))(x), atol=1e-5)


@pytest.mark.parametrize("name", ["softmax", "logsoftmax"])
@pytest.mark.parametrize("temperature", [0.5])
def test_softmax_kinds_per_time_step(name: str, temperature: float) -> None:
    kind = KINDS[name]
    ref = getattr(jax_loss, name)
    x = inputs(3, 6, scale=5.0)
    cfg = conf(name, {"temperature": temperature})
    want = jax.vmap(jax.vmap(lambda v: ref(v, temperature)))(x)
    close(kind.apply({}, x, cfg), want, atol=1e-5)
    w = inputs(3, 6, seed=2)
    g = jax.grad(lambda x: jnp.sum(kind.apply({}, x, cfg) * w))(x)
    g_ref = jax.grad(lambda x: jnp.sum(jax.vmap(jax.vmap(lambda v: ref(v, temperature)))(x) * w))
    close(g, g_ref(x), atol=1e-5)
    # stable for huge logits
    assert bool(jnp.all(jnp.isfinite(kind.apply({}, x * 1e4, cfg))))


# --- rate ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "activation, rec", [("tanh", False), ("relu", False), ("tanh", True), ("sigmoid", True)]
)
def test_rate_matches_rockpool(activation: str, rec: bool) -> None:
    n = 6
    rng = np.random.default_rng(0)
    mod = RateJax(n, tau=jnp.asarray(rng.uniform(5e-3, 30e-3, n), jnp.float32),
                  bias=jnp.asarray(rng.normal(0, 0.3, n), jnp.float32),
                  threshold=jnp.asarray(rng.normal(0, 0.2, n), jnp.float32),
                  has_rec=rec, activation_func=activation, dt=DT)
    params = rp_params(mod)
    cfg = {"activation": activation, "rec": rec, "noise_std": 0.0}
    kind = KINDS["rate"]
    assert set(kind.params(n, n, conf("rate", cfg))) == set(params)
    assert kind.record_keys(conf("rate", cfg)) == (("x", "rec_input") if rec else ("x",))
    for b in (3,):
        x = inputs(b, n, scale=2.0)
        out, state, rec_rp = mod(x, record=True)
        s, y, tr = run("rate", cfg, params, x)
        close(y, out)
        close(s["x"][0], state["x"])
        close(tr["x"], rec_rp["x"])
        if rec:
            close(tr["rec_input"], rec_rp["rec_input"])
        close(kind.output(params, s, conf("rate", cfg)), y[:, -1])
        w = inputs(b, n, seed=3)
        mine, theirs = our_grads("rate", cfg, params, x, w), rp_grads(mod, x, w)
        grads_close(mine[0], theirs[0])
        close(mine[1], theirs[1], atol=1e-4)
    # unbatched Rockpool input == our B = 1
    x1 = inputs(1, n, scale=2.0)
    close(run("rate", cfg, params, x1)[1][0], mod(x1[0])[0].reshape(T, n))


def test_rate_noise_identical_draws() -> None:
    n, b = 4, 2
    mod = RateJax(n, noise_std=0.5, activation_func="tanh", dt=DT)
    params = rp_params(mod)
    cfg = {"activation": "tanh", "rec": False, "noise_std": 0.5}
    kind = KINDS["rate"]
    assert kind.noise_shape(n, n, conf("rate", cfg)) == (n,)
    assert kind.noise_shape(n, n, conf("rate", {**cfg, "noise_std": 0.0})) is None
    x = inputs(b, n)
    z = rp_noise(mod, x.shape)
    out, _, _ = mod(x)
    close(run("rate", cfg, params, x, z)[1], out, atol=1e-5)
    close(run("rate", {**cfg, "assoc_scan": True}, params, x, z)[1], out, atol=1e-5)


def test_rate_params_and_init() -> None:
    kind = KINDS["rate"]
    specs = kind.params(64, 64, conf("rate", {"rec": True}))
    assert {k: (s.shape, s.family) for k, s in specs.items()} == {
        "tau": ((64,), "taus"), "bias": ((64,), "biases"),
        "threshold": ((64,), "thresholds"), "w_rec": ((64, 64), "weights")}
    key = jax.random.PRNGKey(0)
    assert float(specs["tau"].init(key, (64,))[0]) == pytest.approx(20e-3)
    w = specs["w_rec"].init(key, (64, 64))
    assert float(jnp.std(w)) == pytest.approx(1 / 8, rel=0.1)
    assert "w_rec" not in kind.params(8, 8, conf("rate", {"rec": False}))
    tau = Init("constant", (0.05,))
    assert kind.params(8, 8, conf("rate", {"tau": tau}))["tau"].init == tau


# --- lif -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rec, n_syn", [(False, 1), (True, 1), (False, 2), (True, 2)])
def test_lif_matches_rockpool(rec: bool, n_syn: int) -> None:
    n = 5
    rng = np.random.default_rng(1)
    mod = LIFJax((n * n_syn, n),
                 tau_mem=jnp.asarray(rng.uniform(10e-3, 40e-3, n), jnp.float32),
                 tau_syn=jnp.asarray(rng.uniform(5e-3, 30e-3, (n, n_syn)), jnp.float32),
                 bias=jnp.asarray(rng.uniform(0.0, 0.05, n), jnp.float32),
                 threshold=jnp.asarray(rng.uniform(0.8, 1.2, n), jnp.float32),
                 has_rec=rec, dt=DT)
    params = rp_params(mod)
    cfg = {"n_syn": n_syn, "rec": rec, "noise_std": 0.0, "max_spikes_per_dt": 2.0**16}
    kind, c = KINDS["lif"], conf("lif", cfg)
    assert kind.size_out(n * n_syn, c) == n and kind.size_in_rule(n * n_syn, c) is None
    assert set(kind.params(n * n_syn, n, c)) == set(params)
    assert set(kind.record_keys(c)) == ({"vmem", "isyn", "spikes"} | ({"irec"} if rec else set()))
    # unbatched Rockpool input == our B = 1
    x1 = jnp.abs(inputs(1, n * n_syn, scale=0.3))
    close(run("lif", cfg, params, x1, record=False)[1][0], mod(x1[0])[0].reshape(T, n))
    for b in (3,):
        x = jnp.abs(inputs(b, n * n_syn, scale=0.3, seed=b))
        out, state, rec_rp = mod(x, record=True)
        s, y, tr = run("lif", cfg, params, x)
        assert float(jnp.sum(out)) > 10, "neurons must fire for this test to mean anything"
        close(y, out)
        for k in ("spikes", "isyn", "vmem"):
            close(s[k][0], state[k], atol=1e-5)
            close(tr[k], rec_rp[k], atol=1e-5)
        if rec:
            close(tr["irec"], rec_rp["irec"], atol=1e-5)
        assert tr["isyn"].shape == (b, T, n, n_syn)
        close(kind.output(params, s, c), y[:, -1])
        w = inputs(b, n, seed=4)
        mine, theirs = our_grads("lif", cfg, params, x, w), rp_grads(mod, x, w)
        grads_close(mine[0], theirs[0])
        close(mine[1], theirs[1], atol=1e-4, rtol=1e-4)
        assert float(jnp.max(jnp.abs(mine[0]["tau_mem"]))) > 0  # the surrogate carries signal


def test_lif_noise_identical_draws() -> None:
    n, b = 4, 2
    mod = LIFJax(n, noise_std=2.0, dt=DT)
    params = rp_params(mod)
    cfg = {"n_syn": 1, "rec": False, "noise_std": 2.0}
    kind = KINDS["lif"]
    assert kind.noise_shape(n, n, conf("lif", cfg)) == (n,)
    assert kind.noise_shape(n, n, conf("lif", {**cfg, "noise_std": 0.0})) is None
    x = jnp.abs(inputs(b, n, scale=0.3))
    z = rp_noise(mod, (b, T, n))
    out, _, rec_rp = mod(x, record=True)
    _, y, tr = run("lif", cfg, params, x, z)
    close(y, out)
    close(tr["vmem"], rec_rp["vmem"], atol=1e-5)


def test_lif_size_rule_and_init() -> None:
    kind = KINDS["lif"]
    msg = kind.size_in_rule(7, conf("lif", {"n_syn": 2}))
    assert msg is not None and "n_syn = 2" in msg and "7" in msg
    specs = kind.params(12, 6, conf("lif", {"n_syn": 2, "rec": True}))
    assert specs["tau_syn"].shape == (6, 2) and specs["tau_syn"].family == "taus"
    beta = np.exp(-1e-3 / 20e-3)  # the default tau_syn, at dt = 1 ms
    assert specs["w_rec"].shape == (6, 12) and specs["w_rec"].init == Init(
        "normal", (0.0, pytest.approx(0.5 * (1 - beta) / np.sqrt(6))))
    given = kind.params(12, 6, conf("lif", {"n_syn": 2, "rec": True, "w_rec": Init("kaiming")}))
    assert given["w_rec"].init == Init("kaiming")
    assert specs["threshold"].family == "thresholds" and specs["bias"].family == "biases"
    key = jax.random.PRNGKey(0)
    assert float(specs["threshold"].init(key, (6,))[0]) == 1.0
    assert kind.state_shapes(12, 6, conf("lif", {"n_syn": 2})) == {
        "spikes": (6,), "isyn": (6, 2), "vmem": (6,)}
    assert "w_rec" not in kind.params(6, 6, conf("lif", {"n_syn": 1, "rec": False}))


def test_recurrent_lif_starts_stable() -> None:
    """``lif(rec = true)`` with its default ``w_rec`` fires about as a feed-forward layer
    does on the same input, far below the 65,536-spike cap that Kaiming weights hit."""
    import rpgraph

    x = jax.random.uniform(jax.random.PRNGKey(1), (2, 200, 32)) * 0.3
    head = "network n (dt = 1 ms) { input x : 32\n output y : 32\n x -> h: "
    rec = rpgraph.compile(head + "lif(rec = true) -> y }")
    ff = rpgraph.compile(head + "lif -> y }")
    y_ff = ff.evolve(ff.init(0), x)[0]
    for seed in (0, 1):
        y = rec.evolve(rec.init(seed), x)[0]
        assert float(y.max()) < 20
        assert abs(float(y.mean()) - float(y_ff.mean())) < 0.5 * float(y_ff.mean())
    kaiming = rpgraph.compile(head + "lif(rec = true, w_rec = kaiming) -> y }")
    assert float(kaiming.evolve(kaiming.init(0), x)[0].max()) == 2.0**16  # the old default


def test_step_pwl_surrogate() -> None:
    from rockpool.nn.modules.jax.lif_jax import step_pwl as rp_step_pwl

    from rpgraph.modules.lif import step_pwl

    x = jnp.linspace(-1.0, 3.0, 41)
    thr = jnp.full_like(x, 1.1)
    close(step_pwl(x, thr, 0.5, 2.0), rp_step_pwl(x, thr, 0.5, 2.0))
    for argnum in (0, 1):
        ours = jax.grad(lambda *a: jnp.sum(step_pwl(*a, 0.5, 2.0)), argnum)(x, thr)
        theirs = jax.grad(lambda *a: jnp.sum(rp_step_pwl(*a, 0.5, 2.0)), argnum)(x, thr)
        close(ours, theirs)


# --- expsyn ----------------------------------------------------------------------------------


def test_expsyn_matches_rockpool() -> None:
    n = 5
    tau = jnp.asarray(np.random.default_rng(2).uniform(2e-3, 30e-3, n), jnp.float32)
    mod = ExpSynJax(n, tau=tau, dt=DT)
    params = rp_params(mod)
    cfg = {"noise_std": 0.0}
    kind = KINDS["expsyn"]
    assert {k: (s.shape, s.family) for k, s in kind.params(n, n, conf("expsyn", cfg)).items()} \
        == {"tau": ((n,), "taus")}
    for b in (1, 3):
        x = inputs(b, n)
        out, state, _ = mod(x)
        for assoc in (False, True):
            s, y, tr = run("expsyn", {**cfg, "assoc_scan": assoc}, params, x)
            close(y, out, atol=1e-5)
            close(s["isyn"][0], state["isyn"], atol=1e-5)
            close(tr["isyn"], out, atol=1e-5)
        w = inputs(b, n, seed=5)
        mine, theirs = our_grads("expsyn", cfg, params, x, w), rp_grads(mod, x, w)
        grads_close(mine[0], theirs[0])
        close(mine[1], theirs[1], atol=1e-4)


def test_expsyn_noise_identical_draws_and_stats() -> None:
    n, b = 4, 2
    mod = ExpSynJax(n, noise_std=0.3, dt=DT)
    params = rp_params(mod)
    cfg = {"noise_std": 0.3}
    x = inputs(b, n)
    z = rp_noise(mod, x.shape)
    close(run("expsyn", cfg, params, x, z)[1], mod(x)[0], atol=1e-5)
    # statistics: with zero input, the first step is (noise_std * sqrt(dt) * z) * beta
    big = jax.random.normal(jax.random.PRNGKey(9), (4000, 1, n))
    _, y, _ = run("expsyn", cfg, params, jnp.zeros((4000, 1, n)), big, record=False)
    beta = float(jnp.exp(-DT / params["tau"][0]))
    assert float(jnp.std(y)) == pytest.approx(0.3 * np.sqrt(DT) * beta, rel=0.05)
    assert abs(float(jnp.mean(y))) < 0.1 * 0.3 * np.sqrt(DT)


# --- unrolled scans ---------------------------------------------------------------------------


@pytest.mark.parametrize("name, cfg, record", [
    ("rate", {"activation": "tanh", "rec": True, "noise_std": 0.0}, False),
    ("lif", {"rec": False, "n_syn": 1, "noise_std": 0.0}, False),  # the record-free scan
    ("lif", {"rec": False, "n_syn": 1, "noise_std": 0.0}, True),  # the generic scan
    ("lif", {"rec": True, "n_syn": 2, "noise_std": 0.1}, False),
    ("expsyn", {"noise_std": 0.0}, True),
])
def test_unrolled_scan_equals_scan(name: str, cfg: dict[str, Any], record: bool) -> None:
    """``unroll`` (Options.unroll; 8 on GPU) changes how many steps one loop iteration runs,
    not the arithmetic: outputs, states, traces and gradients agree, also when T is not a
    multiple of the unroll factor."""
    n, b = 6, 3
    kind = KINDS[name]
    key = jax.random.PRNGKey(3)
    params = {k: s.init(key, s.shape) for k, s in kind.params(n * cfg.get("n_syn", 1), n,
                                                             conf(name, cfg)).items()}
    if "w_rec" in params:  # weak recurrence: a few spikes per step, not a runaway
        params["w_rec"] = 0.05 * jax.random.normal(key, params["w_rec"].shape)
    x = inputs(b, n * cfg.get("n_syn", 1), scale=0.5)
    z = jax.random.normal(jax.random.PRNGKey(4), (b, T, n)) if cfg["noise_std"] > 0 else None
    assert T % 7 != 0
    s1, y1, r1 = run(name, cfg, params, x, z, record=record)
    s2, y2, r2 = run(name, {**cfg, "unroll": 7}, params, x, z, record=record)
    if name == "lif":
        assert 0 < float(jnp.max(y1)) < 20
    # XLA may fuse an unrolled body differently (multiply-adds): equal to float32 rounding,
    # relative to the largest magnitude in the array
    same = lambda a, b: close(a, b, atol=1e-5 * max(1.0, float(jnp.max(jnp.abs(b)))))  # noqa: E731
    same(y2, y1)
    for k in s1:
        same(s2[k], s1[k])
    assert set(r1) == set(r2)
    for k in r1:
        same(r2[k], r1[k])
    w = inputs(b, n, seed=6)
    g1 = our_grads(name, cfg, params, x, w, z)
    g2 = our_grads(name, {**cfg, "unroll": 7}, params, x, w, z)
    grads_close(g2[0], g1[0])
    close(g2[1], g1[1], atol=1e-4)


# --- associative scan ------------------------------------------------------------------------


@pytest.mark.parametrize("name, cfg", [
    ("rate", {"activation": "tanh", "rec": False, "noise_std": 0.2}),
    ("rate", {"activation": "relu", "rec": False, "noise_std": 0.0}),
    ("expsyn", {"noise_std": 0.2}),
])
def test_associative_scan_equals_scan(name: str, cfg: dict[str, Any]) -> None:
    n, b = 6, 3
    kind = KINDS[name]
    key = jax.random.PRNGKey(3)
    params = {k: s.init(key, s.shape) for k, s in kind.params(n, n, conf(name, cfg)).items()}
    params["tau"] = jax.random.uniform(key, (n,), minval=2e-3, maxval=50e-3)
    if "bias" in params:
        params["bias"] = 0.1 * jax.random.normal(key, (n,))
    x = inputs(b, n)
    z = jax.random.normal(jax.random.PRNGKey(4), x.shape) if cfg["noise_std"] > 0 else None
    state0 = {k: jax.random.normal(key, (b, *s))
              for k, s in kind.state_shapes(n, n, conf(name, cfg)).items()}
    s1, y1, r1 = run(name, cfg, params, x, z, state=state0)
    s2, y2, r2 = run(name, {**cfg, "assoc_scan": True}, params, x, z, state=state0)
    close(y1, y2, atol=1e-5)
    assert set(r1) == set(r2)
    for k in s1:
        close(s1[k], s2[k], atol=1e-5)
    for k in r1:
        close(r1[k], r2[k], atol=1e-5)
    assert run(name, {**cfg, "assoc_scan": True}, params, x, z, record=False)[2] == {}
    w = inputs(b, n, seed=6)
    g1 = our_grads(name, cfg, params, x, w, z)
    g2 = our_grads(name, {**cfg, "assoc_scan": True}, params, x, w, z)
    grads_close(g1[0], g2[0])
    close(g1[1], g2[1], atol=1e-4)


def test_linear_recurrence_helper() -> None:
    a = jnp.array([[[0.5], [2.0], [1.0]]])
    b = jnp.array([[[1.0], [1.0], [3.0]]])
    close(linear_recurrence(a, b, jnp.array([[4.0]]))[0, :, 0], [3.0, 7.0, 10.0])


def test_vmap_and_jit_over_parameters() -> None:
    """Kinds are jit- and vmap-safe: a batch of parameter sets gives the per-set results."""
    kind, cfg = KINDS["lif"], conf("lif", {"n_syn": 1, "rec": True})
    x = jnp.abs(inputs(2, 3, scale=0.5))
    ps = {k: jnp.stack([s.init(jax.random.PRNGKey(i), s.shape) for i in range(2)])
          for k, s in kind.params(3, 3, cfg).items()}
    state = kind.init_state(3, 3, cfg, 2)
    scan = lambda p: kind.scan(p, kind.prepare(p, cfg), state, x, None, cfg, False)[1]  # noqa: E731
    ys = jax.jit(jax.vmap(scan))(ps)
    for i in range(2):
        close(ys[i], scan({k: v[i] for k, v in ps.items()}))


def test_all_kinds_registered() -> None:
    expected = {"linear", "tanh", "relu", "sigmoid", "softplus", "identity", "exp",
                "leaky_relu", "softmax", "logsoftmax", "rate", "lif", "expsyn"}
    assert expected <= set(KINDS)
    for name in expected:
        kind = KINDS[name]
        assert kind.name == name and kind.rockpool and kind.doc
        assert len({a.name for a in kind.args}) == len(kind.args)


@pytest.mark.parametrize("n_syn", [1, 2])
def test_lif_fast_scan_equals_step_by_step(n_syn: int) -> None:
    """The record-free LIF scan (spikes not carried) equals the generic step-by-step scan,
    in outputs, final state and gradients, with noise and several synapses."""
    from rpgraph.modules import KINDS
    from rpgraph.modules.base import Kind

    lif = KINDS["lif"]
    n, b, t = 4, 2, 25
    cfg = conf("lif", {"dt": 1e-3, "n_syn": n_syn, "noise_std": 0.3})
    key = jax.random.PRNGKey(3)
    params = {"tau_mem": jnp.full((n,), 0.02), "tau_syn": jnp.full((n, n_syn), 0.004),
              "bias": jnp.full((n,), 0.01), "threshold": jnp.ones((n,))}
    state = lif.init_state(n * n_syn, n, cfg, b)
    x = 2.0 * jax.random.uniform(key, (b, t, n * n_syn))
    noise = jax.random.normal(jax.random.fold_in(key, 1), (b, t, n))

    def run(fast: bool, p: Any) -> Any:
        scan = lif.scan if fast else (lambda *a: Kind.scan(lif, *a))
        return scan(p, lif.prepare(p, cfg), state, x, noise, cfg, False)

    (s1, y1, _), (s2, y2, _) = run(True, params), run(False, params)
    assert float(jnp.sum(y1)) > 0
    np.testing.assert_allclose(y1, y2)
    for k in ("spikes", "isyn", "vmem"):
        np.testing.assert_allclose(s1[k], s2[k], rtol=1e-6, atol=1e-6)
    g1 = jax.grad(lambda p: jnp.sum(run(True, p)[1] * x[..., :n]))(params)
    g2 = jax.grad(lambda p: jnp.sum(run(False, p)[1] * x[..., :n]))(params)
    for k in params:
        np.testing.assert_allclose(g1[k], g2[k], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("record", [False, True])
def test_lif_reset_to_v_reset(record: bool) -> None:
    """``lif(reset = v_reset)``: at most one spike per step, on ``vmem > threshold``
    (strictly), and the membrane set to ``v_reset``; against a plain numpy loop."""
    lif = KINDS["lif"]
    n, b, t = 5, 2, 40
    cfg = {"dt": DT, "reset": "v_reset", "n_syn": 1}
    rng = np.random.default_rng(0)
    params = {"tau_mem": jnp.asarray(rng.uniform(5e-3, 30e-3, n), jnp.float32),
              "tau_syn": jnp.asarray(rng.uniform(2e-3, 10e-3, (n, 1)), jnp.float32),
              "bias": jnp.zeros(n), "threshold": jnp.asarray(rng.uniform(0.5, 1.0, n)),
              "v_reset": jnp.asarray(rng.uniform(-0.3, 0.1, n), jnp.float32)}
    assert set(lif.params(n, n, conf("lif", cfg))) == set(params)
    x = jnp.asarray(rng.uniform(0, 3.0, (b, t, n)), jnp.float32)
    x = x.at[0, 0, 0].set(np.float32(params["threshold"][0]) / np.float32(
        np.exp(-DT / params["tau_syn"][0, 0])))  # lands (about) on the threshold
    _, y, _ = run("lif", cfg, params, x, record=record)
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    a, bsyn = np.exp(-DT / p["tau_mem"]), np.exp(-DT / p["tau_syn"][:, 0])
    v, i = np.zeros((b, n)), np.zeros((b, n))
    want = []
    for k in range(t):
        i = (i + np.asarray(x[:, k], np.float64)) * bsyn
        v = v * a + i + p["bias"]
        s = (v > p["threshold"]).astype(np.float64)
        v = np.where(s > 0, p["v_reset"], v)
        want.append(s)
    want_y = np.stack(want, axis=1)
    assert np.max(want_y) == 1 and 0 < np.mean(want_y) < 1
    np.testing.assert_array_equal(np.asarray(y), want_y)
    # the surrogate gradient reaches v_reset (through the membrane after a spike)
    g = jax.grad(lambda q: jnp.sum(run("lif", cfg, q, x, record=record)[1] * x))(params)
    assert float(jnp.max(jnp.abs(g["v_reset"]))) > 0
    assert all(bool(jnp.all(jnp.isfinite(v))) for v in g.values())  # the reset is detached


def test_configure_fills_defaults_and_rejects_unknown_arguments() -> None:
    """A kind's config holds every argument (defaults from its one declaration) plus the
    network's dt and the compiler's options."""
    lif = KINDS["lif"]
    cfg = lif.configure({"n_syn": 2}, dt=DT, unroll=4)
    assert (cfg.n_syn, cfg.tau_mem, cfg.reset, cfg.dt, cfg.assoc_scan, cfg.unroll) == (
        2, Init("constant", (0.02,)), "subtract", DT, False, 4)
    assert {a.name: a.default for a in lif.args}["tau_mem"] == cfg.tau_mem
    with pytest.raises(TypeError, match="lif has no argument 'nsyn'; did you mean 'n_syn'"):
        lif.configure({"nsyn": 2}, dt=DT)
    with pytest.raises(TypeError, match="out"):
        KINDS["linear"].configure({}, dt=DT)  # a required argument


@pytest.mark.parametrize("name, keys", [("rate", {"alpha"}), ("lif", {"alpha", "beta"}),
                                        ("expsyn", {"beta"}), ("linear", set())])
def test_prepare_returns_its_own_values(name: str, keys: set[str]) -> None:
    kind = KINDS[name]
    cfg = conf(name, {"out": 4} if name == "linear" else {})
    params = {k: s.init(jax.random.PRNGKey(0), s.shape) for k, s in kind.params(4, 4, cfg).items()}
    assert set(kind.prepare(params, cfg)) == keys
