"""Reliability: every bad input gets one exact, traceback-free message; runs survive kill -9;
long runs keep memory flat and append their metrics.

* The bad-input matrix runs the real CLI entry point (:func:`rpgraph.cli.main`, in-process
  for speed; a few rows also through the installed console script) and asserts the exact
  stderr, a non-zero status, no traceback, and that ``--debug`` adds one.
* :data:`FAMILIES` names every error class and message family the package can raise;
  a test checks each has a row, and that no class was added without one.
* Crash safety kills ``rpgraph train`` with SIGKILL at random moments (``RPGRAPH_KILL_ROUNDS``
  rounds, default 3), then checks the run directory, resumes, and compares the final
  parameters bit for bit with an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from npzcraft import Zeros, write_npz

import rpgraph
import rpgraph.parse
import rpgraph.train
from rpgraph import errors
from rpgraph.cli import main
from rpgraph.io.checkpoint import load_checkpoint, load_params

ROOT = Path(__file__).resolve().parent.parent
_SCRIPT = Path(sys.executable).parent / "rpgraph"  # the installed console script
RPGRAPH = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "rpgraph.cli"]

# --- running the CLI -------------------------------------------------------------------------


def run_cli(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """``(status, stdout, stderr)`` of ``rpgraph ARGV`` run in-process in ``cwd``."""
    out, err = io.StringIO(), io.StringIO()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(argv)
            except SystemExit as stop:  # argparse usage errors exit directly
                rc = stop.code if isinstance(stop.code, int) else 1
    finally:
        os.chdir(old)
    return rc, out.getvalue(), err.getvalue()


def run_script(argv: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    return subprocess.run([*RPGRAPH, *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


# --- the bad-input matrix --------------------------------------------------------------------

HDR = "network n {\n    input  x : 4\n    output y : 2\n"
OK_NET = HDR + "    x -> linear(2) -> y\n}\n"
TINY = """network tiny {
    input  x : 8
    output y : 2
    x -> linear(4) -> tanh -> linear(2) -> y
}

train {
    data      = sinusoids(classes = 2, length = 20, channels_in = 8, channels_out = 2)
    loss      = mse(y, target)
    optimizer = adam(lr = 1e-3)
    epochs    = 2
}
"""
SPEC_ROWS: dict[str, str] = {
    "syntax": HDR + "    x -> linear(2) => y\n}\n",
    "syntax_eof": HDR + "    x -> linear(2\n",
    "bad_character": HDR + "    x -> linear(2) -> y $\n}\n",
    "bad_escape": OK_NET + 'train {\n    data = "a\\qb.npz"\n}\n',
    "nested_too_deep": HDR + "    x -> linear(" + "-" * 120 + "2) -> y\n}\n",
    "two_networks": OK_NET + OK_NET,
    "no_network": "# nothing here\n",
    "unknown_kind": HDR + "    x -> lineer(2) -> y\n}\n",
    "unknown_argument": HDR + "    x -> linear(2, wieght = 1) -> y\n}\n",
    "duplicate_name": HDR + "    input x : 3\n    x -> linear(2) -> y\n}\n",
    "duplicate_block": "block b { input i\n output o\n i -> o }\n" * 2 + OK_NET,
    "undefined": HDR + "    x -> linear(2) -> z\n}\n",
    "size_mismatch": HDR + "    x -> linear(3) -> y\n}\n",
    "negative_size": HDR + "    x -> linear(-2) -> y\n}\n",
    "algebraic_loop": HDR + "    x -> a: tanh -> b: tanh -> linear(2) -> y\n    b -> a\n}\n",
    "unreachable_output": HDR + "    x -> linear(2) -> h: tanh\n}\n",
    "no_output": "network n {\n    input x : 4\n    x -> tanh\n}\n",
    "recursive_block": "block b { input i\n output o\n i -> b -> o }\n"
    + HDR + "    x -> b -> linear(2) -> y\n}\n",
    # each block uses the one before it twice: 2**30 modules from 2 KB of spec
    "block_budget": "block b0 { input i\n output o\n i -> tanh -> o }\n"
    + "".join(f"block b{i} {{ input i\n output o\n i -> b{i - 1} -> b{i - 1} -> o }}\n"
              for i in range(1, 31)) + HDR + "    x -> b30 -> linear(2) -> y\n}\n",
    "bad_bound": OK_NET + "bounds {\n    linear_0.wieght >= 0\n}\n",
    "bound_target": OK_NET + "bounds {\n    linear_0 >= 0\n}\n",
    "lower_above_upper": OK_NET + "bounds {\n    linear_0.weight in [1, -1]\n}\n",
    "bad_enforce": OK_NET + "bounds {\n    linear_0.weight >= 0 enforce clip\n}\n",
    "init_outside_bounds": HDR + "    x -> linear(2, weight = 5) -> y\n}\n"
    "bounds {\n    linear_0.weight <= 1\n}\n",
    "bad_unit": "network n (dt = 1 parsec) {\n    input  x : 4\n    output y : 2\n"
    "    x -> linear(2) -> y\n}\n",
    "unit_mismatch": "network n (dt = 1 ms + 1 Hz) {\n    input  x : 4\n    output y : 2\n"
    "    x -> linear(2) -> y\n}\n",
    "missing_argument": HDR + "    x -> linear -> y\n}\n",
    "wrong_type": HDR + '    x -> linear("two") -> y\n}\n',
    "too_large": HDR + "    x -> linear(10 ** 10 ** 10) -> y\n}\n",
    "division_by_zero": HDR + "    x -> linear(2 / 0) -> y\n}\n",
    "unknown_loss": OK_NET + "train {\n    loss = mse(y, target) + l3(params)\n}\n",
    # long input, short message: the quoted line is a window around the place
    "huge_number": HDR + "    x -> linear(" + "7" * 5000 + ") -> y\n}\n",
    "long_sum": HDR + "    x -> linear(" + " + ".join(["1"] * 2000) + ") -> y\n}\n",
    # a bound that would do nothing: a penalty without a bounds term in the loss
    "penalty_without_term": OK_NET + "bounds {\n    linear_0.weight <= 1 enforce penalty\n}\n",
    "block_penalty_without_term": OK_NET + "bounds {\n    enforce = penalty\n"
    "    linear_0.weight <= 1\n}\n",
    "tau_below_floor": HDR + "    x -> linear(2) -> rate(tau = 0.1 ms) -> y\n}\n",
    "loss_unknown_state": OK_NET + "train {\n    loss = mse(y, target) + l2sqr(linear_0.vmem)\n}\n",
    "loss_glob_no_match": OK_NET + "train {\n    loss = mse(y, target) + l1(w_*.weight)\n}\n",
    "rate_of_params": OK_NET + "train {\n    loss = mse(y, target) + rate(linear_0.*)\n}\n",
    "freeze_without_node": OK_NET + "train {\n    freeze = [weight*]\n}\n",
    "unknown_surrogate": HDR + "    x -> linear(2) -> lif(surrogate = atna) -> y\n}\n",
    "surrogate_range": HDR + "    x -> linear(2) -> lif(surrogate = atan(alpha = 0)) -> y\n}\n",
    "surrogate_not_spiking": HDR + "    x -> linear(2) -> rate(surrogate = atan) -> y\n}\n",
    "binary_max_spikes": HDR + "    x -> linear(2) -> alif(spikes = binary, "
    "max_spikes_per_dt = 3) -> y\n}\n",
    "negative_delay": HDR + "    x -> linear(2) -> delay(uniform(-2 ms, 1 ms)) -> y\n}\n",
    "multi_with_v_reset": HDR + "    x -> linear(2) -> lif(reset = v_reset, spikes = multi)"
    " -> y\n}\n",
}
# rows that only fail when training starts (the train block is resolved by 'train')
TRAIN_SPEC_ROWS: dict[str, str] = {
    "unknown_train_setting": OK_NET + "train {\n    epoch = 3\n}\n",
    "unknown_optimizer": OK_NET + "train {\n    optimizer = adamm(lr = 1e-3)\n"
    "    data = sinusoids(classes = 2, length = 5, channels_in = 4, channels_out = 2)\n}\n",
    "unknown_dataset": OK_NET + "train {\n    data = sinusoid(classes = 2)\n}\n",
    "no_data": OK_NET,
    "delay_too_long": "network n (dt = 1 ms) {\n    input  x : 4\n    output y : 2\n"
    "    x -> linear(2) -> delay(5 ms) -> y\n}\n"
    "train {\n    data = sinusoids(classes = 2, length = 5, channels_in = 4, channels_out = 2)"
    "\n    epochs = 1\n}\n",
    "non_finite_loss": "network n {\n    input  x : 8\n    output y : 2\n"
    "    x -> linear(2, weight = 1e30) -> y\n}\n"
    "train {\n    data = sinusoids(classes = 2, length = 5, channels_in = 8, channels_out = 2)"
    "\n    epochs = 1\n}\n",
}

#: Tensor-shape rows (issue 12): spec text and error family, merged into the matrix.
SHAPE_HDR = 'network n {\n    input  x : (2, 4, 4)\n    output y : 2\n'
SHAPE_ROWS: dict[str, tuple[str, str]] = {
    'kernel_too_large': (SHAPE_HDR
        + '    x -> conv2d(3, kernel = 5) -> flatten -> linear(2) -> y\n}\n', 'SpecShapeError'),
    'bad_stride': (SHAPE_HDR
        + '    x -> conv2d(3, kernel = 3, stride = 0) -> flatten -> linear(2) -> y\n}\n',
        'SpecShapeError'),
    'bad_groups': (SHAPE_HDR
        + '    x -> conv2d(3, kernel = 3, groups = 2) -> flatten -> linear(2) -> y\n}\n',
        'SpecShapeError'),
    'non_integer_shape': (
        'network n {\n    input  x : (2, 3.5)\n    output y : 2\n    x -> flatten '
        '-> linear(2) -> y\n}\n', 'SpecValueError'),
    'zero_in_shape': (
        'network n {\n    input  x : (2, 0, 4)\n    output y : 2\n    x -> '
        'flatten -> linear(2) -> y\n}\n', 'SpecShapeError'),
    'shaped_into_linear': (SHAPE_HDR
        + '    x -> linear(2) -> y\n}\n', 'SpecShapeError'),
    'shape_mismatch': (SHAPE_HDR
        + '    x -> s: identity -> flatten -> linear(2) -> y\n    x -> '
        + 'unflatten((4, 2, 4)) -> s\n}\n', 'SpecShapeError'),
    'dropout_p': (SHAPE_HDR
        + '    x -> dropout(p = 1) -> flatten -> linear(2) -> y\n}\n', 'SpecValueError'),
    'per_channel_vector': (HDR
        + '    x -> lif(per = channel) -> linear(2) -> y\n}\n', 'SpecShapeError'),
}
SPEC_ROWS.update({k: text for k, (text, _) in SHAPE_ROWS.items()})


def _npz(path: Path, **arrays: np.ndarray) -> None:
    np.savez(path, **arrays)  # type: ignore[arg-type]


def _data_files(d: Path) -> None:
    z = np.zeros
    _npz(d / "rank.npz", inputs=z((2, 20)), targets=z((2, 20, 2)))
    _npz(d / "width.npz", inputs=z((2, 20, 7)), targets=z((2, 20, 2)))
    _npz(d / "out_width.npz", inputs=z((2, 20, 8)), targets=z((2, 20, 3)))
    a = z((2, 20, 8))
    a[1, 3, 4] = np.nan
    _npz(d / "nan.npz", inputs=a, targets=z((2, 20, 2)))
    t = z((2, 20, 2))
    t[0, 0, 1] = np.inf
    _npz(d / "inf.npz", inputs=z((2, 20, 8)), targets=t)
    _npz(d / "empty.npz", inputs=z((0, 20, 8)), targets=z((0, 20, 2)))
    _npz(d / "labels.npz", inputs=z((3, 20, 8)), labels=np.array([0, 1, 5]))
    _npz(d / "neg_labels.npz", inputs=z((3, 20, 8)), labels=np.array([0, -1, 1]))
    _npz(d / "float_labels.npz", inputs=z((3, 20, 8)), labels=np.array([0.0, 1.0, 1.0]))
    _npz(d / "dtype.npz", inputs=np.full((2, 20, 8), "a"), targets=z((2, 20, 2)))
    _npz(d / "object.npz", inputs=np.array([None, 1], dtype=object), targets=z((2, 20, 2)))
    _npz(d / "no_inputs.npz", input=z((2, 20, 8)), targets=z((2, 20, 2)))
    (d / "text.npz").write_text("not a zip\n", encoding="utf-8")
    (d / "zero.npz").write_bytes(b"")
    good = io.BytesIO()
    np.savez(good, inputs=z((2, 20, 8)), targets=z((2, 20, 2)))
    (d / "cut.npz").write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    _port_files(d)


def _file_setup(d: Path) -> None:
    (d / "tiny.rpg").write_text(TINY, encoding="utf-8")
    (d / "other.rpg").write_text(TINY.replace("linear(4)", "linear(5)"), encoding="utf-8")
    (d / "latin1.rpg").write_bytes(OK_NET.replace("->", "\u2192", 1).encode("utf-16"))
    (d / "folder.rpg").mkdir()
    os.mkfifo(d / "pipe.rpg")  # reading it would wait for a writer forever
    (d / "huge.rpg").write_bytes(b"#" * (rpgraph.parse.MAX_SPEC_BYTES + 1))
    (d / "bounds_bad.json").write_text('{"lower": 3}', encoding="utf-8")
    (d / "bounds_syntax.json").write_text("nope", encoding="utf-8")
    lower = '{"linear_0": {"weight": 0}, "tanh_0": {}, "linear_1": {"weight": %s}}'
    upper = '{"linear_0": {"weight": "inf"}, "tanh_0": {}, "linear_1": {"weight": "inf"}}'
    for name, value in (("nan", "NaN"), ("long_number", "7" * 5000),
                        ("deep", "[" * 100_000 + "]" * 100_000),
                        ("element_shape", "[0, 0, 0]"), ("inf_lower", '"inf"')):
        (d / f"bounds_{name}.json").write_text(
            '{"lower": ' + lower % value + ', "upper": ' + upper + "}", encoding="utf-8")
    _alif_files(d)
    (d / "rate.rpg").write_text(HDR + "    x -> linear(2) -> rate() -> y\n}\n", encoding="utf-8")
    (d / "snn.rpg").write_text(HDR + "    x -> linear(2) -> lif(reset = v_reset) -> y\n}\n",
                               encoding="utf-8")
    _nir_files(d)


#: tiny.rpg with an adaptive hidden layer 'a' of 4 neurons.
ALIF = TINY.replace("linear(4) -> tanh", "linear(4) -> a: alif")
#: Its parameters and their shapes (Program.parameter_info), written by hand: no compile here.
ALIF_SHAPES = {"linear_0": {"weight": (8, 4)}, "linear_1": {"weight": (4, 2)},
               "a": {k: (4,) for k in ("tau_mem", "tau_syn", "tau_adapt", "beta",
                                       "threshold", "bias")}}


def _alif_files(d: Path) -> None:
    """alif.rpg, a parameter file whose adaptation strength 'a.beta' has 3 entries for 4
    neurons, and a bounds file whose lower bound of 'a.tau_adapt' has 3."""
    from rpgraph.io.checkpoint import save_params

    (d / "alif.rpg").write_text(ALIF, encoding="utf-8")
    params = {n: {k: np.full(s, 0.01, np.float32) for k, s in p.items()}
              for n, p in ALIF_SHAPES.items()}
    params["a"]["beta"] = np.full(3, 1.8, np.float32)
    (d / "alif_params").mkdir()
    save_params(d / "alif_params", params)
    lower = {n: {k: 0 for k in p} for n, p in ALIF_SHAPES.items()}
    lower["a"]["tau_adapt"] = [0.01, 0.01, 0.01]
    upper = {n: {k: "inf" for k in p} for n, p in ALIF_SHAPES.items()}
    (d / "bounds_alif.json").write_text(json.dumps({"lower": lower, "upper": upper}),
                                        encoding="utf-8")


def _nir_files(d: Path) -> None:
    import nir

    (d / "garbage.nir").write_bytes(b"not an HDF5 file\n" * 8)
    two = np.array([2])
    shaped = np.array([2, 1, 1])
    graph = nir.NIRGraph(  # two nodes rpgraph cannot import, types consistent
        nodes={"input": nir.Input(input_type=shaped),
               # only flattening the whole sample imports
               "flat": nir.Flatten(input_type={"input": shaped}, start_dim=1),
               "delay": nir.Delay(delay=np.ones((2, 1))),  # only 1-D delays import
               "output": nir.Output(output_type=np.array([2, 1]))},
        edges=[("input", "flat"), ("flat", "delay"), ("delay", "output")])
    nir.write(d / "unsupported.nir", graph)
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=two), "output": nir.Output(output_type=two),
               "w": nir.Linear(weight=np.eye(2)),
               "li": nir.LI(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2))},
        edges=[("input", "w"), ("w", "li"), ("li", "output")])
    nir.write(d / "li.nir", graph)
    # NIR holds any integer padding; rpgraph (and PyTorch) only zero padding >= 0
    conv = nir.Conv2d(input_shape=(6, 6), weight=np.ones((1, 2, 3, 3)), stride=1, padding=-1,
                      dilation=1, groups=1, bias=np.zeros(1))
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([2, 6, 6])), "conv": conv,
               "output": nir.Output(output_type=np.array([1, 2, 2]))},
        edges=[("input", "conv"), ("conv", "output")])
    nir.write(d / "conv_padding.nir", graph)


Row = tuple[str, str, list[str], int, str]  # (id, family, argv, status, exact stderr)


@pytest.fixture(scope="module")
def matrix_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_matrix_dir(tmp_path_factory.mktemp("matrix"))


def build_matrix_dir(d: Path) -> Path:
    """One folder with every bad file, and a finished run of tiny.rpg (for --resume rows)."""
    for name, text in {**SPEC_ROWS, **TRAIN_SPEC_ROWS}.items():
        (d / f"{name}.rpg").write_text(text, encoding="utf-8")
    for name, (_, text, _) in VALUE_ROWS.items():
        (d / f"value_{name}.rpg").write_text(text, encoding="utf-8")
    _data_files(d)
    _file_setup(d)
    _event_files(d)
    rc, _, err = run_cli(["train", "tiny.rpg", "--out", "run", "--quiet", "--no-plots"], d)
    assert rc == 0, err
    ck = (d / "run" / "checkpoint.npz").read_bytes()
    for name, data in (("truncated", ck[:300]), ("corrupted", _flip(ck)),
                       ("empty_ck", b"")):
        shutil.copytree(d / "run", d / name)
        (d / name / "checkpoint.npz").write_bytes(data)
    shutil.copytree(d / "run", d / "params_as_ck")
    shutil.copy(d / "run" / "params.npz", d / "params_as_ck" / "checkpoint.npz")
    (d / "empty_run").mkdir()
    for seed in (0, 1):  # an ensemble's folder: one run folder per model
        shutil.copytree(d / "run", d / "ensemble" / f"seed-{seed}")
    (d / "not_a_run").mkdir()
    (d / "not_a_run" / "notes.txt").write_text("mine", encoding="utf-8")
    shutil.copytree(d / "run", d / "linked_run")
    (d / "linked_run" / "config.json").unlink()
    (d / "linked_run" / "config.json").symlink_to(d / "tiny.rpg")
    _tampered_runs(d)
    return d


def _tampered_runs(d: Path) -> None:
    """Copies of the finished run with an edited checkpoint, and files that would blow up."""
    with np.load(d / "run" / "checkpoint.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays.pop("__rpgraph__").tobytes())
    nan = np.full_like(arrays["params.000000"], np.nan)
    edits: dict[str, tuple[dict[str, np.ndarray], dict[str, object]]] = {
        "nan_ck": ({"params.000000": nan}, {}),
        "negative_count": ({"opt_state.000000": np.array(-3, np.int32)}, {}),
        "negative_step": ({}, {"step": -5}),
        "huge_step": ({}, {"step": 10**30}),
        "past_end": ({}, {"step": 1000}),
    }
    for name, (new_arrays, new_meta) in edits.items():
        shutil.copytree(d / "run", d / name)
        raw = np.frombuffer(json.dumps({**meta, **new_meta}).encode(), np.uint8)
        _npz(d / name / "checkpoint.npz", **{**arrays, **new_arrays}, __rpgraph__=raw)
    shutil.copytree(d / "run", d / "bomb_ck")  # an 8 GiB array in an 8 MB checkpoint
    raw = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    write_npz(d / "bomb_ck" / "checkpoint.npz",
              {**arrays, "params.000000": Zeros((2**30,)), "__rpgraph__": raw})
    shutil.copytree(d / "run", d / "deep_meta")
    deep = '{"format": "rpgraph-checkpoint", "version": 1, "extra": ' + "[" * 100_000
    _npz(d / "deep_meta" / "checkpoint.npz",
         __rpgraph__=np.frombuffer((deep + "]" * 100_000 + "}").encode(), np.uint8))
    # a 6 MB data file whose inputs unpack to 6 GiB of zeros
    write_npz(d / "bomb.npz", {"inputs": Zeros((6, 2**20, 128)), "targets": np.zeros((6, 20, 2))})
    os.mkfifo(d / "pipe.npz")


def _flip(data: bytes) -> bytes:
    b = bytearray(data)
    for i in range(200, len(b), 97):
        b[i] ^= 0x5A
    return bytes(b)


TRAIN = ["--quiet", "--no-plots"]
LONG_NAME = "x" * 300 + ".rpg"


# values that used to change meaning silently or end in an internal error (exit 70): each
# refused where it is written, by 'check' as by 'train' ('--memory-limit' fixes the limit the
# message quotes, whatever the machine)
_TRAIN_HDR = OK_NET + "train {\n    data = sinusoids(classes = 2, length = 5, channels_in = 4, " \
    "channels_out = 2)\n"
VALUE_ROWS: dict[str, tuple[str, str, list[str]]] = {
    "negative_tau": ("SpecValueError", HDR + "    x -> linear(2) -> rate(tau = -5 ms) -> y\n}\n",
                     []),
    "zero_tau": ("SpecValueError", HDR + "    x -> linear(2) -> rate(tau = 0 ms) -> y\n}\n", []),
    "negative_noise": ("SpecValueError",
                       HDR + "    x -> linear(2) -> rate(noise_std = -1) -> y\n}\n", []),
    "negative_std": ("SpecValueError",
                     HDR + "    x -> linear(2, weight = normal(-1)) -> y\n}\n", []),
    "huge_seed": ("SpecValueError", _TRAIN_HDR + "    seed = 2**70\n}\n", []),
    "negative_data_seed": ("DataError", OK_NET + "train {\n    data = sinusoids(seed = -1)\n}\n",
                           []),
    "digits_split": ("DataError", OK_NET + "train {\n    data = digits(split = 0.999999)\n}\n",
                     []),
    "lr_string": ("SpecValueError", _TRAIN_HDR + '    optimizer = adam(lr = "abc")\n}\n', []),
    "decay_steps": ("SpecValueError", _TRAIN_HDR + "    optimizer = sgd(lr = cosine_decay_schedule("
                    "init_value = 0.1, decay_steps = -1))\n}\n", []),
    "digits_memory": ("DataError", OK_NET + "train {\n    data = digits(length = 10**7)\n}\n",
                      ["--memory-limit", "8GiB"]),
    "sinusoids_memory": ("DataError", OK_NET + "train {\n    data = sinusoids(classes = 10**6, "
                         "length = 10**5)\n}\n", ["--memory-limit", "8GiB"]),
    "wide_linear": ("SpecValueError", HDR.replace("x : 4", "x : 2") + "    x -> linear(2**24) -> "
                    "linear(2) -> y\n}\ntrain {\n    data = sinusoids(classes = 2, length = 20, "
                    "channels_in = 2, channels_out = 2)\n}\n", ["--memory-limit", "2GiB"]),
    "recurrent_lif": ("SpecValueError", HDR + "    x -> linear(100000) -> h: lif(rec = true) -> "
                      "linear(2) -> y\n}\n", ["--memory-limit", "8GiB"]),
    # every argument of every optimizer and schedule: type (from optax's signature, or a
    # rule where the signature says Any) and range, before optax sees it
    "b1_string": ("SpecValueError", _TRAIN_HDR + '    optimizer = adam(lr = 1e-3, b1 = "x")\n}\n',
                  []),
    "negative_lr": ("SpecValueError", _TRAIN_HDR + "    optimizer = adam(lr = -1e-3)\n}\n", []),
    "mu_dtype": ("SpecValueError", _TRAIN_HDR + "    optimizer = adam(lr = 1e-3, mu_dtype = "
                 "flaot32)\n}\n", []),
    "mask": ("SpecValueError", _TRAIN_HDR + '    optimizer = adamw(lr = 1e-3, mask = "w")\n}\n',
             []),
    "noisy_key": ("SpecValueError", _TRAIN_HDR + "    optimizer = noisy_sgd(lr = 0.1, key = 1.5)"
                  "\n}\n", []),
    "boundaries": ("SpecValueError", _TRAIN_HDR + "    optimizer = sgd(lr = piecewise_constant_"
                   "schedule(init_value = 0.1, boundaries_and_scales = [100, 0.1]))\n}\n", []),
    "negative_schedule": ("SpecValueError", _TRAIN_HDR + "    optimizer = sgd(lr = constant_"
                          "schedule(-1))\n}\n", []),
    # limits optax states in code rather than in its signatures (rpgraph check does not
    # build optimizers it can check from optax's signature table)
    "warmup_order": ("SpecValueError", _TRAIN_HDR + "    optimizer = sgd(lr = warmup_cosine_"
                     "decay_schedule(init_value = 0, peak_value = 0.1, warmup_steps = 100, "
                     "decay_steps = 100))\n}\n", []),
    "radam_b2": ("SpecValueError", _TRAIN_HDR + "    optimizer = radam(lr = 1e-3, b2 = 1)\n}\n",
                 []),
    "sgdr_cycles": ("SpecValueError", _TRAIN_HDR + "    optimizer = sgd(lr = sgdr_schedule("
                    "cosine_kwargs = [cosine_decay_schedule(init_value = 0.1, decay_steps = 10)]"
                    "))\n}\n", []),
}


def _value_rows() -> list[tuple[str, str, list[str]]]:
    rows = [(f"value:{k}", family, ["check", f"value_{k}.rpg", *flags])
            for k, (family, _, flags) in VALUE_ROWS.items()]
    return rows + [
        ("value:nir_export_memory", "SpecValueError",
         ["nir", "export", "value_recurrent_lif.rpg", "-o", "n.nir", "--memory-limit", "8GiB"]),
        ("value:train_memory", "SpecValueError",
         ["train", "value_wide_linear.rpg", "--out", "o", "--memory-limit", "2GiB", *TRAIN]),
        ("value:cli_seed", "SpecValueError",
         ["train", "tiny.rpg", "--seed", str(10**23), "--out", "o", *TRAIN]),
        ("value:memory_limit", "usage", ["check", "tiny.rpg", "--memory-limit", "lots"]),
    ]


def _rows() -> list[tuple[str, str, list[str]]]:
    """``(id, family, argv)``; the family is the error class (or 'usage' / 'OSError')."""
    spec_family = {
        "syntax": "SpecSyntaxError", "syntax_eof": "SpecSyntaxError",
        "bad_character": "SpecSyntaxError", "bad_escape": "SpecSyntaxError",
        "nested_too_deep": "SpecSyntaxError", "two_networks": "SpecSyntaxError",
        "no_network": "SpecSyntaxError", "unknown_kind": "SpecNameError",
        "unknown_argument": "SpecNameError", "duplicate_name": "SpecNameError",
        "duplicate_block": "SpecNameError", "undefined": "SpecNameError",
        "size_mismatch": "SpecShapeError", "negative_size": "SpecShapeError",
        "algebraic_loop": "SpecGraphError", "unreachable_output": "SpecGraphError",
        "no_output": "SpecGraphError", "recursive_block": "SpecGraphError",
        "block_budget": "SpecGraphError",
        "bad_bound": "SpecNameError", "bound_target": "SpecValueError",
        "lower_above_upper": "SpecValueError", "bad_enforce": "SpecValueError",
        "init_outside_bounds": "SpecValueError", "bad_unit": "SpecValueError",
        "unit_mismatch": "SpecValueError", "missing_argument": "SpecValueError",
        "wrong_type": "SpecValueError", "too_large": "SpecValueError",
        "division_by_zero": "SpecValueError", "unknown_loss": "SpecNameError",
        "huge_number": "SpecValueError", "long_sum": "SpecSyntaxError",
        "penalty_without_term": "SpecValueError", "block_penalty_without_term": "SpecValueError",
        "tau_below_floor": "SpecValueError", "loss_unknown_state": "SpecNameError",
        "loss_glob_no_match": "SpecNameError", "rate_of_params": "SpecValueError",
        "freeze_without_node": "SpecValueError",
        "unknown_train_setting": "SpecNameError", "unknown_optimizer": "SpecNameError",
        "unknown_dataset": "DataError", "no_data": "DataError",
        "non_finite_loss": "TrainingError",
        "unknown_surrogate": "SpecNameError", "surrogate_range": "SpecValueError",
        "surrogate_not_spiking": "SpecNameError", "binary_max_spikes": "SpecValueError",
        "negative_delay": "SpecValueError", "delay_too_long": "SpecValueError",
        "multi_with_v_reset": "SpecValueError",
    }
    spec_family.update({k: family for k, (_, family) in SHAPE_ROWS.items()})
    rows = [(f"spec:{k}", spec_family[k], ["check", f"{k}.rpg"]) for k in SPEC_ROWS]
    rows += [(f"spec:{k}", spec_family[k], ["train", f"{k}.rpg", "--out", f"out_{k}", *TRAIN])
             for k in TRAIN_SPEC_ROWS]
    for f in ("rank", "width", "out_width", "nan", "inf", "empty", "labels", "neg_labels",
              "float_labels", "dtype", "object", "no_inputs", "text", "zero", "cut",
              "missing", "bomb", "pipe"):
        rows.append((f"data:{f}", "DataError",
                     ["train", "tiny.rpg", "--data", f"{f}.npz", "--out", "o", *TRAIN]))
    rows += [
        ("file:missing_spec", "SpecError", ["check", "missing.rpg"]),
        ("file:spec_is_folder", "SpecError", ["check", "folder.rpg"]),
        ("file:unreadable_spec", "SpecError", ["check", LONG_NAME]),
        ("file:not_utf8", "SpecError", ["check", "latin1.rpg"]),
        ("file:spec_is_a_pipe", "SpecError", ["check", "pipe.rpg"]),
        ("file:spec_is_a_device", "SpecError", ["check", "/dev/zero"]),
        ("file:spec_too_large", "SpecError", ["check", "huge.rpg"]),
        ("file:truncated_checkpoint", "CheckpointError",
         ["train", "tiny.rpg", "--out", "truncated", "--resume", *TRAIN]),
        ("file:corrupted_checkpoint", "CheckpointError",
         ["train", "tiny.rpg", "--out", "corrupted", "--resume", *TRAIN]),
        ("file:empty_checkpoint", "CheckpointError",
         ["train", "tiny.rpg", "--out", "empty_ck", "--resume", *TRAIN]),
        ("file:params_as_checkpoint", "CheckpointError",
         ["train", "tiny.rpg", "--out", "params_as_ck", "--resume", *TRAIN]),
        *[(f"file:{name}", "CheckpointError",
           ["train", "tiny.rpg", "--out", name, "--resume", *TRAIN])
          for name in ("nan_ck", "negative_count", "negative_step", "huge_step", "bomb_ck",
                       "deep_meta")],
        ("file:step_past_end", "CheckpointError",
         ["train", "tiny.rpg", "--out", "past_end", "--resume", *TRAIN]),
        ("file:params_fifo", "CheckpointError", ["eval", "tiny.rpg", "--params", "pipe.npz"]),
        ("file:alif_beta_shape", "CheckpointError",
         ["eval", "alif.rpg", "--params", "alif_params"]),
        ("file:alif_init_beta_shape", "CheckpointError",
         ["train", "alif.rpg", "--init-params", "alif_params", "--out", "o", *TRAIN]),
        ("file:bounds_alif_tau_adapt_shape", "CheckpointError",
         ["train", "alif.rpg", "--bounds", "bounds_alif.json", "--out", "o", *TRAIN]),
        ("file:checkpoint_of_other_spec", "TrainingError",
         ["train", "other.rpg", "--out", "run", "--resume", *TRAIN]),
        ("file:resume_other_settings", "TrainingError",
         ["train", "tiny.rpg", "--out", "run", "--resume", "--seed", "7", "--batch-size", "2",
          *TRAIN]),
        ("file:out_not_a_run_folder", "TrainingError",
         ["train", "tiny.rpg", "--out", "not_a_run", *TRAIN]),
        ("file:out_holds_a_run", "TrainingError", ["train", "tiny.rpg", "--out", "run", *TRAIN]),
        ("file:link_in_run_folder", "TrainingError",
         ["train", "tiny.rpg", "--out", "linked_run", "--resume", *TRAIN]),
        ("cli:negative_log_limit", "usage", ["train", "tiny.rpg", "--log-limit", "-1"]),
        ("file:nothing_to_resume", "TrainingError",
         ["train", "tiny.rpg", "--out", "empty_run", "--resume", *TRAIN]),
        ("file:params_of_other_spec", "CheckpointError",
         ["eval", "other.rpg", "--params", "run"]),
        ("file:missing_params", "CheckpointError", ["eval", "tiny.rpg", "--params", "nope"]),
        ("file:params_ensemble_folder", "CheckpointError",
         ["eval", "tiny.rpg", "--params", "ensemble"]),
        ("file:init_params_not_npz", "CheckpointError",
         ["train", "tiny.rpg", "--init-params", "bounds_bad.json", "--out", "o", *TRAIN]),
        ("file:bounds_json_shape", "CheckpointError",
         ["train", "tiny.rpg", "--bounds", "bounds_bad.json", "--out", "o", *TRAIN]),
        ("file:bounds_json_syntax", "CheckpointError",
         ["train", "tiny.rpg", "--bounds", "bounds_syntax.json", "--out", "o", *TRAIN]),
        *[(f"file:bounds_json_{name}", "CheckpointError",
           ["train", "tiny.rpg", "--bounds", f"bounds_{name}.json", "--out", "o", *TRAIN])
          for name in ("nan", "long_number", "deep", "element_shape", "inf_lower")],
        ("file:output_folder_missing", "SpecError",
         ["bounds", "tiny.rpg", "-o", "no/such/dir/b.json"]),
        ("file:out_is_a_file", "OSError", ["train", "tiny.rpg", "--out", "tiny.rpg/run", *TRAIN]),
        ("cli:unknown_flag", "usage", ["train", "tiny.rpg", "--bogus"]),
        ("cli:negative_epochs", "usage", ["train", "tiny.rpg", "--epochs", "-3"]),
        ("cli:epochs_not_a_number", "usage", ["train", "tiny.rpg", "--epochs", "many"]),
        ("cli:zero_batch_size", "usage", ["train", "tiny.rpg", "--batch-size", "0"]),
        ("nir:missing_file", "SpecError", ["nir", "import", "missing.nir", "--dt", "1ms",
                                           "-o", "n.rpg"]),
        ("nir:not_nir", "SpecError", ["nir", "import", "garbage.nir", "--dt", "1ms",
                                      "-o", "n.rpg"]),
        ("nir:unsupported_import", "SpecError", ["nir", "import", "unsupported.nir",
                                                 "--dt", "1ms", "-o", "n.rpg"]),
        ("nir:conv_padding", "SpecError", ["nir", "import", "conv_padding.nir",
                                           "--dt", "1ms", "-o", "n.rpg"]),
        ("nir:zero_dt", "SpecValueError", ["nir", "import", "li.nir", "--dt", "0ms",
                                           "-o", "n.rpg"]),
        ("nir:spec_folder_missing", "SpecError", ["nir", "import", "li.nir", "--dt", "1ms",
                                                "-o", "no/such/n.rpg"]),
        ("nir:unsupported_export", "SpecError", ["nir", "export", "rate.rpg", "-o", "n.nir"]),
        ("nir:missing_params", "CheckpointError", ["nir", "export", "tiny.rpg",
                                                   "--params", "nope", "-o", "n.nir"]),
        ("nir:params_of_other_spec", "CheckpointError", ["nir", "export", "other.rpg",
                                                         "--params", "run", "-o", "n.nir"]),
        ("nir:output_folder_missing", "SpecError", ["nir", "export", "snn.rpg",
                                                    "-o", "no/such/n.nir"]),
        ("cli:bad_convention", "SpecValueError", ["nir", "import", "li.nir", "--dt", "1ms",
                                         "--convention", "lava", "-o", "n.rpg"]),
        ("cli:no_command", "usage", []),
        ("cli:missing_file", "usage", ["train"]),
        ("cli:missing_params", "usage", ["eval", "tiny.rpg"]),
        ("cli:bad_choice", "usage", ["graph", "tiny.rpg", "--format", "svg"]),
        ("cli:bad_time", "usage", ["nir", "import", "x.nir", "--dt", "1 parsec", "-o", "y"]),
        ("cli:resume_without_out", "SpecError", ["train", "tiny.rpg", "--resume"]),
        ("cli:batched_alone", "SpecError", ["train", "tiny.rpg", "--batched", *TRAIN]),
        ("cli:too_many_devices", "SpecValueError",
         ["train", "tiny.rpg", "--devices", "64", "--out", "o", *TRAIN]),
        ("cli:processes_missing", "SpecValueError",
         ["train", "tiny.rpg", "--coordinator", "localhost:1234", "--out", "o", *TRAIN]),
        ("cli:bad_coordinator", "SpecValueError",
         ["train", "tiny.rpg", "--coordinator", "nohost", "--num-processes", "2",
          "--process-id", "0", "--out", "o", *TRAIN]),
        ("cli:process_id_range", "SpecValueError",
         ["train", "tiny.rpg", "--coordinator", "localhost:1234", "--num-processes", "2",
          "--process-id", "2", "--out", "o", *TRAIN]),
        ("cli:seeds_with_processes", "SpecValueError",
         ["train", "tiny.rpg", "--seeds", "2", "--coordinator", "localhost:1234",
          "--num-processes", "2", "--process-id", "0", "--out", "o", *TRAIN]),
        ("cli:sweep_structure", "SpecValueError",
         ["train", "tiny.rpg", "--set", "linear_0.size=4,8", "--out", "o", *TRAIN]),
        ("cli:sweep_unknown_key", "SpecValueError",
         ["train", "tiny.rpg", "--set", "lr=0.1,0.2", "--out", "o", *TRAIN]),
        ("cli:sweep_no_argument", "SpecValueError",
         ["train", "tiny.rpg", "--set", "optimizer.lrr=0.1", "--out", "o", *TRAIN]),
        ("cli:sweep_bad_value", "SpecValueError",
         ["train", "tiny.rpg", "--set", "seed=0,x", "--out", "o", *TRAIN]),
        # a data set given as an expression: mistakes shown in its own text, not the spec's
        ("cli:data_expr_argument", "DataError",
         ["train", "tiny.rpg", "--data", "sinusoids(classes=0)", "--out", "o", *TRAIN]),
        ("cli:data_expr_syntax", "SpecSyntaxError",
         ["train", "tiny.rpg", "--data", "sinusoids(classes=3", "--out", "o", *TRAIN]),
        ("cli:data_expr_not_a_set", "DataError",
         ["train", "tiny.rpg", "--data", "[1, 2]", "--out", "o", *TRAIN]),
        ("cli:sweep_value_range", "SpecValueError",
         ["train", "tiny.rpg", "--set", "optimizer.lr=1e-3,-1", "--out", "o", *TRAIN]),
        ("cli:sweep_seeds_twice", "SpecValueError",
         ["train", "tiny.rpg", "--seeds", "2", "--set", "seed=1,2", "--out", "o", *TRAIN]),
    ]
    return rows + _value_rows()


# --- event data (rpgraph.io.events): each official format's bad files, read by 'check' ------

EVENT_NET = "network n {\n    input  x : 8\n    output y : 20\n    x -> linear(20) -> y\n}\n"
EVENT_DATA = {  # row -> the spec's data (cache = false: the matrix writes no cache)
    "missing": 'shd(path = "shd_train.h5")',
    "layout": 'shd(path = "layout.h5", cache = false)',
    "not_hdf5": 'shd(path = "garbage.h5", cache = false)',
    "nan_time": 'shd(path = "nan.h5", cache = false)',
    "negative_time": 'shd(path = "negative.h5", cache = false)',
    "unit_range": 'shd(path = "unit.h5", cache = false)',
    "label_range": 'shd(path = "label.h5", cache = false)',
    "truncated": 'nmnist(path = "NMNIST", cache = false)',
    "fifo": 'shd(path = "pipe.h5", cache = false)',
    "frame_width": 'shd(path = "ok.h5", channels = 16, cache = false)',
    # frames against a shaped input port (EVENT_NETS gives those rows' networks)
    "frame_shape": 'nmnist(path = "NMNIST_ok", length = 4, flatten = false, cache = false)',
    "frame_flat_port": 'nmnist(path = "NMNIST_ok", length = 4, flatten = false, '
                       'cache = false)',
    "port_width": 'nmnist(path = "NMNIST_ok", length = 4, channels = 128, cache = false)',
    "frame_bands": 'nmnist(path = "NMNIST_ok", channels = 128, flatten = false, '
                   'cache = false)',
    "frame_units": 'events(path = "units.npz", flatten = false, cache = false)',
    "frame_test": 'events(path = "pixels.npz", test = "units.npz", flatten = false, '
                  'cache = false)',
}


def _shaped_net(port: str) -> str:
    return (f"network n {{\n    input  x : {port}\n    output y : 10\n"
            "    x -> flatten -> linear(10) -> y\n}\n")


EVENT_NETS = {"frame_shape": _shaped_net("(2, 32, 32)"), "frame_flat_port": _shaped_net("2312"),
              "port_width": _shaped_net("(2, 34, 34)"), "frame_bands": _shaped_net("(2, 34, 34)")}


def _event_files(d: Path) -> None:
    from eventcraft import nmnist_bytes, write_shd

    for row, data in EVENT_DATA.items():
        (d / f"ev_{row}.rpg").write_text(EVENT_NETS.get(row, EVENT_NET)
                                         + f"train {{\n    data = {data}\n"
                                         "    loss = cross_entropy(y, target)\n}\n",
                                         encoding="utf-8")
    t, u = [[0.1], [0.2, 0.3]], [[1], [2, 3]]
    write_shd(d / "layout.h5", t, u, [0, 1], skip="spikes/times")
    (d / "garbage.h5").write_bytes(b"not an HDF5 file\n" * 8)
    write_shd(d / "nan.h5", [[0.1], [0.2, float("nan")]], u, [0, 1])
    write_shd(d / "negative.h5", [[0.1], [-0.2, 0.3]], u, [0, 1])
    write_shd(d / "unit.h5", t, [[1], [2, 700]], [0, 1])
    write_shd(d / "label.h5", t, u, [0, 20])
    write_shd(d / "ok.h5", t, u, [0, 1])
    os.mkfifo(d / "pipe.h5")  # opening it for reading would wait for a writer forever
    (d / "NMNIST" / "3").mkdir(parents=True)
    (d / "NMNIST" / "3" / "00001.bin").write_bytes(nmnist_bytes([(1, 2, 1, 300)])[:3])
    (d / "NMNIST_ok" / "3").mkdir(parents=True)
    (d / "NMNIST_ok" / "3" / "00001.bin").write_bytes(nmnist_bytes([(1, 2, 1, 300)]))
    np.savez(d / "units.npz", times=np.zeros(1), sample=np.zeros(1, np.int64),
             units=np.zeros(1, np.int64), labels=np.zeros(1, np.int64))
    np.savez(d / "pixels.npz", times=np.zeros(1), sample=np.zeros(1, np.int64),
             x=np.zeros(1, np.int64), width=np.array(2), height=np.array(2),
             labels=np.zeros(1, np.int64))


ROWS = _rows() + [(f"events:{row}", "DataError", ["check", f"ev_{row}.rpg"])
                  for row in EVENT_DATA] + [
    ("value:device_data", "usage", ["train", "tiny.rpg", "--device-data", "lots"])]


# --- data and targets: several inputs/outputs, validation, optimizer chains ------------------
# (one block, so rows from parallel work merge without touching the lists above)

TWO = """network two {
    input  a : 3
    input  b : 2
    output y1 : 2
    output y2 : 4
    a -> linear(4) -> h: tanh
    b -> linear(4) -> h
    h -> linear(2) -> y1
    h -> linear(4) -> y2
}
"""
SIN4 = "    data = sinusoids(classes = 4, length = 5, channels_in = 4, channels_out = 2)\n"
TWO_LOSS = "    loss = mse(y1, target_y1) + cross_entropy(y2, labels_y2)\n"
DATA_SPEC_ROWS: dict[str, tuple[str, str]] = {
    "test_data_missing": ("DataError", OK_NET + "train {\n" + SIN4
                          + '    test_data = "no_such_file.npz"\n}\n'),
    "bad_validation": ("SpecValueError", OK_NET + "train {\n" + SIN4 + "    validation = 2\n}\n"),
    "validation_too_small": ("DataError", OK_NET + "train {\n" + SIN4
                             + "    validation = 0.1\n}\n"),
    "bad_keep": ("SpecValueError", OK_NET + "train {\n" + SIN4
                 + "    validation = 0.5\n    keep = bets\n}\n"),
    "bad_precision": ("SpecValueError", OK_NET + "train {\n" + SIN4
                      + "    precision = bfloat61\n}\n"),
    "no_validation_set": ("SpecValueError", OK_NET + "train {\n" + SIN4
                          + "    early_stopping = 3\n}\n"),
    "bad_early_stopping": ("SpecNameError", OK_NET + "train {\n" + SIN4
                           + "    early_stopping = stop(patience = 3)\n}\n"),
    "bad_tensorboard": ("SpecValueError", OK_NET + "train {\n" + SIN4
                        + "    tensorboard = 1\n}\n"),
    "nameless_group": ("SpecSyntaxError", OK_NET + "train {\n" + SIN4
                       + "    optimizer = (lr = 0.1)\n}\n"),
    "unknown_transform": ("SpecNameError", OK_NET + "train {\n"
                          + "    optimizer = chain(clip_by_global_nrm(1.0), adam(lr = 1e-3))"
                          + "\n}\n"),
    "not_a_transform": ("SpecValueError", OK_NET + "train {\n"
                        + "    optimizer = chain(clip(1.0), hinge_loss(1.0, 1.0))\n}\n"),
    "ports_mismatch": ("DataError", TWO + 'train {\n    data = "ports_bad.npz"\n' + TWO_LOSS
                       + "}\n"),
    "ports_single_arrays": ("DataError", TWO + 'train {\n    data = "ports_plain.npz"\n'
                            + TWO_LOSS + "}\n"),
    "ports_bare_target": ("SpecNameError", TWO + 'train {\n    data = "ports_good.npz"\n'
                          + "    loss = mse(y1, target)\n}\n"),
    "ports_no_loss": ("DataError", TWO + 'train {\n    data = "ports_good.npz"\n}\n'),
}
SPEC_ROWS.update({k: text for k, (_, text) in DATA_SPEC_ROWS.items()})
ROWS += [(f"spec:{k}", family, ["check", f"{k}.rpg"])
         for k, (family, _) in DATA_SPEC_ROWS.items()]
ROWS.append(("data:ports_flag", "DataError",  # --data: checked against the ports too
             ["train", "ports_mismatch.rpg", "--data", "ports_bad.npz", "--out", "o", *TRAIN]))


def _port_files(d: Path) -> None:
    """Data files named after the ports of TWO: good, plain (one input, one target), bad."""
    r = np.random.RandomState(0)
    _npz(d / "ports_good.npz", x_a=r.rand(4, 5, 3), x_b=r.rand(4, 5, 2),
         target_y1=r.rand(4, 5, 2), labels_y2=np.arange(4))
    _npz(d / "ports_plain.npz", inputs=r.rand(4, 5, 3), targets=r.rand(4, 5, 2))
    # five problems at once: a wrong width, a misnamed input (so b is missing), a sample
    # count that disagrees, float labels
    _npz(d / "ports_bad.npz", x_a=r.rand(4, 5, 4), x_bb=r.rand(4, 5, 2),
         target_y1=r.rand(3, 5, 2), labels_y2=np.arange(4.0))



# Exact stderr per row ('{LONG}' stands for LONG_NAME); status 2 = usage, 1 = error.
EXPECTED: dict[str, tuple[int, str]] = {
    'spec:unknown_surrogate': (1, (
        "unknown_surrogate.rpg:4:39: error: unknown surrogate 'atna'\n"
        '        x -> linear(2) -> lif(surrogate = atna) -> y\n'
        '                                          ^^^^\n'
        "hint: did you mean 'atan'?\n"
    )),
    'spec:surrogate_range': (1, (
        "surrogate_range.rpg:4:52: error: surrogate 'atan': alpha must be positive, got 0\n"
        '        x -> linear(2) -> lif(surrogate = atan(alpha = 0)) -> y\n'
        '                                                       ^\n'
        'hint: e.g. atan(alpha = 2)\n'
    )),
    'spec:surrogate_not_spiking': (1, (
        "surrogate_not_spiking.rpg:4:28: error: 'rate' has no argument 'surrogate'\n"
        '        x -> linear(2) -> rate(surrogate = atan) -> y\n'
        '                               ^^^^^^^^^\n'
        "hint: 'surrogate' is an argument of alif, if, lif, not of 'rate'\n"
    )),
    'spec:binary_max_spikes': (1, (
        "binary_max_spikes.rpg:4:65: error: 'alif': max_spikes_per_dt applies to "
        "spikes = multi; spikes = binary fires at most one per step\n"
        '        x -> linear(2) -> alif(spikes = binary, max_spikes_per_dt = 3) -> y\n'
        '                                                                    ^\n'
    )),
    'spec:multi_with_v_reset': (1, (
        "multi_with_v_reset.rpg:4:53: error: 'lif': reset = v_reset fires at most one spike "
        "per step; write spikes = binary\n"
        '        x -> linear(2) -> lif(reset = v_reset, spikes = multi) -> y\n'
        '                                                        ^^^^^\n'
    )),
    'spec:negative_delay': (1, (
        "negative_delay.rpg:4:29: error: 'delay': delays cannot be negative, got -0.002 s\n"
        '        x -> linear(2) -> delay(uniform(-2 ms, 1 ms)) -> y\n'
        '                                ^^^^^^^^^^^^^^^^^^^^\n'
    )),
    'spec:delay_too_long': (1, (
        "delay_too_long.rpg:4:23: error: 'delay_0' delays by up to 5 steps but dataset "
        "'sinusoids(classes = 2, length = 5, channels_in = 4, channels_out = 2)' has 5 time "
        "steps per sample\n"
        '        x -> linear(2) -> delay(5 ms) -> y\n'
        '                          ^^^^^^^^^^^\n'
        'hint: shorten the delay or use longer sequences\n'
    )),
    'spec:syntax': (1, (
        "syntax.rpg:4:20: error: unexpected '='; expected a new line, '->' or '}'\n"
        '        x -> linear(2) => y\n'
        '                       ^\n'
        "hint: edges are written '->'\n"
    )),
    'spec:syntax_eof': (1, (
        "syntax_eof.rpg:4:18: error: unexpected end of file; expected ')' or ','\n"
        '        x -> linear(2\n'
        '                     ^\n'
        "hint: is a ')' missing?\n"
    )),
    'spec:bad_character': (1, (
        "bad_character.rpg:4:25: error: unexpected character '$'\n"
        '        x -> linear(2) -> y $\n'
        '                            ^\n'
    )),
    'spec:bad_escape': (1, (
        "bad_escape.rpg:7:14: error: unknown escape '\\q' in string\n"
        '        data = "a\\qb.npz"\n'
        '                 ^^\n'
        'hint: strings know the escapes \\" \\\\ and \\n\n'
    )),
    'spec:nested_too_deep': (1, (
        'nested_too_deep.rpg:4:37: error: expression nested too deeply (limit 100 levels)\n'
        '        x -> linear(---------------------------------------------------------------------'
        '---------------------------------------------------2) -> y\n'
        '                                        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^'
        '^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
        'hint: split it into named constants or simplify it\n'
    )),
    'spec:two_networks': (1, (
        "two_networks.rpg:6:1: error: a spec has exactly one network, but 'n' is a second one\n"
        '    network n {\n'
        '    ^^^^^^^^^^^\n'
        "two_networks.rpg:1:1: note: network 'n' is defined here\n"
        '    network n {\n'
        '    ^^^^^^^^^^^\n'
        'hint: put each network in its own file\n'
    )),
    'spec:no_network': (1, (
        'no_network.rpg: error: no network in spec\n'
        "hint: add one: 'network NAME { input x : 4 ... }'\n"
    )),
    'spec:unknown_kind': (1, (
        "unknown_kind.rpg:4:10: error: unknown module kind 'lineer'\n"
        '        x -> lineer(2) -> y\n'
        '             ^^^^^^\n'
        "hint: did you mean 'linear'?\n"
    )),
    'spec:unknown_argument': (1, (
        "unknown_argument.rpg:4:20: error: 'linear' has no argument 'wieght'\n"
        '        x -> linear(2, wieght = 1) -> y\n'
        '                       ^^^^^^\n'
        "hint: did you mean 'weight'?\n"
    )),
    'spec:duplicate_name': (1, (
        "duplicate_name.rpg:4:5: error: duplicate name 'x'\n"
        '        input x : 3\n'
        '        ^^^^^^^^^^^\n'
        "duplicate_name.rpg:2:5: note: 'x' is first declared here\n"
        '        input  x : 4\n'
        '        ^^^^^^^^^^^^\n'
    )),
    'spec:duplicate_block': (1, (
        "duplicate_block.rpg:4:1: error: duplicate block 'b'\n"
        '    block b { input i\n'
        '    ^^^^^^^^^^^^^^^^^\n'
        'duplicate_block.rpg:1:1: note: first defined here\n'
        '    block b { input i\n'
        '    ^^^^^^^^^^^^^^^^^\n'
    )),
    'spec:undefined': (1, (
        "undefined.rpg:4:23: error: undefined name 'z'\n"
        '        x -> linear(2) -> z\n'
        '                          ^\n'
        "hint: declare it, e.g. 'z: linear(8)', or use one of: x, y, linear_0\n"
    )),
    'spec:size_mismatch': (1, (
        "size_mismatch.rpg:4:23: error: size mismatch into output 'y': declared 2, got 3\n"
        '        x -> linear(3) -> y\n'
        '                          ^\n'
        "size_mismatch.rpg:3:5: note: 'y' is declared with size 2\n"
        '        output y : 2\n'
        '        ^^^^^^^^^^^^\n'
        "hint: end the chain with 'linear(2)' before 'y'\n"
    )),
    'spec:negative_size': (1, (
        'negative_size.rpg:4:17: error: Expected a positive size, got -2\n'
        '        x -> linear(-2) -> y\n'
        '                    ^^\n'
    )),
    'spec:algebraic_loop': (1, (
        'algebraic_loop.rpg:5:10: error: algebraic loop a -> b -> a: no stateful node delays it\n'
        '        b -> a\n'
        '             ^\n'
        'hint: put a stateful node (rate, lif, expsyn) in the loop\n'
    )),
    'spec:unreachable_output': (1, (
        "unreachable_output.rpg:3:5: error: output 'y' is not reachable from any input\n"
        '        output y : 2\n'
        '        ^^^^^^^^^^^^\n'
        "hint: connect it, e.g. 'x -> ... -> y'\n"
    )),
    'spec:no_output': (1, (
        "no_output.rpg:1:1: error: network 'n' declares no output\n"
        '    network n {\n'
        '    ^^^^^^^^^^^\n'
        "hint: add a line like 'output y : 2'\n"
    )),
    'spec:recursive_block': (1, (
        "recursive_block.rpg:3:7: error: block 'b' instantiates itself too deeply\n"
        '     i -> b -> o }\n'
        '          ^\n'
        'hint: blocks may not be recursive\n'
    )),
    'spec:block_budget': (1, (
        "block_budget.rpg:97:10: error: expanding block 'b30' takes the network past its budget"
        " of 100000 nodes\n"
        '        x -> b30 -> linear(2) -> y\n'
        '             ^^^\n'
        'hint: a block that uses another twice doubles the network; raise the budget with '
        'max_nodes = N in rpgraph.load, loads or build\n'
    )),
    'spec:bad_bound': (1, (
        "bad_bound.rpg:7:5: error: 'linear_0.wieght' matches no parameter\n"
        '        linear_0.wieght >= 0\n'
        '        ^^^^^^^^^^^^^^^\n'
        "hint: did you mean 'linear_0.weight'?\n"
    )),
    'spec:bound_target': (1, (
        "bound_target.rpg:7:5: error: bound target 'linear_0' must name a node and a parameter\n"
        '        linear_0 >= 0\n'
        '        ^^^^^^^^\n'
        "hint: write e.g. 'linear_0.tau' or 'linear_0.*'\n"
    )),
    'spec:lower_above_upper': (1, (
        'lower_above_upper.rpg:7:5: error: lower bound 1 is above upper bound -1\n'
        '        linear_0.weight in [1, -1]\n'
        '        ^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
    )),
    'spec:bad_enforce': (1, (
        "bad_enforce.rpg:7:34: error: unknown enforce mode 'clip'\n"
        '        linear_0.weight >= 0 enforce clip\n'
        '                                     ^^^^\n'
        'hint: use one of: penalty, project, both\n'
    )),
    'spec:init_outside_bounds': (1, (
        "init_outside_bounds.rpg:7:5: error: initial value 5 of 'linear_0.weight' violates its bou"
        'nd (<= 1)\n'
        '        linear_0.weight <= 1\n'
        '        ^^^^^^^^^^^^^^^^^^^^\n'
        "init_outside_bounds.rpg:4:29: note: 'linear_0.weight' is initialised by constant(5)\n"
        '        x -> linear(2, weight = 5) -> y\n'
        '                                ^\n'
        'hint: change the initialiser or the bound so that they agree\n'
    )),
    'spec:bad_unit': (1, (
        "bad_unit.rpg:1:19: error: unknown unit 'parsec'\n"
        '    network n (dt = 1 parsec) {\n'
        '                      ^^^^^^\n'
        'hint: known units: s, ms, us, µs, μs, ns, Hz, kHz\n'
    )),
    'spec:unit_mismatch': (1, (
        'unit_mismatch.rpg:1:17: error: cannot add a frequency and a time\n'
        '    network n (dt = 1 ms + 1 Hz) {\n'
        '                    ^^^^^^^^^^^\n'
    )),
    'spec:missing_argument': (1, (
        "missing_argument.rpg:4:10: error: 'linear' is missing required argument 'out'\n"
        '        x -> linear -> y\n'
        '             ^^^^^^\n'
        'hint: write linear(out = ...)\n'
    )),
    'spec:wrong_type': (1, (
        'wrong_type.rpg:4:17: error: Expected an integer size, got the string "two"\n'
        '        x -> linear("two") -> y\n'
        '                    ^^^^^\n'
    )),
    'spec:too_large': (1, (
        'too_large.rpg:4:17: error: number too large\n'
        '        x -> linear(10 ** 10 ** 10) -> y\n'
        '                    ^^^^^^^^^^^^^^\n'
    )),
    'spec:division_by_zero': (1, (
        'division_by_zero.rpg:4:17: error: division by zero\n'
        '        x -> linear(2 / 0) -> y\n'
        '                    ^^^^^\n'
    )),
    'spec:unknown_loss': (1, (
        "unknown_loss.rpg:7:29: error: unknown loss function 'l3'\n"
        '        loss = mse(y, target) + l3(params)\n'
        '                                ^^\n'
        'hint: known: bounds_cost, bounds_penalty, cross_entropy, l0, l1, l2sqr, logsoftmax, mse, '
        'rate, softmax, sse\n'
    )),
    # a 5,000-digit number and a 2,000-term sum: 160 characters of the line, '...', carets
    'spec:huge_number': (1, (
        "huge_number.rpg:4:17: error: number 777777777777...77777777 is too large\n"
        "        x -> linear(" + "7" * 144 + "...\n"
        "                    " + "^" * 144 + "\n"
    )),
    'spec:long_sum': (1, (
        "long_sum.rpg:4:17: error: expression nested too deeply (limit 100 levels)\n"
        "        x -> linear(" + "1 + " * 36 + "...\n"
        "                    " + "^" * 144 + "\n"
        "hint: split it into named constants or simplify it\n"
    )),
    'spec:unknown_train_setting': (1, (
        "unknown_train_setting.rpg:7:5: error: unknown train setting 'epoch'\n"
        '        epoch = 3\n'
        '        ^^^^^^^^^\n'
        "hint: did you mean 'epochs'?\n"
    )),
    'spec:unknown_optimizer': (1, (
        "unknown_optimizer.rpg:7:17: error: unknown optimizer 'adamm'\n"
        '        optimizer = adamm(lr = 1e-3)\n'
        '                    ^^^^^\n'
        "hint: did you mean 'adam'?\n"
    )),
    'spec:unknown_dataset': (1, (
        "unknown_dataset.rpg:7:12: error: unknown data set 'sinusoid'; known data sets: digits, en"
        'coded, events, nmnist, shd, sinusoids, ssc\n'
        '        data = sinusoid(classes = 2)\n'
        '               ^^^^^^^^^^^^^^^^^^^^^\n'
        "hint: did you mean 'sinusoids'?\n"
    )),
    'spec:no_data': (1, (
        "no_data.rpg: error: no data: the spec's train block has no 'data' setting\n"
        "hint: add 'data = sinusoids(...)' or pass --data FILE.npz\n"
    )),
    'spec:non_finite_loss': (1, (
        'error: loss became inf at step 0 (epoch 0); non-finite term: mse(y, target); largest par'
        "ameter: linear_0.weight = 1e+30; no checkpoint was written in 'out_non_finite_loss'\n"
        'hint: lower the learning rate, bound the parameters that diverge, or check the data\n'
    )),
    'data:rank': (1, (
        "tiny.rpg: error: data file 'rank.npz': array 'inputs' has shape (2, 20); expected 3 dimen"
        'sions (N, T, C_in)\n'
    )),
    'data:width': (1, (
        "tiny.rpg: error: data file 'width.npz': array 'inputs' has s"
        "hape (2, 20, 7); expected (N, T"
        ", 8) for input 'x' : 8\n"
        "hint: make input 'x' 7 wide, or use data with 8 channels\n"
    )),
    'data:out_width': (1, (
        "tiny.rpg: error: data file 'out_width.npz': array 'targets' "
        "has shape (2, 20, 3); expected "
        "(N, T, 2) for output 'y' : 2\n"
        "hint: make output 'y' 3 wide\n"
    )),
    'data:nan': (1, (
        "tiny.rpg: error: data file 'nan.npz': array 'inputs' holds 1 non-finite value (NaN or inf"
        '); the first is at index (1, 3, 4)\n'
        'hint: replace or drop those samples, e.g. with np.nan_to_num\n'
    )),
    'data:inf': (1, (
        "tiny.rpg: error: data file 'inf.npz': array 'targets' holds 1 non-finite value (NaN or in"
        'f); the first is at index (0, 0, 1)\n'
        'hint: replace or drop those samples, e.g. with np.nan_to_num\n'
    )),
    'data:empty': (1, (
        "tiny.rpg: error: data file 'empty.npz': array 'inputs' has shape (0, 20, 8); expected a n"
        'on-empty data set (every dimension at least 1)\n'
    )),
    'data:labels': (1, (
        "tiny.rpg: error: data file 'labels.npz': labels out of range"
        ": max label 5 but output 'y' ha"
        's 2 channels\n'
        "hint: a classifier needs one output channel per class: make output 'y' 6 wide\n"
    )),
    'data:neg_labels': (1, (
        "tiny.rpg: error: data file 'neg_labels.npz': array 'labels' holds negative labels (label "
        '-1; the first negative is at index 1); expected class indices 0..K-1\n'
    )),
    'data:float_labels': (1, (
        "tiny.rpg: error: data file 'float_labels.npz': array 'labels' has dtype float64; expected"
        ' integers\n'
        'hint: the values are whole numbers: save labels.astype(np.int32)\n'
    )),
    'data:dtype': (1, (
        "tiny.rpg: error: data file 'dtype.npz': array 'inputs' has dtype <U1; expected real numbe"
        'rs (float, int or bool)\n'
        'hint: store inputs and targets as float32\n'
    )),
    'data:object': (1, (
        "tiny.rpg: error: data file 'object.npz' holds an object array ('inputs'); rpgraph loads ."
        'npz files without pickle\n'
        'hint: save plain numeric arrays, e.g. np.asarray(x, dtype=np.float32)\n'
    )),
    'data:no_inputs': (1, (
        "tiny.rpg: error: data file 'no_inputs.npz' has no array 'inputs' (it holds: 'input', 'tar"
        "gets')\n"
        "hint: rename array 'input' to 'inputs'\n"
    )),
    'data:text': (1, (
        "tiny.rpg: error: data file 'text.npz' is not a .npz archive (it does not start with a zip"
        ' header)\n'
    )),
    'data:zero': (1, (
        "tiny.rpg: error: data file 'zero.npz' is empty (0 bytes); expected a .npz archive\n"
    )),
    'data:cut': (1, (
        "tiny.rpg: error: data file 'cut.npz' is corrupted or truncated\n"
        'note: while reading: File is not a zip file\n'
    )),
    'data:missing': (1, (
        "tiny.rpg: error: data file 'missing.npz' does not exist\n"
        "hint: did you mean 'inf.npz'?\n"
    )),
    'data:bomb': (1, (
        "tiny.rpg: error: data file 'bomb.npz': array 'inputs' of shape (6, 1048576, 128) and "
        "dtype float64 would unpack to 6.0 GiB, over the 4.0 GiB limit per file\n"
        "hint: to read more, raise rpgraph.io.npz.MAX_NPZ_BYTES\n"
    )),
    'data:pipe': (1, (
        "tiny.rpg: error: data file 'pipe.npz' is a named pipe (FIFO), not a .npz file\n"
        "hint: rpgraph reads .npz archives from regular files only\n"
    )),
    'file:missing_spec': (1, (
        "missing.rpg: error: spec file 'missing.rpg' does not exist\n"
    )),
    'file:spec_is_folder': (1, (
        "folder.rpg: error: spec file 'folder.rpg' is a directory\n"
    )),
    'file:unreadable_spec': (1, (
        "{LONG}: error: cannot read spec file '{LONG}': File name too long\n"
    )),
    'file:not_utf8': (1, (
        "latin1.rpg: error: spec file 'latin1.rpg' is not valid UTF-8 (byte 0 on line 1)\n"
        'hint: save the file as UTF-8\n'
    )),
    'file:spec_is_a_pipe': (1, (
        "pipe.rpg: error: spec file 'pipe.rpg' is a named pipe\n"
        'hint: save the spec as a file and give its path\n'
    )),
    'file:spec_is_a_device': (1, (
        "/dev/zero: error: spec file '/dev/zero' is a character device\n"
        'hint: save the spec as a file and give its path\n'
    )),
    'file:spec_too_large': (1, (
        "huge.rpg: error: spec file 'huge.rpg' is larger than 10 MB\n"
        'hint: specs are short text files: is it the right path?\n'
    )),
    'file:truncated_checkpoint': (1, (
        "error: checkpoint 'truncated/checkpoint.npz' is corrupted or truncated\n"
        'note: while reading: File is not a zip file\n'
    )),
    'file:corrupted_checkpoint': (1, (
        "error: checkpoint 'corrupted/checkpoint.npz' is corrupted or truncated\n"
        "note: while reading: [Errno 22] Invalid argument\n"
    )),
    'file:empty_checkpoint': (1, (
        "error: checkpoint 'empty_ck/checkpoint.npz' is empty (0 bytes); expected a .npz archive\n"
    )),
    'file:params_as_checkpoint': (1, (
        "error: checkpoint 'params_as_ck/checkpoint.npz' is a parameter file, not a training check"
        'point\n'
        "hint: load it with load_params, or resume from the run's checkpoint.npz\n"
    )),
    'file:nan_ck': (1, (
        "error: checkpoint 'nan_ck/checkpoint.npz': params leaf params['linear_0']['weight'] "
        "holds 32 non-finite values (NaN or inf)\n"
        "hint: rpgraph never saves non-finite values: the file was damaged or edited; start a "
        "new run\n"
    )),
    'file:negative_count': (1, (
        "error: checkpoint 'negative_count/checkpoint.npz': opt_state leaf opt_state[0].count "
        "holds -3; optimiser counters are never negative\n"
        "hint: the file was damaged or edited; start a new run\n"
    )),
    'file:negative_step': (1, (
        "error: checkpoint 'negative_step/checkpoint.npz' is corrupted or truncated (step -5 is "
        "outside 0..9223372036854775807)\n"
    )),
    'file:huge_step': (1, (
        "error: checkpoint 'huge_step/checkpoint.npz' is corrupted or truncated (step "
        "1000000000000000000000000000000 is outside 0..9223372036854775807)\n"
    )),
    'file:bomb_ck': (1, (
        "error: checkpoint 'bomb_ck/checkpoint.npz' is corrupted or truncated (array "
        "'params.000000' has shape (1073741824,); its metadata says (8, 4))\n"
    )),
    'file:deep_meta': (1, (
        "error: checkpoint 'deep_meta/checkpoint.npz' is corrupted or truncated (unreadable "
        "metadata)\n"
    )),
    'file:step_past_end': (1, (
        "error: checkpoint 'past_end/checkpoint.npz' is at step 1000, past the 4 steps of this "
        "run\n"
        "hint: resume with the --epochs and data the run was started with, or start a new run\n"
    )),
    'file:params_fifo': (1, (
        "error: parameter file 'pipe.npz' is a named pipe (FIFO), not a .npz file\n"
        "hint: rpgraph reads .npz archives from regular files only\n"
    )),
    'file:checkpoint_of_other_spec': (1, (
        "error: the run in 'run' was started with other settings: the spec (its canonical text ch"
        'anged)\n'
        'hint: resume with the settings it was started with, choose another --out, or pass --forc'
        'e to continue it with these\n'
    )),
    'file:resume_other_settings': (1, (
        "error: the run in 'run' was started with other settings: seed 0 -> 7; batch size 1 -> 2\n"
        ''
        'hint: resume with the settings it was started with, choose another --out, or pass --forc'
        'e to continue it with these\n'
    )),
    'file:out_not_a_run_folder': (1, (
        "error: 'not_a_run' is not empty and is not an rpgraph run folder\n"
        'hint: choose a new or empty folder for --out (rpgraph marks its run folders with a .rpgr'
        'aph-run file)\n'
    )),
    'file:out_holds_a_run': (1, (
        "error: 'run' holds a run with a checkpoint\n"
        'hint: continue it with --resume, choose another --out, or pass --force to start it over\n'
        ''
    )),
    'file:link_in_run_folder': (1, (
        "error: 'linked_run/config.json' is a symbolic link\n"
        'hint: rpgraph never writes through links in a run folder; remove the link or choose anot'
        'her --out\n'
    )),
    'cli:negative_log_limit': (2, (
        'rpgraph train: error: argument --log-limit: Expected a number >= 0, got -1\n'
        "hint: see 'rpgraph train --help'\n"
    )),
    'file:nothing_to_resume': (1, (
        "error: nothing to resume in 'empty_run'\n"
        'hint: start the run without --resume first\n'
    )),
    'file:params_of_other_spec': (1, (
        "error: parameter file 'run/params.npz': params leaf params['linear_0']['weight'] has shap"
        'e (8, 4); expected (8, 5)\n'
        "hint: the network's sizes changed since this checkpoint was written\n"
    )),
    'file:alif_beta_shape': (1, (
        "error: parameter file 'alif_params/params.npz': params leaf params['a']['beta'] has sha"
        "pe (3,); expected (4,)\n"
        "hint: the network's sizes changed since this checkpoint was written\n"
    )),
    'file:alif_init_beta_shape': (1, (
        "error: parameter file 'alif_params/params.npz': params leaf params['a']['beta'] has sha"
        "pe (3,); expected (4,)\n"
        "hint: the network's sizes changed since this checkpoint was written\n"
    )),
    'file:bounds_alif_tau_adapt_shape': (1, (
        "error: bounds file 'bounds_alif.json': the lower bound of 'a.tau_adapt' has shape (3,); "
        "expected a number or an array of shape (4,)\n"
    )),
    'file:missing_params': (1, (
        "error: parameter file 'nope' does not exist\n"
    )),
    'file:params_ensemble_folder': (1, (
        "error: run directory 'ensemble' has no params.npz or checkpoint.npz\n"
        "hint: it holds the runs of 2 models (seed-0, seed-1): point at one of them, e.g. "
        "'ensemble/seed-0'\n"
    )),
    'file:init_params_not_npz': (1, (
        "error: parameter file 'bounds_bad.json' is not a .npz archive (it does not start with a z"
        'ip header)\n'
    )),
    'file:bounds_json_shape': (1, (
        "error: bounds file 'bounds_bad.json' must hold an object with keys 'lower' and 'upper'\n"
    )),
    'file:bounds_json_syntax': (1, (
        "error: bounds file 'bounds_syntax.json' is not valid JSON: Expecting value at line 1 colu"
        'mn 1\n'
    )),
    'file:output_folder_missing': (1, (
        "error: cannot write bounds file 'no/such/dir/b.json': folder 'no/such/dir' does not "
        'exist\n'
        'hint: create it first, or pick another path\n'
    )),
    'file:out_is_a_file': (1, (
        "rpgraph: error: cannot use 'tiny.rpg/run': Not a directory\n"
        'hint: check the path and its permissions\n'
    )),
    'nir:missing_file': (1, (
        "error: NIR file 'missing.nir' does not exist\n"
        'hint: check the path\n'
    )),
    'nir:not_nir': (1, (
        "error: 'garbage.nir' is not a NIR file: it does not start with the HDF5 signature\n"
        'hint: NIR files are HDF5 files written by nir.write\n'
    )),
    'nir:unsupported_import': (1, (
        "error: cannot import NIR graph: 2 unsupported nodes: 'delay' (Delay: shape (2, 1) (only"
        " 1-D delays)), 'flat' (Flatten: start_dim 1, end_dim -1 over an input of shape (2, 1, 1"
        ") (only flattening the whole sample))\n"
        'hint: supported: Input, Output, NIRGraph, Affine, Linear, Scale, LI, I, LIF, CubaLIF'
        ', CubaLI, IF, Threshold, Conv1d, Conv2d, SumPool2d, AvgPool2d, Flatten, Delay\n'
    )),
    'nir:conv_padding': (1, (
        "error: cannot import NIR graph: 1 unsupported node: 'conv' (Conv2d: padding -1 (zero "
        "padding only: a non-negative integer per axis, 'same' or 'valid'))\n"
        'hint: supported: Input, Output, NIRGraph, Affine, Linear, Scale, LI, I, LIF, CubaLIF'
        ', CubaLI, IF, Threshold, Conv1d, Conv2d, SumPool2d, AvgPool2d, Flatten, Delay\n'
    )),
    'nir:zero_dt': (1, (
        'error: Expected a positive time step dt in seconds, got 0.0\n'
        'hint: NIR is continuous-time: pass the step to simulate with\n'
    )),
    'nir:spec_folder_missing': (1, (
        "error: cannot write spec file 'no/such/n.rpg': folder 'no/such' does not exist\n"
        'hint: create it first, or pick another path\n'
    )),
    'nir:unsupported_export': (1, (
        "error: cannot export to NIR: 1 unsupported node: 'rate_0' (rate: NIR has no rate neu"
        'ron)\n'
        'hint: exportable kinds (nir): linear, lif, expsyn, identity, conv1d, conv2d, sumpool2d, '
        'avgpool2d, flatten, li, if, delay, dropout\n'
    )),
    'nir:missing_params': (1, (
        "error: parameter file 'nope' does not exist\n"
    )),
    'nir:params_of_other_spec': (1, (
        "error: parameter file 'run/params.npz': params leaf params['linear_0']['weight'] has"
        ' shape (8, 4); expected (8, 5)\n'
        "hint: the network's sizes changed since this checkpoint was written\n"
    )),
    'nir:output_folder_missing': (1, (
        "error: cannot write NIR file 'no/such/n.nir': folder 'no/such' does not exist\n"
        'hint: create it first, or pick another path\n'
    )),
    'cli:unknown_flag': (2, (
        'rpgraph: error: unrecognized arguments: --bogus\n'
        "hint: see 'rpgraph --help'\n"
    )),
    'cli:negative_epochs': (2, (
        'rpgraph train: error: argument --epochs: Expected a number >= 0, got -3\n'
        "hint: see 'rpgraph train --help'\n"
    )),
    'cli:epochs_not_a_number': (2, (
        "rpgraph train: error: argument --epochs: Expected a whole number, got 'many'\n"
        "hint: see 'rpgraph train --help'\n"
    )),
    'cli:zero_batch_size': (2, (
        'rpgraph train: error: argument --batch-size: Expected a number >= 1, got 0\n'
        "hint: see 'rpgraph train --help'\n"
    )),
    'cli:bad_convention': (1, (
        "error: unknown NIR convention 'lava'\n"
        "hint: use one of auto, nir, norse, snntorch, rockpool\n"
    )),
    'cli:no_command': (2, (
        'rpgraph: error: the following arguments are required: command\n'
        "hint: see 'rpgraph --help'\n"
    )),
    'cli:missing_file': (2, (
        'rpgraph train: error: the following arguments are required: file\n'
        "hint: see 'rpgraph train --help'\n"
    )),
    'cli:missing_params': (2, (
        'rpgraph eval: error: the following arguments are required: --params\n'
        "hint: see 'rpgraph eval --help'\n"
    )),
    'cli:bad_choice': (2, (
        "rpgraph graph: error: argument --format: invalid choice: 'svg' (choose from 'text', 'json"
        "', 'dot')\n"
        "hint: see 'rpgraph graph --help'\n"
    )),
    'cli:bad_time': (2, (
        "rpgraph nir import: error: argument --dt: Expected a time such as 1ms, got '1 parsec'\n"
        "hint: see 'rpgraph nir import --help'\n"
    )),
    'cli:batched_alone': (1, (
        'error: --batched is for ensembles and sweeps\n'
        'hint: add --seeds K or --set KEY=V1,V2,...\n'
    )),
    'cli:resume_without_out': (1, (
        'error: --resume needs --out DIR (the run to continue)\n'
        'hint: rpgraph train SPEC --out runs/NAME --resume\n'
    )),
    'cli:too_many_devices': (1, (
        'error: --devices 64 asks for more devices than the 1 available\n'
        'hint: on CPU, set XLA_FLAGS=--xla_force_host_platform_device_count=N before starting; se'
        'veral hosts: one process each with --coordinator, --num-processes and --process-id\n'
    )),
    'cli:processes_missing': (1, (
        'error: several processes need --coordinator, --num-processes and --process-id; missing '
        '--num-processes, --process-id\n'
        'hint: e.g. --coordinator localhost:12355 --num-processes 2 --process-id 0 (or RPGRAPH_C'
        'OORDINATOR, ...)\n'
    )),
    'cli:bad_coordinator': (1, (
        "error: Expected --coordinator HOST:PORT, got 'nohost'\n"
        'hint: the address of process 0, e.g. localhost:12355\n'
    )),
    'cli:process_id_range': (1, (
        'error: Expected 0 <= --process-id < --num-processes, got process id 2 of 2\n'
    )),
    'cli:seeds_with_processes': (1, (
        'error: --seeds and --set do not work with several processes yet\n'
        'hint: train the ensemble in one process\n'
    )),
    'cli:sweep_structure': (1, (
        "--set:1:1: error: 'linear_0.size' changes the network's structure (sizes are compiled "
        'into the program); a sweep in one program varies values only\n'
        '    linear_0.size=4,8\n'
        '    ^^^^^^^^^^^^^\n'
        'hint: sweep seed or optimizer.<argument> (e.g. optimizer.lr), or train each '
        "'linear_0.size' in its own run\n"
    )),
    'cli:sweep_unknown_key': (1, (
        "--set:1:1: error: unknown --set key 'lr'\n"
        '    lr=0.1,0.2\n'
        '    ^^\n'
        "hint: did you mean 'optimizer.lr'?\n"
    )),
    'cli:sweep_no_argument': (1, (
        "--set:1:1: error: the optimizer 'adam(lr = 1e-3)' takes no argument 'lrr'\n"
        '    optimizer.lrr=0.1\n'
        '    ^^^^^^^^^^^^^\n'
        "hint: did you mean 'optimizer.lr'?\n"
    )),
    'cli:sweep_bad_value': (1, (
        "--set:1:8: error: Expected a whole number 0 <= seed < 2**32 in --set seed, got 'x'\n"
        '    seed=0,x\n'
        '           ^\n'
    )),
    'cli:data_expr_argument': (1, (
        "data:1:1: error: dataset 'sinusoids': Expected classes >= 1, got 0\n"
        '    sinusoids(classes=0)\n'
        '    ^^^^^^^^^^^^^^^^^^^^\n'
    )),
    'cli:data_expr_syntax': (1, (
        "data:1:20: error: unexpected end of file; expected ')' or ','\n"
        '    sinusoids(classes=3\n'
        '                       ^\n'
        "hint: is a ')' missing?\n"
    )),
    'cli:data_expr_not_a_set': (1, (
        'data:1:1: error: Expected a data set, got an expression\n'
        '    [1, 2]\n'
        '    ^^^^^^\n'
        'hint: name one (e.g. sinusoids(classes = 3)) or a .npz file\n'
    )),
    'cli:sweep_value_range': (1, (
        "--set:1:19: error: optimizer 'adam': Expected learning_rate >= 0, got -1\n"
        '    optimizer.lr=1e-3,-1\n'
        '                      ^^\n'
    )),
    'cli:sweep_seeds_twice': (1, (
        'error: --seeds and --set seed=... both give the seeds\n'
        'hint: give the seeds once\n'
    )),
    'spec:penalty_without_term': (1, (
        "penalty_without_term.rpg:7:5: error: bound on 'linear_0.weight' is enforced as 'penalty',"
        ' but the loss has no bounds_cost or bounds_penalty term, so it would do nothing\n'
        '        linear_0.weight <= 1 enforce penalty\n'
        '        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
        "hint: add a bounds term to the loss (e.g. '+ 1e3 * bounds_penalty'), or enforce it by pro"
        "jection ('enforce project')\n"
    )),
    'spec:block_penalty_without_term': (1, (
        "block_penalty_without_term.rpg:7:5: error: bounds are enforced as 'penalty', but the loss"
        ' has no bounds_cost or bounds_penalty term, so they would do nothing\n'
        '        enforce = penalty\n'
        '        ^^^^^^^^^^^^^^^^^\n'
        "hint: add a bounds term to the loss (e.g. '+ 1e3 * bounds_penalty'), or enforce them by p"
        "rojection ('enforce = project')\n"
    )),
    'spec:tau_below_floor': (1, (
        "tau_below_floor.rpg:4:34: error: initial value 0.0001 of 'rate_0.tau' violates its bound "
        '(>= 0.0005), the default floor of rate time constants\n'
        '        x -> linear(2) -> rate(tau = 0.1 ms) -> y\n'
        '                                     ^^^^^^\n'
        "hint: declare a lower bound to replace the floor, e.g. 'bounds { rate_0.tau >= 0.0001 }'"
        '\n'
    )),
    'spec:loss_unknown_state': (1, (
        "loss_unknown_state.rpg:7:35: error: 'linear_0.vmem' names neither a parameter nor a recor"
        "ded state of 'linear_0'\n"
        '        loss = mse(y, target) + l2sqr(linear_0.vmem)\n'
        '                                      ^^^^^^^^^^^^^\n'
        "hint: 'linear_0' has parameters weight and records output\n"
    )),
    'spec:loss_glob_no_match': (1, (
        "loss_glob_no_match.rpg:7:32: error: 'w_*.weight' matches no parameter\n"
        '        loss = mse(y, target) + l1(w_*.weight)\n'
        '                                   ^^^^^^^^^^\n'
        "hint: did you mean 'linear_0.weight'?\n"
    )),
    'spec:rate_of_params': (1, (
        "rate_of_params.rpg:7:34: error: rate() takes a node's output or a recorded state, not par"
        'ameters\n'
        '        loss = mse(y, target) + rate(linear_0.*)\n'
        '                                     ^^^^^^^^^^\n'
        "hint: write e.g. 'rate(h)' or 'rate(h.spikes)'\n"
    )),
    'spec:freeze_without_node': (1, (
        'freeze_without_node.rpg:7:15: error: Expected parameter names like hidden.tau or *.thresh'
        "old, got 'weight*'\n"
        '        freeze = [weight*]\n'
        '                  ^^^^^^^\n'
    )),
    'file:bounds_json_nan': (1, (
        "error: bounds file 'bounds_nan.json': NaN is not a bound\n"
        'hint: leave a side unbounded with "inf" or "-inf"\n'
    )),
    'file:bounds_json_long_number': (1, (
        "error: bounds file 'bounds_long_number.json': a number of 5000 characters (777777777777.."
        '.) is too long\n'
        'hint: write bounds as ordinary numbers, or "inf"\n'
    )),
    'file:bounds_json_deep': (1, (
        "error: bounds file 'bounds_deep.json' is nested too deeply\n"
        'hint: a bounds file is {"lower": {node: {param: value}}, "upper": ...}\n'
    )),
    'file:bounds_json_element_shape': (1, (
        "error: bounds file 'bounds_element_shape.json': the lower bound of 'linear_1.weight' has "
        'shape (3,); expected a number or an array of shape (4, 2)\n'
    )),
    'file:bounds_json_inf_lower': (1, (
        "error: bounds file 'bounds_inf_lower.json': the lower bound of 'linear_1.weight' is "
        'inf, which no value satisfies\n'
        'hint: leave a side unbounded with "-inf"\n'
    )),
}

#: Exact stderr of the tensor-shape rows.
SHAPE_EXPECTED: dict[str, tuple[int, str]] = {
    'spec:kernel_too_large': (1, (
        "kernel_too_large.rpg:4:10: error: 'conv2d_0' on input (2, 4, 4) from 'x': "
        'kernel 5 is larger than the padded input (4, 4) (padding 0)\n'
        '        x -> conv2d(3, kernel = 5) -> flatten -> linear(2) -> y\n'
        '             ^^^^^^^^^^^^^^^^^^^^^\n'
    )),
    'spec:bad_stride': (1, (
        "bad_stride.rpg:4:10: error: 'conv2d_0' on input (2, 4, 4) from 'x': Expected "
        'stride >= 1, got 0\n'
        '        x -> conv2d(3, kernel = 3, stride = 0) -> flatten -> linear(2) -> y\n'
        '             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
    )),
    'spec:bad_groups': (1, (
        "bad_groups.rpg:4:10: error: 'conv2d_0' on input (2, 4, 4) from 'x': groups = "
        '2 must divide the input channels (2) and out_channels (3)\n'
        '        x -> conv2d(3, kernel = 3, groups = 2) -> flatten -> linear(2) -> y\n'
        '             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
    )),
    'spec:non_integer_shape': (1, (
        'non_integer_shape.rpg:2:20: error: Expected an integer size, got the number 3.5\n'
        '        input  x : (2, 3.5)\n'
        '                       ^^^\n'
    )),
    'spec:zero_in_shape': (1, (
        'zero_in_shape.rpg:2:20: error: Expected a positive size in a shape, got 0\n'
        '        input  x : (2, 0, 4)\n'
        '                       ^\n'
        'hint: every axis of a shape has at least one element\n'
    )),
    'spec:shaped_into_linear': (1, (
        "shaped_into_linear.rpg:4:10: error: 'linear_0' on input (2, 4, 4) from 'x': "
        'linear needs a vector input\n'
        '        x -> linear(2) -> y\n'
        '             ^^^^^^^^^\n'
        "hint: flatten first: 'x -> flatten -> linear_0'\n"
    )),
    'spec:shape_mismatch': (1, (
        "shape_mismatch.rpg:5:34: error: shape mismatch into 's': 'unflatten_0' gives "
        "(4, 2, 4) but 'x' gives (2, 4, 4)\n"
        '        x -> unflatten((4, 2, 4)) -> s\n'
        '                                     ^\n'
        "shape_mismatch.rpg:5:10: note: 'unflatten_0' has output shape (4, 2, 4)\n"
        '        x -> unflatten((4, 2, 4)) -> s\n'
        '             ^^^^^^^^^^^^^^^^^^^^\n'
        "shape_mismatch.rpg:2:5: note: 'x' has output shape (2, 4, 4)\n"
        '        input  x : (2, 4, 4)\n'
        '        ^^^^^^^^^^^^^^^^^^^^\n'
        "hint: make the shapes agree, e.g. with 'flatten' or 'unflatten(...)'\n"
    )),
    'spec:per_channel_vector': (1, (
        "per_channel_vector.rpg:4:10: error: 'lif_0': per = channel needs a shaped input "
        '(channels, ...), got the vector (4,)\n'
        '        x -> lif(per = channel) -> linear(2) -> y\n'
        '             ^^^^^^^^^^^^^^^^^^\n'
    )),
    'spec:dropout_p': (1, (
        "dropout_p.rpg:4:22: error: 'dropout': Expected 0 <= p < 1, got 1\n"
        '        x -> dropout(p = 1) -> flatten -> linear(2) -> y\n'
        '                         ^\n'
    )),
}
EXPECTED.update(SHAPE_EXPECTED)
DATA_EXPECTED: dict[str, tuple[int, str]] = {
    'spec:test_data_missing': (1, (
        "test_data_missing.rpg:8:17: error: data file 'no_such_file.npz' does not exist\n"
        '        test_data = "no_such_file.npz"\n'
        '                    ^^^^^^^^^^^^^^^^^^\n'
    )),
    'spec:bad_validation': (1, (
        'bad_validation.rpg:8:18: error: Expected validation to be a fraction between 0 and 1 (e.'
        'g. 0.1), got 2\n'
        '        validation = 2\n'
        '                     ^\n'
        'hint: or hold out a file: test_data = "FILE.npz"\n'
    )),
    'spec:validation_too_small': (1, (
        "validation_too_small.rpg:8:18: error: dataset 'sinusoids': a validation split of 0.1 of"
        ' 4 samples leaves no validation samples\n'
        '        validation = 0.1\n'
        '                     ^^^\n'
        'hint: use a fraction between 0 and 1 that leaves at least one sample on each side, o'
        'r give test_data = "FILE.npz"\n'
    )),
    'spec:bad_keep': (1, (
        'bad_keep.rpg:9:12: error: Expected keep = best or keep = last, got bets\n'
        '        keep = bets\n'
        '               ^^^^\n'
        "hint: did you mean 'best'?\n"
    )),
    'spec:bad_precision': (1, (
        'bad_precision.rpg:8:17: error: Expected precision = float32 or precision = bfloat16, '
        'got bfloat61\n'
        '        precision = bfloat61\n'
        '                    ^^^^^^^^\n'
        "hint: did you mean 'bfloat16'?\n"
    )),
    'spec:no_validation_set': (1, (
        'no_validation_set.rpg:8:22: error: early_stopping watches the validation loss, but th'
        'ere is no validation set\n'
        '        early_stopping = 3\n'
        '                         ^\n'
        'hint: add \'validation = 0.1\' (a held-out fraction of the data) or \'test_data = "F'
        'ILE.npz"\'\n'
    )),
    'spec:bad_early_stopping': (1, (
        "bad_early_stopping.rpg:8:22: error: unknown early stopping rule 'stop'\n"
        '        early_stopping = stop(patience = 3)\n'
        '                         ^^^^\n'
        'hint: write early_stopping = plateau(patience = 5), (patience = 5) or early_stoppi'
        'ng = 5\n'
    )),
    'spec:nameless_group': (1, (
        "nameless_group.rpg:8:17: error: 'optimizer' takes no nameless group of keyword values\n"
        '        optimizer = (lr = 0.1)\n'
        '                    ^^^^^^^^^^\n'
        'hint: name what the values are for, e.g. optimizer = NAME(...); nameless groups are f'
        'or early_stopping\n'
    )),
    'spec:bad_tensorboard': (1, (
        'bad_tensorboard.rpg:8:19: error: Expected tensorboard = true or false, got 1\n'
        '        tensorboard = 1\n'
        '                      ^\n'
    )),
    'spec:unknown_transform': (1, (
        "unknown_transform.rpg:7:23: error: unknown optimizer 'clip_by_global_nrm'\n"
        '        optimizer = chain(clip_by_global_nrm(1.0), adam(lr = 1e-3))\n'
        '                          ^^^^^^^^^^^^^^^^^^\n'
        "hint: did you mean 'clip_by_global_norm'?\n"
    )),
    'spec:not_a_transform': (1, (
        'not_a_transform.rpg:7:34: error: optax.hinge_loss is not a gradient transformation (it'
        ' returns ArrayImpl)\n'
        '        optimizer = chain(clip(1.0), hinge_loss(1.0, 1.0))\n'
        '                                     ^^^^^^^^^^\n'
        'hint: use an optimizer such as adam(lr = 1e-3), or a transform such as clip_by_globa'
        'l_norm(1.0) inside chain(...)\n'
    )),
    'spec:ports_mismatch': (1, (
        "ports_mismatch.rpg: error: data file 'ports_bad.npz' does not fit network 'two': 5 prob"
        'lems\n'
        "  - array 'labels_y2' has dtype float64; expected integer labels\n"
        "  - array 'x_a' has 4 samples; 'target_y1' has 3\n"
        "  - array 'x_a' has shape (4, 5, 4); expected (N, T, 3) for input 'a' : 3\n"
        "  - array 'x_bb' names no input of network 'two' (inputs: a, b); did you mean 'b'?\n"
        "  - no array 'x_b' for input 'b' : 2\n"
        'hint: name the arrays after the ports: x_<input>, target_<output> or labels_<output> (te'
        'st_ in front for a test part)\n'
    )),
    'spec:ports_single_arrays': (1, (
        "ports_single_arrays.rpg: error: data file 'ports_plain.npz' holds one input and one ta"
        "rget array, but network 'two' has inputs a, b and outputs y1, y2\n"
        'hint: name the arrays after the ports: x_a, x_b, target_y1, target_y2 (labels_<output'
        '> for class labels)\n'
    )),
    'spec:ports_bare_target': (1, (
        "ports_bare_target.rpg:13:20: error: the loss reads 'target', but network 'two' has sever"
        'al outputs (y1, y2)\n'
        '        loss = mse(y1, target)\n'
        '                       ^^^^^^\n'
        "hint: name the output's target: target_y1, target_y2 (or labels_<output> for class lab"
        'els)\n'
    )),
    'spec:ports_no_loss': (1, (
        "ports_no_loss.rpg: error: network 'two' has several outputs (y1, y2) but the spec has"
        ' no loss naming their targets\n'
        "hint: add e.g. 'loss = mse(y1, target_y1) + mse(y2, target_y2)'\n"
    )),
}
DATA_EXPECTED["data:ports_flag"] = DATA_EXPECTED["spec:ports_mismatch"]
EXPECTED.update(DATA_EXPECTED)

EXPECTED.update({
    'value:negative_tau': (1, (
        "value_negative_tau.rpg:4:34: error: 'rate': Expected tau > 0, got -0.005 s\n"
        '        x -> linear(2) -> rate(tau = -5 ms) -> y\n'
        '                                     ^^^^^\n'
    )),
    'value:zero_tau': (1, (
        "value_zero_tau.rpg:4:34: error: 'rate': Expected tau > 0, got 0 s\n"
        '        x -> linear(2) -> rate(tau = 0 ms) -> y\n'
        '                                     ^^^^\n'
    )),
    'value:negative_noise': (1, (
        "value_negative_noise.rpg:4:40: error: 'rate': Expected noise_std >= 0, got -1\n"
        '        x -> linear(2) -> rate(noise_std = -1) -> y\n'
        '                                           ^^\n'
    )),
    'value:negative_std': (1, (
        "value_negative_std.rpg:4:29: error: initialiser 'normal': Expected std >= 0, got -1\n"
        '        x -> linear(2, weight = normal(-1)) -> y\n'
        '                                ^^^^^^^^^^\n'
        'hint: write normal(std) or normal(mean, std)\n'
    )),
    'value:huge_seed': (1, (
        'value_huge_seed.rpg:8:12: error: Expected seed <= 4294967295, got 1.18e+21\n'
        '        seed = 2**70\n'
        '               ^^^^^\n'
    )),
    'value:negative_data_seed': (1, (
        "value_negative_data_seed.rpg:7:12: error: dataset 'sinusoids': Expected 0 <= see"
        'd <= 4294967295, got -1\n'
        '        data = sinusoids(seed = -1)\n'
        '               ^^^^^^^^^^^^^^^^^^^^\n'
    )),
    'value:digits_split': (1, (
        "value_digits_split.rpg:7:12: error: dataset 'digits': a split of 0.999999 leaves"
        ' 0 of 1797 samples on one side; each side needs at least 10 (one per class)\n'
        '        data = digits(split = 0.999999)\n'
        '               ^^^^^^^^^^^^^^^^^^^^^^^^\n'
        'hint: use a split between 0.006 and 0.994, or 0 for no test part\n'
    )),
    'value:lr_string': (1, (
        "value_lr_string.rpg:8:27: error: optimizer 'adam' argument 'learning_rate' expec"
        'ts a number or a schedule, got the string "abc"\n'
        '        optimizer = adam(lr = "abc")\n'
        '                              ^^^^^\n'
    )),
    'value:decay_steps': (1, (
        "value_decay_steps.rpg:8:80: error: 'cosine_decay_schedule': Expected decay_steps"
        ' >= 1, got -1\n'
        '        optimizer = sgd(lr = cosine_decay_schedule(init_value = 0.1, decay_steps'
        ' = -1))\n'
        '                                                                                '
        '   ^^\n'
    )),
    'value:b1_string': (1, (
        "value_b1_string.rpg:8:38: error: optimizer 'adam' argument 'b1' expects a number"
        ', got the string "x"\n'
        '        optimizer = adam(lr = 1e-3, b1 = "x")\n'
        '                                         ^^^\n'
    )),
    'value:negative_lr': (1, (
        "value_negative_lr.rpg:8:27: error: optimizer 'adam': Expected learning_rate >= 0"
        ', got -0.001\n'
        '        optimizer = adam(lr = -1e-3)\n'
        '                              ^^^^^\n'
    )),
    'value:mu_dtype': (1, (
        "value_mu_dtype.rpg:8:44: error: optimizer 'adam' argument 'mu_dtype' expects a t"
        'ype name (float32, bfloat16, float16), got the string "flaot32"\n'
        '        optimizer = adam(lr = 1e-3, mu_dtype = flaot32)\n'
        '                                               ^^^^^^^\n'
        "hint: did you mean 'float32'?\n"
    )),
    'value:mask': (1, (
        "value_mask.rpg:8:41: error: optimizer 'adamw' argument 'mask' expects true or fa"
        'lse, got the string "w"\n'
        '        optimizer = adamw(lr = 1e-3, mask = "w")\n'
        '                                            ^^^\n'
    )),
    'value:noisy_key': (1, (
        "value_noisy_key.rpg:8:43: error: optimizer 'noisy_sgd' argument 'key' expects an"
        ' integer seed (0 to 4294967295), got the number 1.5\n'
        '        optimizer = noisy_sgd(lr = 0.1, key = 1.5)\n'
        '                                              ^^^\n'
    )),
    'value:boundaries': (1, (
        "value_boundaries.rpg:8:96: error: 'piecewise_constant_schedule' argument 'bounda"
        "ries_and_scales' expects a list of [step, scale] pairs with distinct steps >= 0"
        ' and scales >= 0, e.g. [[100, 0.1], [200, 0.1]], got the list [100, 0.1]\n'
        '        optimizer = sgd(lr = piecewise_constant_schedule(init_value = 0.1, bound'
        'aries_and_scales = [100, 0.1]))\n'
        '                                                                                '
        '                   ^^^^^^^^^^\n'
    )),
    'value:warmup_order': (1, (
        "value_warmup_order.rpg:8:109: error: 'warmup_cosine_decay_schedule': Expected wa"
        'rmup_steps < decay_steps, got 100 and 100\n'
        '        optimizer = sgd(lr = warmup_cosine_decay_schedule(init_value = 0, peak_v'
        'alue = 0.1, warmup_steps = 100, decay_steps = 100))\n'
        '                                                                                '
        '                                ^^^^^^^^^^^\n'
        'hint: decay_steps counts from step 0, warmup_steps included\n'
    )),
    'value:radam_b2': (1, (
        "value_radam_b2.rpg:8:39: error: optimizer 'radam': Expected 0 <= b2 < 1, got 1\n"
        '        optimizer = radam(lr = 1e-3, b2 = 1)\n'
        '                                          ^\n'
    )),
    'value:sgdr_cycles': (1, (
        "value_sgdr_cycles.rpg:8:56: error: 'sgdr_schedule' argument 'cosine_kwargs' expe"
        'cts a list of warmup_cosine_decay_schedule(...) calls, one per cycle, got a list'
        " holding the schedule 'cosine_decay_schedule'\n"
        '        optimizer = sgd(lr = sgdr_schedule(cosine_kwargs = [cosine_decay_schedul'
        'e(init_value = 0.1, decay_steps = 10)]))\n'
        '                                                           ^^^^^^^^^^^^^^^^^^^^^'
        '^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
    )),
    'value:negative_schedule': (1, (
        "value_negative_schedule.rpg:8:26: error: optimizer 'sgd': Expected learning_rate"
        " >= 0, got -1 (value of schedule 'constant_schedule')\n"
        '        optimizer = sgd(lr = constant_schedule(-1))\n'
        '                             ^^^^^^^^^^^^^^^^^^^^^\n'
    )),
    'value:digits_memory': (1, (
        "value_digits_memory.rpg:7:12: error: dataset 'digits' would need about 4.18 TiB "
        'of memory (data 4.18 TiB), more than the limit of 8 GiB\n'
        '        data = digits(length = 10**7)\n'
        '               ^^^^^^^^^^^^^^^^^^^^^^\n'
        'hint: make it smaller, or raise the limit with --memory-limit SIZE (e.g. 64GB) o'
        'r RPGRAPH_MEMORY_LIMIT\n'
    )),
    'value:sinusoids_memory': (1, (
        "value_sinusoids_memory.rpg:7:12: error: dataset 'sinusoids' would need about 2.1"
        '3 PiB of memory (data 2.13 PiB), more than the limit of 8 GiB\n'
        '        data = sinusoids(classes = 10**6, length = 10**5)\n'
        '               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
        'hint: make it smaller, or raise the limit with --memory-limit SIZE (e.g. 64GB) o'
        'r RPGRAPH_MEMORY_LIMIT\n'
    )),
    'value:wide_linear': (1, (
        "value_wide_linear.rpg:7:12: error: training on dataset 'sinusoids(classes = 2, l"
        "ength = 20, channels_in = 2, channels_out = 2)' would need about 3.5 GiB of memo"
        'ry (parameters, gradients and optimizer state 1 GiB, data 640 B, activations 2.5'
        ' GiB), more than the limit of 2 GiB\n'
        '        data = sinusoids(classes = 2, length = 20, channels_in = 2, channels_out'
        ' = 2)\n'
        '               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^'
        '^^^^^\n'
        'hint: make it smaller, or raise the limit with --memory-limit SIZE (e.g. 64GB) o'
        'r RPGRAPH_MEMORY_LIMIT\n'
    )),
    'value:recurrent_lif': (1, (
        "value_recurrent_lif.rpg:4:28: error: the network's parameters (largest: 'h', 37."
        '3 GiB) would need about 37.3 GiB of memory (parameters 37.3 GiB), more than the '
        'limit of 8 GiB\n'
        '        x -> linear(100000) -> h: lif(rec = true) -> linear(2) -> y\n'
        '                               ^^^^^^^^^^^^^^^^^^\n'
        'hint: make it smaller, or raise the limit with --memory-limit SIZE (e.g. 64GB) o'
        'r RPGRAPH_MEMORY_LIMIT\n'
    )),
    'value:nir_export_memory': (1, (
        "value_recurrent_lif.rpg:4:28: error: the network's parameters (largest: 'h', 37."
        '3 GiB) would need about 37.3 GiB of memory (parameters 37.3 GiB), more than the '
        'limit of 8 GiB\n'
        '        x -> linear(100000) -> h: lif(rec = true) -> linear(2) -> y\n'
        '                               ^^^^^^^^^^^^^^^^^^\n'
        'hint: make it smaller, or raise the limit with --memory-limit SIZE (e.g. 64GB) o'
        'r RPGRAPH_MEMORY_LIMIT\n'
    )),
    'value:train_memory': (1, (
        "value_wide_linear.rpg:7:12: error: training on dataset 'sinusoids(classes = 2, l"
        "ength = 20, channels_in = 2, channels_out = 2)' would need about 3.5 GiB of memo"
        'ry (parameters, gradients and optimizer state 1 GiB, data 640 B, activations 2.5'
        ' GiB), more than the limit of 2 GiB\n'
        '        data = sinusoids(classes = 2, length = 20, channels_in = 2, channels_out'
        ' = 2)\n'
        '               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^'
        '^^^^^\n'
        'hint: make it smaller, or raise the limit with --memory-limit SIZE (e.g. 64GB) o'
        'r RPGRAPH_MEMORY_LIMIT\n'
    )),
    'value:cli_seed': (1, (
        'tiny.rpg: error: Expected seed <= 4294967295, got 1e+23\n'
    )),
    'value:memory_limit': (2, (
        'rpgraph check: error: argument --memory-limit: Expected a size such as 64GB or 5'
        "12MiB, got 'lots'\n"
        "hint: see 'rpgraph check --help'\n"
    )),
})

# event data rows (rpgraph.io.events)
EXPECTED.update({
    'value:device_data': (2, (
        'rpgraph train: error: argument --device-data: Expected a size such as 64GB or 512M'
        "iB, got 'lots'\n"
        "hint: see 'rpgraph train --help'\n"
    )),
    'events:missing': (1, (
        "ev_missing.rpg:7:12: error: data file 'shd_train.h5' does not exist\n"
        '        data = shd(path = "shd_train.h5")\n'
        '               ^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
        'hint: download shd_train.h5.gz and shd_test.h5.gz from https://zenkelab.org/datasets/ an'
        'd gunzip them; rpgraph never downloads\n'
    )),
    'events:layout': (1, (
        "ev_layout.rpg:7:12: error: data file 'layout.h5' has no dataset 'spikes/times' (the SHD/"
        'SSC layout is spikes/times, spikes/units and labels)\n'
        '        data = shd(path = "layout.h5", cache = false)\n'
        '               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
    )),
    'events:not_hdf5': (1, (
        "ev_not_hdf5.rpg:7:12: error: data file 'garbage.h5' is not an HDF5 file, or it is damage"
        'd or truncated\n'
        '        data = shd(path = "garbage.h5", cache = false)\n'
        '               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
        'hint: SHD/SSC files are gunzipped .h5 files\n'
    )),
    'events:nan_time': (1, (
        "ev_nan_time.rpg:7:12: error: data file 'nan.h5': sample 1 has timestamp nan (event 1); e"
        'xpected finite times >= 0\n'
        '        data = shd(path = "nan.h5", cache = false)\n'
        '               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
        'hint: times are seconds from the start of each sample\n'
    )),
    'events:negative_time': (1, (
        "ev_negative_time.rpg:7:12: error: data file 'negative.h5': sample 1 has timestamp -0.2 ("
        'event 0); expected finite times >= 0\n'
        '        data = shd(path = "negative.h5", cache = false)\n'
        '               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
        'hint: times are seconds from the start of each sample\n'
    )),
    'events:unit_range': (1, (
        "ev_unit_range.rpg:7:12: error: data file 'unit.h5': sample 1 has unit 700 (event 1); the"
        ' data declare 700 channels (units 0..699)\n'
        '        data = shd(path = "unit.h5", cache = false)\n'
        '               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
    )),
    'events:label_range': (1, (
        "ev_label_range.rpg:7:12: error: data file 'label.h5': sample 1 has label 20; expected a "
        'class 0..19\n'
        '        data = shd(path = "label.h5", cache = false)\n'
        '               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
    )),
    'events:truncated': (1, (
        "ev_truncated.rpg:7:12: error: data file 'NMNIST/3/00001.bin' is truncated: 3 bytes is no"
        't a whole number of 5-byte (40-bit) events\n'
        '        data = nmnist(path = "NMNIST", cache = false)\n'
        '               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
    )),
    'events:fifo': (1, (
        "ev_fifo.rpg:7:12: error: data file 'pipe.h5' is not a regular file\n"
        '        data = shd(path = "pipe.h5", cache = false)\n'
        '               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
        'hint: folders, pipes and devices cannot be read as event files\n'
    )),
    'events:frame_width': (1, (
        'ev_frame_width.rpg: error: dataset \'shd(path = "ok.h5", channels = 16, cache = false)\': '
        "array 'inputs' has shape (2, 100, 16); expected (N, T, 8) for input 'x' : 8\n"
        "hint: make input 'x' 16 wide, or use data with 8 channels\n"
    )),    'events:frame_shape': (1, (
        'ev_frame_shape.rpg:2:5: error: dataset \'nmnist(path = "NMNIST_ok", length = 4, flatten = '
        "false, cache = false)': array 'inputs' has shape (1, 4, 2312) (frames (2, 34, 34) flatten"
        "ed); expected (N, T, 2048) for input 'x' : (2, 32, 32)\n"
        '        input  x : (2, 32, 32)\n'
        '        ^^^^^^^^^^^^^^^^^^^^^^\n'
        "hint: declare input 'x' : (2, 34, 34)\n"
    )),
    'events:frame_flat_port': (1, (
        'ev_frame_flat_port.rpg:2:5: error: dataset \'nmnist(path = "NMNIST_ok", length = 4, flatte'
        "n = false, cache = false)': array 'inputs' has shape (1, 4, 2312) (frames (2, 34, 34) fla"
        "ttened); expected plain channels for input 'x' : 2312\n"
        '        input  x : 2312\n'
        '        ^^^^^^^^^^^^^^^\n'
        "hint: declare input 'x' : (2, 34, 34), or bin with flatten = true\n"
    )),
    'events:port_width': (1, (
        'ev_port_width.rpg:2:5: error: dataset \'nmnist(path = "NMNIST_ok", length = 4, channels = '
        "128, cache = false)': array 'inputs' has shape (1, 4, 128); expected (N, T, 2312) for inp"
        "ut 'x' : (2, 34, 34)\n"
        '        input  x : (2, 34, 34)\n'
        '        ^^^^^^^^^^^^^^^^^^^^^^\n'
        'hint: the input takes (2, 34, 34) frames flattened channel-major (2312 channels); or decl'
        "are input 'x' : 128\n"
    )),
    'events:frame_bands': (1, (
        "ev_frame_bands.rpg:7:12: error: dataset 'nmnist': channels = 128 groups the pixels into b"
        'ands, which breaks the (2, 34, 34) frames that flatten = false keeps\n'
        '        data = nmnist(path = "NMNIST_ok", channels = 128, flatten = false, cache = f'
        'alse)\n'
        '               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^'
        '^^\n'
        'hint: leave channels out, or use flatten = true\n'
    )),
    'events:frame_units': (1, (
        "ev_frame_units.rpg:7:12: error: dataset 'events': flatten = false needs pixel events (x, "
        "y with width and height), but 'units.npz' holds units\n"
        '        data = events(path = "units.npz", flatten = false, cache = false)\n'
        '               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
        'hint: use flatten = true (one channel per unit)\n'
    )),
    'events:frame_test': (1, (
        "ev_frame_test.rpg:7:12: error: dataset 'events': the test data's frames are plain channel"
        "s but the training data's (1, 2, 2)\n"
        '        data = events(path = "pixels.npz", test = "units.npz", flatten = false, cache = f'
        'alse)\n'
        '               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^'
        '^^^^^\n'
        'hint: give both parts pixel events (x, y) of one sensor size\n'
    )),
})


def _expected(row_id: str) -> tuple[int, str]:
    rc, text = EXPECTED[row_id]
    return rc, text.replace("{LONG}", LONG_NAME)


@pytest.mark.parametrize(("row_id", "family", "argv"), ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_matrix(matrix_dir: Path, row_id: str, family: str, argv: list[str]) -> None:
    rc, out, err = run_cli(argv, matrix_dir)
    want_rc, want_err = _expected(row_id)
    assert (rc, err) == (want_rc, want_err)
    assert rc != 0
    assert "Traceback" not in err and "Traceback" not in out
    # one paragraph: no blank lines, every line the message, a quoted source line, a caret,
    # a note or a hint
    assert "\n\n" not in err.strip()


@pytest.mark.parametrize(("row_id", "family", "argv"),
                         [r for r in ROWS if r[1] != "usage"],
                         ids=[r[0] for r in ROWS if r[1] != "usage"])
def test_debug_shows_the_traceback(matrix_dir: Path, row_id: str, family: str,
                                   argv: list[str]) -> None:
    rc, _, err = run_cli(["--debug", *argv], matrix_dir)
    want_rc, want_err = _expected(row_id)
    assert rc == want_rc
    assert err.startswith("Traceback (most recent call last):")
    assert err.endswith(want_err)  # the same message follows the traceback
    raised = [line for line in err.splitlines() if not line.startswith(" ")
              and ("Error: " in line or "Error(" in line)]
    assert raised, err
    if family == "OSError":
        assert any(re.match(r"\w*Error: \[Errno", line) for line in raised), raised
    else:
        assert any(line.startswith(f"rpgraph.errors.{family}: ") for line in raised), raised


def test_debug_flag_after_the_command(matrix_dir: Path) -> None:
    rc, _, err = run_cli(["check", "missing.rpg", "--debug"], matrix_dir)
    assert rc == 1 and err.startswith("Traceback")
    assert err.endswith(_expected("file:missing_spec")[1])


@pytest.mark.parametrize("row_id", ["spec:size_mismatch", "data:nan", "cli:unknown_flag"])
def test_console_script_matches_in_process(matrix_dir: Path, row_id: str) -> None:
    """The real executable prints the same (a few rows: each start pays for importing jax)."""
    argv = next(r[2] for r in ROWS if r[0] == row_id)
    proc = run_script(argv, matrix_dir)
    assert (proc.returncode, proc.stderr) == _expected(row_id)
    assert proc.stdout == ""
    if row_id == "data:nan":
        debug = run_script(["--debug", *argv], matrix_dir)
        assert debug.returncode == 1
        assert debug.stderr.startswith("Traceback") and debug.stderr.endswith(proc.stderr)


def test_broken_pipe_is_quiet(tmp_path: Path) -> None:
    """``rpgraph graph big.rpg | head -1``: no BrokenPipeError traceback."""
    spec = tmp_path / "wide.rpg"
    spec.write_text(HDR + "".join(f"    x -> a{i}: tanh -> linear(2) -> y\n" for i in range(300))
                    + "}\n", encoding="utf-8")
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([*RPGRAPH, "graph", str(spec), "--format", "dot"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # the reader goes away
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "internal error" not in err


# --- error families --------------------------------------------------------------------------

#: Every error class the package raises, with the message families each covers (from
#: ``grep -rn "raise .*Error(" rpgraph/``) and the matrix rows that exercise them.
FAMILIES: dict[str, dict[str, list[str]]] = {
    "SpecError": {
        "spec file missing / a folder / unreadable / not UTF-8": [
            "file:missing_spec", "file:spec_is_folder", "file:unreadable_spec",
            "file:not_utf8"],
        "spec file a pipe or device / over the size cap": [
            "file:spec_is_a_pipe", "file:spec_is_a_device", "file:spec_too_large"],
        "output file cannot be written (cli)": ["file:output_folder_missing"],
        "--resume without --out (cli)": ["cli:resume_without_out"],
        "--batched without an ensemble (cli)": ["cli:batched_alone"],
        "NIR file missing / not NIR / unsupported nodes / output folder missing": [
            "nir:missing_file", "nir:not_nir", "nir:unsupported_import", "nir:conv_padding",
            "nir:unsupported_export", "nir:spec_folder_missing", "nir:output_folder_missing"],
    },
    "SpecSyntaxError": {
        "unexpected token / end of file / character": ["spec:syntax", "spec:syntax_eof",
                                                      "spec:bad_character"],
        "unknown string escape": ["spec:bad_escape"],
        "a --data expression that does not parse": ["cli:data_expr_syntax"],
        "expression nested too deeply": ["spec:nested_too_deep", "spec:long_sum"],
        "no network / a second network": ["spec:no_network", "spec:two_networks"],
        "a nameless keyword group where a setting takes none": ["spec:nameless_group"],
    },
    "SpecNameError": {
        "unknown module kind / argument": ["spec:unknown_kind", "spec:unknown_argument"],
        "unknown surrogate / surrogate on a non-spiking kind": [
            "spec:unknown_surrogate", "spec:surrogate_not_spiking"],
        "duplicate name / block": ["spec:duplicate_name", "spec:duplicate_block"],
        "undefined name": ["spec:undefined"],
        "bound matches no parameter": ["spec:bad_bound"],
        "loss target names no parameter or recorded state": ["spec:loss_unknown_state",
                                                             "spec:loss_glob_no_match"],
        "unknown loss / train setting / optimizer": ["spec:unknown_loss",
                                                     "spec:unknown_train_setting",
                                                     "spec:unknown_optimizer"],
    },
    "SpecShapeError": {
        "size mismatch": ["spec:size_mismatch"],
        "size not positive": ["spec:negative_size"],
    },
    "SpecGraphError": {
        "algebraic loop": ["spec:algebraic_loop"],
        "unreachable output": ["spec:unreachable_output"],
        "no input / output": ["spec:no_output"],
        "recursive block": ["spec:recursive_block"],
        "node budget": ["spec:block_budget"],
    },
    "SpecValueError": {
        "surrogate argument out of range / binary spikes with max_spikes_per_dt": [
            "spec:surrogate_range", "spec:binary_max_spikes", "spec:multi_with_v_reset"],
        "negative delay / a delay as long as the data": [
            "spec:negative_delay", "spec:delay_too_long"],
        "argument outside the range its kind, initialiser or optimizer declares; a train "
        "setting out of range; an optimizer argument of the wrong type": [
            "value:negative_tau", "value:zero_tau", "value:negative_noise",
            "value:negative_std", "value:huge_seed", "value:lr_string", "value:decay_steps",
            "value:cli_seed", "value:b1_string", "value:negative_lr", "value:mu_dtype",
            "value:mask", "value:noisy_key", "value:boundaries", "value:sgdr_cycles",
            "value:negative_schedule", "value:radam_b2", "value:warmup_order"],
        "estimated memory above the limit (network, training run)": [
            "value:wide_linear", "value:recurrent_lif", "value:nir_export_memory",
            "value:train_memory"],
        "unknown NIR convention": ["cli:bad_convention"],
        "bad bound target / lower above upper / enforce mode": [
            "spec:bound_target", "spec:lower_above_upper", "spec:bad_enforce"],
        "initial value outside its bound / below the floor of time constants": [
            "spec:init_outside_bounds", "spec:tau_below_floor"],
        "penalty bound without a bounds term in the loss": [
            "spec:penalty_without_term", "spec:block_penalty_without_term"],
        "rate() of parameters / freeze target without a node": [
            "spec:rate_of_params", "spec:freeze_without_node"],
        "unknown unit / unit mismatch": ["spec:bad_unit", "spec:unit_mismatch"],
        "missing argument / wrong type": ["spec:missing_argument", "spec:wrong_type"],
        "number too large / division by zero": ["spec:too_large", "spec:division_by_zero",
                                                "spec:huge_number"],
        "more devices than available": ["cli:too_many_devices"],
        "an ensemble flag combination not supported": ["cli:seeds_with_processes"],
        "a sweep key that changes structure, is unknown or repeats seeds; a bad value or one "
        "out of the argument's range": [
            "cli:sweep_structure", "cli:sweep_unknown_key", "cli:sweep_no_argument",
            "cli:sweep_bad_value", "cli:sweep_value_range", "cli:sweep_seeds_twice"],
        "several processes: missing flags, a bad address or process id": [
            "cli:processes_missing", "cli:bad_coordinator", "cli:process_id_range"],
        "NIR import without a positive dt": ["nir:zero_dt"],
    },
    "DataError": {
        "a --data expression with a bad argument, or no data set": [
            "cli:data_expr_argument", "cli:data_expr_not_a_set"],
        "wrong rank / width / empty": ["data:rank", "data:width", "data:out_width",
                                       "data:empty"],
        "NaN or inf": ["data:nan", "data:inf"],
        "labels out of range / negative / not integers": [
            "data:labels", "data:neg_labels", "data:float_labels"],
        "wrong dtype / object arrays (no pickle)": ["data:dtype", "data:object"],
        "missing arrays": ["data:no_inputs"],
        "not a zip / empty / truncated / missing file": [
            "data:text", "data:zero", "data:cut", "data:missing"],
        "over the size limit before unpacking (zip bomb) / not a regular file (FIFO)": [
            "data:bomb", "data:pipe"],
        "unknown data set / no data": ["spec:unknown_dataset", "spec:no_data"],
        "built-in data set argument out of range / arguments that cannot work together / "
        "estimated memory above the limit": [
            "value:negative_data_seed", "value:digits_split", "value:digits_memory",
            "value:sinusoids_memory"],
        "event files: missing (names the download) / wrong HDF5 layout / not HDF5 / "
        "truncated N-MNIST file / not a regular file": [
            "events:missing", "events:layout", "events:not_hdf5", "events:truncated",
            "events:fifo"],
        "event values: NaN or negative timestamps, units beyond the channel count, labels "
        "out of range; frames that do not fit the input port": [
            "events:nan_time", "events:negative_time", "events:unit_range",
            "events:label_range", "events:frame_width"],
        "event frames against a shaped input port (both shapes named, at the port): another "
        "shape, a flat port, plain channels of another width; flatten = false with channel "
        "bands or with units": [
            "events:frame_shape", "events:frame_flat_port", "events:port_width",
            "events:frame_bands", "events:frame_units", "events:frame_test"],
    },
    "CheckpointError": {
        "truncated / corrupted / empty checkpoint": [
            "file:truncated_checkpoint", "file:corrupted_checkpoint", "file:empty_checkpoint"],
        "parameter file used as a checkpoint": ["file:params_as_checkpoint"],
        "tampered values: NaN parameters, negative optimiser count, step out of range": [
            "file:nan_ck", "file:negative_count", "file:negative_step", "file:huge_step",
            "file:step_past_end"],
        "array larger than its metadata, refused unpacked (zip bomb); unreadable metadata": [
            "file:bomb_ck", "file:deep_meta"],
        "parameter file that is not a regular file (FIFO)": ["file:params_fifo"],
        "parameters of another spec": ["file:params_of_other_spec"],
        "adaptation parameters of the wrong shape (alif's beta in a parameter file, its "
        "tau_adapt in a bounds file)": ["file:alif_beta_shape", "file:alif_init_beta_shape",
                                        "file:bounds_alif_tau_adapt_shape"],
        "missing / non-npz parameter file, an ensemble's folder": [
            "file:missing_params", "file:params_ensemble_folder", "file:init_params_not_npz",
            "nir:missing_params"],
        "NIR export with parameters of another spec": ["nir:params_of_other_spec"],
        "bad bounds JSON": ["file:bounds_json_shape", "file:bounds_json_syntax"],
        "bounds JSON with NaN, a 5000-digit number, 100,000-deep nesting, a wrong shape, "
        "a lower bound of +inf": [
            "file:bounds_json_nan", "file:bounds_json_long_number", "file:bounds_json_deep",
            "file:bounds_json_element_shape", "file:bounds_json_inf_lower"],
    },
    "TrainingError": {
        "nothing to resume": ["file:nothing_to_resume"],
        "non-finite loss": ["spec:non_finite_loss"],
        "resume with other settings (spec, seed, batch size, ...)": [
            "file:checkpoint_of_other_spec", "file:resume_other_settings"],
        "--out not a run folder / holds a run / a link inside": [
            "file:out_not_a_run_folder", "file:out_holds_a_run", "file:link_in_run_folder"],
    },
    "OSError": {"a run folder that cannot be created (cli)": ["file:out_is_a_file"]},
    "usage": {
        "argparse: unknown flag, bad value, missing argument, bad choice": [
            "cli:unknown_flag", "cli:negative_epochs", "cli:epochs_not_a_number",
            "cli:negative_log_limit",
            "cli:zero_batch_size", "cli:no_command", "cli:missing_file",
            "cli:missing_params", "cli:bad_choice", "cli:bad_time", "value:memory_limit",
            "value:device_data"],
    },
}
FAMILIES["SpecShapeError"]["tensor shapes: kernel larger than the padded input, stride or "
                          "kernel < 1, groups not dividing channels, a zero in a shape, a "
                          "shaped input into linear, shapes that disagree"] = [
    "spec:kernel_too_large", "spec:bad_stride", "spec:bad_groups", "spec:zero_in_shape",
    "spec:shaped_into_linear", "spec:shape_mismatch"]
FAMILIES["SpecShapeError"]["per = channel on a vector"] = ["spec:per_channel_vector"]
FAMILIES["SpecValueError"]["a shape with a non-integer size"] = ["spec:non_integer_shape"]
FAMILIES["SpecValueError"]["dropout probability outside [0, 1)"] = ["spec:dropout_p"]
#: the families of the data-and-targets block's rows
FAMILIES["DataError"].update({
    "test_data file missing": ["spec:test_data_missing"],
    "validation split leaves no samples": ["spec:validation_too_small"],
    "data named after the ports: every mismatch at once / one-port arrays for several "
    "ports / no loss for several outputs": [
        "spec:ports_mismatch", "spec:ports_single_arrays", "spec:ports_no_loss",
        "data:ports_flag"],
})
FAMILIES["SpecValueError"].update({
    "validation / keep / tensorboard values; early stopping without a validation set": [
        "spec:bad_validation", "spec:bad_keep", "spec:bad_tensorboard", "spec:bad_precision",
        "spec:no_validation_set"],
    "an optax name that is no gradient transformation": ["spec:not_a_transform"],
})
FAMILIES["SpecNameError"].update({
    "unknown early stopping rule / optax transformation; bare target with several outputs": [
        "spec:bad_early_stopping", "spec:unknown_transform", "spec:ports_bare_target"],
})
#: Raised only by code paths the CLI matrix does not reach (covered elsewhere or not at all);
#: listed so the report can say so.
NOT_IN_MATRIX = {
    "SpecError": "NIR problems only the Python API reaches: a subgraph edge naming an "
                 "ambiguous port, a subgraph without input (tests/test_nir.py)",
    "SpecShapeError": "params/inputs of the wrong shape given to Program.evolve (Python API)",
}


def _subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _subclasses(sub)
    return out


def test_every_error_family_has_a_row() -> None:
    classes = {c.__name__ for c in _subclasses(errors.SpecError) | {errors.SpecError}
               if c.__module__ == "rpgraph.errors"}
    assert classes <= set(FAMILIES), f"no matrix rows for: {classes - set(FAMILIES)}"
    raised = set()
    for path in (ROOT / "rpgraph").rglob("*.py"):
        raised |= set(re.findall(r"raise (\w*Error)\(", path.read_text(encoding="utf-8")))
    spec_errors = {name for name in raised if name in classes}
    assert spec_errors <= set(FAMILIES)
    row_ids = {r[0] for r in ROWS}
    for cls, families in FAMILIES.items():
        for family, ids in families.items():
            assert ids, (cls, family)
            assert set(ids) <= row_ids, (cls, family, set(ids) - row_ids)
            for rid in ids:
                family_of_row = next(r[1] for r in ROWS if r[0] == rid)
                assert family_of_row == cls, (rid, family_of_row, cls)
    covered = {rid for fams in FAMILIES.values() for ids in fams.values() for rid in ids}
    assert covered == row_ids, f"rows without a family: {row_ids - covered}"
    assert set(EXPECTED) == row_ids


# --- crash safety: kill -9 during training and checkpoint writes -----------------------------

KILL_ROUNDS = int(os.environ.get("RPGRAPH_KILL_ROUNDS", "3"))
KILL_SPEC = TINY.replace("epochs    = 2", "epochs    = 150")  # 300 steps
# a checkpoint every 6 steps: 50 fsync'd writes per run, plenty of kills land inside one
# (checkpoint_every is honoured exactly; every step would cost 300 writes per run)
KILL_ARGS = ["--checkpoint-every", "6", "--quiet", "--no-plots"]


def _train_cmd(out: Path, resume: bool = False) -> list[str]:
    return [*RPGRAPH, "train", "kill.rpg", "--out", str(out), *KILL_ARGS,
            *(["--resume"] if resume else [])]


def _env() -> dict[str, str]:
    return {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}


def _params(run: Path, like: object) -> dict[str, np.ndarray]:
    tree = load_params(run / "params.npz", like)
    return {f"{n}.{k}": np.asarray(v) for n, d in tree.items() for k, v in d.items()}


def _kill_when(proc: subprocess.Popen, run: Path, mode: str, rng: random.Random) -> str:
    """Kill ``proc`` with SIGKILL; returns what it was doing, roughly."""
    deadline = time.monotonic() + 60
    if mode == "checkpoint_write":
        # busy-wait for a temporary checkpoint file: the kill lands mid-write or mid-fsync
        # (of the first checkpoint, or of a later one replacing an existing checkpoint)
        later = rng.random() < 0.7
        while later and time.monotonic() < deadline and proc.poll() is None:
            if (run / "checkpoint.npz").exists():
                time.sleep(rng.uniform(0, 0.2))
                break
            time.sleep(0.002)
        while time.monotonic() < deadline and proc.poll() is None:
            if any(p.name.endswith(".tmp") for p in run.glob(".*")):
                break
            time.sleep(0.0005)
    elif mode == "training":
        while time.monotonic() < deadline and proc.poll() is None:
            if (run / "checkpoint.npz").exists():
                break
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.4))
    else:  # any moment, including start-up (before the first checkpoint)
        time.sleep(rng.uniform(0, 6.0))
    if proc.poll() is not None:
        return "finished first"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return mode


def test_kill_9_then_resume_matches_uninterrupted(tmp_path: Path) -> None:
    (tmp_path / "kill.rpg").write_text(KILL_SPEC, encoding="utf-8")
    rng = random.Random(int(os.environ.get("RPGRAPH_KILL_SEED", "7")))
    prog = rpgraph.compile(KILL_SPEC)  # files are read against its templates
    like = prog.init(0)
    opt_like = rpgraph.train.resolve(prog).optimizer.init(like)
    reference = subprocess.Popen(_train_cmd(tmp_path / "reference"), cwd=tmp_path, env=_env(),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    survived: list[str] = []
    modes = ["checkpoint_write", "training", "anytime"]
    for i in range(KILL_ROUNDS):
        run = tmp_path / f"run{i}"
        mode = modes[i % len(modes)]
        proc = subprocess.Popen(_train_cmd(run), cwd=tmp_path, env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        what = _kill_when(proc, run, mode, rng)
        # the run directory is readable: a complete checkpoint or none at all
        resume = False
        if (run / "checkpoint.npz").exists():
            ck = load_checkpoint(run, params_like=like, opt_state_like=opt_like)
            assert 0 < ck.step <= 300 and ck.extra["total_steps"] == 300
            resume = True
        if (run / "metrics.jsonl").exists():
            rpgraph.train.read_metrics(run / "metrics.jsonl")
        done = subprocess.run(_train_cmd(run, resume=resume), cwd=tmp_path, env=_env(),
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (what, done.stderr)
        survived.append(f"{what}:{'resumed' if resume else 'restarted'}")
    out, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err
    want = _params(tmp_path / "reference", like)
    want_metrics = rpgraph.train.read_metrics(tmp_path / "reference" / "metrics.jsonl")
    for i in range(KILL_ROUNDS):
        got = _params(tmp_path / f"run{i}", like)
        assert got.keys() == want.keys()
        for key in want:
            assert got[key].dtype == want[key].dtype
            assert got[key].tobytes() == want[key].tobytes(), (i, survived[i], key)
        metrics = rpgraph.train.read_metrics(tmp_path / f"run{i}" / "metrics.jsonl")
        assert [m["step"] for m in metrics] == list(range(300)), (i, survived[i])
        # the resumed run's logged losses are the uninterrupted run's, step for step
        assert [m["loss"] for m in metrics] == [m["loss"] for m in want_metrics], i
    print(f"\nkill -9 rounds survived: {len(survived)}/{KILL_ROUNDS}: {survived}")


# --- long runs ---------------------------------------------------------------------------------

def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_long_run_memory_flat_and_metrics_appended(tmp_path: Path) -> None:
    """10x the tutorial's 3,000 steps on a tiny network: RSS stays flat after warm-up, and
    metrics.jsonl grows in place (same inode, never shrinks) to one line per step."""
    from rpgraph.train import fit, read_metrics

    steps = 30_000
    prog = rpgraph.compile(TINY)
    samples: list[tuple[int, int, int, int]] = []  # (lines so far, inode, size, rss)
    metrics = tmp_path / "run" / "metrics.jsonl"

    def watch(step: int, params: object) -> None:  # after every chunk, in the training loop
        st = metrics.stat()
        with open(metrics, "rb") as f:
            lines = f.read().count(b"\n")
        samples.append((lines, st.st_ino, st.st_size, _rss_kib()))

    result = fit(prog, epochs=steps // 2, out_dir=tmp_path / "run", progress=False,
                 checkpoint_every=1000, chunk=500, callback=watch)
    assert result.steps == steps
    rows = read_metrics(metrics)
    assert [r["step"] for r in rows] == list(range(steps))
    assert len(samples) == steps // 500
    assert [s[0] for s in samples] == list(range(500, steps + 1, 500))  # appended per chunk
    inodes = {s[1] for s in samples}
    assert len(inodes) == 1, "metrics.jsonl was replaced during the run"
    sizes = [s[2] for s in samples]
    assert sizes == sorted(sizes), "metrics.jsonl shrank during the run"
    warm = [s[3] for s in samples if s[0] >= steps // 5]
    assert warm, samples[-3:]
    growth_mib = (max(warm) - warm[0]) / 1024
    print(f"\nRSS after warm-up {warm[0] / 1024:.0f} MiB, growth {growth_mib:.1f} MiB "
          f"over {steps} steps")
    assert growth_mib < 64


# --- signals and the end of a run ---------------------------------------------------------------

def test_interrupt_before_the_run_folder_exists_does_not_suggest_resume(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt

    (tmp_path / "tiny.rpg").write_text(TINY, encoding="utf-8")
    monkeypatch.setattr(rpgraph.train, "fit", interrupted)
    rc, _, err = run_cli(["train", "tiny.rpg", "--out", "fresh", *TRAIN], tmp_path)
    assert (rc, err) == (130, "interrupted before the first checkpoint; nothing to resume\n")


def test_sigterm_says_how_to_resume_and_more_epochs_extend_the_run(tmp_path: Path) -> None:
    """SIGTERM stops like Ctrl-C, with a message; the resumed run finishes; resuming the
    finished run reports it (not a rate of millions of steps/s); more epochs extend it."""
    (tmp_path / "kill.rpg").write_text(KILL_SPEC, encoding="utf-8")
    run = tmp_path / "r"
    args = ["train", "kill.rpg", "--out", "r", "--checkpoint-every", "1", "--no-plots"]
    proc = subprocess.Popen([*RPGRAPH, *args], cwd=tmp_path, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while not (run / "checkpoint.npz").exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before SIGTERM arrived")
    assert proc.returncode == 143, err
    assert err.splitlines()[-1] == \
        "terminated; continue the run with: rpgraph train kill.rpg --out r --resume"
    done = run_script([*args, "--resume", "--quiet"], tmp_path)
    assert done.returncode == 0, done.stderr
    again = run_script([*args, "--resume"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("the run had already finished its 300 steps; ")
    more = run_script([*args, "--resume", "--epochs", "160"], tmp_path)
    assert more.returncode == 0, more.stderr
    assert more.stdout.startswith("trained 20 steps in "), more.stdout
