"""rpgraph.nir.conventions on its own: per-step decays and gains of NIR neurons in the Norse,
snnTorch and Rockpool conventions, checked against each reader's equations stepped in numpy
and against rpgraph's own lif step; and the detection of the convention."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from rpgraph.nir.conventions import (
    CONVENTIONS,
    EXPORT_CONVENTIONS,
    INSTANT,
    LI_WRITERS,
    TAU_INFINITE_STEPS,
    LifParams,
    decay,
    detect_convention,
    leaky,
    membrane,
    rockpool_r,
    synapse,
    tau_of,
    write_li,
    write_lif,
)

DT = 1e-3
STEPPED = ("nir", "norse", "snntorch", "rockpool")  # "auto" resolves to one of these


def _neurons(seed: int, n: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"tau_syn": rng.uniform(2e-3, 1e-2, n), "tau_mem": rng.uniform(1e-2, 5e-2, n),
            "r": rng.uniform(0.5, 2.0, n), "v_leak": rng.uniform(-0.2, 0.2, n),
            "w_in": rng.uniform(0.5, 1.5, n)}


def test_conventions_listed() -> None:
    assert CONVENTIONS == ("auto", "nir", "norse", "snntorch", "rockpool")


@pytest.mark.parametrize("convention", STEPPED)
def test_decay(convention: str) -> None:
    tau = np.array([2e-3, 1e-2, 1.0])
    a, clamped = decay(tau, DT, convention)
    want = np.exp(-DT / tau) if convention == "rockpool" else 1 - DT / tau
    np.testing.assert_allclose(a, want, rtol=1e-15)
    assert clamped is False


def test_forward_euler_decay_is_clamped_and_says_so() -> None:
    tau = np.array([5e-4, 1e-3, 2e-3])  # dt / tau = 2, 1, 0.5
    for convention in ("norse", "snntorch"):
        a, clamped = decay(tau, DT, convention)
        assert clamped is True
        np.testing.assert_array_equal(a, [INSTANT, INSTANT, 0.5])
    a, clamped = decay(tau, DT, "rockpool")  # exact exponentials never need it
    assert clamped is False and np.all(a > 0)


def test_tau_of_inverts_the_exponential_decay() -> None:
    tau = np.geomspace(1e-4, 10.0, 50)
    np.testing.assert_allclose(tau_of(np.exp(-DT / tau), DT), tau, rtol=1e-9)
    # a decay of 1 (an integrator) becomes a tau whose float32 decay is exactly 1
    forever = tau_of(np.array([1.0, 1.5]), DT)
    np.testing.assert_array_equal(forever, DT * TAU_INFINITE_STEPS)
    assert np.exp(np.float32(-DT) / forever.astype(np.float32))[0] == np.float32(1.0)
    # the instant decay: tau = dt / (20 ln 2)
    np.testing.assert_allclose(tau_of(np.array([INSTANT]), DT), DT / (20 * np.log(2)))


@pytest.mark.parametrize("convention", STEPPED)
def test_membrane_and_synapse_coefficients(convention: str) -> None:
    p = _neurons(1)
    a_m, k, b, _ = membrane(p["tau_mem"], p["r"], p["v_leak"], DT, convention)
    a_s, g_s, _ = synapse(p["tau_syn"], p["w_in"], DT, convention)
    if convention == "rockpool":  # Rockpool's LIFTorch: r is no gain, v_leak the bias
        e_m, e_s = np.exp(-DT / p["tau_mem"]), np.exp(-DT / p["tau_syn"])
        want = (e_m, np.ones(5), p["v_leak"], e_s, e_s * p["w_in"])
    else:  # forward Euler of NIR's ODEs
        want = (1 - DT / p["tau_mem"], p["r"] * DT / p["tau_mem"],
                p["v_leak"] * DT / p["tau_mem"], 1 - DT / p["tau_syn"],
                p["w_in"] * DT / p["tau_syn"])
    for got, w in zip((a_m, k, b, a_s, g_s), want):
        np.testing.assert_allclose(got, w, rtol=1e-14)


def test_each_exporters_parameters_give_unit_gains() -> None:
    """snnTorch writes r = tau_mem / dt and w_in = tau_syn / dt (K = G_s = 1); Rockpool
    writes r = tau exp(-dt / tau) / dt, w_in = 1 (K = 1, G_s = A_s)."""
    p = _neurons(2)
    _, k, _, _ = membrane(p["tau_mem"], p["tau_mem"] / DT, 0 * p["r"], DT, "snntorch")
    _, g_s, _ = synapse(p["tau_syn"], p["tau_syn"] / DT, DT, "snntorch")
    np.testing.assert_allclose(k, 1.0, rtol=1e-12)
    np.testing.assert_allclose(g_s, 1.0, rtol=1e-12)
    _, k, _, _ = membrane(p["tau_mem"], rockpool_r(p["tau_mem"], DT), 0 * p["r"], DT,
                          "rockpool")
    a_s, g_s, _ = synapse(p["tau_syn"], np.ones(5), DT, "rockpool")
    np.testing.assert_allclose(k, 1.0, rtol=1e-12)
    np.testing.assert_allclose(g_s, a_s, rtol=1e-15)


def _reader(convention: str, p: dict[str, np.ndarray], s: np.ndarray) -> np.ndarray:
    """Membrane voltage of a CubaLI neuron (no spikes) as each framework steps it."""
    i = np.zeros_like(p["r"])
    v = np.zeros_like(p["r"])
    out = []
    for st in s:
        if convention == "rockpool":  # Rockpool: exact exponentials, input before the decay
            e_s, e_m = np.exp(-DT / p["tau_syn"]), np.exp(-DT / p["tau_mem"])
            i = e_s * (i + p["w_in"] * st)
            v = e_m * v + i + p["v_leak"]
        else:  # forward Euler of NIR's ODEs, the membrane driven by the new current
            i = i + DT / p["tau_syn"] * (-i + p["w_in"] * st)
            v = v + DT / p["tau_mem"] * (p["v_leak"] - v + p["r"] * i)
        out.append(v)
    return np.array(out)


def _rpgraph_lif(tau_syn: np.ndarray, tau_mem: np.ndarray, bias: np.ndarray, x: np.ndarray
                 ) -> np.ndarray:
    """rpgraph's lif step without spikes: ``isyn = a_s (isyn + x); v = a_m v + isyn + bias``."""
    a_s, a_m = np.exp(-DT / tau_syn), np.exp(-DT / tau_mem)
    i = np.zeros_like(bias)
    v = np.zeros_like(bias)
    out = []
    for xt in x:
        i = a_s * (i + xt)
        v = a_m * v + i + bias
        out.append(v)
    return np.array(out)


@pytest.mark.parametrize("convention", STEPPED)
def test_rpgraph_lif_with_the_mapped_parameters_steps_like_the_reader(convention: str) -> None:
    """The whole mapping: tau_syn = tau_of(A_s), tau_mem = tau_of(A_m), bias = B and the
    input scaled by K G_s / A_s make rpgraph's lif step the reader's neuron exactly."""
    p = _neurons(3)
    s = np.random.default_rng(4).uniform(0, 2, (200, 5))
    a_m, k, b, _ = membrane(p["tau_mem"], p["r"], p["v_leak"], DT, convention)
    a_s, g_s, _ = synapse(p["tau_syn"], p["w_in"], DT, convention)
    got = _rpgraph_lif(tau_of(a_s, DT), tau_of(a_m, DT), b, s * (k * g_s / a_s))
    np.testing.assert_allclose(got, _reader(convention, p, s), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("convention", STEPPED)
def test_leaky_integrator(convention: str) -> None:
    """LI: ``v[t] = A v[t-1] + (r dt / tau) S[t]`` (Rockpool: ``A (v + S)``) is an ``expsyn``
    (``v = A (v + x)``) fed ``x = gain S``."""
    p = _neurons(5)
    s = np.random.default_rng(6).uniform(0, 2, (100, 5))
    a, gain, clamped = leaky(p["tau_mem"], p["r"], DT, convention)
    assert clamped is False
    v_li = np.zeros(5)
    v_rp = np.zeros(5)
    for st in s:
        if convention == "rockpool":  # Rockpool's ExpSyn: v = A (v + S)
            v_li = a * (v_li + st)
        else:
            v_li = a * v_li + p["r"] * DT / p["tau_mem"] * st
        v_rp = np.exp(-DT / tau_of(a, DT)) * (v_rp + gain * st)
        np.testing.assert_allclose(v_rp, v_li, rtol=1e-9)


def _graph(*neurons: nir.NIRNode, metadata: dict[str, str] | None = None) -> nir.NIRGraph:
    n = 2
    nodes: dict[str, nir.NIRNode] = {"x": nir.Input(np.array([n])),
                                     "y": nir.Output(np.array([n]))}
    nodes.update({f"h{i}": node for i, node in enumerate(neurons)})
    chain = ["x", *(f"h{i}" for i in range(len(neurons))), "y"]
    return nir.NIRGraph(nodes=nodes, edges=list(zip(chain, chain[1:])),
                        metadata=metadata or {})


def _cuba(r: np.ndarray, w_in: np.ndarray) -> nir.CubaLIF:
    ones = np.ones(2)
    return nir.CubaLIF(tau_syn=ones * 5e-3, tau_mem=ones * 2e-2, r=r, v_leak=0 * ones,
                       v_threshold=ones, w_in=w_in)


def test_detect_convention() -> None:
    ones = np.ones(2)
    snn = _cuba(ones * 2e-2 / DT, ones * 5e-3 / DT)
    rock = _cuba(rockpool_r(ones * 2e-2, DT), ones)
    norse = _cuba(ones, ones)
    li_rock = nir.LI(tau=ones * 1e-2, r=rockpool_r(ones * 1e-2, DT), v_leak=0 * ones)
    assert detect_convention(_graph(snn), DT) == "snntorch"
    assert detect_convention(_graph(rock, li_rock), DT) == "rockpool"
    assert detect_convention(_graph(norse), DT) == "norse"
    assert detect_convention(_graph(snn, norse), DT) == "norse"  # every node must agree
    assert detect_convention(_graph(), DT) == "norse"  # nothing to tell by
    # within 1e-3 relative counts as equal; the written metadata wins over the values
    assert detect_convention(_graph(_cuba(ones * 20.01 / DT * 1e-3, ones * 5 / DT * 1e-3)),
                             DT) == "snntorch"
    assert detect_convention(_graph(norse, metadata={"source": "rpgraph"}), DT) == "rockpool"
    assert detect_convention(_graph(metadata={"source": "rpgraph", "convention": "norse"}),
                             DT) == "norse"
    # neurons inside subgraphs count too
    outer = nir.NIRGraph(nodes={"x": nir.Input(np.array([2])), "s": _graph(norse),
                                "y": nir.Output(np.array([2]))},
                         edges=[("x", "s"), ("s", "y")])
    assert detect_convention(outer, DT) == "norse"
    inner_snn = nir.NIRGraph(nodes={"x": nir.Input(np.array([2])), "s": _graph(snn),
                                    "y": nir.Output(np.array([2]))},
                             edges=[("x", "s"), ("s", "y")])
    assert detect_convention(inner_snn, DT) == "snntorch"


# --- export: each writer's file, stepped by its reader, steps rpgraph's neuron ---------------


def _layer(seed: int, reset: str, bias: float = 0.0, v_reset: float = 0.0) -> LifParams:
    rng = np.random.default_rng(seed)
    n = 5
    return LifParams(rng.uniform(3e-3, 8e-3, n), rng.uniform(1e-2, 3e-2, n),
                     np.full(n, bias), rng.uniform(0.3, 0.6, n), np.full(n, v_reset), reset)


def _rpgraph_spikes(p: LifParams, x: np.ndarray) -> np.ndarray:
    """rpgraph's lif in numpy: ``isyn = a_s (isyn + x); v = a_m v + isyn + bias``, then its
    reset (NIR's, or subtracting the threshold per spike)."""
    a_s, a_m = np.exp(-DT / p.tau_syn), np.exp(-DT / p.tau_mem)
    i = np.zeros_like(p.bias)
    v = np.zeros_like(p.bias)
    out = []
    for xt in x:
        i = a_s * (i + xt)
        v = a_m * v + i + p.bias
        if p.reset == "v_reset":
            z = (v > p.threshold).astype(float)
            v = np.where(z > 0, p.v_reset, v)
        else:
            z = (v >= p.threshold) * np.floor(v / p.threshold)
            v = v - z * p.threshold
        out.append(z)
    return np.array(out)


@pytest.mark.parametrize("convention", STEPPED)
def test_written_lif_steps_like_rpgraph_in_its_reader(convention: str) -> None:
    """``write_lif``'s fields, with its gain on the input, run by the reader's own step
    (tests/nir_readers.py) give rpgraph's spikes: exactly for the neuron each reader has
    (NIR's reset; Rockpool's subtractive one), and nothing is said to be approximate."""
    from nir_readers import STEPS

    p = _layer(7, "subtract" if convention == "rockpool" else "v_reset")
    w = write_lif(p, DT, convention)
    assert w.approx == () and w.shift is None
    node = nir.CubaLIF(**w.fields)
    gain = np.ones(5) if w.gain is None else w.gain
    x = np.random.default_rng(8).uniform(0, 0.6, (300, 5))
    state = {"v": np.zeros(5), "i": np.zeros(5)}
    step = STEPS[convention][nir.CubaLIF]
    got = np.array([step(node, state, gain * xt, DT) for xt in x])
    want = _rpgraph_spikes(p, x)
    assert want.sum() > 20
    np.testing.assert_array_equal(got, want)


def test_what_each_writer_cannot_do_is_said() -> None:
    sub, vr = _layer(1, "subtract"), _layer(1, "v_reset")
    biased, low = _layer(1, "v_reset", bias=0.02), _layer(1, "v_reset", v_reset=-0.1)
    said = {c: [len(write_lif(p, DT, c).approx) for p in (sub, vr, biased, low)]
            for c in EXPORT_CONVENTIONS}
    # a v_reset != 0 for a reader that resets to 0: v relative to v_reset (one phrase), and
    # the resting shift that makes is a bias (another)
    assert said == {"nir": [1, 0, 0, 0], "norse": [1, 0, 1, 2], "snntorch": [1, 0, 1, 2],
                    "rockpool": [0, 1, 1, 1]}
    w = write_lif(low, DT, "norse")
    assert w.approx[0].startswith("has v_reset != 0: Norse 1.1 resets v to 0, so v is written")
    np.testing.assert_allclose(w.fields["v_threshold"], low.threshold + 0.1)
    assert np.all(w.fields["v_reset"] == 0) and w.shift is not None
    assert write_lif(sub, DT, "nir").approx[0].startswith("subtracts its threshold")
    # a bias becomes a constant input where the reader has no (usable) v_leak
    for c in ("norse", "snntorch"):
        w = write_lif(biased, DT, c)
        assert np.all(w.fields["v_leak"] == 0) and w.shift is not None
    assert write_li(np.array([0.01]), DT, "rockpool").approx  # Rockpool casts tau to int
    assert "snntorch" not in LI_WRITERS


@pytest.mark.parametrize("convention", ["nir", "norse"])
def test_written_li_steps_like_expsyn(convention: str) -> None:
    from nir_readers import STEPS

    tau = np.random.default_rng(9).uniform(5e-3, 2e-2, 4)
    w = write_li(tau, DT, convention)
    node = nir.LI(**w.fields)
    gain = np.ones(4) if w.gain is None else w.gain
    state = {"v": np.zeros(4), "i": np.zeros(4)}
    y = np.zeros(4)
    a = np.exp(-DT / tau)
    for xt in np.random.default_rng(10).uniform(-1, 1, (100, 4)):
        y = a * (y + xt)  # rpgraph's expsyn
        got = STEPS[convention][nir.LI](node, state, gain * xt, DT)
        np.testing.assert_allclose(got, y, rtol=1e-9, atol=1e-12)
