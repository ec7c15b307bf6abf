"""Shared test setup: every run of the suite sees the same inputs, so CI cannot flake."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import settings

from rpgraph.compile.cache import enable_cache

# Property tests are derandomized (a fixed example sequence, no example database) so that CI
# gives the same verdict on every run. `HYPOTHESIS_PROFILE=explore pytest` searches afresh.
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Two workers share two cores: XLA's own thread pools in each would only contend (6% of the
# suite's time here). One thread per process; subprocesses inherit it, so a run in a
# subprocess and its in-process reference still execute the same way.
_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
if _ONE_THREAD not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_ONE_THREAD}".strip()

# The CLI turns on JAX's persistent compilation cache (in ~/.cache). The suite gives it a
# folder of its own, made once per run (this module is imported by pytest's main process
# before xdist starts its workers, which inherit the variable) and removed at the end: the
# many small programs that tests and their subprocesses compile again and again (the same
# spec trained through the CLI, the same network in several tests) are compiled once per
# run, and nothing is written to the user's home. RPGRAPH_TEST_CACHE=off turns it off. The
# cache itself is tested in subprocesses with their own folders (tests/test_startup.py).
if "RPGRAPH_TEST_CACHE" not in os.environ:
    os.environ["RPGRAPH_TEST_CACHE"] = tempfile.mkdtemp(prefix="rpgraph-test-cache-")
    _OWNER = True  # this process made the folder and removes it
else:
    _OWNER = False
_CACHE = os.environ["RPGRAPH_TEST_CACHE"]
os.environ.setdefault("RPGRAPH_CACHE_DIR", _CACHE)
if _CACHE != "off":
    enable_cache(_CACHE)  # every program, however small: many recur across tests


def pytest_unconfigure(config: pytest.Config) -> None:
    if _OWNER and _CACHE != "off":
        shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True)
def _seed_numpy_global_rng() -> Iterator[None]:
    """Rockpool draws initial weights and rng keys from numpy's global generator; seed it per
    test so every comparison against Rockpool sees the same network on every run."""
    state = np.random.get_state()
    np.random.seed(0)
    yield
    np.random.set_state(state)
