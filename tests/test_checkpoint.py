"""Checkpoints: round trips, atomic writes, and exact errors for every bad file."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import rpgraph
from rpgraph.checkpoint import (
    CHECKPOINT_NAME,
    Checkpoint,
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
    load_params,
    save_checkpoint,
    save_params,
    spec_hash,
)
from rpgraph.errors import CheckpointError

HASH = spec_hash("x: 4 -> linear(3) -> y")
OTHER = spec_hash("x: 4 -> linear(5) -> y")


def _params() -> dict:
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    return {
        "dense": {"w": jax.random.normal(k1, (4, 3)), "b": jnp.zeros(3)},
        "lif": {"tau": jnp.full((3,), 0.02), "steps": [jnp.arange(2), jnp.ones((), jnp.bfloat16)]},
        "out": jax.random.normal(k2, (3, 2)),
    }


def _same(a: object, b: object) -> bool:
    leaves_a, tree_a = jax.tree_util.tree_flatten(a)
    leaves_b, tree_b = jax.tree_util.tree_flatten(b)
    return repr(tree_a) == repr(tree_b) and all(
        x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y)
        for x, y in zip(leaves_a, leaves_b, strict=True)
    )


@pytest.fixture
def trained():
    """Params and an optax.adam state after one real update (so mu/nu/count are non-trivial)."""
    params = _params()
    float_params = jax.tree.map(lambda p: p.astype(jnp.float32), params)
    opt = optax.adam(1e-2)
    state = opt.init(float_params)
    grads = jax.tree.map(jnp.ones_like, float_params)
    updates, state = opt.update(grads, state, float_params)
    return opt, optax.apply_updates(float_params, updates), state


def test_round_trip_with_templates(tmp_path, trained):
    opt, params, state = trained
    key = jax.random.PRNGKey(7)
    save_checkpoint(
        tmp_path / "run",
        params=params,
        opt_state=state,
        step=42,
        rng_key=key,
        spec_hash=HASH,
        extra={"loss": 0.25, "epoch": 3},
    )
    assert latest_checkpoint(tmp_path / "run") == tmp_path / "run" / CHECKPOINT_NAME
    ck = load_checkpoint(tmp_path / "run", params_like=params, opt_state_like=state, spec_hash=HASH)
    assert isinstance(ck, Checkpoint)
    assert _same(ck.params, params) and _same(ck.opt_state, state)
    assert ck.opt_state is not None and isinstance(ck.opt_state[0], optax.ScaleByAdamState)
    assert (ck.step, ck.spec_hash, ck.extra) == (42, HASH, {"loss": 0.25, "epoch": 3})
    assert ck.rng_key is not None and np.array_equal(ck.rng_key, key)
    # The restored state drives the optimiser exactly like the original.
    grads = jax.tree.map(jnp.ones_like, params)
    assert _same(opt.update(grads, ck.opt_state, ck.params)[0], opt.update(grads, state, params)[0])


def test_round_trip_without_templates_rebuilds_dicts_and_lists(tmp_path):
    params = _params()
    save_checkpoint(tmp_path / "c.npz", params=params, step=1, spec_hash=HASH)
    ck = load_checkpoint(tmp_path / "c.npz")
    assert _same(ck.params, params)  # bfloat16 survives too
    assert ck.opt_state is None and ck.rng_key is None and ck.extra == {}


def test_typed_prng_key_round_trip(tmp_path):
    key = jax.random.key(3)
    save_checkpoint(tmp_path / "c.npz", params={}, step=0, rng_key=key, spec_hash=HASH)
    restored = load_checkpoint(tmp_path / "c.npz").rng_key
    assert restored is not None
    assert np.array_equal(jax.random.key_data(restored), jax.random.key_data(key))
    assert jax.random.normal(restored, ()) == jax.random.normal(key, ())


def test_params_file_round_trip_and_layout(tmp_path):
    params = _params()
    run = tmp_path / "run"
    run.mkdir()
    save_params(run, params, spec_hash=HASH)
    assert (run / "params.npz").is_file()
    assert _same(load_params(run, like=params, spec_hash=HASH), params)
    assert _same(load_params(run / "params.npz"), params)
    # A run with only a checkpoint still yields its parameters.
    other = tmp_path / "other"
    save_checkpoint(other, params=params, step=5, spec_hash=HASH)
    assert _same(load_params(other, like=params), params)
    assert checkpoint_path(other) == other / "checkpoint.npz"


def test_files_load_with_plain_numpy_without_pickle(tmp_path, trained):
    _, params, state = trained
    save_checkpoint(tmp_path / "c.npz", params=params, opt_state=state, step=1, spec_hash=HASH)
    with np.load(tmp_path / "c.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)
        meta = json.loads(npz["__rpgraph__"].tobytes())
    assert meta["format"] == "rpgraph-checkpoint" and meta["step"] == 1
    assert meta["params"][0]["path"] == "['dense']['b']"


# --------------------------------------------------------------------------------------------
# Atomicity


def test_crash_during_replace_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    save_checkpoint(run, params={"w": jnp.ones(3)}, step=1, spec_hash=HASH)
    before = (run / CHECKPOINT_NAME).read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(CheckpointError) as err:
        save_checkpoint(run, params={"w": jnp.zeros(3)}, step=2, spec_hash=HASH)
    monkeypatch.undo()
    assert err.value.message == (
        f"cannot write checkpoint '{run / CHECKPOINT_NAME}': No space left on device"
    )
    assert (run / CHECKPOINT_NAME).read_bytes() == before
    assert sorted(p.name for p in run.iterdir()) == [CHECKPOINT_NAME]  # temp file cleaned up
    assert load_checkpoint(run).step == 1


def test_crash_during_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    save_checkpoint(run, params={"w": jnp.ones(3)}, step=1, spec_hash=HASH)

    def crash(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(CheckpointError):
        save_checkpoint(run, params={"w": jnp.zeros(3)}, step=2, spec_hash=HASH)
    monkeypatch.undo()
    assert sorted(p.name for p in run.iterdir()) == [CHECKPOINT_NAME]
    assert load_checkpoint(run).step == 1


def test_leftover_temp_file_is_never_taken_for_a_checkpoint(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    # What a killed process (no chance to clean up) leaves behind: a partial temp file.
    (run / ".checkpoint.npz.1234.deadbeef.tmp").write_bytes(b"PK\x03\x04partial")
    assert latest_checkpoint(run) is None
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(run)
    assert err.value.message == f"run directory '{run}' has no checkpoint.npz"
    save_checkpoint(run, params={"w": jnp.ones(1)}, step=3, spec_hash=HASH)
    assert latest_checkpoint(run) == run / CHECKPOINT_NAME
    assert load_checkpoint(run).step == 3


@pytest.mark.skipif(os.name != "posix", reason="file modes")
def test_checkpoint_file_mode_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        save_checkpoint(tmp_path / "c.npz", params={}, step=0, spec_hash=HASH)
    finally:
        os.umask(old)
    assert (tmp_path / "c.npz").stat().st_mode & 0o777 == 0o640


# --------------------------------------------------------------------------------------------
# Bad files


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "c.npz"
    save_checkpoint(path, params=_params(), step=9, spec_hash=HASH)
    return path


def test_truncated_checkpoint(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) - 40])
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(saved)
    assert err.value.message == f"checkpoint '{saved}' is corrupted or truncated"
    assert str(err.value).startswith(
        f"error: checkpoint '{saved}' is corrupted or truncated\nnote: while reading: "
    )


def test_every_truncation_is_a_checkpoint_error(saved):
    data = saved.read_bytes()
    for cut in range(0, len(data), 7):
        saved.write_bytes(data[:cut])
        with pytest.raises(CheckpointError):
            load_checkpoint(saved)


def test_corrupted_checkpoint(saved):
    data = bytearray(saved.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(16)
    saved.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(saved)
    assert err.value.message == f"checkpoint '{saved}' is corrupted or truncated"


@pytest.mark.parametrize(
    "content, message, hint",
    [
        (b"", "checkpoint '{p}' is empty (0 bytes); expected a .npz archive", None),
        (
            b"step,loss\n1,0.5\n",
            "checkpoint '{p}' is not a .npz archive (it does not start with a zip header)",
            None,
        ),
        (
            {"w": np.ones(3)},
            "checkpoint '{p}' is not an rpgraph checkpoint (no '__rpgraph__' metadata; it "
            "holds: 'w')",
            "rpgraph reads only files written by its own save_checkpoint/save_params",
        ),
        (
            {"__rpgraph__": np.frombuffer(b"{not json", np.uint8)},
            "checkpoint '{p}' is corrupted or truncated (unreadable metadata)",
            None,
        ),
        (
            {"__rpgraph__": np.frombuffer(b'{"format": "rpgraph-checkpoint", "version": 2}', "u1")},
            "checkpoint '{p}' was written by a newer rpgraph (format version 2; this rpgraph "
            "reads version 1)",
            "upgrade rpgraph",
        ),
        (
            {"w": np.array([{"a": 1}], dtype=object)},
            "checkpoint '{p}' holds an object array ('w'); rpgraph loads .npz files without pickle",
            "save plain numeric arrays, e.g. np.asarray(x, dtype=np.float32)",
        ),
    ],
    ids=["empty", "text", "foreign-npz", "bad-metadata", "newer-version", "object-array"],
)
def test_not_a_checkpoint(tmp_path, content, message, hint):
    path = tmp_path / "c.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.savez(path, **content)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert (err.value.message, err.value.hint) == (message.format(p=path), hint)


def _meta(**changes: object) -> dict[str, object]:
    leaf = {"path": "['w']", "keys": [["dict", "w"]], "dtype": "float32", "shape": [3]}
    meta: dict[str, object] = {
        "format": "rpgraph-checkpoint",
        "version": 1,
        "step": 1,
        "spec_hash": HASH,
        "extra": {},
        "params": [leaf],
        "opt_state": None,
        "rng_key": None,
    }
    meta.update(changes)
    return {k: v for k, v in meta.items() if v != "DROP"}


@pytest.mark.parametrize(
    "meta, arrays, detail",
    [
        (_meta(params="DROP"), {}, "unreadable metadata"),
        (_meta(step="one"), {}, "unreadable metadata"),
        (_meta(params=[{"path": "['w']"}]), {}, "unreadable metadata"),
        (_meta(), {}, "array 'params.000000' for params['w'] is missing"),
        (
            _meta(),
            {"params.000000": np.ones(4, np.float32)},
            "array 'params.000000' has shape (4,); its metadata says (3,)",
        ),
        (
            _meta(params=[{"path": "['w']", "keys": [], "dtype": "bfloat16", "shape": [3]}]),
            {"params.000000": np.ones(3, np.float32)},
            "array 'params.000000' has dtype float32; its metadata says bfloat16",
        ),
        (
            _meta(rng_key={"typed": True, "impl": "threefry2x32"}),
            {"params.000000": np.ones(3, np.float32), "rng_key": np.ones(5, np.uint32)},
            "array 'rng_key' is not a threefry2x32 key",
        ),
    ],
    ids=["no-params", "bad-step", "bad-leaf", "missing-array", "shape", "dtype", "rng-key"],
)
def test_inconsistent_metadata_is_corruption(tmp_path, meta, arrays, detail):
    path = tmp_path / "c.npz"
    raw = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, __rpgraph__=raw, **arrays)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert err.value.message == f"checkpoint '{path}' is corrupted or truncated ({detail})"


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "nope.npz")
    assert err.value.message == f"checkpoint '{tmp_path / 'nope.npz'}' does not exist"


def test_params_file_is_not_a_checkpoint(tmp_path):
    save_params(tmp_path / "params.npz", {"w": jnp.ones(2)})
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "params.npz")
    assert err.value.message == (
        f"checkpoint '{tmp_path / 'params.npz'}' is a parameter file, not a training checkpoint"
    )


def test_spec_hash_mismatch(saved):
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(saved, spec_hash=OTHER)
    assert err.value.message == (
        f"checkpoint '{saved}' was written for a different spec "
        f"(hash {HASH[:12]}…, this spec {OTHER[:12]}…)"
    )
    assert err.value.hint == "start a new run, or pass the spec the run was started with"
    with pytest.raises(CheckpointError):
        load_params(saved, spec_hash=OTHER)


def test_template_mismatches(saved):
    params = _params()
    wider = {**params, "out": jnp.zeros((3, 5))}
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(saved, params_like=wider)
    assert err.value.message == (
        f"checkpoint '{saved}': params leaf params['out'] has shape (3, 2); expected (3, 5)"
    )
    assert err.value.hint == "the network's sizes changed since this checkpoint was written"

    renamed = {**params, "readout": params["out"]}
    del renamed["out"]
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(saved, params_like=renamed)
    assert err.value.message == f"checkpoint '{saved}' has no params leaf params['readout']"

    fewer = {k: v for k, v in params.items() if k != "lif"}
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(saved, params_like=fewer)
    assert err.value.message == (
        f"checkpoint '{saved}' holds params leaf params['lif']['steps'][0] that the current "
        "model does not have (and 2 more)"
    )

    with pytest.raises(CheckpointError) as err:
        load_checkpoint(saved, params_like=params, opt_state_like=optax.sgd(0.1).init(params))
    assert err.value.message == f"checkpoint '{saved}' has no optimiser state"


def test_unsaveable_trees(tmp_path):
    with pytest.raises(CheckpointError) as err:
        save_checkpoint(tmp_path / "c.npz", params={"name": "lif"}, step=0, spec_hash=HASH)
    assert err.value.message == (
        "cannot save params['name']: it is a str of dtype <U3; checkpoints hold numeric "
        "arrays only (no pickle)"
    )
    with pytest.raises(CheckpointError) as err:
        save_checkpoint(tmp_path / "c.npz", params={}, step=0, spec_hash=HASH, extra={"f": len})
    assert err.value.message.startswith("cannot save checkpoint: extra is not JSON-serialisable")
    assert not (tmp_path / "c.npz").exists()


def test_spec_hash_is_sha256_of_the_text():
    assert spec_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_no_pickle_in_data_or_checkpoint_code():
    package = Path(rpgraph.__file__).parent
    for name in ("checkpoint.py", "data.py"):
        text = (package / name).read_text()
        # No pickle module (or a relative of it) anywhere...
        assert not re.search(r"^\s*(import|from)\s+(pickle|cPickle|dill|cloudpickle)\b", text, re.M)
        assert not re.search(r"\b(pickle|dill|cloudpickle)\.\w", text), name
        # ...and numpy is never allowed to unpickle: every allow_pickle is spelled False.
        assert "allow_pickle=True" not in text, name
        flags = re.findall(r"allow_pickle\s*=\s*(\w+)", text)
        assert flags and set(flags) == {"False"}, name
