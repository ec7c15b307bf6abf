"""NIR interchange: round trips, imports of real NIR files checked against an independent
numpy simulation of the NIR equations, error reporting, gradients."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import nir
import numpy as np
import pytest
from nir_readers import equations as reference

import rpgraph
from rpgraph import SpecError
from rpgraph.nir import detect_convention, from_nir, nir_to_spec, read_nir, to_nir, write_nir

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "nir"
NIR_FILES = sorted(SHARED.glob("*.nir")) if SHARED.is_dir() else []


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# --- round trips rpgraph -> NIR -> rpgraph ---------------------------------------------------

ROUND_TRIP = {
    "linear": "network n { input x : 5\n output y : 3\n x -> linear(3) -> y }",
    "affine": "network n { input x : 5\n output y : 3\n x -> linear(3, bias = true) -> y }",
    "expsyn": "network n (dt = 1 ms) { input x : 5\n output y : 4\n"
              " x -> linear(4) -> expsyn(tau = 5 ms) -> y }",
    "lif_ff": "network n (dt = 1 ms) { input x : 5\n output y : 6\n"
              " x -> linear(6, bias = true) -> h: lif(tau_mem = 20 ms, tau_syn = 5 ms,"
              " bias = 0.05, threshold = 0.5) -> linear(3) -> lif(threshold = 0.3) -> linear(6)"
              " -> expsyn -> y }",
    "lif_cycle": "network n (dt = 1 ms) { input x : 5\n output y : 2\n"
                 " x -> w_in: linear(8) -> h: lif(threshold = 0.5)\n"
                 " h -> w_rec: linear(8) -> h\n h -> linear(2) -> expsyn -> y }",
    "lif_v_reset": "network n (dt = 1 ms) { input x : 5\n output y : 4\n"
                   " x -> linear(4) -> h: lif(reset = v_reset, v_reset = uniform(-0.2, 0.1),"
                   " threshold = 0.5) -> y }",
    "lif_rec": "network n (dt = 1 ms) { input x : 5\n output y : 2\n"
               " x -> linear(8) -> h: lif(rec = true, threshold = 0.5) -> linear(2) -> y }",
    "nested": "block layer(n) { input i\n output o\n"
              " i -> w: linear(n) -> l: lif(threshold = 0.5) -> o }\n"
              "block res(n) { input i\n output o\n i -> a: layer(n) -> s: expsyn -> o\n"
              " i -> o }\n"
              "network n (dt = 1 ms) { input x : 5\n output y : 3\n"
              " x -> linear(6) -> r1: res(6) -> r2: res(6) -> linear(3) -> y }",
    "residual": "block res(n) { input i\n output o\n i -> w: linear(n) -> o\n i -> o }\n"
                "network n (dt = 1 ms) { input x : 5\n output y : 5\n"
                " x -> linear(6) -> r: res(6) -> h: lif(threshold = 0.5) -> linear(5) -> s\n"
                " x -> s: identity -> y }",
}


def _jitter(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """Per-neuron parameter values (not just the constant initialisers)."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for node, leaves in params.items():
        out[node] = {}
        for k, v in leaves.items():
            v = np.asarray(v)
            if k.startswith("tau"):
                v = v * rng.uniform(0.5, 1.5, v.shape)
            elif k == "threshold":
                v = v * rng.uniform(0.8, 1.2, v.shape)
            out[node][k] = jnp.asarray(v, jnp.float32)
    return out


@pytest.mark.parametrize("case", sorted(ROUND_TRIP))
def test_round_trip_identical_outputs(case: str, tmp_path: Path) -> None:
    prog = rpgraph.compile(ROUND_TRIP[case])
    params = _jitter(prog.init(seed=1), seed=2)
    x = np.random.default_rng(0).normal(0, 1.0, (60, prog.network.size("x")))
    x = x.astype(np.float32)
    y0, _, rec0 = prog.evolve(params, x, record=True)
    graph = to_nir(prog, params)
    path = tmp_path / f"{case}.nir"
    write_nir(graph, path)
    back = nir.read(path)
    assert set(back.nodes) == set(graph.nodes)
    assert sorted(map(tuple, back.edges)) == sorted(graph.edges)
    assert detect_convention(back, prog.network.dt) == "nir"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an exact round trip needs no approximation
        net2, params2 = from_nir(path, dt=prog.network.dt)
    prog2 = rpgraph.compile(net2)
    prog2.check_params(params2)
    y1, _, rec1 = prog2.evolve(params2, x, record=True)
    # lif(rec = true) becomes a Linear in a cycle: the same sums in another order
    np.testing.assert_allclose(np.asarray(y1), np.asarray(y0), rtol=1e-4, atol=1e-5)
    spikes = [np.asarray(r["spikes"]) for r in rec0.values() if "spikes" in r]
    if spikes:  # the spiking cases must actually spike
        assert sum(float(s.sum()) for s in spikes) > 0
    for node, r in rec0.items():
        if "spikes" in r:  # block instances come back as blocks: the same node ids
            np.testing.assert_array_equal(np.asarray(rec1[node]["spikes"]),
                                          np.asarray(r["spikes"]))


def test_blocks_export_as_nested_subgraphs(tmp_path: Path) -> None:
    prog = rpgraph.compile(ROUND_TRIP["nested"])
    params = prog.init(0)
    graph = to_nir(prog, params)
    types = {k: type(v).__name__ for k, v in graph.nodes.items()}
    assert types == {"x": "Input", "y": "Output", "linear_0": "Linear", "linear_1": "Linear",
                     "r1": "NIRGraph", "r2": "NIRGraph"}
    assert sorted(graph.edges) == [("linear_0", "r1"), ("linear_1", "y"), ("r1", "r2"),
                                   ("r2", "linear_1"), ("x", "linear_0")]
    r1 = graph.nodes["r1"]
    assert r1.metadata == {"rpgraph_block": "res"}
    assert {k: type(v).__name__ for k, v in r1.nodes.items()} == {
        "i": "Input", "o": "Output", "a": "NIRGraph", "s": "LI"}
    assert sorted(r1.edges) == [("a", "s"), ("i", "a"), ("i", "o"), ("s", "o")]
    layer = r1.nodes["a"]
    assert layer.metadata == {"rpgraph_block": "layer"}
    np.testing.assert_array_equal(layer.nodes["w"].weight,
                                  np.asarray(params["r1.a.w"]["weight"]).T)
    write_nir(graph, tmp_path / "nested.nir")
    net, back = from_nir(tmp_path / "nested.nir", dt=1e-3)
    # one block per name, as in the spec (each instance was its own subgraph)
    assert net.source.count("block res {") == 1 and net.source.count("block layer {") == 1
    assert "r1: res -> r2: res" in net.source
    assert sorted(back) == sorted(params)
    flat = to_nir(prog, params, nested=False)
    assert not any(isinstance(v, nir.NIRGraph) for v in flat.nodes.values())
    assert {"r1_a_w", "r1_a_l", "r2_s"} <= set(flat.nodes)
    x = np.random.default_rng(0).normal(0, 1.0, (40, 5)).astype(np.float32)
    y0 = prog.evolve(params, x)[0]
    for g in (graph, flat):
        net2, params2 = from_nir(g, dt=1e-3)
        np.testing.assert_allclose(rpgraph.compile(net2).evolve(params2, x)[0], y0,
                                   rtol=1e-5, atol=1e-5)
    # a recurrent lif inside a block: its recurrent Linear lives in the block's subgraph
    rec = rpgraph.compile(ROUND_TRIP["nested"].replace("lif(threshold", "lif(rec = true, "
                                                       "threshold"))
    sub = to_nir(rec, rec.init(0)).nodes["r2"].nodes["a"]
    assert type(sub.nodes["l_w_rec"]).__name__ == "Linear"
    assert ("l", "l_w_rec") in sub.edges and ("l_w_rec", "l") in sub.edges


def test_export_node_types_and_metadata() -> None:
    """The default convention ("nir"): forward Euler at dt, so tau_nir = dt / (1 - a) for
    rpgraph's decay a = exp(-dt / tau); r = tau_mem_nir / dt and w_in = a_s tau_syn_nir / dt
    make the forward-Euler gains 1 and a_s (rpgraph's isyn = a_s (isyn + x))."""
    prog = rpgraph.compile(ROUND_TRIP["lif_rec"])
    params = prog.init(0)
    graph = _quiet(to_nir, prog, params)
    types = {k: type(v).__name__ for k, v in graph.nodes.items()}
    assert types["h"] == "CubaLIF" and types["h_w_rec"] == "Linear"
    assert ("h", "h_w_rec") in graph.edges and ("h_w_rec", "h") in graph.edges
    assert graph.metadata["dt"] == pytest.approx(1e-3)
    assert graph.metadata["convention"] == "nir" and "forward Euler" in \
        graph.metadata["discretisation"]
    h = graph.nodes["h"]
    tau_mem = np.asarray(params["h"]["tau_mem"], np.float64)
    tau_syn = np.asarray(params["h"]["tau_syn"], np.float64).ravel()
    a_m, a_s = np.exp(-1e-3 / tau_mem), np.exp(-1e-3 / tau_syn)
    np.testing.assert_allclose(1 - 1e-3 / h.tau_mem, a_m, rtol=1e-12)
    np.testing.assert_allclose(1 - 1e-3 / h.tau_syn, a_s, rtol=1e-12)
    np.testing.assert_allclose(h.r * 1e-3 / h.tau_mem, 1.0, rtol=1e-12)
    np.testing.assert_allclose(h.w_in * 1e-3 / h.tau_syn, a_s, rtol=1e-12)
    assert h.metadata["rpgraph_reset"] == "subtract"
    assert h.metadata["rpgraph_spikes"].startswith("floor(v / v_threshold)")


def test_export_reset_and_its_warning() -> None:
    """``lif(reset = v_reset)`` is NIR's own reset: exported as is, silently. A subtractive
    ``lif`` is exported with v_reset = 0 and a warning, since other readers will reset it."""
    prog = rpgraph.compile(ROUND_TRIP["lif_v_reset"])
    params = prog.init(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = to_nir(prog, params).nodes["h"]
    np.testing.assert_array_equal(h.v_reset, np.asarray(params["h"]["v_reset"], np.float64))
    assert h.metadata["rpgraph_reset"] == "v_reset"
    prog = rpgraph.compile(ROUND_TRIP["lif_ff"])
    with pytest.warns(UserWarning, match="NIR export \\(nir\\): lif 'h': subtracts its "
                      "threshold after a spike and may emit several spikes per step; a NIR "
                      "reader emits one and sets v to v_reset = 0"):
        h = to_nir(prog, prog.init(0)).nodes["h"]
    np.testing.assert_array_equal(h.v_reset, 0.0)
    assert h.metadata["rpgraph_reset"] == "subtract"


def test_export_lists_every_unsupported_node() -> None:
    prog = rpgraph.compile("network n (dt = 1 ms) { input x : 3\n output y : 3\n"
                           " x -> a: tanh -> b: rate -> c: lif(n_syn = 3) -> linear(3) -> y }")
    with pytest.raises(SpecError) as err:
        to_nir(prog, prog.init(0))
    msg = str(err.value)
    assert "3 unsupported nodes" in msg
    for part in ("'a' (tanh", "'b' (rate", "'c' (lif with n_syn = 3"):
        assert part in msg


# --- imports of real NIR files ---------------------------------------------------------------

IMPORTS = {  # file -> (dt, convention auto resolves to, rpgraph node of each NIR neuron)
    "lif_norse.nir": (1e-4, "norse", {"1": "n1"}),
    "two_lif_neurons.nir": (1e-3, "norse", {"lif1": "lif1", "lif2": "lif2"}),
    "braille_subgraph_snntorch.nir": (1e-4, "snntorch",
                                      {"lif1.lif1": "lif1.lif1", "lif2": "lif2"}),
}


def test_shared_files_present() -> None:
    if not NIR_FILES:
        pytest.skip(f"no shared NIR files at {SHARED}")
    assert {p.name for p in NIR_FILES} >= set(IMPORTS)


@pytest.mark.parametrize("fname", sorted(IMPORTS))
def test_import_matches_reference(fname: str) -> None:
    path = SHARED / fname
    if not path.is_file():
        pytest.skip(f"{path} not found")
    dt, convention, neurons = IMPORTS[fname]
    graph = read_nir(path)
    assert detect_convention(graph, dt) == convention
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net, params = from_nir(path, dt=dt)
    # NIR's reset is reproduced (lif(reset = v_reset)): no reset approximation to warn about
    assert not [w for w in caught if "reset" in str(w.message)], caught
    assert "Imported from NIR" in net.source and "reset = v_reset" in net.source
    prog = rpgraph.compile(net)
    prog.check_params(params)
    n_in = prog.network.size(prog.inputs[0])
    rng = np.random.default_rng(3)
    if "braille" in fname:
        x = (rng.random((150, n_in)) < 0.3).astype(np.float32)
    else:
        x = rng.uniform(0, 2.0, (300, n_in)).astype(np.float32)
    y, _, rec = prog.evolve(params, x, record=True)
    ref = reference(graph, x, dt, convention)
    total = 0.0
    for nir_name, node in neurons.items():
        got = np.asarray(rec[node]["spikes"])
        want = ref[nir_name]
        total += float(want.sum())
        np.testing.assert_array_equal(got, want, err_msg=f"{fname}: spikes of {nir_name}")
    assert total > 0, "the reference never spikes: the comparison would be vacuous"
    out = next(k for k, v in graph.nodes.items() if isinstance(v, nir.Output))
    np.testing.assert_array_equal(np.asarray(y), ref[out])


def test_braille_recurrent_block_and_gradient() -> None:
    path = SHARED / "braille_subgraph_snntorch.nir"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    net, params = _quiet(from_nir, path, dt=1e-4)
    assert "block lif1_graph" in net.source
    rec_edges = [(u, v) for u, v, e in net.graph.edges(data=True) if e.get("recurrent")]
    assert rec_edges == [("lif1.lif1", "lif1.lin")]
    # snnTorch's beta = 1 - dt / tau_mem = 0.85 becomes rpgraph's exp(-dt / tau_mem)
    np.testing.assert_allclose(np.exp(-1e-4 / params["lif1.lif1"]["tau_mem"]), 0.85, rtol=1e-5)
    prog = rpgraph.compile(net)
    x = (np.random.default_rng(0).random((4, 80, 12)) < 0.3).astype(np.float32)
    target = np.zeros((4, 80, 7), np.float32)
    jparams = jax.tree_util.tree_map(jnp.asarray, params)
    loss, grads = jax.value_and_grad(prog.loss)(jparams, x, target)
    assert np.isfinite(float(loss))
    flat = jax.tree_util.tree_leaves(grads)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in flat)
    assert any(float(jnp.abs(g).sum()) > 0 for g in flat)
    assert set(grads) == set(params)


def test_conventions_differ_and_can_be_forced() -> None:
    path = SHARED / "braille_subgraph_snntorch.nir"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    _, p_snn = _quiet(from_nir, path, dt=1e-4, convention="snntorch")
    _, p_rp = _quiet(from_nir, path, dt=1e-4, convention="rockpool")
    tau = read_nir(path).nodes["lif2"].tau_mem
    np.testing.assert_allclose(p_rp["lif2"]["tau_mem"], tau, rtol=1e-6)
    np.testing.assert_allclose(p_snn["lif2"]["tau_mem"], -1e-4 / np.log(1 - 1e-4 / tau),
                               rtol=1e-6)
    with pytest.raises(SpecError, match="unknown NIR convention"):
        from_nir(path, dt=1e-4, convention="brian")
    with pytest.raises(SpecError, match="positive time step"):
        from_nir(path, dt=0.0)


# --- hand-made graphs: the other node types ---------------------------------------------------


def test_zoo_of_node_types_matches_reference() -> None:
    """Input straight into a LIF (a frozen gain node), Scale, LI, IF, I, Threshold."""
    rng = np.random.default_rng(5)
    n = 4
    ones = np.ones(n)
    nodes = {
        "inp": nir.Input(input_type=np.array([n])),
        "lif": nir.LIF(tau=rng.uniform(5e-3, 2e-2, n), r=rng.uniform(0.5, 2, n),
                       v_leak=rng.uniform(0, 0.5, n), v_threshold=ones * 0.5),
        "scale": nir.Scale(scale=rng.uniform(0.5, 1.5, n)),
        "if_": nir.IF(r=ones * 50.0, v_threshold=ones * 0.7),
        "lin": nir.Linear(weight=rng.normal(0, 1, (n, n))),
        "li": nir.LI(tau=ones * 1e-2, r=ones * 2.0, v_leak=0 * ones),
        "integ": nir.I(r=ones * 3.0),
        "thr": nir.Threshold(threshold=ones * 0.1),
        "out": nir.Output(output_type=np.array([n])),
    }
    edges = [("inp", "lif"), ("inp", "scale"), ("scale", "if_"), ("lif", "lin"),
             ("if_", "lin"), ("lin", "li"), ("li", "thr"), ("inp", "integ"),
             ("thr", "out"), ("integ", "out")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges)
    dt = 1e-3
    with pytest.warns(UserWarning) as caught:
        text, params = nir_to_spec(graph, dt=dt, convention="norse")
    messages = " ".join(str(w.message) for w in caught)
    assert "frozen diagonal linear 'lif_in'" in messages and "Threshold" in messages
    assert "freeze = [" in text and "lif_in.weight" in text and "scale.weight" in text
    prog = rpgraph.compile(text)
    assert not prog.parameter_info()["scale.weight"]["trainable"]
    x = rng.uniform(0, 1.5, (200, n)).astype(np.float32)
    y, _, rec = prog.evolve(params, x, record=True)
    ref = reference(graph, x, dt, "norse")
    for name, node in (("lif", "lif_"), ("if_", "if_"), ("thr", "thr")):  # lif: a kind name
        np.testing.assert_array_equal(np.asarray(rec[node]["spikes"]), ref[name], err_msg=name)
        assert ref[name].sum() > 0, name
    np.testing.assert_allclose(np.asarray(rec["li_"]["v"]), ref["li"], rtol=1e-4, atol=1e-5)
    assert "li_: li" in text and "if_: if(reset = v_reset)" in text  # the kinds NIR names
    np.testing.assert_allclose(np.asarray(y), ref["out"], rtol=1e-4, atol=1e-4)


def _li_if_graph(v_leak: float) -> nir.NIRGraph:
    """``x -> Linear -> LI`` and ``x -> Linear -> IF`` (per-neuron parameters)."""
    rng = np.random.default_rng(8)
    n = 4
    u = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    nodes = {"x": nir.Input(np.array([n])),
             "wl": nir.Linear(weight=rng.normal(0.5, 0.5, (n, n))),
             "leaky": nir.LI(tau=u(4e-3, 2e-2), r=u(0.5, 2), v_leak=v_leak * u(0.5, 1)),
             "wf": nir.Linear(weight=rng.normal(0.5, 0.5, (n, n))),
             "fire": nir.IF(r=u(40, 60), v_threshold=u(0.5, 0.9), v_reset=u(-0.2, 0)),
             "yl": nir.Output(np.array([n])), "yf": nir.Output(np.array([n]))}
    return nir.NIRGraph(nodes=nodes, edges=[("x", "wl"), ("wl", "leaky"), ("leaky", "yl"),
                                            ("x", "wf"), ("wf", "fire"), ("fire", "yf")])


@pytest.mark.parametrize("convention", ["nir", "rockpool"])
def test_li_and_if_import_as_their_kinds(convention: str) -> None:
    """Forward-Euler conventions: ``LI`` is ``li`` (``v_leak`` too) and ``IF`` is
    ``if(reset = v_reset)``, both silently exact; Rockpool's: ``LI`` is its ``ExpSyn``
    (``expsyn``, ``v_leak = 0``) and ``IF`` fires on ``v >= thr`` and subtracts. Each equals
    NIR's equations in that convention (nir_readers.equations), spike for spike."""
    euler = convention != "rockpool"
    graph = _li_if_graph(0.3 if euler else 0.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text, params = nir_to_spec(graph, dt=1e-3, convention=convention)
    want = "leaky: li" if euler else "leaky: expsyn"
    assert want in text, text
    assert ("fire: if(reset = v_reset)" if euler else
            "fire: if(spikes = multi, max_spikes_per_dt = 1)") in text, text
    if euler:  # exact: nothing to warn about
        assert [str(w.message) for w in caught] == []
    else:  # Rockpool's ExpSyn has no resting potential
        with pytest.raises(SpecError, match=re.escape(
                "'leaky' (LI: LI with v_leak != 0 (read as expsyn, which has no bias))")):
            _quiet(nir_to_spec, _li_if_graph(0.3), dt=1e-3, convention=convention)
        np.testing.assert_allclose(params["fire"]["r"], 1e-3 * graph.nodes["fire"].r, rtol=1e-6)
    x = np.random.default_rng(9).uniform(0, 1.5, (200, 4)).astype(np.float32)
    y, _, _ = rpgraph.compile(text).evolve(params, x)
    ref = reference(graph, x, 1e-3, convention)
    np.testing.assert_allclose(np.asarray(y["yl"]), ref["yl"], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(y["yf"]), ref["yf"])
    assert 0 < ref["yf"].sum() < ref["yf"].size


def test_li_import_clamps_dt_at_least_tau() -> None:
    """``dt >= tau`` (forward-Euler decay ``1 - dt / tau <= 0``): the decay is clamped to
    ``2**-20`` as for the other neurons, keeping the input gain ``dt / tau * r`` and the
    leak drive ``dt / tau * v_leak``; said in a warning."""
    ones = np.ones(2)
    graph = nir.NIRGraph(nodes={"x": nir.Input(np.array([2])),
                                "h": nir.LI(tau=np.array([5e-4, 1e-2]), r=2 * ones,
                                            v_leak=0.5 * ones),
                                "y": nir.Output(np.array([2]))},
                         edges=[("x", "h"), ("h", "y")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, params = nir_to_spec(graph, dt=1e-3, convention="norse")
    assert [str(w.message) for w in caught] == [
        "NIR import: 'h': dt >= tau, forward-Euler decay 1 - dt/tau <= 0 clamped to 2**-20",
        "NIR import: dt = 0.001 s is not shorter than some of the file's time constants; is "
        "it the step the file was made for? (snnTorch writes its files for dt = 0.1 ms: "
        "--dt 0.1ms)"]
    p = {k: np.asarray(v, np.float64) for k, v in params["h"].items()}
    k = 1e-3 / p["tau"]
    np.testing.assert_allclose(1 - k, [2.0**-20, 0.9], rtol=1e-5, atol=1e-7)  # float32 tau
    np.testing.assert_allclose(k * p["r"], [4.0, 0.2], rtol=1e-6)  # dt / tau * r of the file
    np.testing.assert_allclose(k * p["v_leak"], [1.0, 0.05], rtol=1e-6)


def test_li_if_delay_expsyn_round_trip_as_themselves(tmp_path: Path) -> None:
    """``li``, ``if(reset = v_reset)``, ``delay`` and ``expsyn`` -> NIR file -> the same
    kinds, the same parameters (float32) and the same outputs, bit for bit."""
    prog = rpgraph.compile(
        "network n (dt = 1 ms) {\n input x : 3\n output y : 3\n output z : 3\n"
        " x -> dl: delay(uniform(0 ms, 4 ms)) -> f: if(r = 0.6, reset = v_reset,"
        " v_reset = -0.1) -> wr: linear(3) -> r: li(tau = 10 ms, r = 2, v_leak = 0.1) -> y\n"
        " x -> ws: linear(3) -> s: expsyn(tau = 7 ms) -> z\n}\n")
    params = {k: {kk: np.asarray(vv) for kk, vv in v.items()} for k, v in prog.init(3).items()}
    params["dl"]["d"] = np.array([0.0, 0.002, 0.004], np.float32)
    params["r"]["tau"] = np.array([0.008, 0.01, 0.02], np.float32)
    params["f"]["threshold"] = np.array([0.5, 0.7, 0.9], np.float32)
    path = tmp_path / "kinds.nir"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exact both ways: nothing to warn about
        write_nir(to_nir(prog, params), path)
        net, back = from_nir(path, dt=1e-3)
    body = net.source.split("\n\n", 1)[1]
    for line in ("x -> dl: delay(uniform(0.0, 0.004)) -> f: if(reset = v_reset) -> wr: "
                 "linear(3) -> r: li -> y", "x -> ws: linear(3) -> s: expsyn -> z"):
        assert line in body, body
    for node in ("dl", "f", "r"):
        assert set(back[node]) == set(params[node]), node
        for k, v in params[node].items():
            np.testing.assert_allclose(back[node][k], v, rtol=2e-7, atol=0, err_msg=k)
    x = np.random.default_rng(2).uniform(0, 1, (40, 3)).astype(np.float32)
    y0, _, rec0 = prog.evolve(params, x, record=True)
    y1, _, rec1 = rpgraph.compile(net).evolve(back, x, record=True)
    np.testing.assert_array_equal(np.asarray(rec1["f"]["spikes"]), np.asarray(rec0["f"]["spikes"]))
    assert float(np.asarray(rec0["f"]["spikes"]).sum()) > 0
    for out in ("y", "z"):
        np.testing.assert_allclose(np.asarray(y1[out]), np.asarray(y0[out]), rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize("convention", ["norse", "snntorch", "rockpool"])
def test_cuba_li_matches_reference(convention: str) -> None:
    """``CubaLI`` (synaptic current driving a leaky membrane, no spikes) becomes two
    ``expsyn`` nodes; behind a linear layer and straight from the input."""
    rng = np.random.default_rng(7)
    n = 3
    cuba = lambda: nir.CubaLI(tau_syn=rng.uniform(3e-3, 8e-3, n),  # noqa: E731
                              tau_mem=rng.uniform(1e-2, 3e-2, n), r=rng.uniform(0.5, 2, n),
                              v_leak=np.zeros(n), w_in=rng.uniform(0.5, 1.5, n))
    nodes = {"inp": nir.Input(input_type=np.array([n])),
             "w": nir.Affine(weight=rng.normal(0, 1, (n, n)), bias=rng.normal(0, 0.1, n)),
             "a": cuba(), "b": cuba(), "out": nir.Output(output_type=np.array([n]))}
    edges = [("inp", "w"), ("w", "a"), ("inp", "b"), ("a", "out"), ("b", "out")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges)
    dt = 1e-3
    text, params = _quiet(nir_to_spec, graph, dt=dt, convention=convention)
    assert "a_syn: expsyn -> a_in: linear(3) -> a: expsyn" in text.replace("\n", " ")
    prog = rpgraph.compile(text)
    x = rng.uniform(0, 1.5, (150, n)).astype(np.float32)
    y, _, rec = prog.evolve(params, x, record=True)
    ref = reference(graph, x, dt, convention)
    for name in ("a", "b"):
        np.testing.assert_allclose(np.asarray(rec[name]["isyn"]), ref[name], rtol=1e-4,
                                   atol=1e-5, err_msg=name)
    np.testing.assert_allclose(np.asarray(y), ref["out"], rtol=1e-4, atol=1e-5)
    assert float(np.max(np.abs(ref["out"]))) > 0.1


def test_import_lists_every_unsupported_node() -> None:
    conv = nir.Conv2d(input_shape=(4, 4), weight=np.ones((2, 1, 3, 3)), stride=1, padding=0,
                      dilation=1, groups=1, bias=np.zeros(2))
    nodes = {
        "input": nir.Input(input_type=np.array([1, 4, 4])),
        "conv": conv,
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "delay": nir.Delay(delay=np.ones((2, 4))),
        "flat": nir.Flatten(input_type={"input": np.array([2, 2, 2])}, start_dim=1),
        "lif": nir.LIF(tau=np.ones(8), r=np.ones(8), v_leak=np.zeros(8),
                       v_threshold=np.ones(8)),
        "output": nir.Output(output_type=np.array([8])),
    }
    edges = [("input", "conv"), ("conv", "pool"), ("pool", "delay"), ("delay", "flat"),
             ("flat", "lif"), ("lif", "output")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    with pytest.raises(SpecError) as err:
        nir_to_spec(graph, dt=1e-3)
    msg = str(err.value)
    # conv and pool are read since tensor shapes (issue 12), 1-D delays since issue 13
    assert "cannot import NIR graph: 2 unsupported nodes: 'delay' (Delay: shape (2, 4) (only " \
           "1-D delays)), 'flat' (Flatten: start_dim 1, end_dim -1 over an input of shape " \
           "(2, 2, 2) (only flattening the whole sample))" in msg
    assert "lif" not in msg.split("hint")[0]


def test_import_rejects_bad_numbers() -> None:
    """NaN weights or a non-positive time constant are listed like unsupported nodes (a
    negative tau would otherwise become a state that grows instead of leaking)."""
    n = 2
    nodes = {"inp": nir.Input(input_type=np.array([n])),
             "w": nir.Linear(weight=np.array([[1.0, np.nan], [0.0, 1.0]])),
             "li": nir.LI(tau=np.array([0.01, -0.01]), r=np.ones(n), v_leak=np.zeros(n)),
             "syn": nir.CubaLI(tau_syn=np.zeros(n), tau_mem=np.ones(n), r=np.ones(n),
                               v_leak=np.zeros(n)),
             "out": nir.Output(output_type=np.array([n]))}
    graph = nir.NIRGraph(nodes=nodes, edges=[("inp", "w"), ("w", "li"), ("li", "syn"),
                                             ("syn", "out")])
    with pytest.raises(SpecError) as err:
        nir_to_spec(graph, dt=1e-3)
    assert str(err.value).split("\n")[0] == (
        "error: cannot import NIR graph: 3 unsupported nodes: 'w' (Linear: non-finite values "
        "in weight), 'li' (LI: tau <= 0 (time constants must be positive)), 'syn' (CubaLI: "
        "tau_syn <= 0 (time constants must be positive))")


def test_read_and_write_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        read_nir(tmp_path / "missing.nir")
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(SpecError) as err:
        read_nir(bad)
    assert str(err.value) == (
        f"error: '{bad}' is not a NIR file: it does not start with the HDF5 signature\n"
        "hint: NIR files are HDF5 files written by nir.write")
    prog = rpgraph.compile(ROUND_TRIP["linear"])
    good, cut = tmp_path / "good.nir", tmp_path / "cut.nir"
    write_nir(to_nir(prog, prog.init(0)), good)
    cut.write_bytes(good.read_bytes()[:600])  # an HDF5 file cut short: the reader's own words
    with pytest.raises(SpecError, match=f"cannot read NIR file '{re.escape(str(cut))}': "):
        read_nir(cut)
    with pytest.raises(SpecError, match="does not exist"):
        write_nir(to_nir(prog, prog.init(0)), tmp_path / "no" / "dir" / "x.nir")



def _linear_file(path: Path) -> None:
    graph = nir.NIRGraph(nodes={"x": nir.Input(np.array([2])), "w": nir.Linear(np.eye(2)),
                                "y": nir.Output(np.array([2]))}, edges=[("x", "w"), ("w", "y")])
    nir.write(path, graph)


def test_read_refuses_what_leaves_the_file(tmp_path: Path) -> None:
    """A NIR file is one self-contained HDF5 file: links to other files, soft links and
    datasets stored elsewhere are refused before NIR's reader follows them."""
    import h5py

    other = tmp_path / "other.nir"
    _linear_file(other)
    cases = {
        "external": lambda f: f["node/nodes"].__setitem__(
            "v", h5py.ExternalLink(str(other), "/node/nodes/w")),
        "soft": lambda f: f["node/nodes"].__setitem__("v", h5py.SoftLink("/node/nodes/w")),
        "stored": lambda f: f["node/nodes/w"].create_dataset(
            "extra", shape=(2,), dtype="f8", external=[(str(tmp_path / "raw.bin"), 0, 16)]),
    }
    (tmp_path / "raw.bin").write_bytes(bytes(16))
    want = {"external": f"links to another file ('{other}') at '/node/nodes/v'",
            "soft": "holds a soft link at '/node/nodes/v'",
            "stored": "stores dataset '/node/nodes/w/extra' in another file"}
    for case, change in cases.items():
        path = tmp_path / f"{case}.nir"
        _linear_file(path)
        with h5py.File(path, "a") as f:
            change(f)
        with pytest.raises(SpecError) as err:
            read_nir(path)
        assert str(err.value) == (f"error: NIR file '{path}' {want[case]}\n"
                                  "hint: rpgraph reads one self-contained file (nir.write "
                                  "writes no links)"), case


def _nested(levels: int) -> nir.NIRGraph:
    """A Linear inside ``levels`` subgraphs, each named ``s``."""
    two = np.array([2])
    g = nir.NIRGraph(nodes={"i": nir.Input(two), "o": nir.Output(two),
                            "w": nir.Linear(np.eye(2))}, edges=[("i", "w"), ("w", "o")])
    for _ in range(levels - 1):
        g = nir.NIRGraph(nodes={"i": nir.Input(two), "o": nir.Output(two), "s": g},
                         edges=[("i", "s"), ("s", "o")])
    return nir.NIRGraph(nodes={"x": nir.Input(two), "y": nir.Output(two), "s": g},
                        edges=[("x", "s"), ("s", "y")])


def test_nesting_depth_limit(tmp_path: Path) -> None:
    """Subgraphs nest up to MAX_NESTING levels (each a block instance); deeper files and
    graphs are refused with the limit, not called recursive."""
    from rpgraph.nir import MAX_NESTING

    assert MAX_NESTING == 32
    net, params = from_nir(_nested(MAX_NESTING), dt=1e-3)
    y = rpgraph.compile(net).evolve(params, np.ones((3, 2), np.float32))[0]
    np.testing.assert_array_equal(np.asarray(y), 1.0)
    hint = ("hint: rpgraph imports subgraphs nested at most 32 levels deep; flatten the outer "
            "ones")
    with pytest.raises(SpecError) as err:
        from_nir(_nested(MAX_NESTING + 1), dt=1e-3)
    path = ".".join(["s"] * (MAX_NESTING + 1))
    assert str(err.value) == (f"error: NIR subgraph '{path}' is nested deeper than 32 levels\n"
                              + hint)
    deep = tmp_path / "deep.nir"
    nir.write(deep, _nested(60))
    with pytest.raises(SpecError) as err:
        read_nir(deep)
    assert str(err.value) == (f"error: NIR file '{deep}' nests subgraphs deeper than 32 "
                              f"levels (at '{path}')\n" + hint)
    assert "recursive" not in str(err.value)



def test_bad_edges_and_bias_shapes_are_spec_errors() -> None:
    """An edge to a node that does not exist, or a bias that does not fit its weight, is a
    SpecError naming it (not a KeyError or a failed reshape)."""
    two = np.array([2])

    def graph(**nodes: Any) -> Any:
        return lambda *edges: nir.NIRGraph(nodes={"x": nir.Input(two), "y": nir.Output(two),
                                                  **nodes}, edges=list(edges), type_check=False)

    sub = nir.NIRGraph(nodes={"i": nir.Input(two), "o": nir.Output(two)},
                       edges=[("i", "o"), ("i", "q")], type_check=False)
    cases = [
        (graph(w=nir.Linear(np.eye(2)))(("x", "w"), ("w", "y"), ("w", "yy")),
         "error: NIR edge names 'yy', which is not a node of the graph\n"
         "hint: did you mean 'y'?"),
        (graph(s=sub)(("x", "s"), ("s", "y")),
         "error: NIR edge names 's.q', which is not a node of subgraph 's'"),
        (graph(w=nir.Affine(np.eye(2), np.ones(3)))(("x", "w"), ("w", "y")),
         "error: cannot import NIR graph: 1 unsupported node: 'w' (Affine: bias of shape (3,) "
         "for a weight of shape (2, 2))"),
    ]
    for g, want in cases:
        with pytest.raises(SpecError) as err:
            _quiet(nir_to_spec, g, dt=1e-3)
        assert str(err.value).startswith(want), str(err.value)

def test_neurons_without_synapse_are_warned_about() -> None:
    """LIF gets a near-instant synapse (Threshold an instant membrane too): each says so;
    CubaLIF has its own synapse and IF is rpgraph's ``if``: both imported silently."""
    ones = np.ones(2)
    nodes = {"x": nir.Input(np.array([2])),
             "a": nir.LIF(tau=ones * 0.02, r=ones, v_leak=0 * ones, v_threshold=ones),
             "b": nir.IF(r=ones, v_threshold=ones),
             "c": nir.CubaLIF(tau_syn=ones * 5e-3, tau_mem=ones * 0.02, r=ones, v_leak=0 * ones,
                              v_threshold=ones, w_in=ones),
             "d": nir.Threshold(threshold=ones),
             "y": nir.Output(np.array([2]))}
    graph = nir.NIRGraph(nodes=nodes, edges=[("x", "a"), ("a", "b"), ("b", "c"), ("c", "d"),
                                             ("d", "y")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nir_to_spec(graph, dt=1e-3, convention="norse")
    messages = [str(w.message) for w in caught]
    assert ("NIR import: 'a' (LIF): NIR's LIF has no synapse; imported as a lif with a "
            "near-instant synapse (tau_syn = dt / (20 ln 2)") in " ".join(messages)
    assert any(m.startswith("NIR import: 'd' (Threshold): approximated") for m in messages)
    assert not any("'c'" in m and "synapse" in m for m in messages)  # only its input gain
    assert not any("'b'" in m for m in messages)


def test_rockpool_reset_warning_names_one_spike_per_step() -> None:
    ones = np.ones(2)
    graph = nir.NIRGraph(
        nodes={"x": nir.Input(np.array([2])), "y": nir.Output(np.array([2])),
               "h": nir.CubaLIF(tau_syn=ones * 5e-3, tau_mem=ones * 0.02, r=ones,
                                v_leak=0 * ones, v_threshold=ones, w_in=ones)},
        edges=[("x", "h"), ("h", "y")])
    with pytest.warns(UserWarning, match="'h': Rockpool convention, so after a spike the "
                      "threshold is subtracted .* and at most one spike is emitted per step"):
        text, _ = nir_to_spec(graph, dt=1e-3, convention="rockpool")
    assert "h: lif(max_spikes_per_dt = 1)" in text


def test_top_level_api_and_export_table() -> None:
    """``rpgraph.from_nir`` / ``rpgraph.to_nir`` are the package's own functions, loaded on
    first use (``import rpgraph`` does not import NIR); one exporter per exportable kind."""
    import subprocess
    import sys

    import rpgraph.nir as rnir
    from rpgraph.modules import KINDS
    from rpgraph.nir.export import EXPORTERS

    assert rpgraph.from_nir is rnir.from_nir and rpgraph.to_nir is rnir.to_nir
    assert {"from_nir", "to_nir"} <= set(rpgraph.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nir_io'"):
        rpgraph.nir_io  # noqa: B018 - the old module is gone
    code = "import sys, rpgraph; print('nir' in sys.modules, 'h5py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[1], check=True)
    assert out.stdout.split() == ["False", "False"]
    assert rnir.EXPORTABLE_KINDS == ("linear", "lif", "expsyn", "identity", "conv1d", "conv2d",
                                     "sumpool2d", "avgpool2d", "flatten", "li", "if", "delay",
                                     "dropout")
    assert set(EXPORTERS) <= set(KINDS)

def test_cli_import_train_export_round_trip(tmp_path: Path) -> None:
    """The issue's done-criterion, all through the CLI: a recurrent CubaLIF network from a
    public NIR file is imported, trained for a few epochs, and exported again."""
    from rpgraph.cli import main

    src = SHARED / "braille_subgraph_snntorch.nir"
    if not src.exists():
        pytest.skip(f"no shared NIR file at {src}")
    spec = tmp_path / "braille.rpg"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the documented approximation warnings
        assert main(["nir", "import", str(src), "--dt", "0.1ms", "-o", str(spec)]) == 0
        rng = np.random.RandomState(0)
        np.savez(tmp_path / "data.npz",
                 inputs=(rng.rand(4, 30, 12) < 0.3).astype(np.float32),
                 targets=(rng.rand(4, 30, 7) < 0.1).astype(np.float32))
        run = tmp_path / "run"
        assert main(["train", str(spec), "--data", str(tmp_path / "data.npz"), "--init-params",
                     str(tmp_path / "braille.params.npz"), "--epochs", "3", "--out", str(run),
                     "--quiet", "--no-plots"]) == 0
        out = tmp_path / "trained.nir"
        assert main(["nir", "export", str(spec), "--params", str(run), "-o", str(out)]) == 0
    graph = nir.read(str(out))
    assert any(type(n).__name__ == "CubaLIF" for n in _all_nodes(graph))
    trained = rpgraph.compile(spec).load_params(run)
    start = rpgraph.compile(spec).load_params(tmp_path / "braille.params.npz")
    assert any(not np.array_equal(np.asarray(a), np.asarray(b)) for a, b in
               zip(jax.tree_util.tree_leaves(trained), jax.tree_util.tree_leaves(start)))


def _all_nodes(graph: Any) -> list[Any]:
    out = []
    for node in graph.nodes.values():
        out.append(node)
        if isinstance(node, nir.NIRGraph):
            out.extend(_all_nodes(node))
    return out


def _random_neuron_chain(rng: np.random.Generator) -> tuple[nir.NIRGraph, int]:
    """Input -> 1..4 random supported nodes -> Output, with now and then a NaN, an inf, a
    zero or a negative number among the parameters."""

    def val(n: int, positive: bool = False) -> np.ndarray:
        c = rng.random()
        if c < 0.2:
            return np.full(n, [np.nan, np.inf, 0.0, -1.0][int(c * 20) % 4])
        return rng.uniform(1e-4, 5e-2, n) if positive else rng.normal(0, 1, n)

    def zero(n: int) -> np.ndarray:
        return np.zeros(n) if rng.random() < 0.7 else val(n)

    makers = {
        "Affine": lambda n: nir.Affine(weight=rng.normal(0, 1, (n, n)), bias=val(n)),
        "Linear": lambda n: nir.Linear(weight=rng.normal(0, 1, (n, n))),
        "Scale": lambda n: nir.Scale(scale=val(n)),
        "LI": lambda n: nir.LI(tau=val(n, True), r=val(n), v_leak=zero(n)),
        "CubaLI": lambda n: nir.CubaLI(tau_syn=val(n, True), tau_mem=val(n, True), r=val(n),
                                       v_leak=zero(n), w_in=val(n)),
        "LIF": lambda n: nir.LIF(tau=val(n, True), r=val(n), v_leak=val(n),
                                 v_threshold=val(n, True)),
        "CubaLIF": lambda n: nir.CubaLIF(tau_syn=val(n, True), tau_mem=val(n, True), r=val(n),
                                         v_leak=val(n), v_threshold=val(n, True),
                                         v_reset=val(n), w_in=val(n)),
        "IF": lambda n: nir.IF(r=val(n), v_threshold=val(n, True)),
        "I": lambda n: nir.I(r=val(n)),
        "Threshold": lambda n: nir.Threshold(threshold=val(n, True)),
    }
    n = int(rng.integers(1, 4))
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array([n]))}
    prev = "input"
    edges = []
    for i in range(int(rng.integers(1, 5))):
        nodes[f"n{i}"] = makers[str(rng.choice(list(makers)))](n)
        edges.append((prev, f"n{i}"))
        prev = f"n{i}"
    nodes["output"] = nir.Output(output_type=np.array([n]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), n


def test_random_graphs_import_and_run_or_fail_cleanly() -> None:
    """Random chains of every supported node type, with bad numbers mixed in, at three
    steps and in every convention: each imports, compiles and runs to a finite output, or
    is refused with a SpecError (never another exception). Fixed seed: CI sees the same."""
    rng = np.random.default_rng(2026)
    outcomes = {"ran": 0, "refused": 0}
    for _ in range(40):
        graph, n = _random_neuron_chain(rng)
        dt = float(rng.choice([1e-4, 1e-3, 5e-2]))
        convention = str(rng.choice(["auto", "norse", "snntorch", "rockpool"]))
        try:
            net, params = _quiet(from_nir, graph, dt=dt, convention=convention)
        except SpecError:
            outcomes["refused"] += 1
            continue
        y, _, _ = rpgraph.compile(net).evolve(params, np.full((4, n), 0.5, np.float32))
        assert np.all(np.isfinite(np.asarray(y))), net.source
        outcomes["ran"] += 1
    assert min(outcomes.values()) >= 5, outcomes


def _doc_rows() -> dict[str, str]:
    """The import table of ``rpgraph.nir``'s docstring: NIR type -> its row's rpgraph text."""
    import rpgraph.nir as rnir

    assert rnir.__doc__ is not None
    section = rnir.__doc__.split("Node mapping (import)")[1].splitlines()
    rules = [i for i, line in enumerate(section) if line.startswith("=====")]
    body = "\n".join(section[rules[1] + 1:rules[2]])  # the rows, between header and end
    rows: dict[str, str] = {}
    names: list[str] = []
    for line in body.splitlines():
        if not line.startswith(" "):  # a new row: its NIR types, then the rpgraph column
            names = re.findall(r"``(\w+)``", line[:31])
            rows.update({n: "" for n in names})
        for n in names:
            rows[n] += " " + line[31:].strip()
    return rows


def test_docstring_import_table_matches_the_code() -> None:
    """Every NIR type the importer converts has a row, no other type has one, and the kind
    each converter gives in each convention is named in its row (the unsupported list names
    no converted type as a whole)."""
    import rpgraph.nir as rnir
    from rpgraph.nir.model import CONVERTERS

    rows = _doc_rows()
    assert set(rows) == {t.__name__ for t in CONVERTERS} | {"Input", "Output", "NIRGraph"}
    ones = np.ones(2)
    samples: dict[type, Any] = {
        nir.Affine: nir.Affine(weight=np.eye(2), bias=ones), nir.Linear: nir.Linear(np.eye(2)),
        nir.Scale: nir.Scale(scale=2 * ones),
        nir.LI: nir.LI(tau=ones * 1e-2, r=ones, v_leak=0 * ones),
        nir.I: nir.I(r=ones),
        nir.LIF: nir.LIF(tau=ones * 1e-2, r=ones, v_leak=0 * ones, v_threshold=ones),
        nir.CubaLIF: nir.CubaLIF(tau_syn=ones * 5e-3, tau_mem=ones * 2e-2, r=ones,
                                 v_leak=0 * ones, v_threshold=ones, w_in=ones),
        nir.CubaLI: nir.CubaLI(tau_syn=ones * 5e-3, tau_mem=ones * 2e-2, r=ones,
                               v_leak=0 * ones, w_in=ones),
        nir.IF: nir.IF(r=ones, v_threshold=ones),
        nir.Threshold: nir.Threshold(threshold=ones),
        nir.Conv1d: nir.Conv1d(input_shape=4, weight=np.ones((2, 1, 3)), stride=1, padding=0,
                               dilation=1, groups=1, bias=ones),
        nir.Conv2d: nir.Conv2d(input_shape=(4, 4), weight=np.ones((2, 1, 3, 3)), stride=1,
                               padding=0, dilation=1, groups=1, bias=ones),
        nir.SumPool2d: nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                     padding=np.array([0, 0])),
        nir.AvgPool2d: nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                     padding=np.array([0, 0])),
        nir.Flatten: nir.Flatten(input_type={"input": np.array([2, 2, 2])}, start_dim=0),
        nir.Delay: nir.Delay(delay=ones * 2e-3),
    }
    assert set(samples) == set(CONVERTERS)
    for t, convert in CONVERTERS.items():
        for convention in rnir.EXPORT_CONVENTIONS:
            res = convert("n", samples[t], 1e-3, convention, [])
            assert not isinstance(res, str), (t.__name__, convention, res)
            row = rows[t.__name__]
            if "Rockpool:" in row:  # a row that differs by convention: "Euler: ... Rockpool:"
                euler, rockpool = row.split("Rockpool:", 1)
                row = rockpool if convention == "rockpool" else euler
            for conv in res if isinstance(res, tuple) else (res,):
                assert re.search(rf"``{conv.kind}(``|\()", row), (t.__name__, convention,
                                                                  conv.kind)
    assert rnir.__doc__ is not None
    unsupported = rnir.__doc__.split("\nUnsupported")[1].split("\n\n")[0]
    assert "``Conv1d``," not in unsupported and "``Delay``," not in unsupported
