"""Checkpoints: round trips, atomic writes, and exact errors for every bad file."""

from __future__ import annotations

import json
import os
import re
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from npzcraft import Zeros, write_npz

import rpgraph
from rpgraph.errors import CheckpointError
from rpgraph.io.checkpoint import (
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

HASH = spec_hash("x: 4 -> linear(3) -> y")
OTHER = spec_hash("x: 4 -> linear(5) -> y")
W = {"w": jnp.zeros(3)}  # the template of the small hand-made files below


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
    save_checkpoint(
        tmp_path / "run",
        params=params,
        opt_state=state,
        step=42,
        spec_hash=HASH,
        extra={"loss": 0.25, "epoch": 3},
    )
    assert latest_checkpoint(tmp_path / "run") == tmp_path / "run" / CHECKPOINT_NAME
    ck = load_checkpoint(tmp_path / "run", params_like=params, opt_state_like=state, spec_hash=HASH)
    assert isinstance(ck, Checkpoint)
    assert _same(ck.params, params) and _same(ck.opt_state, state)
    assert ck.opt_state is not None and isinstance(ck.opt_state[0], optax.ScaleByAdamState)
    assert (ck.step, ck.spec_hash, ck.extra) == (42, HASH, {"loss": 0.25, "epoch": 3})
    # The restored state drives the optimiser exactly like the original.
    grads = jax.tree.map(jnp.ones_like, params)
    assert _same(opt.update(grads, ck.opt_state, ck.params)[0], opt.update(grads, state, params)[0])
    # Without an optimiser template, only the parameters are read.
    ck = load_checkpoint(tmp_path / "run", params_like=params)
    assert _same(ck.params, params) and ck.opt_state is None


def _key_draws(tree: object) -> list[float]:
    """One normal draw from every typed PRNG key in ``tree``."""
    return [float(jax.random.normal(leaf, ())) for leaf in jax.tree_util.tree_leaves(tree)
            if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)]


def test_noisy_sgd_state_with_a_typed_prng_key_round_trips(tmp_path):
    """optax states may carry typed PRNG keys (noisy_sgd): stored as key data, rebuilt with
    the template's key implementation."""
    params = {"w": jnp.arange(3.0)}
    opt = optax.noisy_sgd(0.1, key=jax.random.key(5))
    state = opt.update({"w": jnp.ones(3)}, opt.init(params), params)[1]  # a used key
    save_checkpoint(tmp_path / "c.npz", params=params, opt_state=state, step=1, spec_hash=HASH)
    ck = load_checkpoint(tmp_path / "c.npz", params_like=params, opt_state_like=opt.init(params))
    assert _key_draws(ck.opt_state) == _key_draws(state) and len(_key_draws(state)) == 1
    restored = [x for x in jax.tree_util.tree_leaves(ck.opt_state) if x.dtype != jnp.int32][0]
    assert jax.random.key_impl(restored) == jax.random.key_impl(jax.random.key(0))
    grads = {"w": jnp.ones(3)}
    assert _same(opt.update(grads, ck.opt_state, params)[0], opt.update(grads, state, params)[0])


def test_typed_prng_keys_keep_their_implementation(tmp_path):
    key = jax.random.key(3, impl="rbg")
    save_checkpoint(tmp_path / "c.npz", params={}, opt_state={"k": key}, step=0, spec_hash=HASH)
    ck = load_checkpoint(tmp_path / "c.npz", params_like={},
                         opt_state_like={"k": jax.random.key(0, impl="rbg")})
    assert str(jax.random.key_impl(ck.opt_state["k"])) == "rbg"
    assert np.array_equal(jax.random.key_data(ck.opt_state["k"]), jax.random.key_data(key))
    assert _key_draws(ck.opt_state) == _key_draws({"k": key})
    with pytest.raises(CheckpointError) as err:  # a template with another implementation
        load_checkpoint(tmp_path / "c.npz", params_like={},
                        opt_state_like={"k": jax.random.key(0)})
    assert err.value.message == (
        f"checkpoint '{tmp_path / 'c.npz'}': opt_state leaf opt_state['k'] is a rbg PRNG key; "
        "expected a threefry2x32 PRNG key"
    )
    with pytest.raises(CheckpointError) as err:  # a template with a plain array there
        load_checkpoint(tmp_path / "c.npz", params_like={}, opt_state_like={"k": jnp.zeros(4)})
    assert err.value.message == (
        f"checkpoint '{tmp_path / 'c.npz'}': opt_state leaf opt_state['k'] is a rbg PRNG key; "
        "expected an array"
    )
    # Key data of the wrong size for the implementation (the metadata edited to agree).
    _rewrite(tmp_path / "c.npz", **{"opt_state.000000": np.ones(5, np.uint32)})
    members = _members(tmp_path / "c.npz")
    meta = json.loads(bytes(members["__rpgraph__"]))
    meta["opt_state"][0]["shape"] = [5]
    members["__rpgraph__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(tmp_path / "c.npz", **members)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "c.npz", params_like={},
                        opt_state_like={"k": jax.random.key(0, impl="rbg")})
    assert err.value.message == (
        f"checkpoint '{tmp_path / 'c.npz'}': opt_state leaf opt_state['k'] has shape (5,); "
        "expected (4,)"
    )


def test_params_file_round_trip_and_layout(tmp_path):
    params = _params()
    run = tmp_path / "run"
    run.mkdir()
    save_params(run, params, spec_hash=HASH)
    assert (run / "params.npz").is_file()
    assert _same(load_params(run, like=params, spec_hash=HASH), params)  # bfloat16 too
    assert _same(load_params(run / "params.npz", params), params)
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
    assert load_checkpoint(run, params_like=W).step == 1


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
    assert load_checkpoint(run, params_like=W).step == 1


def test_leftover_temp_file_is_never_taken_for_a_checkpoint(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    # What a killed process (no chance to clean up) leaves behind: a partial temp file.
    (run / ".checkpoint.npz.1234.deadbeef.tmp").write_bytes(b"PK\x03\x04partial")
    assert latest_checkpoint(run) is None
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(run, params_like=W)
    assert err.value.message == f"run directory '{run}' has no checkpoint.npz"
    save_checkpoint(run, params={"w": jnp.ones(1)}, step=3, spec_hash=HASH)
    assert latest_checkpoint(run) == run / CHECKPOINT_NAME
    assert load_checkpoint(run, params_like={"w": jnp.ones(1)}).step == 3


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
        load_checkpoint(saved, params_like=_params())
    assert err.value.message == f"checkpoint '{saved}' is corrupted or truncated"
    assert str(err.value).startswith(
        f"error: checkpoint '{saved}' is corrupted or truncated\nnote: while reading: "
    )


def test_every_truncation_is_a_checkpoint_error(saved):
    data = saved.read_bytes()
    for cut in range(0, len(data), 7):
        saved.write_bytes(data[:cut])
        with pytest.raises(CheckpointError):
            load_checkpoint(saved, params_like=_params())


def test_corrupted_checkpoint(saved):
    data = bytearray(saved.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(16)
    saved.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(saved, params_like=_params())
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
        load_checkpoint(path, params_like=W)
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
        (_meta(step=True), {}, "unreadable metadata"),
        (_meta(step=-5), {}, "step -5 is outside 0..9223372036854775807"),
        (_meta(step=10**30), {}, "step 1000000000000000000000000000000 is outside "
         "0..9223372036854775807"),
        (_meta(step=10**100), {}, "step 10000000000000000000000000000... is outside "
         "0..9223372036854775807"),
        (_meta(params=[{"path": "['w']", "dtype": "float32", "shape": [-3]}]), {},
         "unreadable metadata"),
        (_meta(extra=[1]), {}, "unreadable metadata"),
        (
            _meta(params=[{"path": "['w']", "dtype": "<U1", "shape": [3]}]),
            {"params.000000": np.array(["a", "b", "c"])},
            "array 'params.000000' has dtype <U1; checkpoints hold numeric arrays only",
        ),
    ],
    ids=["no-params", "bad-step", "bad-leaf", "missing-array", "shape", "dtype", "bool-step",
         "negative-step", "huge-step", "enormous-step", "negative-dim", "bad-extra", "string"],
)
def test_inconsistent_metadata_is_corruption(tmp_path, meta, arrays, detail):
    path = tmp_path / "c.npz"
    raw = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, __rpgraph__=raw, **arrays)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, params_like=W)
    assert err.value.message == f"checkpoint '{path}' is corrupted or truncated ({detail})"


def test_a_path_that_is_not_a_path(tmp_path):
    with pytest.raises(CheckpointError) as err:
        load_params(123, W)  # type: ignore[arg-type]
    assert err.value.message == (
        "expected the path of a params.npz or checkpoint.npz or of a run directory, got int 123")
    with pytest.raises(CheckpointError, match="got NoneType None"):
        load_checkpoint(None, params_like=W)  # type: ignore[arg-type]


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "nope.npz", params_like=W)
    assert err.value.message == f"checkpoint '{tmp_path / 'nope.npz'}' does not exist"


def test_params_file_is_not_a_checkpoint(tmp_path):
    save_params(tmp_path / "params.npz", {"w": jnp.ones(2)})
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "params.npz", params_like=W)
    assert err.value.message == (
        f"checkpoint '{tmp_path / 'params.npz'}' is a parameter file, not a training checkpoint"
    )


def test_spec_hash_mismatch(saved):
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(saved, params_like=_params(), spec_hash=OTHER)
    assert err.value.message == (
        f"checkpoint '{saved}' was written for a different spec "
        f"(hash {HASH[:12]}…, this spec {OTHER[:12]}…)"
    )
    assert err.value.hint == "start a new run, or pass the spec the run was started with"
    with pytest.raises(CheckpointError):
        load_params(saved, _params(), spec_hash=OTHER)


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
    package = Path(rpgraph.__file__).parent / "io"
    flags = []
    for name in ("checkpoint.py", "data.py", "npz.py"):
        text = (package / name).read_text()
        # No pickle module (or a relative of it) anywhere...
        assert not re.search(r"^\s*(import|from)\s+(pickle|cPickle|dill|cloudpickle)\b", text, re.M)
        assert not re.search(r"\b(pickle|dill|cloudpickle)\.\w", text), name
        # ...and numpy is never allowed to unpickle: every allow_pickle is spelled False
        # (all reading and writing goes through npz.py).
        assert "allow_pickle=True" not in text, name
        flags += re.findall(r"allow_pickle\s*=\s*(\w+)", text)
    assert flags and set(flags) == {"False"}


# --------------------------------------------------------------------------------------------
# What is loaded must make sense (tampered files)


def _rewrite(path: Path, **changes: object) -> None:
    """Rewrite a saved file with some arrays replaced and metadata fields changed."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays["__rpgraph__"].tobytes())
    for key, value in changes.items():
        if key in arrays:
            arrays[key] = value
        else:
            meta[key] = value
    arrays["__rpgraph__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **arrays)


def test_non_finite_or_negative_state_is_refused(tmp_path, trained):
    _, params, state = trained
    path = tmp_path / "c.npz"

    def load() -> None:
        load_checkpoint(path, params_like=params, opt_state_like=state)

    cases = [
        ("params.000000", np.array([1.0, np.nan, np.nan], np.float32),
         "params leaf params['dense']['b'] holds 2 non-finite values (NaN or inf)",
         "rpgraph never saves non-finite values: the file was damaged or edited; start a new run"),
        ("opt_state.000001", np.full(3, np.inf, np.float32),
         "opt_state leaf opt_state[0].mu['dense']['b'] holds 3 non-finite values (NaN or inf)",
         "rpgraph never saves non-finite values: the file was damaged or edited; start a new run"),
        ("opt_state.000000", np.array(-3, np.int32),
         "opt_state leaf opt_state[0].count holds -3; optimiser counters are never negative",
         "the file was damaged or edited; start a new run"),
    ]
    for member, value, message, hint in cases:
        save_checkpoint(path, params=params, opt_state=state, step=7, spec_hash=HASH)
        _rewrite(path, **{member: value})
        with pytest.raises(CheckpointError) as err:
            load()
        assert (err.value.message, err.value.hint) == (f"checkpoint '{path}': {message}", hint)
    save_params(tmp_path / "p.npz", params)
    _rewrite(tmp_path / "p.npz", **{"params.000000": np.full(3, np.nan, np.float32)})
    with pytest.raises(CheckpointError, match="holds 3 non-finite values"):
        load_params(tmp_path / "p.npz", params)


def test_what_could_not_be_loaded_is_not_saved(tmp_path):
    with pytest.raises(CheckpointError) as err:
        save_checkpoint(tmp_path / "c.npz", params={"w": jnp.array([1.0, jnp.inf])}, step=1,
                        spec_hash=HASH)
    assert err.value.message == "cannot save params['w']: it holds 1 non-finite value (NaN or inf)"
    with pytest.raises(CheckpointError) as err:
        save_params(tmp_path / "p.npz", {"w": jnp.full(2, jnp.nan, jnp.bfloat16)})
    assert err.value.message == (
        "cannot save params['w']: it holds 2 non-finite values (NaN or inf)")
    for step in (-1, 2**63):
        with pytest.raises(CheckpointError) as err:
            save_checkpoint(tmp_path / "c.npz", params={}, step=step, spec_hash=HASH)
        assert err.value.message == (
            f"cannot save checkpoint: step {step} is outside 0..9223372036854775807")
    assert not list(tmp_path.iterdir())


def test_steps_are_64_bit(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, params=W, step=2**63 - 1, spec_hash=HASH)
    assert load_checkpoint(path, params_like=W).step == 2**63 - 1
    save_checkpoint(path, params=W, step=np.int64(2**40), spec_hash=HASH)
    assert load_checkpoint(path, params_like=W).step == 2**40
    assert load_checkpoint(path, params_like=W, max_step=2**40).step == 2**40
    with pytest.raises(CheckpointError) as err:  # the run has fewer steps than the file says
        load_checkpoint(path, params_like=W, max_step=60)
    assert (err.value.message, err.value.hint) == (
        f"checkpoint '{path}' is at step 1099511627776, past the 60 steps of this run",
        "resume with the --epochs and data the run was started with, or start a new run")


def test_deeply_nested_metadata_is_unreadable_not_a_crash(tmp_path):
    path = tmp_path / "c.npz"
    deep = '{"format": "rpgraph-checkpoint", "version": 1, "extra": ' + "[" * 100_000 + "]" * \
        100_000 + "}"
    np.savez(path, __rpgraph__=np.frombuffer(deep.encode(), np.uint8))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, params_like=W)
    assert err.value.message == (
        f"checkpoint '{path}' is corrupted or truncated (unreadable metadata)")


# --------------------------------------------------------------------------------------------
# Files that would unpack to more than they look like, or never end


def _refused(fn: Callable[[], object]) -> tuple[CheckpointError, int]:
    """The CheckpointError ``fn`` raises, and the peak memory traced while it ran (numpy
    reports its array buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError) as err:
            fn()
        return err.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _members(path: Path) -> dict[str, object]:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _with_meta(members: dict[str, object], **changes: object) -> dict[str, object]:
    """``members`` with the first params leaf's metadata changed."""
    meta = json.loads(bytes(members["__rpgraph__"]))
    meta["params"][0].update(changes)
    return {**members, "__rpgraph__": np.frombuffer(json.dumps(meta).encode(), np.uint8)}


def test_an_8_gib_array_in_a_small_checkpoint_is_refused_before_unpacking(tmp_path):
    """The metadata says (8,); the member's header says 2**30 float64 (8 GiB of deflated
    zeros, an 8 MB file): refused from the header, without unpacking."""
    path = tmp_path / "c.npz"
    like = {"w": np.zeros(8)}
    save_checkpoint(path, params=like, step=1, spec_hash=HASH)
    members = _members(path)
    write_npz(path, {**members, "params.000000": Zeros((2**30,))})
    assert path.stat().st_size < 9 * 2**20
    err, peak = _refused(lambda: load_checkpoint(path, params_like=like))
    assert err.message == (
        f"checkpoint '{path}' is corrupted or truncated (array 'params.000000' has shape "
        "(1073741824,); its metadata says (8,))"
    )
    assert peak < 32 * 2**20
    # The metadata agrees with the header, the template does not: refused all the same.
    write_npz(path, {**_with_meta(members, shape=[2**30]), "params.000000": Zeros((2**30,))})
    err, peak = _refused(lambda: load_checkpoint(path, params_like=like))
    assert err.message == (
        f"checkpoint '{path}': params leaf params['w'] has shape (1073741824,); expected (8,)")
    assert peak < 32 * 2**20
    # The right shape, but each element a 1 GiB string (the metadata edited to agree).
    wide = "<U268435456"
    write_npz(path, {**_with_meta(members, dtype=wide), "params.000000": Zeros((8,), wide)})
    err, peak = _refused(lambda: load_checkpoint(path, params_like=like))
    assert err.message == (
        f"checkpoint '{path}' is corrupted or truncated (array 'params.000000' has dtype {wide}; "
        "checkpoints hold numeric arrays only)"
    )
    assert peak < 32 * 2**20


def test_a_metadata_bomb_is_refused_before_unpacking(tmp_path):
    path = tmp_path / "c.npz"
    write_npz(path, {"__rpgraph__": Zeros((2**33,), "u1")})  # 8 GiB of "JSON"
    err, peak = _refused(lambda: load_checkpoint(path, params_like=W))
    assert err.message == (
        f"checkpoint '{path}': array '__rpgraph__' of shape (8589934592,) and dtype uint8 would "
        "unpack to 8.0 GiB, over the 64.0 MiB limit for '__rpgraph__'"
    )
    assert peak < 32 * 2**20


def _within(fn: Callable[[], object], seconds: float = 60) -> object:
    """``fn()``'s result or exception, or a test failure if it blocks (as a FIFO did)."""
    result: list[object] = []

    def run() -> None:
        try:
            result.append(fn())
        except Exception as exc:  # handed to the test thread to assert on
            result.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "blocked"
    return result[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "p.npz")
    err = _within(lambda: load_params(tmp_path / "p.npz", W))
    assert isinstance(err, CheckpointError)
    assert str(err) == (
        f"error: parameter file '{tmp_path / 'p.npz'}' is a named pipe (FIFO), not a .npz file\n"
        "hint: rpgraph reads .npz archives from regular files only"
    )
    err = _within(lambda: load_checkpoint(tmp_path / "p.npz", params_like=W))
    assert isinstance(err, CheckpointError) and "is a named pipe (FIFO)" in err.message
