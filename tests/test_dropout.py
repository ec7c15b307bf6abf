"""``dropout(p)`` (issue 12): inverted dropout while training, the identity in evaluation,
masks from (seed, step) so a resumed run is bit-identical."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import rpgraph
from rpgraph.fmt import fmt
from rpgraph.modules import KINDS
from rpgraph.nir import from_nir, to_nir
from rpgraph.train import fit, make_step

SHAPED = """network d (dt = 1 ms) {
    input x : (2, 3, 3)
    output y : 4
    x -> d: dropout(p = 0.25) -> flatten -> w: linear(4) -> y
}
"""
PLAIN = SHAPED.replace("d: dropout(p = 0.25) -> ", "")


@pytest.fixture(scope="module")
def prog() -> rpgraph.Program:
    return rpgraph.compile(SHAPED)


def test_identity_in_evaluation(prog: rpgraph.Program) -> None:
    plain = rpgraph.compile(PLAIN)
    params = prog.init(0)
    x = np.random.default_rng(0).normal(size=(2, 5, 2, 3, 3)).astype(np.float32)
    t = np.zeros((2, 5, 4), np.float32)
    np.testing.assert_array_equal(prog.evolve(params, x)[0], plain.evolve(params, x)[0])
    assert float(prog.loss(params, x, t)) == float(plain.loss(params, x, t))


def test_training_mask_fraction_and_scale(prog: rpgraph.Program) -> None:
    params = prog.init(0)
    x = {"x": jnp.ones((4, 50, 18))}
    _, _, rec = prog.run(params, x, None, True, prog.train_keys(jax.random.PRNGKey(1)))
    out = np.asarray(rec["d"]["output"])
    assert out.shape == (4, 50, 18)
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.75], rtol=1e-7)
    assert abs(float((out == 0).mean()) - 0.25) < 0.03  # 3600 draws: 5 sigma is 0.036


def test_same_key_same_mask_and_hoisting_does_not_change_it(prog: rpgraph.Program) -> None:
    params = prog.init(0)
    x = {"x": jnp.ones((2, 6, 18))}
    loop = rpgraph.compile(SHAPED, hoist=False)  # the whole graph stepped in one scan

    def out(p: rpgraph.Program, seed: int) -> np.ndarray:
        rec = p.run(params, x, None, True, p.train_keys(jax.random.PRNGKey(seed)))[2]
        return np.asarray(rec["d"]["output"])

    np.testing.assert_array_equal(out(prog, 3), out(prog, 3))
    np.testing.assert_array_equal(out(loop, 3), out(prog, 3))
    assert not np.array_equal(out(prog, 3), out(prog, 4))


def test_remat_recomputes_the_same_mask() -> None:
    """``remat`` recomputes the forward pass in the backward one: the recomputed dropout
    draws the same mask, so a training step equals the one without remat (the whole graph
    in one scan over time, remat chunks of 2 steps)."""
    loop = rpgraph.compile(SHAPED, hoist=False)
    remat = rpgraph.compile(SHAPED, hoist=False, remat=2)
    params = loop.init(0)
    x = jnp.asarray(np.random.default_rng(2).normal(size=(2, 6, 18)), jnp.float32)
    t = jnp.asarray(np.random.default_rng(3).normal(size=(2, 6, 4)), jnp.float32)
    opt = optax.sgd(0.1)
    new = [jax.jit(make_step(p, opt))(params, opt.init(params), x, t, jax.random.PRNGKey(5))
           for p in (loop, remat)]
    np.testing.assert_allclose(float(new[1][2]), float(new[0][2]), rtol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(new[1][0]), jax.tree_util.tree_leaves(new[0][0]),
                    strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    assert float(new[0][2]) != float(loop.loss(params, x, t))  # the step did drop units


def test_gradient_matches_numpy_and_finite_differences(prog: rpgraph.Program) -> None:
    params = prog.init(0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 3, 18)).astype(np.float32)
    c = rng.normal(size=(1, 3, 4)).astype(np.float32)
    keys = prog.train_keys(jax.random.PRNGKey(5))

    def f(w: Any) -> Any:
        p = {**params, "w": {"weight": w}}
        return jnp.sum(prog.run(p, {"x": jnp.asarray(x)}, None, False, keys)[0]["y"] * c)

    w0 = params["w"]["weight"]
    g = np.asarray(jax.grad(f)(w0))
    # each step's mask from fold_in(key, t): the same hoisted, looped or in remat chunks
    cfg = KINDS["dropout"].configure({"p": 0.25}, dt=1e-3)
    mask = np.stack([np.asarray(KINDS["dropout"].train_mask(
        jax.random.fold_in(keys["d"], t), (1, 2, 3, 3), cfg)).reshape(1, 18) for t in range(3)],
        axis=1)
    # y = (x * mask) @ w, so d sum(c * y) / dw = (x * mask)^T c summed over time
    ref = np.einsum("bti,bto->io", x * mask, c)
    np.testing.assert_allclose(g, ref, rtol=1e-5, atol=1e-6)
    eps = 1e-2
    for i, o in ((0, 0), (5, 2), (17, 3)):
        d = np.zeros_like(np.asarray(w0))
        d[i, o] = eps
        fd = (float(f(w0 + d)) - float(f(w0 - d))) / (2 * eps)
        assert fd == pytest.approx(g[i, o], rel=1e-2, abs=1e-3)


def test_training_step_uses_the_mask() -> None:
    prog = rpgraph.compile(SHAPED)
    params = prog.init(0)
    opt = optax.sgd(0.1)
    step = jax.jit(make_step(prog, opt))
    x = jnp.ones((2, 5, 18))
    t = jnp.zeros((2, 5, 4))
    loss_a = step(params, opt.init(params), x, t, jax.random.PRNGKey(0))[2]
    loss_b = step(params, opt.init(params), x, t, jax.random.PRNGKey(0))[2]
    loss_c = step(params, opt.init(params), x, t, jax.random.PRNGKey(1))[2]
    assert float(loss_a) == float(loss_b) != float(loss_c)
    assert float(loss_a) != float(prog.loss(params, x, t))  # evaluation: no dropout


RESUME = """network d (dt = 1 ms) {
    input x : 8
    output y : 2
    x -> linear(16) -> tanh -> dropout(0.5) -> linear(2) -> y
}

train {
    data      = sinusoids(classes = 2, length = 10, channels_in = 8)
    optimizer = adam(lr = 1e-2)
    epochs    = 6
    checkpoint_every = 2
}
"""


def test_resume_is_bit_identical(tmp_path: Path) -> None:
    prog = rpgraph.compile(RESUME)
    full = fit(prog, progress=False, chunk=2)

    def stop(step: int, params: Any) -> None:
        if step == 6:
            raise KeyboardInterrupt

    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        fit(prog, out_dir=run, progress=False, chunk=2, callback=stop)
    resumed = fit(prog, out_dir=run, resume=True, progress=False, chunk=2)
    for node, leaves in full.params.items():
        for name, value in leaves.items():
            np.testing.assert_array_equal(resumed.params[node][name], value)


def test_graph_fmt_and_nir_export() -> None:
    prog = rpgraph.compile(SHAPED)
    assert "dropout 'd' with shape (2, 3, 3)  p = 0.25, while training only" in str(prog)
    assert fmt(SHAPED) == SHAPED
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = to_nir(prog, prog.init(0))
    assert any("dropout 'd': written as the identity" in str(w.message) for w in caught)
    net, _ = from_nir(graph, dt=1e-3)
    assert net.module("d").kind == "identity" and net.module("d").shape_out == (2, 3, 3)
