"""Memory estimated from static sizes before anything is allocated (rpgraph/memory.py): the
estimate itself, the limit and its flag, and each place a spec could allocate too much
(compile, a built-in data set, a training run) refusing it with a located error."""

from __future__ import annotations

import math

import numpy as np
import pytest

import rpgraph
from rpgraph import memory
from rpgraph.errors import DataError, SpecValueError
from rpgraph.graph import loads
from rpgraph.io.data import check_dataset, make_dataset
from rpgraph.train_config import elaborate_train, open_data

HDR = "network n {\n    input x : 4\n    output y : 2\n"


@pytest.fixture(autouse=True)
def _default_limit() -> None:
    memory.set_limit(None)
    yield
    memory.set_limit(None)


def test_parse_and_format_sizes() -> None:
    assert memory.parse_size("64GB") == 64 * 10**9
    assert memory.parse_size("2 GiB") == 2 * 2**30
    assert memory.parse_size("1e6") == 10**6
    for bad in ("lots", "-1GB", "0", "12XB", "nan", "inf"):
        with pytest.raises(ValueError):
            memory.parse_size(bad)
    assert memory.format_bytes(3 * 2**40) == "3 TiB"


def test_default_limit_is_physical_memory_or_the_environment(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.delenv("RPGRAPH_MEMORY_LIMIT", raising=False)
    assert memory.limit() > 2**28
    monkeypatch.setenv("RPGRAPH_MEMORY_LIMIT", "3MiB")
    assert memory.limit() == 3 * 2**20
    memory.set_limit(5)
    assert memory.limit() == 5
    with pytest.raises(SpecValueError):
        memory.set_limit(0)


def test_network_and_training_estimates_count_every_part() -> None:
    net = loads(HDR + "    x -> linear(3) -> h: rate -> linear(2) -> y\n}\n")
    params = 4 * 3 + 3 * 3 + 3 * 2  # weights and the rate's tau, bias, threshold
    assert memory.network_estimate(net).total == params * 4
    est = memory.training_estimate(net, samples=8, length=10, batch=4, data_bytes=100)
    width = 4 + 3 + 3 * 3 + 2  # input, linear, rate (output and state), linear
    assert est.parts == (("parameters, gradients and optimizer state", params * 16),
                         ("data", 100), ("activations", 2.0 * 10 * 4 * width * 4))
    # remat keeps one chunk and a carry per chunk
    chunked = memory.training_estimate(net, samples=8, length=100, batch=1, data_bytes=0,
                                       remat=10)
    assert dict(chunked.parts)["activations"] == 2.0 * (10 + 10) * width * 4


def test_recurrent_lif_refused_at_compile_at_its_node() -> None:
    spec = HDR + "    x -> linear(100000) -> h: lif(rec = true) -> linear(2) -> y\n}\n"
    memory.set_limit(8 * 2**30)
    with pytest.raises(SpecValueError) as info:
        rpgraph.compile(spec)
    assert str(info.value).splitlines()[0] == (
        "<string>:4:28: error: the network's parameters (largest: 'h', 37.3 GiB) would need "
        "about 37.3 GiB of memory (parameters 37.3 GiB), more than the limit of 8 GiB")
    memory.set_limit(64 * 2**30)  # raised: the estimate passes (nothing is built here)
    memory.check_network(loads(spec))


@pytest.mark.parametrize(("name", "kwargs", "size"), [
    ("digits", {"length": 10**7}, 1797 * 10**7 * 64 * 4),
    ("sinusoids", {"classes": 10**6, "length": 10**5}, 10**6 * 10**5 * 2002 * 12),
])
def test_built_in_data_sets_refused_before_generating(name: str, kwargs: dict, size: int
                                                      ) -> None:
    with pytest.raises(DataError) as info:
        make_dataset(name, kwargs)
    assert f"would need about {memory.format_bytes(size)} of memory" in str(info.value)


def test_small_data_sets_pass_and_match_their_estimate() -> None:
    check_dataset("sinusoids", {"classes": 2, "length": 3, "channels_in": 5})
    ds = make_dataset("sinusoids", {"classes": 2, "length": 3, "channels_in": 5})
    # the float32 arrays are a third of the estimate (which counts the float64 draws too)
    assert ds.inputs.nbytes + ds.targets.nbytes == 2 * 3 * (5 + 2) * 4


def test_training_run_refused_at_the_data_setting() -> None:
    net = loads("network n {\n    input x : 2\n    output y : 2\n"
                "    x -> linear(2**24) -> linear(2) -> y\n}\n"
                "train {\n    data = sinusoids(classes = 2, length = 20, channels_in = 2, "
                "channels_out = 2)\n}\n")
    config = elaborate_train(net)
    memory.set_limit(2**31)
    with pytest.raises(SpecValueError) as info:
        open_data(net, config)
    assert str(info.value).startswith("<string>:7:12: error: training on dataset 'sinusoids(")
    assert "activations 2.5 GiB" in str(info.value)
    memory.set_limit(2**33)
    ds, _ = open_data(net, config)
    assert np.all(np.isfinite(ds.inputs)) and math.prod(ds.inputs.shape) == 2 * 20 * 2


def test_xla_out_of_memory_during_training_is_a_training_error() -> None:
    """The estimate is approximate: XLA's own out-of-memory still ends as a user-facing
    error, not an internal one; other runtime errors pass through unchanged."""
    from rpgraph.errors import TrainingError
    from rpgraph.train.loop import _out_of_memory

    oom = _out_of_memory(RuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 134 GB"))
    assert isinstance(oom, TrainingError)
    assert str(oom).splitlines()[0] == (
        "error: the training program ran out of device memory (RESOURCE_EXHAUSTED: Out of "
        "memory allocating 134 GB)")
    other = RuntimeError("INTERNAL: something else")
    assert _out_of_memory(other) is other
