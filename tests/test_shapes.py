"""Tensor shapes in the language: ``input x : (2, 34, 34)``, tuples round-tripping through
``fmt``, shape inference along edges, the graph view, and a compiled convolutional SNN
against an independent numpy simulation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest

import rpgraph
from rpgraph import ast
from rpgraph.errors import SpecShapeError
from rpgraph.fmt import fmt
from rpgraph.graph import loads
from rpgraph.graph.show import summary
from rpgraph.parse import parse

CNN = """network cnn {
    input x : (2, 10, 10)
    output y : 3
    x -> conv2d(4, kernel = (3, 3), stride = 2, padding = 1, bias = true)
        -> h: lif(tau_mem = 10 ms, tau_syn = 5 ms) -> sumpool2d(2) -> flatten -> linear(3) -> y
}
"""


def test_shapes_parse_and_round_trip() -> None:
    spec = parse(CNN)
    port = spec.network.body[0]
    assert isinstance(port, ast.Port) and isinstance(port.size, ast.TupleExpr)
    assert fmt(CNN) == CNN
    one = "network n {\n    input x : (4,)\n    output y : 4\n    x -> y\n}\n"
    assert fmt(one) == one
    assert loads(one).port("x").shape_in == (4,)


def test_shapes_are_inferred_along_the_chain() -> None:
    net = loads(CNN)
    got = {n: (net.module(n).shape_in, net.module(n).shape_out) for n in net.modules()}
    assert got == {
        "conv2d_0": ((2, 10, 10), (4, 5, 5)),
        "h": ((4, 5, 5), (4, 5, 5)),
        "sumpool2d_0": ((4, 5, 5), (4, 2, 2)),
        "flatten_0": ((4, 2, 2), (16,)),
        "linear_0": ((16,), (3,)),
    }
    assert net.module("h").size_out == 100  # sizes stay the products
    assert [p.shape for p in net.params() if p.module == "conv2d_0"] == [(4, 2, 3, 3), (4,)]
    assert summary(net).splitlines()[1:4] == [
        "    input 'x' with shape (2, 10, 10)",
        "    conv2d 'conv2d_0' with shape (2, 10, 10) -> (4, 5, 5)",
        "    lif 'h' with shape (4, 5, 5)  [LIFJax]  spikes = multi (at most 65536 per step), "
        "surrogate = pwl(window = 0.5)",
    ]


def test_shaped_block_ports_and_unflatten() -> None:
    net = loads("""block b { input i : (1, 4, 4)
  output o
  i -> conv2d(2, kernel = 3, padding = same) -> o }
network n { input x : 16
  output y : (2, 4, 4)
  x -> unflatten((1, 4, 4)) -> b -> y }""")
    assert net.port("b_0.o").shape_in == (2, 4, 4)
    assert net.port("y").shape_in == (2, 4, 4)


@pytest.mark.parametrize("text, message", [
    ("x -> sumpool2d(2) -> y", "shape mismatch into output 'y': declared (2, 4, 4), got "
     "(2, 2, 2) from 'sumpool2d_0'"),
    ("x -> flatten -> y", "shape mismatch into output 'y': declared (2, 4, 4), got (32,) "
     "from 'flatten_0'"),
])
def test_shape_mismatch_names_both_shapes(text: str, message: str) -> None:
    src = f"network n {{ input x : (2, 4, 4)\n output y : (2, 4, 4)\n {text} }}"
    with pytest.raises(SpecShapeError) as err:
        loads(src)
    assert err.value.message.startswith(message) or message in str(err.value)


def _lif_numpy(i_in: np.ndarray, tau_mem: float, tau_syn: float, dt: float) -> np.ndarray:
    """LIFJax's Euler step (threshold 1, subtract reset, no bias) over (B, T, N) input."""
    a_syn, a_mem = np.exp(-dt / tau_syn), np.exp(-dt / tau_mem)
    isyn = np.zeros((i_in.shape[0], i_in.shape[2]))
    v = np.zeros_like(isyn)
    out = np.zeros_like(i_in)
    for t in range(i_in.shape[1]):
        isyn = (isyn + i_in[:, t]) * a_syn
        v = v * a_mem + isyn
        s = np.floor(v) * (v >= 1.0)
        v = v - s
        out[:, t] = s
    return out


def test_compiled_cnn_matches_numpy() -> None:
    """conv -> lif -> pool -> flatten -> linear, compiled, against numpy (channel-major
    flattening; the input given as (B, T, C, H, W))."""
    prog = rpgraph.compile(CNN)
    params = prog.init(3)
    params["conv2d_0"]["weight"] = params["conv2d_0"]["weight"] * 8.0  # make it spike
    rng = np.random.default_rng(1)
    x = (rng.random((2, 12, 2, 10, 10)) < 0.3).astype(np.float32)
    y, _, _ = prog.evolve(params, jnp.asarray(x))
    w = np.asarray(params["conv2d_0"]["weight"], np.float64)
    b = np.asarray(params["conv2d_0"]["bias"], np.float64)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (0, 0), (1, 1), (1, 1)))
    conv = np.zeros((2, 12, 4, 5, 5))
    for i in range(5):
        for j in range(5):
            patch = xp[:, :, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3]
            conv[:, :, :, i, j] = np.einsum("btckl,ockl->bto", patch, w) + b
    spikes = _lif_numpy(conv.reshape(2, 12, -1), 10e-3, 5e-3, 1e-3).reshape(2, 12, 4, 5, 5)
    assert spikes.sum() > 0
    pooled = spikes[..., :4, :4].reshape(2, 12, 4, 2, 2, 2, 2).sum(axis=(4, 6))
    ref = pooled.reshape(2, 12, 16) @ np.asarray(params["linear_0"]["weight"], np.float64)
    np.testing.assert_allclose(np.asarray(y), ref, rtol=1e-4, atol=1e-4)


# --- NIR: the NIR paper's Sinabs CNN ----------------------------------------------------------

CNN_NIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "nir" / "cnn_sinabs.nir"


def _nir_conv(x: np.ndarray, node: Any) -> np.ndarray:
    """NIR Conv2d on (T, C, H, W): cross-correlation, one kernel offset at a time."""
    w, b = np.asarray(node.weight, np.float64), np.asarray(node.bias, np.float64)
    s, p = np.atleast_1d(node.stride), np.atleast_1d(node.padding)
    s, p = (np.repeat(s, 2) if s.size == 1 else s), (np.repeat(p, 2) if p.size == 1 else p)
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    kh, kw = w.shape[2:]
    oh, ow = (xp.shape[2] - kh) // s[0] + 1, (xp.shape[3] - kw) // s[1] + 1
    y = np.zeros((x.shape[0], w.shape[0], oh, ow)) + b[None, :, None, None]
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + s[0] * (oh - 1) + 1:s[0], j:j + s[1] * (ow - 1) + 1:s[1]]
            y += np.einsum("tchw,oc->tohw", patch, w[:, :, i, j])
    return y


def _nir_if(x: np.ndarray, node: Any, dt: float, got: np.ndarray | None = None
            ) -> tuple[np.ndarray, int]:
    """NIR IF, forward Euler: v += dt * r * I; a spike when v > v_threshold, then
    v = v_reset. With ``got`` (rpgraph's spikes), returns how many of them differ, checking
    that each difference is a float32 tie (v within 1e-5 of the threshold), and follows
    ``got`` so a tie does not carry on."""
    r, thr, reset = (np.asarray(a, np.float64) for a in (node.r, node.v_threshold,
                                                          node.v_reset))
    v = np.zeros(x.shape[1:])
    out = np.zeros_like(x)
    ties = 0
    for t in range(x.shape[0]):
        v = v + dt * r * x[t]
        s = v > thr
        if got is not None:
            differ = s != (got[t] > 0)
            assert np.all(np.abs(v - thr)[differ] < 1e-5), (t, (v - thr)[differ])
            ties += int(differ.sum())
            s = got[t] > 0
        v = np.where(s, reset, v)
        out[t] = s
    return out, ties


def _nir_layers(graph: Any, x: np.ndarray, dt: float, rec: dict[str, Any]) -> np.ndarray:
    """The NIR graph on one sample (T, 2, 34, 34), node by node in edge order; each IF is
    checked against rpgraph's spikes (recorded as ``rec["n<name>"]``) and its input is
    computed from rpgraph's spikes of the layer before (so a float32 tie stays local).
    Returns the output and asserts there are few ties."""
    succ = dict(graph.edges)
    values, n = x.astype(np.float64), succ["input"]
    ties = spikes = 0
    while n != "output":
        node = graph.nodes[n]
        kind = type(node).__name__
        if kind == "Conv2d":
            values = _nir_conv(values, node)
        elif kind == "IF":
            got = np.asarray(rec[f"n{n}"]["output"]).reshape(values.shape)
            values, k = _nir_if(values, node, dt, got)
            ties, spikes = ties + k, spikes + int(values.sum())
        elif kind == "SumPool2d":
            k = int(np.atleast_1d(node.kernel_size)[0])
            t, c, h, w = values.shape
            values = values[:, :, :h - h % k, :w - w % k].reshape(
                t, c, h // k, k, w // k, k).sum(axis=(3, 5))
        elif kind == "Flatten":
            values = values.reshape(values.shape[0], -1)
        elif kind == "Affine":
            values = values @ np.asarray(node.weight, np.float64).T + node.bias
        else:
            raise AssertionError(kind)
        n = succ[n]
    assert spikes > 1000 and ties <= spikes // 1000, (ties, spikes)
    return values


@pytest.fixture(scope="module")
def sinabs() -> tuple[Any, Any, Any]:
    nir = pytest.importorskip("nir")
    graph = nir.read(str(CNN_NIR))
    net, params = rpgraph.from_nir(graph, dt=1.0)
    return graph, net, params


def test_cnn_sinabs_imports_readably(sinabs: tuple[Any, Any, Any]) -> None:
    _, net, _ = sinabs
    assert "input input_ : (2, 34, 34)" in net.source
    assert "conv2d(16, kernel = 5, stride = 2, padding = 1, bias = true)" in net.source
    assert net.module("n4").shape_out == (16, 8, 8)
    assert net.module("n8").shape_in == (8, 4, 4)
    assert [net.module(n).kind for n in net.modules()].count("if") == 5  # NIR IF: if


def test_cnn_sinabs_spikes_match_numpy(sinabs: tuple[Any, Any, Any]) -> None:
    """Every layer's spikes equal numpy's NIR simulation (dt = 1: Sinabs' v += I), except
    float32 ties at the threshold (2 of ~15,000 spikes on this input)."""
    graph, net, params = sinabs
    rng = np.random.default_rng(0)
    x = (rng.random((25, 2, 34, 34)) < 0.15).astype(np.float32)
    y, _, rec = rpgraph.compile(net).evolve(params, x, record=True)
    first, ties = _nir_if(_nir_conv(x.astype(np.float64), graph.nodes["0"]), graph.nodes["1"],
                          1.0)
    assert ties == 0 and first.sum() > 1000
    np.testing.assert_array_equal(np.asarray(rec["n1"]["output"]).reshape(first.shape), first)
    np.testing.assert_array_equal(np.asarray(y), _nir_layers(graph, x, 1.0, rec))


def _body(source: str) -> str:
    """A spec without its comment header (which names the file it came from)."""
    return "\n".join(line for line in source.splitlines() if not line.startswith("#"))


def test_cnn_export_import_round_trip(sinabs: tuple[Any, Any, Any]) -> None:
    """rpgraph -> NIR -> rpgraph gives the same spec and parameters; NIR -> rpgraph -> NIR
    keeps the node types and the spikes."""
    from rpgraph.nir import to_nir

    graph, net, params = sinabs
    g1 = to_nir(net, params, convention="nir")  # the convention that writes if as IF
    assert sorted(type(n).__name__ for n in g1.nodes.values()) == sorted(
        type(n).__name__ for n in graph.nodes.values())
    assert g1.nodes["n0"].input_type["input"].tolist() == [2, 34, 34]
    assert np.shape(g1.nodes["n1"].v_threshold) == (16, 16, 16)
    net1, p1 = rpgraph.from_nir(g1, dt=1.0, convention="nir")
    g2 = to_nir(net1, p1, convention="nir")
    net2, p2 = rpgraph.from_nir(g2, dt=1.0, convention="nir")
    assert _body(net2.source) == _body(net1.source)
    assert p2.keys() == p1.keys()
    for n in p1:
        for k in p1[n]:
            np.testing.assert_array_equal(p2[n][k], p1[n][k], err_msg=f"{n}.{k}")
    x = (np.random.default_rng(2).random((20, 2, 34, 34)) < 0.15).astype(np.float32)
    y0 = rpgraph.compile(net).evolve(params, x)[0]
    np.testing.assert_array_equal(np.asarray(rpgraph.compile(net1).evolve(p1, x)[0]),
                                  np.asarray(y0))
