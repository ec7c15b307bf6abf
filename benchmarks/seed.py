"""Cases 1 and 2: the seed tutorial's two networks trained per sample with Adam(1e-4).

Three implementations of the same training run (same data, same initial parameters, same
optimiser, one sample per step in data set order):

* ``rockpool``: the tutorial's own loop, verbatim: a Rockpool 3.1 ``Sequential``, a jitted
  ``value_and_grad`` of a loss that resets the network, sets its parameters and evolves it,
  ``jax.example_libraries.optimizers.adam(1e-4)`` with a jitted ``update_fun``, and a Python
  loop over epochs and samples.
* ``hand-written``: the same maths written directly in JAX + optax, the whole run one
  ``lax.scan`` over steps in one jitted call (the ceiling rpgraph aims for).
* ``rpgraph``: ``rpgraph.compile(spec)`` and the fused chunk of
  :func:`rpgraph.train.make_chunk`; also ``rpgraph.fit`` end to end (compile included).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import rpgraph
from rpgraph.data import Dataset, sinusoids
from rpgraph.train import make_chunk

from .common import Row, Timing, block, time_calls

Array = Any
Tree = dict[str, dict[str, Array]]
SPECS = Path(__file__).resolve().parent.parent / "specs"
LR = 1e-4
DT = 1e-3
TAU_MIN = 10e-3


@dataclass(frozen=True)
class SeedConfig:
    """Sizes of one seed case (the tutorial's by default)."""

    channels_in: int = 2000
    hidden: int = 8
    length: int = 100
    classes: int = 3
    steps: int = 300  # steps per timed run (a multiple of ``classes``: whole epochs)
    rockpool_repeats: int = 3
    fused_repeats: int = 5
    fit: bool = True


# --- the network maths, written out by hand ---------------------------------------------------


def mlp_forward(p: Tree, x: Array) -> Array:
    return jnp.tanh(x @ p["linear_0"]["weight"]) @ p["linear_1"]["weight"]


def rate_forward(p: Tree, x: Array) -> Array:
    """Linear -> forward-Euler rate layer (RateJax, tanh, zero initial state) -> linear."""
    h = p["hidden"]
    drive = x @ p["linear_0"]["weight"] + h["bias"]  # (B, T, N): hoisted out of the loop
    alpha = DT / h["tau"]

    def step(v: Array, d_t: Array) -> tuple[Array, Array]:
        v = v + alpha * (-v + d_t)
        return v, jnp.tanh(v - h["threshold"])

    v0 = jnp.zeros((x.shape[0], h["tau"].shape[0]), x.dtype)
    _, ys = jax.lax.scan(step, v0, jnp.swapaxes(drive, 0, 1))
    return jnp.swapaxes(ys, 0, 1) @ p["linear_1"]["weight"]


def mlp_loss(p: Tree, x: Array, t: Array) -> Array:
    return jnp.mean((mlp_forward(p, x) - t) ** 2)


def rate_loss(p: Tree, x: Array, t: Array) -> Array:
    mse = jnp.mean((rate_forward(p, x) - t) ** 2)
    leaves = jax.tree_util.tree_leaves(p)
    l2 = jnp.mean(jnp.stack([jnp.mean(a**2) for a in leaves]))
    tau = p["hidden"]["tau"]
    bounds = jnp.sum(jnp.where(tau < TAU_MIN, jnp.exp(-(tau - TAU_MIN)), 0.0))
    return mse + 1e3 * l2 + 1e3 * bounds


def make_fused(loss: Callable[[Tree, Array, Array], Array], opt: optax.GradientTransformation
               ) -> Callable[..., Any]:
    """The hand-written ceiling: ``run(params, opt_state, inputs, targets, idx)`` trains one
    step per entry of ``idx`` (a ``(K,)`` array of sample indices) in one ``lax.scan``."""
    vg = jax.value_and_grad(loss)

    def body(carry: Any, i: Array) -> Any:
        p, o, xs, ts = carry
        value, g = vg(p, xs[i][None], ts[i][None])
        u, o = opt.update(g, o, p)
        return (optax.apply_updates(p, u), o, xs, ts), value

    def run(p: Tree, o: Any, xs: Array, ts: Array, idx: Array) -> Any:
        (p, o, _, _), losses = jax.lax.scan(body, (p, o, xs, ts), idx)
        return p, o, losses

    return jax.jit(run, donate_argnums=(0, 1))


# --- Rockpool ---------------------------------------------------------------------------------

ROCKPOOL_NAMES = {"linear_0": "0_LinearJax", "hidden": "1_RateJax", "linear_1": "2_LinearJax"}


def to_rockpool(p: Tree) -> Tree:
    return {ROCKPOOL_NAMES[n]: {k: np.asarray(v) for k, v in d.items()} for n, d in p.items()}


def rockpool_net(kind: str, cfg: SeedConfig) -> Any:
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import InstantJax, LinearJax, RateJax

    if kind == "mlp":
        return Sequential(LinearJax((cfg.channels_in, cfg.hidden)), InstantJax(cfg.hidden,
                          jnp.tanh), LinearJax((cfg.hidden, 2)))
    return Sequential(LinearJax((cfg.channels_in, cfg.hidden)),
                      RateJax(cfg.hidden, activation_func="tanh", dt=DT),
                      LinearJax((cfg.hidden, 2)))


def rockpool_loss(kind: str, net: Any) -> Callable[..., Array]:
    """The tutorial's ``loss_mse`` or ``loss_mse_reg_bounds``, verbatim."""
    from rockpool.training import jax_loss as l
    from rockpool.training.jax_loss import bounds_cost, make_bounds

    if kind == "mlp":
        def loss_mse(parameters: Any, net: Any, inputs: Array, target: Array) -> Array:
            net = net.reset_state()
            net = net.set_attributes(parameters)
            output, _, _ = net(inputs)
            return l.mse(output, target)

        return loss_mse

    lower_bounds, upper_bounds = make_bounds(net.parameters())
    lower_bounds["1_RateJax"]["tau"] = TAU_MIN

    def loss_mse_reg_bounds(parameters: Any, net: Any, inputs: Array, target: Array) -> Array:
        net = net.reset_state()
        net = net.set_attributes(parameters)
        output, _, _ = net(inputs)
        mse = l.mse(output, target)
        reg = l.l2sqr_norm(parameters) * 1e3
        bounds = bounds_cost(parameters, lower_bounds, upper_bounds) * 1e3
        return mse + reg + bounds

    return loss_mse_reg_bounds


def run_rockpool(kind: str, cfg: SeedConfig, ds: Dataset, params0: Tree
                 ) -> tuple[Row, np.ndarray]:
    """The tutorial's training loop; returns the row and the first run's losses."""
    from jax.example_libraries.optimizers import adam

    net = rockpool_net(kind, cfg)
    net = net.set_attributes(to_rockpool(params0))
    loss_fn = rockpool_loss(kind, net)

    # -- from here on, the tutorial's cell [7] / [15] (tqdm left out)
    init_fun, update_fun, get_params = adam(LR)
    params0_rp = deepcopy(net.parameters())
    opt_state = init_fun(params0_rp)
    loss_vgf = jax.jit(jax.value_and_grad(loss_fn))
    update_fun = jax.jit(update_fun)
    i_trial = count()
    epochs = cfg.steps // cfg.classes

    def train(num_epochs: int) -> list[Array]:
        nonlocal opt_state
        loss_t = []
        for _ in range(num_epochs):
            for sample in ds:
                input, target = sample[0], sample[1]
                params = get_params(opt_state)
                loss_val, grads = loss_vgf(params, net, input, target)
                opt_state = update_fun(next(i_trial), grads, opt_state)
                loss_t.append(loss_val)
        block(opt_state)
        return loss_t

    t0 = time.perf_counter()
    first_losses = train(epochs)  # includes the compile of loss_vgf and update_fun
    first = time.perf_counter() - t0
    warm, cpu = [], []
    for _ in range(cfg.rockpool_repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        train(epochs)
        warm.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    tm = Timing(first, warm, cpu)
    row = Row(kind, "rockpool", cfg.steps / tm.median_s, "steps/s", True, tm.compile_s,
              note="Rockpool 3.1 tutorial loop", cpu_value=_per(cfg.steps, tm),
              extra={"steps_per_run": cfg.steps, "warm_s": warm, "first_s": first})
    return row, np.asarray([float(v) for v in first_losses])


def run_handwritten(kind: str, cfg: SeedConfig, ds: Dataset, params0: Tree
                    ) -> tuple[Row, np.ndarray]:
    opt = optax.adam(LR)
    run = make_fused(mlp_loss if kind == "mlp" else rate_loss, opt)
    xs, ts = jnp.asarray(ds.inputs), jnp.asarray(ds.targets)
    idx = jnp.asarray(np.arange(cfg.steps) % cfg.classes, jnp.int32)
    state: dict[str, Any] = {"p": jax.tree_util.tree_map(jnp.array, params0)}
    state["o"] = opt.init(state["p"])
    losses: list[Array] = []

    def call() -> Any:
        state["p"], state["o"], loss = run(state["p"], state["o"], xs, ts, idx)
        losses.append(loss)
        return loss

    tm = time_calls(call, cfg.fused_repeats)
    row = Row(kind, "hand-written", cfg.steps / tm.median_s, "steps/s", True, tm.compile_s,
              note="JAX+optax, lax.scan over steps", cpu_value=_per(cfg.steps, tm),
              extra={"steps_per_call": cfg.steps, "warm_s": tm.warm_s, "first_s": tm.first_s})
    return row, np.asarray(losses[0])


def run_rpgraph(kind: str, cfg: SeedConfig, ds: Dataset, prog: rpgraph.Program,
                params0: Tree) -> tuple[list[Row], np.ndarray]:
    opt = optax.adam(LR)
    chunk = make_chunk(prog, opt)
    xs, ts = jnp.asarray(ds.inputs), jnp.asarray(ds.targets)
    idx = jnp.asarray((np.arange(cfg.steps) % cfg.classes)[:, None], jnp.int32)
    state: dict[str, Any] = {"p": jax.tree_util.tree_map(jnp.array, params0)}
    state["o"] = opt.init(state["p"])
    losses: list[Array] = []

    def call() -> Any:
        state["p"], state["o"], loss, _ = chunk(state["p"], state["o"], xs, ts, idx)
        losses.append(loss)
        return loss

    tm = time_calls(call, cfg.fused_repeats)
    rows = [Row(kind, "rpgraph", cfg.steps / tm.median_s, "steps/s", True, tm.compile_s,
                note="make_chunk, warm calls", cpu_value=_per(cfg.steps, tm),
                extra={"steps_per_call": cfg.steps, "warm_s": tm.warm_s,
                       "first_s": tm.first_s})]
    if cfg.fit:
        epochs = cfg.steps // cfg.classes
        data = ds
        t0 = time.perf_counter()
        res = rpgraph.fit(prog, data, epochs=epochs, progress=False)
        wall = time.perf_counter() - t0
        rows.append(Row(kind, "rpgraph fit()", cfg.steps / wall, "steps/s", True, None,
                        note=f"end to end incl. compile: {wall:.2f} s wall "
                             f"(loop {res.seconds:.2f} s)",
                        extra={"wall_s": wall, "loop_s": res.seconds, "steps": res.steps}))
    return rows, np.asarray(losses[0])


def _per(steps: int, tm: Timing) -> float | None:
    cpu = tm.cpu_median_s
    return steps / cpu if cpu else None


def _rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.max(np.abs(a[:n] - b[:n]) / np.maximum(np.abs(b[:n]), 1e-12)))


def run_case(kind: str, cfg: SeedConfig, log: Callable[[str], None] = print) -> list[Row]:
    """All implementations of one seed case (``kind``: ``"mlp"`` or ``"rate"``)."""
    spec = SPECS / ("tutorial_mlp.rpg" if kind == "mlp" else "tutorial_rate.rpg")
    if (cfg.channels_in, cfg.hidden) == ((2000, 8) if kind == "mlp" else (2000, 200)):
        prog = rpgraph.compile(spec)
    else:  # a shrunken copy of the spec (for the smoke test)
        text = spec.read_text(encoding="utf-8")
        text = text.replace(": 2000", f": {cfg.channels_in}")
        text = text.replace("linear(8)" if kind == "mlp" else "linear(200)",
                            f"linear({cfg.hidden})")
        text = text.replace("length = 100", f"length = {cfg.length}")
        text = text.replace("sinusoids(", f"sinusoids(channels_in = {cfg.channels_in}, ")
        prog = rpgraph.compile(text)
    ds = sinusoids(classes=cfg.classes, length=cfg.length, channels_in=cfg.channels_in,
                   channels_out=2)
    params0 = prog.init(0)
    log(f"  [{kind}] rockpool ...")
    rp, rp_losses = run_rockpool(kind, cfg, ds, params0)
    log(f"  [{kind}] hand-written ...")
    hw, hw_losses = run_handwritten(kind, cfg, ds, params0)
    log(f"  [{kind}] rpgraph ...")
    rg, rg_losses = run_rpgraph(kind, cfg, ds, prog, params0)
    # the three run the same training from the same start: their losses must agree
    agree = {"rpgraph_vs_rockpool": _rel_diff(rg_losses, rp_losses),
             "handwritten_vs_rockpool": _rel_diff(hw_losses, rp_losses)}
    for r in (rp, hw, *rg):
        r.extra["loss_rel_diff"] = agree
        r.extra["final_loss_first_run"] = float(
            {"rockpool": rp_losses, "hand-written": hw_losses}.get(r.impl, rg_losses)[-1])
    return [rp, hw, *rg]
