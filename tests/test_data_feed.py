"""Training data on the device or streamed from host memory (rpgraph.train.feed): a data set
larger than the device-data budget trains chunk by chunk from the host, bit for bit as the
on-device run."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import optax
import pytest

import rpgraph
from rpgraph.errors import SpecValueError
from rpgraph.io.data import Dataset
from rpgraph.train import feed as feed_mod
from rpgraph.train import loop
from rpgraph.train.step import indices, make_chunk

SPEC = """network n (dt = 1 ms) {
    input x : 6
    output y : 3
    x -> linear(8) -> h: lif(tau_mem = 10 ms, tau_syn = 5 ms) -> linear(3) -> y
}
train {
    loss = cross_entropy(y, target)
    optimizer = adam(lr = 0.01)
}
"""


@pytest.fixture(scope="module")
def prog() -> Any:
    return rpgraph.compile(SPEC)


@pytest.fixture(scope="module")
def data() -> Dataset:
    rng = np.random.default_rng(0)
    x = (rng.random((10, 7, 6)) < 0.4).astype(np.float32) * 2
    return Dataset(x, labels=rng.integers(0, 3, 10).astype(np.int32), name="spikes",
                   num_classes=3)


def _fit(prog: Any, data: Dataset, budget: int | None, monkeypatch: pytest.MonkeyPatch,
         **kw: Any) -> tuple[Any, list[bool]]:
    seen: list[bool] = []

    class Spy(feed_mod.Feed):
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            seen.append(self.streamed)

    monkeypatch.setattr(loop, "Feed", Spy)
    monkeypatch.delenv("RPGRAPH_DEVICE_DATA", raising=False)
    return rpgraph.fit(prog, data, progress=False, device_data=budget, **kw), seen


def _same(a: Any, b: Any) -> None:
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_fit_streams_a_data_set_over_the_budget(prog: Any, data: Dataset,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # data: 10 samples of 7 x 6 float32 + an int32 label = 172 bytes each (1720 in all);
    # 500 bytes hold the batches of 2 steps of 4 samples: chunks of 5 steps go in 3 pieces
    kw = {"epochs": 3, "batch_size": 4, "chunk": 5, "seed": 3}
    ref, on_device = _fit(prog, data, 10**9, monkeypatch, **kw)
    got, streamed = _fit(prog, data, 500, monkeypatch, **kw)
    assert on_device == [False] and streamed == [True]
    np.testing.assert_array_equal(got.losses, ref.losses)
    _same(got.params, ref.params)
    assert got.metrics == ref.metrics


@pytest.fixture(scope="module")
def chunk(prog: Any) -> Any:
    return make_chunk(prog, optax.adam(0.01), seed=3)  # shared: each shape compiles once


def test_streamed_single_samples_equal_on_device(prog: Any, data: Dataset, chunk: Any) -> None:
    # batch size 1 (the chunk slices one sample, no gather); 400 bytes hold 2 samples:
    # chunks of 5 steps go in pieces of 2, the last padded
    batch, budget = 1, 400
    def run(feed: feed_mod.Feed) -> tuple[Any, np.ndarray]:
        params = prog.init(0)
        opt_state = optax.adam(0.01).init(params)
        losses = []
        for step in range(0, 12, 5):  # chunks of 5 steps, the last 2 real ones padded
            idx = indices(step, min(5, 12 - step), len(data), batch, len(data) // batch, 3)
            idx = np.concatenate([idx, np.zeros((5 - len(idx), idx.shape[1]), idx.dtype)])
            params, opt_state, loss, _ = feed.run(chunk, params, opt_state, idx, step,
                                                  min(5, 12 - step))
            losses.append(np.asarray(loss)[:min(5, 12 - step)])
        return params, np.concatenate(losses)

    ref, got = feed_mod.Feed(prog, data, budget=None), feed_mod.Feed(prog, data, budget=budget)
    assert not ref.streamed and got.streamed
    (p_ref, l_ref), (p_got, l_got) = run(ref), run(got)
    np.testing.assert_array_equal(l_got, l_ref)
    _same(p_got, p_ref)


def test_budget_from_the_environment_and_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPGRAPH_DEVICE_DATA", "2KiB")
    assert feed_mod.device_budget() == 2048 and feed_mod.device_budget(7) == 7
    monkeypatch.setenv("RPGRAPH_DEVICE_DATA", "lots")
    with pytest.raises(SpecValueError) as err:
        feed_mod.device_budget()
    assert err.value.message == ("RPGRAPH_DEVICE_DATA: Expected a size such as 64GB or 512MiB, "
                                 "got 'lots'")
    with pytest.raises(SpecValueError) as err:
        feed_mod.device_budget(0)
    assert err.value.message == "Expected device_data in bytes (an integer > 0), got 0"
    from rpgraph.cli import build_parser

    assert build_parser().parse_args(["train", "x.rpg", "--device-data", "2KiB"]).device_data \
        == 2048
    monkeypatch.delenv("RPGRAPH_DEVICE_DATA")
    if jax.devices()[0].platform == "cpu":  # the device is host memory: nothing to stream
        assert feed_mod.device_budget() is None
