"""The optax signature table ``rpgraph check`` reads instead of importing optax: it matches
the installed optax, is only trusted for the version it was made from, ships in the wheel,
and what it vouches for (numbers within their ranges) builds and runs in optax."""

from __future__ import annotations

import json
from importlib import metadata

import pytest

from rpgraph import optax_table
from rpgraph.errors import SpecError
from rpgraph.optax_table import TABLE, Param, make_table, names, params, params_of
from rpgraph.train_config import ARG_RULES, _vouched, optax_range, optimizer_spec


def test_the_shipped_table_matches_the_installed_optax() -> None:
    """Fails after an optax upgrade: run ``python -m rpgraph.optax_table`` and commit the
    table (check would otherwise read optax itself, ~0.8 s slower)."""
    assert json.loads(TABLE.read_text(encoding="utf-8")) == make_table()


def test_another_optax_version_reads_optax_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    import optax

    monkeypatch.setattr(optax_table.metadata, "version", lambda name: "0.0.0-other")
    optax_table._table.cache_clear()
    try:
        assert optax_table._table() is None
        assert params("adam") == params_of(optax.adam)
        assert names("schedules") == optax_table.SCHEDULE_NAMES
        assert "chain" in names("transforms") and "cosine_decay_schedule" not in names(
            "transforms")
    finally:
        monkeypatch.undo()
        optax_table._table.cache_clear()
    assert optax_table._table() is not None and metadata.version("optax") == \
        optax_table._table()["optax"]  # type: ignore[index]


def _edges(fn: str, name: str) -> list[float]:
    """Extreme values of an argument's range (the numbers most likely to break optax): its
    ends where they are inside (just inside where open), else 0 or 1."""
    rng = optax_range(fn, name)
    lo = 0.0 if rng.lo is None else rng.lo + (1e-6 if rng.lo_open else 0.0)
    hi = 1.0 if rng.hi is None or rng.hi > 1e6 else rng.hi - (1e-6 if rng.hi_open else 0.0)
    return [lo, hi, lo + 0.5 * (hi - lo) if hi > lo else lo + 1.0]


def _number(p: Param, v: float) -> str:
    return repr(v) if "number" in p.accepts else str(int(v))


@pytest.mark.parametrize("name", optax_table.OPTIMIZER_NAMES)
def test_what_the_table_vouches_for_builds_and_runs(name: str) -> None:
    """Every numeric argument at the edges of its range, all at once: what ``check``
    accepts without building (``_vouched``) also builds and runs one update in optax."""
    numeric = [p for p in params(name) if p.accepts & {"number", "int"}
               and not p.accepts & {"any"} and p.name not in ARG_RULES]
    tried = 0
    for i in range(3):
        args = ", ".join(f"{p.name} = {_number(p, _edges(name, p.name)[i])}" for p in numeric)
        text = f"{name}({args})"
        try:
            spec = optimizer_spec(text)
        except SpecError:
            continue  # refused at check: nothing vouched
        if _vouched(spec):
            spec.verify()  # raises a SpecError if optax refuses what check accepted
            tried += 1
    assert tried >= 1 or not numeric


@pytest.mark.parametrize("name", optax_table.SCHEDULE_NAMES)
def test_what_the_table_vouches_for_in_schedules_builds_and_runs(name: str) -> None:
    """The same for each schedule, as an optimizer's learning rate."""
    numeric = [p for p in params(name) if p.accepts & {"number", "int"}
               and not p.accepts & {"any"} and p.name not in ARG_RULES]
    tried = 0
    for i in range(3):
        args = ", ".join(f"{p.name} = {_number(p, _edges(name, p.name)[i])}" for p in numeric)
        try:
            spec = optimizer_spec(f"sgd(lr = {name}({args}))")
        except SpecError:
            continue
        if _vouched(spec):
            spec.verify()
            tried += 1
    assert tried >= 1 or not numeric
