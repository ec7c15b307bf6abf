"""``per = channel | layer`` (issue 12): neuron parameters shared over a shaped layer equal
per-element parameters holding the shared values."""

from __future__ import annotations

import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rpgraph
from rpgraph.nir import from_nir, to_nir

SPEC = """network n (dt = 1 ms) {{
    input x : (2, 4, 4)
    output y : (2, 4, 4)
    x -> h: {call} -> y
}}
"""
KINDS = ["lif(tau_mem = 20 ms{per})", "lif(rec = true, spikes = binary{per})",
         "rate(activation = tanh{per})", "expsyn({per_only})", "alif({per_only})",
         "if(reset = v_reset{per})", "li({per_only})"]
X = np.random.default_rng(0).random((2, 12, 2, 4, 4)).astype(np.float32)


def spec(call: str, per: str | None) -> str:
    text = call.format(per=f", per = {per}" if per else "", per_only=f"per = {per}" if per
                       else "")
    return SPEC.format(call=text.replace("()", ""))


def varied(params: Any, seed: int = 1) -> Any:
    """Distinct values per row (the defaults are constants): scaled, zeros shifted."""
    rng = np.random.default_rng(seed)
    out = {}
    for n, leaves in params.items():
        out[n] = {}
        for k, v in leaves.items():
            v = np.asarray(v)
            if k == "w_rec":
                out[n][k] = jnp.asarray(v)
                continue
            new = v * rng.uniform(0.5, 1.5, v.shape) + (v == 0) * rng.uniform(-0.1, 0.1, v.shape)
            out[n][k] = jnp.asarray(new, jnp.float32)
    return out


@pytest.mark.parametrize("call, per, rows", [(k, "channel", 2) for k in KINDS]
                         + [(k, "layer", 1) for k in KINDS[:3:2]])
def test_shared_equals_per_element_with_repeated_values(call: str, per: str, rows: int
                                                        ) -> None:
    shared = rpgraph.compile(spec(call, per))
    element = rpgraph.compile(spec(call, None))
    p = varied(shared.init(0))
    info = shared.parameter_info()
    rep = {}
    for k, v in p["h"].items():
        if k != "w_rec":
            assert info[f"h.{k}"]["shape"][0] == rows, k
            assert element.parameter_info()[f"h.{k}"]["shape"][0] == 32
            rep[k] = jnp.repeat(v, 32 // rows, axis=0)
        else:
            rep[k] = v
    a = shared.evolve(p, X)[0]
    b = element.evolve({"h": rep}, X)[0]
    np.testing.assert_array_equal(a, b)
    assert float(jnp.abs(a).sum()) > 0


def test_template_shapes_and_loop_path() -> None:
    prog = rpgraph.compile(spec("lif(tau_mem = 20 ms{per})", "channel"))
    shapes = {k: v["shape"] for k, v in prog.parameter_info().items()}
    assert shapes == {"h.bias": (2,), "h.tau_mem": (2,), "h.tau_syn": (2, 1),
                      "h.threshold": (2,)}
    lower, upper = prog.bounds_template()
    assert sorted(lower["h"]) == ["bias", "tau_mem", "tau_syn", "threshold"]
    from rpgraph.bounds import to_table

    table = to_table(lower, upper, prog.network)
    assert "h.tau_syn    (2, 1)  taus" in table
    assert "per = channel" in str(prog)
    # the whole graph stepped in one scan gives the same as the hoisted plan
    p = varied(prog.init(0))
    loop = rpgraph.compile(spec("lif(tau_mem = 20 ms{per})", "channel"), hoist=False)
    np.testing.assert_array_equal(loop.evolve(p, X)[0], prog.evolve(p, X)[0])


def test_gradient_of_a_shared_value_is_the_sum_over_its_channel() -> None:
    call = "rate(activation = tanh{per})"
    shared = rpgraph.compile(spec(call, "channel"))
    element = rpgraph.compile(spec(call, None))
    p = varied(shared.init(0))
    rep = {"h": {k: jnp.repeat(v, 16, axis=0) for k, v in p["h"].items()}}
    t = np.zeros((2, 12, 32), np.float32)
    gs = jax.grad(shared.loss)(p, X, t)["h"]["tau"]
    ge = jax.grad(element.loss)(rep, X, t)["h"]["tau"]
    np.testing.assert_allclose(gs, np.asarray(ge).reshape(2, 16).sum(1), rtol=1e-5)


def test_nir_export_writes_full_shape_arrays() -> None:
    prog = rpgraph.compile(spec("lif(tau_mem = 20 ms, reset = v_reset{per})", "channel"))
    p = varied(prog.init(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = to_nir(prog, p)
    tau = np.asarray(graph.nodes["h"].tau_mem)
    assert tau.shape == (2, 4, 4)
    # (the nir convention's tau is rpgraph's decay written for forward Euler: not equal)
    assert np.all(tau == tau[:, :1, :1]) and tau[0, 0, 0] != tau[1, 0, 0]
    net, q = from_nir(graph, dt=1e-3)
    np.testing.assert_array_equal(rpgraph.compile(net).evolve(q, X)[0], prog.evolve(p, X)[0])
