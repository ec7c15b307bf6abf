"""The ``rpgraph`` command line, in-process through ``rpgraph.cli.main`` (plus two
end-to-end runs of the console script): check, graph, fmt, bounds, train, eval, and how
usage mistakes and spec errors are reported."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rpgraph
from rpgraph.bounds import from_json, read_json
from rpgraph.cli import main
from rpgraph.io.data import sinusoids

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
#: Specs whose data users download themselves (tests/test_events.py checks that `check` names
#: the missing file); the others check as shipped.
NEEDS_DOWNLOAD = {"shd_rsnn", "nmnist_conv"}  # data users fetch themselves (see test_specs)
ALL_SPECS = [p for p in sorted(SPECS.glob("*.rpg")) if p.stem not in NEEDS_DOWNLOAD]
RPGRAPH = Path(sys.executable).parent / "rpgraph"
Capture = pytest.CaptureFixture[str]

SMALL = """network small (dt = 1 ms) {
    input x : 20
    output y : 2
    x -> linear(8) -> hidden: rate(activation = tanh) -> linear(2) -> y
}

bounds {
    hidden.tau >= 10 * dt  enforce project
}

train {
    data = sinusoids(classes = 3, length = 20, channels_in = 20)
    loss = mse(y, target)
    optimizer = adam(lr = 1e-2)
    epochs = 5
}
"""
BAD = "network n {\n    input x : 3\n    output y : 2\n    x -> linera(2) -> y\n}\n"


def sin_arrays(**kw: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of the built-in ``sinusoids`` data set."""
    ds = sinusoids(**kw)
    assert ds.targets is not None
    return ds.inputs, ds.targets


@pytest.fixture()
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.rpg"
    path.write_text(SMALL)
    return path


def run(capsys: Capture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def usage(capsys: Capture, *argv: str) -> str:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    return err


# --- check, graph, fmt -----------------------------------------------------------------------


def test_check_every_shipped_spec(capsys: Capture) -> None:
    assert ALL_SPECS
    code, out, err = run(capsys, "check", *map(str, ALL_SPECS))
    assert code == 0, err
    assert err == "" and out.count(": ok") == len(ALL_SPECS)


def test_check_bad_spec_reports_on_stderr(capsys: Capture, tmp_path: Path) -> None:
    bad = tmp_path / "bad.rpg"
    bad.write_text(BAD)
    code, out, err = run(capsys, "check", str(bad))
    assert code == 1 and out == ""
    assert f"{bad}:4:10: error: unknown module kind 'linera'" in err
    assert "^^^^^^" in err and "did you mean 'linear'" in err and "Traceback" not in err


def test_check_prints_spec_warnings_and_succeeds(capsys: Capture, tmp_path: Path) -> None:
    spec = tmp_path / "w.rpg"
    spec.write_text("network n (dt = 1 ms) {\n input x : 2\n output y : 2\n"
                    " x -> rate(tau = 20) -> y\n}\n", encoding="utf-8")
    code, out, err = run(capsys, "check", str(spec))
    assert code == 0 and out == f"{spec}: ok\n"
    assert err == (f"{spec}:4:18: warning: 'rate_0.tau' = 20 has no unit, so it is 20 s: "
                   "20000 steps of dt = 1 ms\n"
                   "     x -> rate(tau = 20) -> y\n"
                   "                     ^^\n"
                   "hint: write 20 ms if you meant milliseconds (a number without a unit is "
                   "in seconds)\n")


def test_graph_formats(capsys: Capture) -> None:
    spec = str(SPECS / "tutorial_rate.rpg")
    code, out, _ = run(capsys, "graph", spec)
    assert code == 0 and "hidden" in out and "linear_0" in out
    code, out, _ = run(capsys, "graph", spec, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert "hidden" in json.dumps(data)
    code, out, _ = run(capsys, "graph", spec, "--format", "dot")
    assert code == 0 and out.lstrip().startswith(("digraph", "strict digraph")) and "hidden" in out


def test_fmt_check_and_write(capsys: Capture, small: Path) -> None:
    code, formatted, _ = run(capsys, "fmt", str(small))
    assert code == 0 and formatted != SMALL  # aligned differently from the canonical layout
    assert rpgraph.compile(formatted).network.spec.train is not None
    code, _, err = run(capsys, "fmt", "--check", str(small))
    assert code == 1 and "would be reformatted" in err
    code, _, _ = run(capsys, "fmt", "--write", str(small))
    assert code == 0 and small.read_text() == formatted
    code, out, err = run(capsys, "fmt", "--check", str(small))
    assert (code, out, err) == (0, "", "")


# --- bounds ----------------------------------------------------------------------------------


def test_bounds_formats_and_json_round_trip(capsys: Capture, tmp_path: Path) -> None:
    spec = str(SPECS / "tutorial_rate.rpg")
    code, table, _ = run(capsys, "bounds", spec)
    assert code == 0
    row = next(line for line in table.splitlines() if line.startswith("hidden.tau"))
    assert row.split() == ["hidden.tau", "(200,)", "taus", "0.01", "inf", "penalty"]
    code, py, _ = run(capsys, "bounds", spec, "--format", "python")
    assert code == 0 and "lower_bounds = {" in py and "'tau': 0.01" in py
    code, text, _ = run(capsys, "bounds", spec, "--format", "json")
    assert code == 0
    lower, upper = from_json(text)
    want = rpgraph.compile(spec).bounds_template()
    assert (lower, upper) == want
    assert upper["hidden"]["tau"] == math.inf and lower["linear_0"]["weight"] == -math.inf
    raw = json.loads(text)  # strict JSON: infinities are strings
    assert raw["upper"]["hidden"]["tau"] == "inf" and raw["lower"]["hidden"]["tau"] == 0.01
    out = tmp_path / "b.json"
    code, _, err = run(capsys, "bounds", spec, "--format", "json", "-o", str(out))
    assert code == 0 and "wrote" in err and read_json(out) == want


# --- train, eval -----------------------------------------------------------------------------


def test_train_quiet_then_eval(capsys: Capture, small: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, stdout, stderr = run(capsys, "train", str(small), "--epochs", "2", "--quiet",
                               "--out", str(out))
    assert (code, stdout, stderr) == (0, "", "")
    assert {"params.npz", "checkpoint.npz", "metrics.jsonl", "loss.png", "outputs.png",
            "param_hidden.tau.png"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "config.json").read_text())["epochs"] == 2
    code, stdout, _ = run(capsys, "eval", str(small), "--params", str(out))
    assert code == 0
    metrics = dict(line.split(": ") for line in stdout.splitlines())
    summary = json.loads((out / "summary.json").read_text())
    assert set(metrics) == {"mse", "loss"}
    assert float(metrics["loss"]) == pytest.approx(summary["loss"], rel=1e-5)
    params = rpgraph.compile(small).load_params(out)
    assert float(np.min(params["hidden"]["tau"])) >= np.float32(0.01)


def test_train_progress_lines_when_not_a_tty(capsys: Capture, small: Path,
                                             tmp_path: Path) -> None:
    code, stdout, stderr = run(capsys, "train", str(small), "--epochs", "1", "--no-plots",
                               "--out", str(tmp_path / "run"))
    assert code == 0
    lines = stderr.splitlines()
    assert lines and all(line.startswith("epoch ") for line in lines)
    assert lines[-1].startswith("epoch 1/1  step 3/3")
    assert "trained 3 steps" in stdout and "run directory:" in stdout
    assert not (tmp_path / "run" / "loss.png").exists()


def test_train_with_edited_bounds_file(capsys: Capture, small: Path, tmp_path: Path) -> None:
    bfile = tmp_path / "bounds.json"
    assert main(["bounds", str(small), "--format", "json", "-o", str(bfile)]) == 0
    data = json.loads(bfile.read_text())
    data["lower"]["hidden"]["tau"] = 0.019
    data["lower"]["linear_1"]["weight"], data["upper"]["linear_1"]["weight"] = -0.02, 0.02
    bfile.write_text(json.dumps(data))
    # the spec leaves linear_1.weight unbounded; its enforcement follows the spec's default
    spec = small.read_text().replace("bounds {", "bounds {\n    enforce = project")
    small.write_text(spec)
    out = tmp_path / "run"
    code, _, err = run(capsys, "train", str(small), "--quiet", "--no-plots", "--out", str(out),
                       "--bounds", str(bfile))
    assert code == 0, err
    params = rpgraph.compile(small).load_params(out)
    assert float(np.min(params["hidden"]["tau"])) >= np.float32(0.019)
    assert float(np.max(np.abs(params["linear_1"]["weight"]))) <= np.float32(0.02)
    assert read_json(out / "bounds.json")[0]["hidden"]["tau"] == 0.019
    data["lower"]["nothere"] = {"w": 0}
    bfile.write_text(json.dumps(data))
    code, _, err = run(capsys, "train", str(small), "--quiet", "--out", str(out), "--bounds",
                       str(bfile))
    assert code == 1 and "nothere.w" in err and "Traceback" not in err


def test_train_npz_data_and_mismatch(capsys: Capture, small: Path, tmp_path: Path) -> None:
    inputs, targets = sin_arrays(classes=3, length=20, channels_in=20)
    good = tmp_path / "good.npz"
    np.savez(good, inputs=inputs, targets=targets)
    code, _, err = run(capsys, "train", str(small), "--data", str(good), "--epochs", "1",
                       "--quiet", "--no-plots", "--out", str(tmp_path / "run"))
    assert code == 0, err
    bad = tmp_path / "bad.npz"
    np.savez(bad, inputs=inputs[:, :, :7], targets=targets)
    code, _, err = run(capsys, "train", str(small), "--data", str(bad), "--quiet",
                       "--out", str(tmp_path / "run2"))
    assert code == 1 and "Traceback" not in err
    assert "bad.npz" in err and "'inputs'" in err and "(3, 20, 7)" in err and "(N, T, 20)" in err


def test_train_non_finite_loss_exits_with_message(capsys: Capture, small: Path,
                                                  tmp_path: Path) -> None:
    inputs, targets = sin_arrays(classes=3, length=20, channels_in=20)
    targets = targets.copy()
    targets[1, 0, 0] = 1e30
    np.savez(tmp_path / "huge.npz", inputs=inputs, targets=targets)
    code, _, err = run(capsys, "train", str(small), "--data", str(tmp_path / "huge.npz"),
                       "--quiet", "--no-plots", "--out", str(tmp_path / "run"))
    assert code == 1 and "step 1" in err and "mse(y, target)" in err and "Traceback" not in err


# --- usage mistakes --------------------------------------------------------------------------


def test_unknown_flag_and_negative_epochs_exit_2(capsys: Capture, small: Path) -> None:
    err = usage(capsys, "train", str(small), "--frobnicate")
    assert "unrecognized arguments: --frobnicate" in err and len(err.strip().splitlines()) <= 3
    err = usage(capsys, "train", str(small), "--epochs", "-3")
    assert "--epochs" in err and "-3" in err and len(err.strip().splitlines()) <= 3
    err = usage(capsys, "bounds", str(small), "--format", "yaml")
    assert "invalid choice" in err


def test_debug_shows_traceback(capsys: Capture, tmp_path: Path) -> None:
    bad = tmp_path / "bad.rpg"
    bad.write_text(BAD)
    code, _, err = run(capsys, "graph", str(bad))
    assert code == 1 and "Traceback" not in err and "unknown module kind" in err
    code, _, err = run(capsys, "--debug", "graph", str(bad))
    assert code == 1 and "Traceback (most recent call last)" in err
    assert "unknown module kind" in err


# --- the console script ----------------------------------------------------------------------


def test_console_script_end_to_end(tmp_path: Path, small: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.run([str(RPGRAPH), "train", str(small), "--epochs", "1", "--quiet",
                           "--no-plots", "--out", str(out)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
    proc = subprocess.run([str(RPGRAPH), "eval", str(small), "--params", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("mse: ")


def test_check_validates_the_train_block_too(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "d.rpg"
    spec.write_text("network d {\n    input x : 4\n    output y : 2\n    x -> linear(2) -> y\n}\n"
                    "train {\n    data = sinusoids(classes = 3, channels_in = 4)\n"
                    "    optimizer = adamm(lr = 1e-3)\n}\n", encoding="utf-8")
    code, _, err = run(capsys, "check", str(spec))
    assert code == 1
    assert err == (
        f"{spec}:8:17: error: unknown optimizer 'adamm'\n"
        "        optimizer = adamm(lr = 1e-3)\n"
        "                    ^^^^^\n"
        "hint: did you mean 'adam'?\n")


def test_warnings_print_as_one_line_each(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Approximation warnings reach the user as 'warning: ...', not as a source path and a
    line of rpgraph's code; --debug keeps Python's own format."""
    import nir

    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([2])),
               "lif": nir.LIF(tau=np.full(2, 0.02), r=np.ones(2), v_leak=np.zeros(2),
                              v_threshold=np.ones(2)),
               "output": nir.Output(output_type=np.array([2]))},
        edges=[("input", "lif"), ("lif", "output")])
    nir.write(tmp_path / "lif.nir", graph)
    argv = ["nir", "import", str(tmp_path / "lif.nir"), "--dt", "1ms", "-o",
            str(tmp_path / "lif.rpg")]
    assert main(argv) == 0
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[-1] == f"wrote {tmp_path / 'lif.rpg'} and {tmp_path / 'lif.params.npz'}"
    assert lines[:-1] and all(line.startswith("warning: NIR import: ") for line in lines[:-1])
    assert "UserWarning" not in err and ".py:" not in err
    with pytest.warns(UserWarning, match="NIR import: "):  # left to Python's warnings
        assert main(["--debug", *argv]) == 0


def test_nir_export_nested_and_flat(tmp_path: Path) -> None:
    import nir

    spec = tmp_path / "blocks.rpg"
    spec.write_text("block layer(n) {\n    input i\n    output o\n"
                    "    i -> w: linear(n) -> l: lif -> o\n}\n\n"
                    "network blocks (dt = 1 ms) {\n    input x : 3\n    output y : 2\n"
                    "    x -> a: layer(4) -> b: layer(2) -> y\n}\n", encoding="utf-8")
    for flag, want in (([], {"a", "b", "x", "y"}),
                       (["--flat"], {"a_w", "a_l", "b_w", "b_l", "x", "y"})):
        out = tmp_path / f"blocks{len(flag)}.nir"
        assert main(["nir", "export", str(spec), "-o", str(out), *flag]) == 0
        assert set(nir.read(out).nodes) == want


def test_python_dash_m_and_version() -> None:
    """``python -m rpgraph`` is the same command, for installs without the script on PATH."""
    proc = subprocess.run([sys.executable, "-m", "rpgraph", "--version"], capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"rpgraph {rpgraph.__version__}"
