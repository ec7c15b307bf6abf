"""Shared test setup: every run of the suite sees the same inputs, so CI cannot flake."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import settings

# Property tests are derandomized (a fixed example sequence, no example database) so that CI
# gives the same verdict on every run. `HYPOTHESIS_PROFILE=explore pytest` searches afresh.
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# The CLI turns on JAX's persistent compilation cache (in ~/.cache); tests that call it in
# process would turn it on for the rest of the session and write to the user's home. The
# cache is tested on its own, in subprocesses with their own folder (tests/test_startup.py).
os.environ.setdefault("RPGRAPH_CACHE_DIR", "off")


@pytest.fixture(autouse=True)
def _seed_numpy_global_rng() -> Iterator[None]:
    """Rockpool draws initial weights and rng keys from numpy's global generator; seed it per
    test so every comparison against Rockpool sees the same network on every run."""
    state = np.random.get_state()
    np.random.seed(0)
    yield
    np.random.set_state(state)
