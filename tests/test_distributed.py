"""Data-parallel training over two real processes (rpgraph.train.distributed): two local
``rpgraph train`` processes joined by ``jax.distributed`` on CPU (gloo collectives), each
computing half of every minibatch (seen in their compiled programs), end with the parameters
and losses of one process training alone (within 1e-5 relative)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import rpgraph
from rpgraph.errors import SpecValueError
from rpgraph.train import fit
from rpgraph.train.distributed import Cluster, cluster_from

ROOT = Path(__file__).resolve().parents[1]
SPEC = ("network n (dt = 1 ms) { input x : 3\n output y : 2\n"
        " x -> linear(6) -> h: rate(activation = tanh) -> linear(2) -> y }\n"
        "train { data = sinusoids(classes = 4, length = 8, channels_in = 3, channels_out = 2)\n"
        " epochs = 3\n batch_size = 4\n optimizer = adam(lr = 1e-2) }\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif("jax_cpu_collectives_implementation" not in jax.config.values,
                    reason="this jax has no CPU collectives (jax_cpu_collectives_implementation)")
def test_two_processes_equal_one(tmp_path: Path) -> None:
    spec = tmp_path / "n.rpg"
    spec.write_text(SPEC)
    port = _free_port()
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT),
           "RPGRAPH_CACHE_DIR": "off"}
    # each process dumps its compiled training program (XLA's HLO text), to show the split
    dump = "--xla_dump_hlo_as_text --xla_dump_hlo_module_re=jit_run --xla_dump_to="
    procs = [subprocess.Popen(
        [sys.executable, "-m", "rpgraph", "train", str(spec), "--no-plots",
         "--coordinator", f"localhost:{port}", "--num-processes", "2", "--process-id", str(i),
         "--out", str(tmp_path / f"run{i}")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**env, "XLA_FLAGS": dump + str(tmp_path / f"hlo{i}")}) for i in (0, 1)]
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=240))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], outs
    # process 0 speaks for both (gloo prints its own line on each)
    assert "run directory" in outs[0][0] and "run directory" not in outs[1][0]
    assert not (tmp_path / "run1").exists()  # only process 0 writes
    for i in (0, 1):
        # each process computes half of every minibatch of 4: the hidden layer's activations
        # are (2 samples, 8 steps, 6 units), and gradients are summed across processes
        hlo = [f.read_text() for f in (tmp_path / f"hlo{i}").rglob("*after_optimizations.txt")]
        assert any("f32[2,8,6]" in h and "f32[4,8,6]" not in h and "all-reduce" in h
                   for h in hlo), i
    alone = fit(rpgraph.compile(SPEC), progress=False)
    got = np.load(tmp_path / "run0" / "params.npz")
    for name, want in _flat(alone.params).items():
        np.testing.assert_allclose(got[name], want, rtol=1e-5, atol=1e-6)
    losses = [json.loads(line)["loss"]
              for line in (tmp_path / "run0" / "metrics.jsonl").read_text().splitlines()]
    np.testing.assert_allclose(losses, alone.losses, rtol=1e-5)


def _flat(params: dict) -> dict[str, np.ndarray]:
    return {f"{m}.{k}": np.asarray(v) for m, d in params.items() for k, v in d.items()}


def test_cluster_flags_and_environment() -> None:
    env = {"RPGRAPH_COORDINATOR": "h:1", "RPGRAPH_NUM_PROCESSES": "2"}
    assert cluster_from(None, None, 1, env=env) == Cluster("h:1", 2, 1)
    with pytest.raises(SpecValueError, match="missing --process-id"):
        cluster_from(None, None, None, env=env)
    with pytest.raises(SpecValueError, match="HOST:PORT"):
        cluster_from("nohost", 2, 0, env={})
    with pytest.raises(SpecValueError, match="got process id 2 of 2"):
        cluster_from("h:1", 2, 2, env={})
