"""The ``rpgraph`` command line.

    rpgraph check FILE...                  validate specs (diagnostics on stderr)
    rpgraph graph FILE [--format F]        module tree, node-link JSON or Graphviz DOT
    rpgraph fmt FILE [--check|--write]     canonical formatting
    rpgraph bounds FILE [--format F]       the make_bounds-style template (json|python|table)
    rpgraph train FILE [...]               train as the spec's train block says
    rpgraph eval FILE --params DIR         metrics of trained parameters
    rpgraph nir export|import ...          NIR interchange

A mistake in a spec, a data file or a flag prints one message (file:line:col, the source
line with a caret, a hint) and exits with status 1; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from . import __version__
from .errors import SpecError, SpecValueError, SpecWarning
from .vocab import UNITS

if TYPE_CHECKING:
    from .compile import Program
    from .train import FitOptions, FitResult

EXIT_SPEC = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # one paragraph, no traceback, usage status (argparse's own behaviour, but shorter)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n"
                              f"hint: see '{self.prog} --help'\n")


def _non_negative(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"Expected a whole number, got '{text}'") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"Expected a number >= 0, got {n}")
    return n


def _positive(text: str) -> int:
    n = _non_negative(text)
    if n == 0:
        raise argparse.ArgumentTypeError("Expected a number >= 1, got 0")
    return n


def _memory_size(text: str) -> int:
    from .memory import parse_size

    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _time(text: str) -> float:
    t = text.strip()
    for unit in sorted(UNITS, key=len, reverse=True):
        if t.endswith(unit) and UNITS[unit][1] == "time":
            try:
                return float(t[: -len(unit)]) * UNITS[unit][0]
            except ValueError:
                break
    try:
        return float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"Expected a time such as 1ms, got '{text}'") from None


def _write_text(path: str | Path, text: str, what: str) -> None:
    """Write an output file; a failure is a one-paragraph SpecError, not a traceback."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise SpecError(f"cannot write {what} '{path}': folder '{folder}' does not exist",
                        hint="create it first, or pick another path")
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as err:
        raise SpecError(f"cannot write {what} '{path}': {err.strerror or type(err).__name__}",
                        hint="check the path and its permissions") from None


# --- commands --------------------------------------------------------------------------------


def cmd_check(a: argparse.Namespace) -> int:
    """``rpgraph check FILE...``: parse, build and compile each spec, train block included."""
    from .compile import check
    from .train_config import elaborate_train, open_data

    bad = 0
    for f in a.files:
        try:
            net = check(f)  # all of compile's checks, without JAX (see compile.check)
            config = elaborate_train(net)
            if config is not None:
                # the train block too: its settings, and its data read and checked against
                # the network, as training would
                open_data(net, config, allow_outside=a.allow_outside)
            print(f"{f}: ok")
        except SpecError as err:
            if getattr(a, "debug", False):
                traceback.print_exc()
            print(err, file=sys.stderr)
            bad += 1
    return EXIT_SPEC if bad else 0


def cmd_graph(a: argparse.Namespace) -> int:
    """``rpgraph graph FILE``: the module graph as text, node-link JSON or DOT."""
    from .graph import load
    from .graph.show import summary, to_dot, to_json

    net = load(a.file)
    views: dict[str, Callable[..., str]] = {"text": summary, "json": to_json, "dot": to_dot}
    print(views[a.format](net))
    return 0


def cmd_fmt(a: argparse.Namespace) -> int:
    """``rpgraph fmt FILE...``: canonical formatting (``--check``, ``--write``)."""
    from .fmt import fmt
    from .parse import parse_file

    if len(a.files) > 1 and not (a.check or a.write):
        raise SpecError("formatting several files needs --check or --write",
                        hint="or give one file to print it formatted")
    unformatted = 0
    for file in a.files:
        spec = parse_file(file)
        out = fmt(spec.source, str(file))
        if a.check:
            if out != spec.source:
                print(f"{file}: would be reformatted", file=sys.stderr)
                unformatted += 1
        elif a.write:
            if out != spec.source:
                _write_text(file, out, "spec file")
        else:
            sys.stdout.write(out)
    return EXIT_SPEC if unformatted else 0


def cmd_bounds(a: argparse.Namespace) -> int:
    """``rpgraph bounds FILE``: the make_bounds-style template (json, python, table)."""
    from .bounds import FORMATS
    from .compile import compile

    prog = compile(a.file)
    lower, upper = prog.bounds_template()
    text = FORMATS[a.format](lower, upper, prog.network)
    if a.output:
        _write_text(a.output, text + ("\n" if not text.endswith("\n") else ""),
                    "bounds file")
        print(f"wrote {a.output}", file=sys.stderr)
    else:
        print(text)
    return 0


def _load_bounds(prog: object, path: str | None) -> tuple[dict, dict] | None:
    if path is None:
        return None
    from .bounds import check_like, read_json

    lower, upper = read_json(path)
    check_like(lower, upper, prog.network, path)  # type: ignore[attr-defined]
    return lower, upper


def _use_cache(a: argparse.Namespace) -> None:
    """JAX's persistent compilation cache, unless ``--no-cache`` (see
    :mod:`rpgraph.compile.cache`); before anything compiles."""
    if not getattr(a, "no_cache", False):
        from .compile.cache import enable_cache

        enable_cache()


def _preload_plots() -> None:
    """Import matplotlib (0.4 s of CPU) on a thread while JAX compiles and trains, which
    release the GIL: the plots at the end then start at once (an import in progress is
    waited for, not repeated)."""
    from .train.plots import _plt

    _plt()


def cmd_train(a: argparse.Namespace) -> int:
    """``rpgraph train FILE``: the spec's training run, flags overriding its train block."""
    from .train.distributed import cluster_from

    if a.batched and a.seeds is None and not a.set:
        raise SpecError("--batched is for ensembles and sweeps",
                        hint="add --seeds K or --set KEY=V1,V2,...")
    cluster = cluster_from(a.coordinator, a.num_processes, a.process_id)
    if cluster is not None and (a.seeds is not None or a.set):
        raise SpecValueError("--seeds and --set do not work with several processes yet",
                             hint="train the ensemble in one process")
    _use_cache(a)
    if cluster is not None:  # before JAX computes anything
        from .train.distributed import initialize

        initialize(cluster)
        a.quiet = a.quiet or not cluster.writes  # process 0 speaks for all
    from .compile import compile
    from .train import FitOptions, default_run_dir, fit
    from .train.plots import write_plots

    prog = compile(a.file)
    if not a.no_plots:  # rpgraph's own modules are imported by now: only matplotlib is left
        threading.Thread(target=_preload_plots, daemon=True).start()
    out = Path(a.out) if a.out else None
    if a.resume and out is None:
        raise SpecError("--resume needs --out DIR (the run to continue)",
                        hint="rpgraph train SPEC --out runs/NAME --resume")
    out = out or default_run_dir(prog)
    if a.seeds is not None or a.set:
        return _train_ensemble(a, prog, out)
    params = prog.load_params(a.init_params) if a.init_params else None
    options = FitOptions(
        epochs=a.epochs, seed=a.seed, batch_size=a.batch_size, out_dir=out, resume=a.resume,
        progress=not a.quiet, params=params, checkpoint_every=a.checkpoint_every,
        devices=a.devices, bounds=_load_bounds(prog, a.bounds),
        on_end=None if a.no_plots else write_plots, allow_outside=a.allow_outside,
        tensorboard=a.tensorboard or None, force=a.force, device_data=a.device_data,
        **({} if a.log_limit is None else {"log_limit": a.log_limit}))
    try:
        result = fit(prog, a.data, options=options)
    except KeyboardInterrupt as stop:
        return _stopped(a, out, [out], stop)
    if not a.quiet:
        if result.epochs and result.epochs[-1].get("stop"):
            best = [r["epoch"] for r in result.epochs if r.get("best")]
            print(f"early stopping after epoch {result.epochs[-1]['epoch']}: no better "
                  f"validation loss since epoch {best[-1] if best else '?'}")
        metrics = "  ".join(f"{k} {v:.4g}" for k, v in result.metrics.items())
        ran = result.steps - result.start
        if ran:
            print(f"trained {ran} steps in {result.seconds:.1f} s "
                  f"({ran / max(result.seconds, 1e-9):.0f} steps/s); {metrics}")
        else:
            print(f"the run had already finished its {result.steps} steps; {metrics}")
        print(f"run directory: {out}")
    return 0


def _stopped(a: argparse.Namespace, out: Path, runs: list[Path],
             stop: KeyboardInterrupt) -> int:
    """Ctrl-C or SIGTERM during training: how to continue, where every run folder has a
    checkpoint (only such a run can be continued); the exit status."""
    from .io.checkpoint import latest_checkpoint

    what = "terminated" if isinstance(stop, _Terminated) else "interrupted"
    if runs and all(latest_checkpoint(r) is not None and (r / ".rpgraph-run").is_file()
                    for r in runs):
        again = ["rpgraph train", a.file,
                 *([f"--seed {a.seed}"] if a.seed is not None else []),
                 *([f"--seeds {a.seeds}"] if a.seeds is not None else []),
                 *(f"--set {text}" for text in a.set or []),
                 *(["--batched"] if a.batched else []), f"--out {out} --resume"]
        print(f"{what}; continue the run with: {' '.join(again)}", file=sys.stderr)
    else:
        print(f"{what} before the first checkpoint; nothing to resume", file=sys.stderr)
    return 143 if isinstance(stop, _Terminated) else 130


def _train_ensemble(a: argparse.Namespace, prog: Program, out: Path) -> int:
    """``rpgraph train FILE --seeds K``: K models (seeds S..S+K-1, S from --seed or the train
    block) in one program, one run directory each under ``out``; ``--set KEY=V1,V2,...``:
    the grid of those values, likewise (see :mod:`rpgraph.train.sweep`)."""
    from .train import FitOptions
    from .train.plots import write_plots
    from .train_config import elaborate_train

    if a.seed is not None:
        first = a.seed
    else:
        config = elaborate_train(prog.network)
        first = config.seed if config is not None else 0
    options = FitOptions(
        epochs=a.epochs, batch_size=a.batch_size, out_dir=out, resume=a.resume,
        progress=not a.quiet, checkpoint_every=a.checkpoint_every,
        params=prog.load_params(a.init_params) if a.init_params else None,
        devices=a.devices, bounds=_load_bounds(prog, a.bounds), seed=first,
        on_end=None if a.no_plots else write_plots, allow_outside=a.allow_outside)
    try:
        results = _fit_models(a, prog, options, first)
    except KeyboardInterrupt as stop:
        runs = sorted(p for p in out.iterdir() if p.is_dir()) if out.is_dir() else []
        return _stopped(a, out, runs, stop)
    if not a.quiet:
        ran = max(r.steps - r.start for r in results)  # this call's steps (--resume)
        print(f"trained {len(results)} models x {ran} steps in one program in "
              f"{results[0].seconds:.1f} s "
              f"({len(results) * ran / max(results[0].seconds, 1e-9):.0f} model-steps/s)")
        for r in results:
            metrics = "  ".join(f"{k} {v:.4g}" for k, v in r.metrics.items())
            print(f"{r.run_dir.name if r.run_dir else ''}: {metrics}  ({r.run_dir})")
    return 0


def _fit_models(a: argparse.Namespace, prog: Program, options: FitOptions, first: int
                ) -> list[FitResult]:
    """The ensemble (``--seeds``) or sweep (``--set``) of ``rpgraph train``."""
    from .train.ensemble import fit_ensemble
    from .train.sweep import fit_sweep, parse_axis

    if a.set:
        axes = [parse_axis(text, prog.network) for text in a.set]
        if a.seeds is not None:
            if any(x.key == "seed" for x in axes):
                raise SpecValueError("--seeds and --set seed=... both give the seeds",
                                     hint="give the seeds once")
            axes.append(parse_axis("seed=" + ",".join(str(first + i) for i in range(a.seeds))))
        return fit_sweep(prog, a.data, axes=axes, options=options, batched=a.batched)
    seeds = list(range(first, first + a.seeds))
    return fit_ensemble(prog, a.data, seeds=seeds, options=options, batched=a.batched)


def cmd_eval(a: argparse.Namespace) -> int:
    """``rpgraph eval FILE --params DIR``: loss and accuracy of trained parameters."""
    _use_cache(a)
    from .compile import compile
    from .train import evaluate, resolve
    from .train.evaluate import evaluate_part

    prog = compile(a.file)
    params = prog.load_params(a.params)
    st = resolve(prog, a.data, allow_outside=a.allow_outside)
    metrics = evaluate(prog, params, st.data)
    if st.validation is not None and st.validation is not st.data.test:
        metrics.update({f"val_{k}": v for k, v in
                        evaluate_part(prog, params, st.validation).items()})
    for k, v in metrics.items():
        print(f"{k}: {v:.6g}")
    return 0


def cmd_nir_export(a: argparse.Namespace) -> int:
    """``rpgraph nir export FILE -o NET.nir``: the network and parameters as NIR."""
    from .compile import compile
    from .nir import to_nir, write_nir

    prog = compile(a.file)
    params = prog.load_params(a.params) if a.params else prog.init(0)
    write_nir(to_nir(prog, params, convention=a.convention, nested=False if a.flat else None),
              a.output)
    print(f"wrote {a.output}", file=sys.stderr)
    return 0


def cmd_nir_import(a: argparse.Namespace) -> int:
    """``rpgraph nir import NET.nir --dt DT -o FILE.rpg``: a spec plus parameters."""
    from .io.checkpoint import save_params, spec_hash
    from .nir import from_nir

    net, params = from_nir(a.file, dt=a.dt, convention=a.convention)
    spec_path = Path(a.output)
    params_path = spec_path.with_suffix(".params.npz")
    _write_text(spec_path, net.source, "spec file")
    save_params(params_path, params, spec_hash=spec_hash(net.source))
    print(f"wrote {spec_path} and {params_path}", file=sys.stderr)
    return 0


# --- parser ----------------------------------------------------------------------------------


def _with_debug(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    # also after the command ('rpgraph train x.rpg --debug'); SUPPRESS keeps the top-level
    # default when the flag is not given here
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks for errors")
    return parser


def _with_compile_flags(commands: Mapping[str, argparse.ArgumentParser]) -> None:
    """``--no-cache`` for the commands that compile and run, ``--seeds K`` for ``train``."""
    for name in ("train", "eval"):
        commands[name].add_argument("--no-cache", action="store_true",
                                    help="don't use the compilation cache (default folder "
                                    "~/.cache/rpgraph/jax; RPGRAPH_CACHE_DIR=DIR|off)")
    commands["train"].add_argument("--seeds", type=_positive, metavar="K",
                                   help="train K models (seeds S..S+K-1) in one program; "
                                   "--out gets a seed-S folder per model")
    commands["train"].add_argument("--set", action="append", metavar="KEY=V1,V2,...",
                                   help="sweep: train the grid of these values in one program "
                                   "(KEY: seed or optimizer.<argument>, e.g. optimizer.lr); "
                                   "--out gets a folder per point")
    commands["train"].add_argument("--batched", action="store_true",
                                   help="with --seeds/--set: vmap the models (faster where "
                                   "they share each batch; equal to their single runs within "
                                   "float tolerance, not bit for bit)")


_DATA_HELP = ("a .npz file (inputs and targets or labels, or arrays named after the ports) or "
              "a data set such as 'sinusoids(classes = 3)' (default: the spec's data)")

# Conventions are checked by to_nir / from_nir (one list, in rpgraph.nir.conventions), so
# that building this parser does not import NIR.
_CONVENTION_HELP = {
    "export": "the reader the file is written for: nir (default), norse, snntorch, rockpool",
    "import": "how to discretise: auto (default), nir, norse, snntorch, rockpool",
}


def _train_arguments(c: argparse.ArgumentParser) -> None:
    """The flags of ``rpgraph train``."""
    c.add_argument("file", help="the .rpg spec (its train { } block gives the defaults)")
    c.add_argument("--epochs", type=_non_negative, metavar="N",
                   help="epochs to train (with --resume: the new total)")
    c.add_argument("--data", help=_DATA_HELP)
    c.add_argument("--out", help="run directory (default runs/<spec>-<time>)")
    c.add_argument("--resume", action="store_true",
                   help="continue the run in --out (more --epochs extend a finished run)")
    c.add_argument("--force", action="store_true",
                   help="resume despite changed settings, or start over a run in --out")
    c.add_argument("--log-limit", type=_non_negative, metavar="N",
                   help="steps logged one metrics line each (default 100000); later steps "
                   "get one line per chunk")
    c.add_argument("--seed", type=_non_negative, metavar="S",
                   help="seed of initial parameters, minibatch order, noise and dropout")
    c.add_argument("--batch-size", type=_positive, metavar="B", help="samples per step")
    c.add_argument("--devices", type=_positive, help="shard minibatches over N devices")
    c.add_argument("--device-data", type=_memory_size, metavar="SIZE",
                   help="keep at most this much training data on the device (e.g. 4GB); a "
                   "larger data set is streamed from host memory chunk by chunk, with the same "
                   "results (default: RPGRAPH_DEVICE_DATA, else half the accelerator's memory)")
    c.add_argument("--coordinator", metavar="HOST:PORT",
                   help="train data-parallel over several processes: process 0's address "
                   "(or RPGRAPH_COORDINATOR)")
    c.add_argument("--num-processes", type=_positive, metavar="N",
                   help="how many processes (or RPGRAPH_NUM_PROCESSES)")
    c.add_argument("--process-id", type=_non_negative, metavar="I",
                   help="this process, 0..N-1; 0 writes the run folder (or RPGRAPH_PROCESS_ID)")
    c.add_argument("--checkpoint-every", type=_positive, metavar="STEPS",
                   help="steps between checkpoints")
    c.add_argument("--bounds", metavar="JSON",
                   help="a bounds JSON file (from 'rpgraph bounds --format json')")
    c.add_argument("--init-params", metavar="PARAMS",
                   help="start from these parameters (a .npz or run dir)")
    c.add_argument("--quiet", action="store_true", help="no progress output")
    c.add_argument("--no-plots", action="store_true", help="skip writing PNG plots")
    c.add_argument("--tensorboard", action="store_true",
                   help="write TensorBoard event files to DIR/tensorboard (needs tensorboardX)")
    c.add_argument("--allow-outside", action="store_true",
                   help="let the spec read data files outside its folder")


def build_parser() -> argparse.ArgumentParser:
    """The ``rpgraph`` argument parser (one sub-command per stage users reach)."""
    p = _Parser(prog="rpgraph", description="Declarative rate and spiking networks in JAX.")
    p.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    p.add_argument("--version", action="version", version=f"rpgraph {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    c = sub.add_parser("check", help="validate spec files (and their train blocks)")
    c.add_argument("files", nargs="+", metavar="file", help=".rpg specs")
    c.add_argument("--allow-outside", action="store_true",
                   help="let specs name data files outside their folder")
    c.set_defaults(fn=cmd_check)

    c = sub.add_parser("graph", help="print the module graph")
    c.add_argument("file", help="the .rpg spec")
    c.add_argument("--format", choices=("text", "json", "dot"), default="text",
                   help="a module tree with shapes (default), JSON, or Graphviz DOT")
    c.set_defaults(fn=cmd_graph)

    c = sub.add_parser("fmt", help="format specs canonically (comments are kept)")
    c.add_argument("files", nargs="+", metavar="file",
                   help=".rpg specs (printed formatted unless --check or --write)")
    g = c.add_mutually_exclusive_group()
    g.add_argument("--check", action="store_true", help="exit 1 if not formatted")
    g.add_argument("--write", "-w", action="store_true", help="rewrite the file")
    c.set_defaults(fn=cmd_fmt)

    c = sub.add_parser("bounds", help="emit the parameter bounds template")
    c.add_argument("file", help="the .rpg spec")
    c.add_argument("--format", choices=("json", "python", "table"), default="table",
                   help="a table (default), JSON for --bounds, or make_bounds-style Python")
    c.add_argument("-o", "--output", help="write to a file instead of stdout")
    c.set_defaults(fn=cmd_bounds)

    c = sub.add_parser("train", help="train a spec")
    _train_arguments(c)
    c.set_defaults(fn=cmd_train)

    c = sub.add_parser("eval", help="evaluate trained parameters")
    c.add_argument("file", help="the .rpg spec the parameters were trained with")
    c.add_argument("--params", required=True, help="run directory or params.npz")
    c.add_argument("--data", help=_DATA_HELP)
    c.add_argument("--allow-outside", action="store_true",
                   help="let the spec read data files outside its folder")
    c.set_defaults(fn=cmd_eval)

    c = sub.add_parser("nir", help="NIR interchange")
    nsub = c.add_subparsers(dest="nir_command", required=True, parser_class=_Parser)
    e = nsub.add_parser("export", help="write a spec and its parameters as NIR")
    e.add_argument("file", help="the .rpg spec")
    e.add_argument("--params", help="run directory or params.npz (default: fresh init)")
    e.add_argument("-o", "--output", required=True, help="the .nir file to write")
    e.add_argument("--convention", default="nir", help=_CONVENTION_HELP["export"])
    e.add_argument("--flat", action="store_true",
                   help="one flat graph (nir's default: block instances as subgraphs)")
    e.set_defaults(fn=cmd_nir_export)
    i = nsub.add_parser("import", help="read a NIR graph into a .rpg spec and parameters")
    i.add_argument("file", help="the .nir file")
    i.add_argument("--dt", type=_time, required=True, help="solver time step, e.g. 1ms")
    i.add_argument("--convention", default="auto", help=_CONVENTION_HELP["import"])
    i.add_argument("-o", "--output", required=True, help="the .rpg file to write")
    i.set_defaults(fn=cmd_nir_import)
    for command in [*sub.choices.values(), *nsub.choices.values()]:
        _with_debug(command)
    _with_compile_flags(sub.choices)
    _with_memory_limit(*(sub.choices[n] for n in ("check", "bounds", "train", "eval")),
                       nsub.choices["export"])
    return p


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that a run stops the same way and says so."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def _with_memory_limit(*commands: argparse.ArgumentParser) -> None:
    # the commands that build a network (and data): see rpgraph.memory
    for command in commands:
        command.add_argument("--memory-limit", type=_memory_size, metavar="SIZE",
                             help="refuse networks, data and training runs estimated to "
                             "need more memory (e.g. 64GB; default: the machine's RAM)")


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    # a spec's warnings are located and say "warning:" themselves
    print(message if isinstance(message, SpecWarning) else f"warning: {message}",
          file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rpgraph`` console script; returns the exit status.

    >>> main(["check", "specs/tutorial_mlp.rpg"])
    specs/tutorial_mlp.rpg: ok
    0
    """
    parser = build_parser()
    a = parser.parse_args(argv)
    old_term = None
    if threading.current_thread() is threading.main_thread():
        old_term = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with warnings.catch_warnings():
            if not a.debug:  # 'warning: ...', not a file path and a line of our source
                warnings.showwarning = _show_warning
            from .memory import set_limit

            set_limit(getattr(a, "memory_limit", None))
            return int(a.fn(a) or 0)
    except SpecError as err:
        if a.debug:
            traceback.print_exc()
        print(err, file=sys.stderr)
        return EXIT_SPEC
    except KeyboardInterrupt as stop:
        terminated = isinstance(stop, _Terminated)
        print("terminated" if terminated else "interrupted", file=sys.stderr)
        return 143 if terminated else 130
    except BrokenPipeError:
        # 'rpgraph graph x.rpg | head': the reader left; say nothing more on a closed pipe
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_SPEC
    except OSError as err:  # a file or folder the command needed (e.g. --out, -o)
        if a.debug:
            traceback.print_exc()
        where = f"cannot use '{err.filename}': " if err.filename else ""
        print(f"rpgraph: error: {where}{err.strerror or type(err).__name__}\n"
              "hint: check the path and its permissions", file=sys.stderr)
        return EXIT_SPEC
    except Exception as err:  # noqa: BLE001 - the last line of defence for users
        if a.debug:
            traceback.print_exc()
        print(f"rpgraph: internal error: {type(err).__name__}: {err}\n"
              "hint: rerun with --debug for a traceback and report it", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)



def run() -> NoReturn:
    """The ``rpgraph`` console script (and ``python -m rpgraph``): :func:`main`, then exit
    without tearing down the interpreter.

    After JAX has run, Python's shutdown takes about half a second (XLA's client and
    thousands of modules torn down), every time. By the time :func:`main` returns,
    everything rpgraph writes is closed (run folders, checkpoints, metrics, TensorBoard
    files), so this flushes the standard streams, runs the ``atexit`` handlers (logging,
    ``jax.distributed``) and leaves with ``os._exit``. In-process callers use :func:`main`.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream
            stream.flush()
    atexit._run_exitfuncs()
    os._exit(code)


if __name__ == "__main__":
    run()
