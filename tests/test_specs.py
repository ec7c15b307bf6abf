"""Every shipped spec compiles, runs, has finite loss and gradients, and takes training steps."""

from __future__ import annotations

import shutil
from pathlib import Path

import jax
import numpy as np
import pytest
from eventcraft import random_nmnist, random_shd

import rpgraph
from rpgraph.train import resolve

SPECS = sorted((Path(__file__).resolve().parents[1] / "specs").glob("*.rpg"))
#: Specs whose data users download themselves: run on miniature files of the same format.
SYNTHETIC_DATA = {
    "shd_rsnn": lambda d: (random_shd(d / "data" / "shd_train.h5", 6),
                           random_shd(d / "data" / "shd_test.h5", 3, seed=1)),
    "nmnist_conv": lambda d: (random_nmnist(d / "data" / "NMNIST" / "Train", 6),
                              random_nmnist(d / "data" / "NMNIST" / "Test", 3, seed=1)),
}


def test_there_are_specs() -> None:
    names = {p.stem for p in SPECS}
    assert {"tutorial_mlp", "tutorial_rate", "srnn", "residual", "digits_lif",
            "digits_alif_rec"} <= names


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_spec_compiles_runs_and_trains(path: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    if path.stem in SYNTHETIC_DATA:
        monkeypatch.setenv("RPGRAPH_CACHE", str(tmp_path / "cache"))
        path = Path(shutil.copy(path, tmp_path))
        SYNTHETIC_DATA[path.stem](tmp_path)
    prog = rpgraph.compile(path)
    params = prog.init(seed=0)
    net = prog.network
    n_in, n_out = net.size(prog.inputs[0]), net.size(prog.outputs[0])
    x = np.random.RandomState(0).rand(2, 20, n_in).astype(np.float32)
    y, state, rec = prog.evolve(params, x, record=True)
    assert y.shape == (2, 20, n_out) and np.all(np.isfinite(np.asarray(y)))
    assert set(rec) >= set(net.modules())
    if net.spec.train is None:
        target = np.zeros((2, 20, n_out), np.float32)
        loss, grads = jax.value_and_grad(prog.loss)(params, x, target)
        assert np.isfinite(float(loss))
        assert all(np.all(np.isfinite(np.asarray(g))) for g in jax.tree_util.tree_leaves(grads))
    else:
        # the training step is the loss and its gradients on the spec's own data: finite
        # losses and finite parameters after the updates say both were finite (one compile
        # instead of a separate value_and_grad program)
        assert resolve(prog).data is not None
        result = rpgraph.fit(prog, epochs=1, progress=False)
        assert len(result.losses) > 0 and np.all(np.isfinite(result.losses))
        assert all(np.all(np.isfinite(np.asarray(p)))
                   for p in jax.tree_util.tree_leaves(result.params))
