"""Compiled programs against the real Rockpool 3.1 Jax modules: outputs, final states,
recorded traces and gradients of whole networks (the seed tutorial's two networks, every
module kind, graph and internal recurrence, residual merges, stateful chains), the
optimisation switches, dead-work removal, compile time in T, and input checks."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from rockpool.nn.combinators import Residual, Sequential
from rockpool.nn.modules import ExpSynJax, InstantJax, LIFJax, LinearJax, RateJax
from rockpool.training import jax_loss

import rpgraph
from rpgraph.errors import SpecShapeError, SpecValueError

jax.config.update("jax_default_matmul_precision", "highest")

RTOL, ATOL = 1e-5, 1e-5
SPECS = "specs"
Tree = dict[str, Any]


def close(a: Any, b: Any, rtol: float = RTOL, atol: float = ATOL, msg: str = "") -> None:
    """Equal to float32 accuracy; ``atol`` is relative to the largest expected magnitude
    (summation order differs between fused and module-by-module evaluation)."""
    b = np.asarray(b)
    scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
    np.testing.assert_allclose(np.asarray(a), b, rtol=rtol, atol=atol * scale, err_msg=msg)


def grads_close(mine: Tree, theirs: Tree, msg: str = "") -> None:
    """Gradients agree to float32 accuracy, relative to each leaf's largest entry."""
    for node in theirs:
        for k in theirs[node]:
            a = np.asarray(mine[node][k])
            b = np.asarray(theirs[node][k]).reshape(a.shape)
            scale = max(1.0, float(np.max(np.abs(b))))
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * scale,
                                       err_msg=f"{msg} {node}.{k}")


def lookup(tree: Tree, path: tuple[str, ...]) -> Any:
    for key in path:
        tree = tree[key]
    return tree


Moves = dict[tuple[str, ...], tuple[str, str]]


def spec_tree(rock: Tree, names: dict[tuple[str, ...], str], moves: Moves | None = None
              ) -> Tree:
    """A Rockpool tree (parameters or gradients) renamed to spec node names; ``moves`` sends
    one Rockpool leaf (path + leaf name) to another node's leaf (``w_rec`` of ``LIFJax``
    to the graph's ``w_rec: linear`` weight)."""
    out: Tree = {}
    moves = moves or {}
    for path, node in names.items():
        leaves = {k: v for k, v in lookup(rock, path).items() if (*path, k) not in moves}
        if leaves:
            out[node] = leaves
    for src, (node, leaf) in moves.items():
        out.setdefault(node, {})[leaf] = lookup(rock, src)
    return out


def copy_params(prog: rpgraph.Program, rock: Tree, names: dict[tuple[str, ...], str],
                moves: Moves | None = None) -> Tree:
    """Rockpool's parameters under spec names; the leaf sets must agree exactly."""
    ours = prog.init(0)
    renamed = spec_tree(rock, names, moves)
    params: Tree = {}
    for node in ours:
        leaves = renamed.get(node, {})
        assert set(leaves) == set(ours.get(node, {})), (node, set(leaves), set(ours[node]))
        if leaves:
            params[node] = {k: jnp.asarray(v, jnp.float32).reshape(ours[node][k].shape)
                            for k, v in leaves.items()}
    assert set(renamed) == set(ours), (set(renamed), set(ours))
    return params


def rock_run(net: Any, params: Tree, x: Any, record: bool = False) -> tuple[Any, Any, Any]:
    return net.reset_state().set_attributes(params)(x, record=record)


def rock_everything(net: Any, params: Tree, x: Any, target: Any
                    ) -> tuple[tuple[Any, tuple[Any, Any, Any]], Tree]:
    """``(mse, (y, state, record)), grads`` of the Rockpool network in one jitted call."""

    def loss(p: Tree) -> Any:
        y, state, rec = rock_run(net, p, x, record=True)
        return jax_loss.mse(y, target), (y, state, rec)

    return jax.jit(jax.value_and_grad(loss, has_aux=True))(params)


def randomise(rock: Tree, path: tuple[str, ...], rng: np.random.Generator,
              **ranges: tuple[float, float]) -> None:
    leaves = lookup(rock, path)
    for k, (lo, hi) in ranges.items():
        leaves[k] = jnp.asarray(rng.uniform(lo, hi, np.shape(leaves[k])), jnp.float32)


# --- the seed tutorial's two networks ---------------------------------------------------------


SEED_NAMES = {("0_LinearJax",): "linear_0", ("1_RateJax",): "hidden",
              ("2_LinearJax",): "linear_1"}


@pytest.fixture(scope="module")
def seed_rate() -> tuple[rpgraph.Program, Any, Tree, Tree, Any, Any]:
    rng = np.random.default_rng(0)
    prog = rpgraph.compile(f"{SPECS}/tutorial_rate.rpg")
    net = Sequential(LinearJax((2000, 200)), RateJax(200, activation_func="tanh"),
                     LinearJax((200, 2)))
    rock = net.parameters()
    # some time constants below the 10 ms bound, so bounds_cost is active
    randomise(rock, ("1_RateJax",), rng, tau=(5e-3, 40e-3), bias=(-0.1, 0.1),
              threshold=(-0.1, 0.1))
    params = copy_params(prog, rock, SEED_NAMES)
    x = jnp.asarray(rng.normal(0, 1, (2, 100, 2000)), jnp.float32)
    target = jnp.asarray(rng.normal(0, 1, (2, 100, 2)), jnp.float32)
    return prog, net, rock, params, x, target


def test_seed_mlp_end_to_end() -> None:
    rng = np.random.default_rng(1)
    prog = rpgraph.compile(f"{SPECS}/tutorial_mlp.rpg")
    net = Sequential(LinearJax((2000, 8)), InstantJax(8, jnp.tanh), LinearJax((8, 2)))
    rock = net.parameters()
    params = copy_params(prog, rock, {("0_LinearJax",): "linear_0", ("1_InstantJax",): "tanh_0",
                                      ("2_LinearJax",): "linear_1"})
    x = jnp.asarray(rng.normal(0, 1, (2, 100, 2000)), jnp.float32)
    target = jnp.asarray(rng.normal(0, 1, (2, 100, 2)), jnp.float32)
    y, state, rec = prog.evolve(params, x, record=True)
    (lr, (yr, _, rr)), gr = rock_everything(net, rock, x, target)
    close(y, yr)
    assert state == {}
    close(rec["tanh_0"]["output"], rr["1_InstantJax_output"])
    close(rec["linear_0"]["output"], rr["0_LinearJax_output"])
    lm, gm = jax.value_and_grad(prog.loss)(params, x, target)
    close(lm, lr)
    grads_close(gm, {SEED_NAMES.get((k,), k): v for k, v in gr.items()
                     if k != "1_InstantJax"})


def test_seed_rate_forward_state_and_record(seed_rate: Any) -> None:
    prog, net, rock, params, x, target = seed_rate
    y, state, rec = prog.evolve(params, x, record=True)
    (_, (yr, sr, rr)), _ = rock_everything(net, rock, x, target)
    close(y, yr)
    # Rockpool keeps the first batch element's final state; we keep every element's
    close(state["hidden"]["x"][0], sr["1_RateJax"]["x"])
    close(rec["hidden"]["x"], rr["1_RateJax"]["x"])
    close(rec["hidden"]["output"], rr["1_RateJax_output"])
    close(rec["y"]["output"], y)
    assert sorted(rec) == ["hidden", "linear_0", "linear_1", "y"]


def test_seed_rate_full_loss_and_gradients(seed_rate: Any) -> None:
    """``mse + 1e3 * l2sqr_norm + 1e3 * bounds_cost`` with ``tau >= 10 ms``, as in the seed."""
    prog, net, rock, params, x, target = seed_rate
    lower, upper = jax_loss.make_bounds(rock)
    lower["1_RateJax"]["tau"] = 10e-3

    def seed_loss(p: Tree) -> Any:
        out, _, _ = rock_run(net, p, x)
        return (jax_loss.mse(out, target) + 1e3 * jax_loss.l2sqr_norm(p)
                + 1e3 * jax_loss.bounds_cost(p, lower, upper))

    lr, gr = jax.jit(jax.value_and_grad(seed_loss))(rock)
    assert float(jax_loss.bounds_cost(rock, lower, upper)) > 0  # the bound term is live
    lm, gm = jax.value_and_grad(prog.loss)(params, x, target)
    close(lm, lr)
    grads_close(gm, {SEED_NAMES[(k,)]: v for k, v in gr.items()})
    loss, (y, _) = prog.evolve_and_loss(params, x, target)
    close(loss, lr)
    close(y, prog.evolve(params, x)[0], atol=1e-6)


@pytest.mark.parametrize("opts", [{"hoist": False}, {"assoc_scan": True}, {"remat": 10},
                                  {"unroll": 8}],
                         ids=["no-hoist", "assoc-scan", "remat", "unroll"])
def test_seed_rate_options_identical(seed_rate: Any, opts: dict[str, Any]) -> None:
    prog, _, _, params, x, target = seed_rate
    x, target = x[:1, :30], target[:1, :30]
    base_l, base_g = jax.value_and_grad(prog.loss)(params, x, target)
    other = rpgraph.compile(f"{SPECS}/tutorial_rate.rpg", **opts)
    l2, g2 = jax.value_and_grad(other.loss)(params, x, target)
    close(l2, base_l, rtol=1e-6)
    grads_close(g2, base_g, str(opts))


# --- every module kind in small networks ------------------------------------------------------


class Case:
    """A spec, the Rockpool network it reproduces, and how names and traces correspond."""

    def __init__(self, spec: str, make: Callable[[], Any], names: dict[tuple[str, ...], str],
                 traces: dict[str, tuple[str, ...]] | None = None,
                 states: dict[str, str] | None = None,
                 tweak: Callable[[Tree, np.random.Generator], None] | None = None,
                 n_in: int = 4, scale: float = 1.0, moves: Moves | None = None) -> None:
        self.spec, self.make, self.names, self.moves = spec, make, names, moves
        self.traces = traces or {}
        self.states = states or {}
        self.tweak, self.n_in, self.scale = tweak, n_in, scale


def _lif_taus(rock: Tree, path: tuple[str, ...], rng: np.random.Generator) -> None:
    randomise(rock, path, rng, tau_mem=(10e-3, 40e-3), tau_syn=(5e-3, 30e-3),
              bias=(0.0, 0.05), threshold=(0.8, 1.2))
    leaves = lookup(rock, path)
    if "w_rec" in leaves:
        # Weak recurrence: a few spikes per step, not a runaway. Rockpool's isyn integrates
        # its input undamped, so a kaiming w_rec drives counts to max_spikes_per_dt (65536),
        # where float32 rounding of vmem flips single spikes between implementations.
        leaves["w_rec"] = jnp.asarray(rng.normal(0, 0.03, np.shape(leaves["w_rec"])), jnp.float32)


def _rate_params(rock: Tree, path: tuple[str, ...], rng: np.random.Generator) -> None:
    randomise(rock, path, rng, tau=(5e-3, 40e-3), bias=(-0.1, 0.1), threshold=(-0.1, 0.1))


RES_BLOCK = """
block res(n, act = tanh) {
    input  i
    output o
    i -> w: linear(n) -> act -> o
    i -> o
}
"""


def _step_softmax(x: Any) -> Any:
    # Rockpool's jax_loss.softmax normalises over the whole array: apply it per step
    return jnp.apply_along_axis(jax_loss.softmax, -1, x)


def _step_logsoftmax(x: Any) -> Any:
    return jnp.apply_along_axis(jax_loss.logsoftmax, -1, x)


CASES: dict[str, Case] = {
    "lif-graph-recurrence": Case(
        """network n (dt = 1 ms) {
            input x : 4
            output y : 6
            x -> w_in: linear(6) -> h: lif()
            h -> w_rec: linear(6) -> h
            h -> y
        }""",
        lambda: Sequential(LinearJax((4, 6)), LIFJax(6, has_rec=True)),
        {("0_LinearJax",): "w_in", ("1_LIFJax",): "h"},
        traces={"h": ("1_LIFJax",)}, states={"h": "1_LIFJax"},
        tweak=lambda r, g: _lif_taus(r, ("1_LIFJax",), g),
        moves={("1_LIFJax", "w_rec"): ("w_rec", "weight")}),
    "lif-internal-recurrence": Case(
        """network n (dt = 1 ms) {
            input x : 4
            output y : 6
            x -> w_in: linear(6) -> h: lif(rec = true) -> y
        }""",
        lambda: Sequential(LinearJax((4, 6)), LIFJax(6, has_rec=True)),
        {("0_LinearJax",): "w_in", ("1_LIFJax",): "h"},
        traces={"h": ("1_LIFJax",)}, states={"h": "1_LIFJax"},
        tweak=lambda r, g: _lif_taus(r, ("1_LIFJax",), g)),
    "lif-feedforward-nsyn2": Case(
        """network n (dt = 1 ms) {
            input x : 4
            output y : 4
            x -> w_in: linear(8) -> h: lif(n_syn = 2) -> y
        }""",
        lambda: Sequential(LinearJax((4, 8)), LIFJax((8, 4))),
        {("0_LinearJax",): "w_in", ("1_LIFJax",): "h"},
        traces={"h": ("1_LIFJax",)}, states={"h": "1_LIFJax"},
        tweak=lambda r, g: _lif_taus(r, ("1_LIFJax",), g), scale=4.0),
    "rate-graph-recurrence": Case(
        """network n (dt = 1 ms) {
            input x : 4
            output y : 3
            x -> w_in: linear(5) -> h: rate(activation = tanh)
            h -> w_rec: linear(5) -> h
            h -> w_out: linear(3) -> y
        }""",
        lambda: Sequential(LinearJax((4, 5)), RateJax(5, has_rec=True, activation_func="tanh"),
                           LinearJax((5, 3))),
        {("0_LinearJax",): "w_in", ("1_RateJax",): "h", ("2_LinearJax",): "w_out"},
        traces={"h": ("1_RateJax",)}, states={"h": "1_RateJax"},
        tweak=lambda r, g: _rate_params(r, ("1_RateJax",), g),
        moves={("1_RateJax", "w_rec"): ("w_rec", "weight")}),
    "rate-internal-recurrence": Case(
        """network n (dt = 1 ms) {
            input x : 4
            output y : 3
            x -> w_in: linear(5) -> h: rate(activation = relu, rec = true) -> w_out: linear(3)
            w_out -> y
        }""",
        lambda: Sequential(LinearJax((4, 5)), RateJax(5, has_rec=True), LinearJax((5, 3))),
        {("0_LinearJax",): "w_in", ("1_RateJax",): "h", ("2_LinearJax",): "w_out"},
        traces={"h": ("1_RateJax",)}, states={"h": "1_RateJax"},
        tweak=lambda r, g: _rate_params(r, ("1_RateJax",), g)),
    "expsyn": Case(
        """network n (dt = 1 ms) {
            input x : 4
            output y : 3
            x -> w: linear(3, bias = true) -> s: expsyn(tau = 10 ms) -> y
        }""",
        lambda: Sequential(LinearJax((4, 3), has_bias=True), ExpSynJax(3)),
        {("0_LinearJax",): "w", ("1_ExpSynJax",): "s"},
        states={"s": "1_ExpSynJax"},
        tweak=lambda r, g: randomise(r, ("1_ExpSynJax",), g, tau=(5e-3, 30e-3))),
    "stateful-chain-lif-expsyn": Case(
        """network n (dt = 1 ms) {
            input x : 4
            output y : 2
            x -> linear(6) -> a: lif -> linear(3) -> b: expsyn -> c: rate -> linear(2) -> y
        }""",
        lambda: Sequential(LinearJax((4, 6)), LIFJax(6), LinearJax((6, 3)), ExpSynJax(3),
                           RateJax(3), LinearJax((3, 2))),
        {("0_LinearJax",): "linear_0", ("1_LIFJax",): "a", ("2_LinearJax",): "linear_1",
         ("3_ExpSynJax",): "b", ("4_RateJax",): "c", ("5_LinearJax",): "linear_2"},
        traces={"a": ("1_LIFJax",), "c": ("4_RateJax",)},
        states={"a": "1_LIFJax", "b": "3_ExpSynJax", "c": "4_RateJax"},
        tweak=lambda r, g: (_lif_taus(r, ("1_LIFJax",), g),
                            _rate_params(r, ("4_RateJax",), g)) and None, scale=4.0),
    "stateful-chain-rate-rate": Case(
        """network n (dt = 1 ms) {
            input x : 4
            output y : 5
            x -> linear(5) -> a: rate(activation = tanh) -> b: rate(activation = sigmoid) -> y
        }""",
        lambda: Sequential(LinearJax((4, 5)), RateJax(5, activation_func="tanh"),
                           RateJax(5, activation_func="sigmoid")),
        {("0_LinearJax",): "linear_0", ("1_RateJax",): "a", ("2_RateJax",): "b"},
        traces={"a": ("1_RateJax",), "b": ("2_RateJax",)},
        states={"a": "1_RateJax", "b": "2_RateJax"},
        tweak=lambda r, g: (_rate_params(r, ("1_RateJax",), g),
                            _rate_params(r, ("2_RateJax",), g)) and None),
    "residual-instant": Case(
        RES_BLOCK + """network n (dt = 1 ms) {
            input x : 4
            output y : 6
            x -> linear(6) -> r: res(6) -> y
        }""",
        lambda: Sequential(LinearJax((4, 6)), Residual(LinearJax((6, 6)), InstantJax(6, jnp.tanh))),
        {("0_LinearJax",): "linear_0", ("1_JaxResidual", "0_LinearJax"): "r.w",
         ("1_JaxResidual", "1_InstantJax"): "r.tanh_0"}),
    "residual-stateful": Case(
        """block rres(n) {
            input  i
            output o
            i -> w: linear(n) -> h: rate(activation = tanh) -> o
            i -> o
        }
        network n (dt = 1 ms) {
            input x : 4
            output y : 2
            x -> linear(6) -> r1: rres(6) -> r2: rres(6) -> linear(2) -> y
        }""",
        lambda: Sequential(LinearJax((4, 6)),
                           Residual(LinearJax((6, 6)), RateJax(6, activation_func="tanh")),
                           Residual(LinearJax((6, 6)), RateJax(6, activation_func="tanh")),
                           LinearJax((6, 2))),
        {("0_LinearJax",): "linear_0", ("1_JaxResidual", "0_LinearJax"): "r1.w",
         ("1_JaxResidual", "1_RateJax"): "r1.h", ("2_JaxResidual", "0_LinearJax"): "r2.w",
         ("2_JaxResidual", "1_RateJax"): "r2.h", ("3_LinearJax",): "linear_1"},
        tweak=lambda r, g: (_rate_params(r, ("1_JaxResidual", "1_RateJax"), g),
                            _rate_params(r, ("2_JaxResidual", "1_RateJax"), g)) and None),
    "softmax-readout": Case(
        """network n (dt = 1 ms) {
            input x : 4
            output y : 3
            x -> linear(5) -> h: rate(activation = tanh) -> linear(3) -> softmax -> y
        }""",
        lambda: Sequential(LinearJax((4, 5)), RateJax(5, activation_func="tanh"),
                           LinearJax((5, 3)), InstantJax(3, _step_softmax)),
        {("0_LinearJax",): "linear_0", ("1_RateJax",): "h", ("2_LinearJax",): "linear_1",
         ("3_InstantJax",): "softmax_0"},
        tweak=lambda r, g: _rate_params(r, ("1_RateJax",), g), scale=3.0),
    "logsoftmax-readout": Case(
        """network n (dt = 1 ms) {
            input x : 4
            output y : 3
            x -> linear(5) -> relu -> linear(3) -> logsoftmax -> y
        }""",
        lambda: Sequential(LinearJax((4, 5)), InstantJax(5, jax.nn.relu), LinearJax((5, 3)),
                           InstantJax(3, _step_logsoftmax)),
        {("0_LinearJax",): "linear_0", ("1_InstantJax",): "relu_0",
         ("2_LinearJax",): "linear_1", ("3_InstantJax",): "logsoftmax_0"}, scale=3.0),
}


def _setup(case: Case, seed: int = 0) -> tuple[rpgraph.Program, Any, Tree, Tree]:
    rng = np.random.default_rng(seed)
    prog = rpgraph.compile(case.spec)
    np.random.seed(seed)  # Rockpool draws initial weights from numpy's global generator
    net = case.make()
    rock = net.parameters()
    if case.tweak is not None:
        case.tweak(rock, rng)
    params = copy_params(prog, rock, case.names, case.moves)
    return prog, net, rock, params


@pytest.mark.parametrize("name", list(CASES))
def test_module_network_matches_rockpool(name: str) -> None:
    case = CASES[name]
    prog, net, rock, params = _setup(case)
    rng = np.random.default_rng(1)
    size_out = prog.network.shape[1]
    x = jnp.asarray(case.scale * rng.normal(0, 1, (2, 40, case.n_in)), jnp.float32)
    target = jnp.asarray(rng.normal(0, 0.5, (2, 40, size_out)), jnp.float32)

    y, state, rec = prog.evolve(params, x, record=True)
    (lr, (yr, sr, rr)), gr = rock_everything(net, rock, x, target)
    close(y, yr, msg="output")
    if "lif" in name:
        assert float(jnp.sum(y if "chain" not in name else rec["a"]["spikes"])) > 0
        # well conditioned: spike counts far from max_spikes_per_dt (see _lif_taus)
        assert float(jnp.max(y)) < 100
    for node, rname in case.states.items():
        for k, v in state[node].items():
            close(v[0], sr[rname][k], msg=f"state {node}.{k}")
    for node, path in case.traces.items():
        rtr = lookup(rr, path)
        for k, v in rec[node].items():
            if k == "output":
                close(v, rr[path[-1] + "_output"], msg=f"trace {node}.output")
            else:
                close(v, rtr[k], msg=f"trace {node}.{k}")
    if name == "lif-graph-recurrence":
        # the graph's w_rec carries last step's spikes: Rockpool's internal irec
        close(rec["w_rec"]["output"], rr["1_LIFJax"]["irec"][..., 0], msg="irec")

    lm, gm = jax.value_and_grad(prog.loss)(params, x, target)
    close(lm, lr, msg="loss")
    grads_close(gm, spec_tree(gr, case.names, case.moves), name)
    assert any(float(jnp.max(jnp.abs(g))) > 0 for g in jax.tree_util.tree_leaves(gm))


@pytest.mark.parametrize("name", ["lif-graph-recurrence", "residual-stateful"])
def test_unbatched_matches_batched(name: str) -> None:
    case = CASES[name]
    prog, net, rock, params = _setup(case)
    x = jnp.asarray(case.scale * np.random.default_rng(2).normal(0, 1, (30, case.n_in)),
                    jnp.float32)
    y, state, rec = prog.evolve(params, x, record=True)
    yb, sb, rb = prog.evolve(params, x[None], record=True)
    yr = rock_everything(net, rock, x[None], jnp.zeros_like(yb))[0][1][0]
    assert y.shape == (30, prog.network.shape[1])
    close(y, yb[0], atol=0)
    close(y, yr[0])
    for node in sb:
        for k in sb[node]:
            assert state[node][k].shape == sb[node][k].shape[1:]
    for a, b in zip(jax.tree_util.tree_leaves(rec), jax.tree_util.tree_leaves(rb)):
        close(a, b[0], atol=0)


@pytest.mark.parametrize(("name", "opts"), [
    ("lif-graph-recurrence", {"hoist": False}),
    ("lif-graph-recurrence", {"assoc_scan": True}),
    ("lif-graph-recurrence", {"remat": 10}),
    ("lif-graph-recurrence", {"unroll": 7, "remat": 10}),  # the loop scan, in remat chunks
    ("lif-feedforward-nsyn2", {"unroll": 8}),  # the kind's own scans
], ids=["no-hoist", "assoc-scan", "remat", "unroll-remat", "unroll-feedforward"])
def test_options_identical(name: str, opts: dict[str, Any]) -> None:
    case = CASES[name]
    params, x, target, (y0, s0, r0, g0) = _baseline(name)
    other = rpgraph.compile(case.spec, **opts)
    y1, s1, r1 = other.evolve(params, x, record=True)
    close(y1, y0)
    assert jax.tree_util.tree_structure(s1) == jax.tree_util.tree_structure(s0)
    for a, b in zip(jax.tree_util.tree_leaves(s1), jax.tree_util.tree_leaves(s0)):
        close(a, b)
    assert sorted(r1) == sorted(r0)
    for node in r0:
        assert sorted(r1[node]) == sorted(r0[node]), node
        for k in r0[node]:
            close(r1[node][k], r0[node][k], msg=f"{node}.{k}")
    grads_close(jax.grad(other.loss)(params, x, target), g0, str(opts))


NOISY = """network noisy (dt = 1 ms) {
    input x : 3
    output y : 2
    x -> linear(4) -> r: rate(activation = tanh, noise_std = 0.3) -> linear(4)
      -> h: lif(noise_std = 0.2, threshold = 0.3) -> linear(2) -> y
    h -> w: linear(4) -> h
}
"""


def test_remat_draws_the_same_noise() -> None:
    """Noise is drawn for the whole series before remat's chunks (and sliced), so a noisy
    network gives the same outputs, state (its advanced noise key included) and gradients
    with remat as without: a scanned node (``r``) and one in a loop (``h``)."""
    base, chunked = rpgraph.compile(NOISY), rpgraph.compile(NOISY, remat=5)
    params = base.init(0)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 20, 3)), jnp.float32)
    t = jnp.zeros((2, 20, 2), jnp.float32)
    state = base.initial_state(2)
    (y0, s0, r0), (y1, s1, r1) = (p.evolve(params, x, state, record=True)
                                  for p in (base, chunked))
    close(y1, y0)
    for node in ("r", "h"):
        close(r1[node]["output"], r0[node]["output"], msg=node)
    for key in ("r", "h"):  # the noise keys advanced once, as without remat
        np.testing.assert_array_equal(np.asarray(s1[key]["rng_key"]),
                                      np.asarray(s0[key]["rng_key"]))
        assert not np.array_equal(np.asarray(s1[key]["rng_key"]),
                                  np.asarray(state[key]["rng_key"]))
    grads_close(jax.grad(chunked.loss)(params, x, t), jax.grad(base.loss)(params, x, t),
                "noisy remat")


@functools.cache
def _baseline(name: str) -> tuple[Tree, Any, Any, tuple[Any, Any, Any, Tree]]:
    """Default options (associative scan off): parameters, data and results."""
    case = CASES[name]
    base = rpgraph.compile(case.spec, assoc_scan=False)
    params = _setup(case)[3]
    rng = np.random.default_rng(3)
    x = jnp.asarray(case.scale * rng.normal(0, 1, (2, 30, case.n_in)), jnp.float32)
    target = jnp.asarray(rng.normal(0, 0.5, (2, 30, base.network.shape[1])), jnp.float32)
    y, s, r = base.evolve(params, x, record=True)
    return params, x, target, (y, s, r, jax.grad(base.loss)(params, x, target))


@pytest.mark.parametrize(("opts", "message"), [
    ({"unroll": 0}, "error: Expected unroll to be None or an integer >= 1, got 0"),
    ({"remat": -3}, "error: Expected remat to be None or an integer >= 1, got -3"),
    ({"unroll": 2.5}, "error: Expected unroll to be None or an integer >= 1, got 2.5"),
    ({"unrol": 4}, "error: unknown compiler option 'unrol'\nhint: did you mean 'unroll'?"),
])
def test_bad_compiler_options(opts: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecValueError) as err:
        rpgraph.compile(f"{SPECS}/tutorial_mlp.rpg", **opts)
    assert str(err.value) == message


def test_unroll_defaults_per_backend() -> None:
    from rpgraph.compile import Options

    assert Options().resolved_unroll() == (8 if jax.default_backend() == "gpu" else 1)
    assert Options(unroll=3).resolved_unroll() == 3


def test_continuing_from_a_state() -> None:
    """Evolving in two halves, passing the state along, equals one evolution."""
    case = CASES["lif-graph-recurrence"]
    prog, _, _, params = _setup(case)
    x = jnp.asarray(4 * np.random.default_rng(4).normal(0, 1, (2, 40, 4)), jnp.float32)
    y, s, _ = prog.evolve(params, x)
    y1, s1, _ = prog.evolve(params, x[:, :20])
    y2, s2, _ = prog.evolve(params, x[:, 20:], state=s1)
    close(jnp.concatenate([y1, y2], axis=1), y, atol=1e-6)
    close(s2["h"]["vmem"], s["h"]["vmem"], atol=1e-6)


# --- no dead work -----------------------------------------------------------------------------


def test_no_dead_work() -> None:
    ff = rpgraph.compile("network n { input x : 3\n output y : 2\n x -> linear(2) -> h: lif -> y }")
    assert set(ff.init(0)["h"]) == {"tau_mem", "tau_syn", "bias", "threshold"}
    assert set(ff.initial_state()["h"]) == {"spikes", "isyn", "vmem"}  # noise_std = 0: no rng
    noisy = rpgraph.compile(
        "network n { input x : 3\n output y : 2\n x -> linear(2) -> h: lif(noise_std = 0.1) -> y }")
    assert "rng_key" in noisy.initial_state()["h"]
    y, state, rec = ff.evolve(ff.init(0), jnp.ones((5, 3)))
    assert rec == {}
    assert set(state) == {"h"}
    mlp = rpgraph.compile(f"{SPECS}/tutorial_mlp.rpg")
    assert [s.op for s in mlp.stages] == ["apply", "apply", "apply", "apply"]
    assert mlp.initial_state() == {}


# --- compile time is flat in T ----------------------------------------------------------------


def test_program_size_does_not_grow_with_T() -> None:
    """Time is a scan, never unrolled: the compiled program for T=10,000 is the one for T=200
    with other shape constants (compile *time* is measured by benchmarks/scaling.py)."""
    prog = rpgraph.compile(f"{SPECS}/tutorial_rate.rpg")
    params = prog.init(0)
    f = jax.jit(lambda p, x, t: prog.evolve_and_loss(p, x, t)[0])

    def hlo(T: int) -> str:
        x = jax.ShapeDtypeStruct((1, T, 2000), jnp.float32)
        t = jax.ShapeDtypeStruct((1, T, 2), jnp.float32)
        return f.lower(params, x, t).as_text()

    short, long = hlo(200), hlo(10_000)  # both multiples of the GPU's unroll (8)
    assert long.count("\n") == short.count("\n")
    assert abs(len(long) - len(short)) <= 0.02 * len(short)


# --- bad inputs fail before tracing -----------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> tuple[rpgraph.Program, Tree]:
    prog = rpgraph.compile(
        "network n { input x : 3\n output y : 2\n x -> linear(4) -> h: rate -> linear(2) -> y }")
    return prog, prog.init(0)


def _without(params: Tree, node: str, leaf: str | None = None) -> Tree:
    out = {k: dict(v) for k, v in params.items()}
    if leaf is None:
        del out[node]
    else:
        del out[node][leaf]
    return out


def _with(params: Tree, node: str, leaf: str, value: Any) -> Tree:
    out = {k: dict(v) for k, v in params.items()}
    out.setdefault(node, {})[leaf] = value
    return out


@pytest.mark.parametrize("make_args, message", [
    (lambda p: (p, np.ones((5, 4))),
     "error: input 'x' has width 4; expected 3 (got shape (5, 4); expected (T, 3) or "
     "(B, T, 3))"),
    (lambda p: (p, np.ones((5,))),
     "error: input 'x' has shape (5,); expected (T, 3) or (B, T, 3)"),
    (lambda p: (p, np.ones((2, 2, 5, 3))),
     "error: input 'x' has shape (2, 2, 5, 3); expected (T, 3) or (B, T, 3)"),
    (lambda p: (p, {"z": np.ones((5, 3))}), "error: missing input 'x'; got 'z'"),
    (lambda p: (p, {"x": np.ones((5, 3)), "xx": np.ones((5, 3))}),
     "error: unknown input 'xx'; this network has inputs x\nhint: did you mean 'x'?"),
    (lambda p: (_without(p, "h", "tau"), np.ones((5, 3))),
     "error: params is missing 'h.tau' (shape (4,))"),
    (lambda p: (_without(p, "h"), np.ones((5, 3))),
     "error: params is missing node 'h'"),
    (lambda p: (_with(p, "zz", "w", jnp.ones(3)), np.ones((5, 3))),
     "error: params has an extra entry 'zz'\n"
     "hint: expected nodes: h, linear_0, linear_1"),
    (lambda p: (_with(p, "h", "foo", jnp.ones(4)), np.ones((5, 3))),
     "error: params has an extra leaf 'h.foo'\nhint: 'h' has: tau, bias, threshold"),
    (lambda p: (_with(p, "linear_0", "weight", jnp.ones((4, 3))), np.ones((5, 3))),
     "error: params 'linear_0.weight' has shape (4, 3); expected (3, 4)"),
    (lambda p: ([], np.ones((5, 3))),
     "error: Expected params as a dict of nodes, got list"),
], ids=["width", "rank-1", "rank-4", "input-name", "extra-input", "missing-leaf", "missing-node",
        "extra-node", "extra-leaf", "leaf-shape", "not-a-dict"])
def test_bad_inputs_fail_before_tracing(small: Any, make_args: Any, message: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    prog, params = small
    args = make_args(params)

    def no_trace(*a: Any, **k: Any) -> Any:
        raise AssertionError("traced before checking its inputs")

    monkeypatch.setattr(prog._exec, "run", no_trace)
    monkeypatch.setattr(prog, "_evolve_and_loss", no_trace)
    target = np.zeros((5, 2))
    for call in (lambda: prog.evolve(*args), lambda: prog.loss(*args, target),
                 lambda: prog.evolve_and_loss(*args, target)):
        with pytest.raises(SpecShapeError) as err:
            call()
        assert str(err.value) == message


# --- API conveniences -------------------------------------------------------------------------


def test_value_and_grad_and_str(small: Any) -> None:
    prog, params = small
    x, target = jnp.ones((2, 5, 3)), jnp.zeros((2, 5, 2))
    value, grads = jax.value_and_grad(prog.loss)(params, x, target)
    assert jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(params)
    close(value, prog.evolve_and_loss(params, x, target)[0], atol=1e-7)
    y, _, _ = prog.evolve(params, x)
    close(value, jnp.mean((y - target) ** 2), atol=1e-7)
    assert str(prog) == (
        "Program 'n' with shape (3, 2) {\n"
        "    linear 'linear_0' with shape (3, 4)  [LinearJax]\n"
        "    rate 'h' with shape (4,)  [RateJax]\n"
        "    linear 'linear_1' with shape (4, 2)  [LinearJax]\n"
        "    bound h.tau in [0.0005, inf] (project, default floor)\n"
        "}")
    seed = rpgraph.compile(f"{SPECS}/tutorial_rate.rpg")
    assert str(seed) == (
        "Program 'tutorial_rate' with shape (2000, 2) {\n"
        "    linear 'linear_0' with shape (2000, 200)  [LinearJax]\n"
        "    rate 'hidden' with shape (200,)  [RateJax]\n"
        "    linear 'linear_1' with shape (200, 2)  [LinearJax]\n"
        "    bound hidden.tau in [0.01, inf] (penalty)\n"
        "}")


_NOISY = {
    "rate": ("rate(activation = tanh, noise_std = 0.5)",
             lambda n: RateJax(n, activation_func="tanh", noise_std=0.5), ("tau", "bias",
                                                                            "threshold")),
    "lif": ("lif(noise_std = 0.5, tau_syn = 5 ms)",
            lambda n: LIFJax(n, noise_std=0.5, tau_syn=5e-3),
            ("tau_mem", "tau_syn", "bias", "threshold")),
    "expsyn": ("expsyn(noise_std = 0.5)", lambda n: ExpSynJax(n, noise_std=0.5), ("tau",)),
}


@pytest.mark.parametrize("kind", sorted(_NOISY))
def test_noise_matches_rockpool_given_the_same_key(kind: str) -> None:
    """Noise is drawn like Rockpool's (split the node's key, one normal draw for the whole
    sequence), so with Rockpool's key the noisy outputs and the next key agree exactly."""
    call, make, names = _NOISY[kind]
    n = 5
    prog = rpgraph.compile(f"network n (dt = 1 ms) {{\n    input x : {n}\n    output y : {n}\n"
                           f"    x -> h: {call} -> y\n}}\n")
    mod = make(n)
    params = {"h": {k: jnp.broadcast_to(jnp.asarray(getattr(mod, k), jnp.float32),
                                        prog.init(0)["h"][k].shape) for k in names}}
    state = prog.initial_state()
    state["h"]["rng_key"] = jnp.asarray(mod.rng_key)
    x = np.random.RandomState(1).rand(30, n).astype(np.float32) * (3.0 if kind == "lif" else 1)
    y, new_state, _ = prog.evolve(params, x, state=state)
    ref, ref_state, _ = mod(x)
    np.testing.assert_allclose(np.asarray(y), np.asarray(ref)[0], rtol=1e-5, atol=1e-6)
    if "rng_key" in ref_state:  # Rockpool's ExpSynJax does not return its next key
        np.testing.assert_array_equal(np.asarray(new_state["h"]["rng_key"]),
                                      np.asarray(ref_state["rng_key"]))
    quiet, _, _ = prog.evolve(params, x)  # a different key: different noise
    assert not np.allclose(np.asarray(quiet), np.asarray(y))


def test_distinct_nodes_draw_distinct_noise() -> None:
    prog = rpgraph.compile(
        "network n (dt = 1 ms) {\n    input x : 3\n    output y : 3\n    output z : 3\n"
        "    x -> w1: linear(3, weight = 0) -> hidden1: rate(noise_std = 1.0) -> y\n"
        "    x -> w2: linear(3, weight = 0) -> hidden2: rate(noise_std = 1.0) -> z\n}\n")
    out, state, _ = prog.evolve(prog.init(0), np.zeros((20, 3), np.float32))
    assert not np.allclose(np.asarray(out["y"]), np.asarray(out["z"]))
    assert set(state["hidden1"]) == {"x", "rng_key"}


# --- Python API misuse: SpecError with the expected type, never a raw TypeError ------------


@pytest.fixture(scope="module")
def tiny_prog() -> rpgraph.Program:
    return rpgraph.compile("network n { input x : 3\n output y : 2\n x -> linear(2) -> y }")


@pytest.mark.parametrize(("call", "message"), [
    (lambda p, w: p.init(2**70), "Expected 0 <= seed <= 4294967295, got 1.18e+21"),
    (lambda p, w: p.init(1.5), "Expected seed to be an integer, got float 1.5"),
    (lambda p, w: p.load_params(123), "Expected a path (str or Path) to a run folder or "
     "params file, got int 123"),
    (lambda p, w: p.evolve(w, "abc"), "input 'x' holds strings; expected real numbers"),
    (lambda p, w: p.evolve(w, np.array([object()] * 3)),
     "input 'x' holds Python objects; expected real numbers"),
    (lambda p, w: p.evolve(w, np.ones((4, 3)) * (1 + 2j)),
     "input 'x' holds complex numbers; expected real numbers"),
    (lambda p, w: p.evolve({"linear_0": {"weight": [[0.0, 0.0]] * 3}}, np.ones((4, 3))),
     "params 'linear_0.weight' is a list; expected an array of shape (3, 2)"),
    (lambda p, w: rpgraph.fit(p, "sinusoids(classes = 2, length = 5, channels_in = 3)",
                              epochs=1.5, progress=False),
     "Expected epochs to be an integer, got float 1.5"),
    (lambda p, w: rpgraph.fit(p, "sinusoids(classes = 2, length = 5, channels_in = 3)",
                              devices=-1, progress=False),
     "Expected devices to be an integer >= 1, got int -1"),
], ids=["init_huge", "init_float", "load_params_int", "evolve_str", "evolve_object",
        "evolve_complex", "leaf_list", "fit_epochs", "fit_devices"])
def test_api_misuse_is_a_spec_error(tiny_prog: rpgraph.Program, call: Callable[..., Any],
                                    message: str) -> None:
    with pytest.raises(SpecValueError) as info:
        call(tiny_prog, tiny_prog.init(0))
    assert str(info.value).splitlines()[0] == f"error: {message}"


def test_plain_lists_of_numbers_still_evolve(tiny_prog: rpgraph.Program) -> None:
    y, _, _ = tiny_prog.evolve(tiny_prog.init(0), [[1, 2, 3]] * 4)
    assert y.shape == (4, 2)
