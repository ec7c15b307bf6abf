"""Run rpgraph's benchmark suite and print a table of results with ratios and targets.

    python -m benchmarks.run [--quick] [--json OUT.json]
                             [--cases mlp,rate,lif,scaling,parse,startup,ensemble]

Also runnable as ``python benchmarks/run.py``. Writes JSON (default
``benchmarks/results/<hostname>-<backend>.json``). See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # ``python benchmarks/run.py``: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import conv, ensemble, lif, parse, scaling, seed, startup  # noqa: E402
from benchmarks.common import Row, Target, machine_info  # noqa: E402

CASES = ("mlp", "rate", "lif", "scaling", "parse", "conv", "startup", "ensemble")
REFERENCES = ("rockpool", "hand-written", "spyx")


@dataclass(frozen=True)
class Config:
    """Sizes of every case; :func:`full` and :func:`quick` are the two presets."""

    mlp: seed.SeedConfig
    rate: seed.SeedConfig
    lif: lif.LIFConfig
    scaling: scaling.ScalingConfig
    parse: parse.ParseConfig = parse.ParseConfig()
    conv: conv.ConvConfig = conv.ConvConfig()
    startup: startup.StartupConfig = startup.StartupConfig()
    ensemble: ensemble.EnsembleConfig = ensemble.EnsembleConfig()
    name: str = "full"


def full() -> Config:
    # the Open Neuromorphic protocol: N = 4096, 8192, 16384 (N x N weights of 1 GiB at
    # 16384; on a 2-core CPU the three implementations take tens of minutes there)
    sizes = (256, 1024, 4096, 8192, 16384)
    return Config(
        mlp=seed.SeedConfig(hidden=8, steps=3000, rockpool_repeats=3, fused_repeats=5),
        rate=seed.SeedConfig(hidden=200, steps=600, rockpool_repeats=3, fused_repeats=5),
        lif=lif.LIFConfig(sizes=sizes, length=500, batch=16, repeats=5, budget_s=15.0),
        scaling=scaling.ScalingConfig(lengths=(100, 1000, 10000), mem_length=10000),
        name="full")


def quick() -> Config:
    return Config(
        mlp=seed.SeedConfig(hidden=8, steps=600, rockpool_repeats=2, fused_repeats=3),
        rate=seed.SeedConfig(hidden=200, steps=150, rockpool_repeats=2, fused_repeats=3),
        lif=lif.LIFConfig(sizes=(256, 1024), length=200, batch=16, repeats=3, budget_s=3.0),
        scaling=scaling.ScalingConfig(lengths=(100, 1000, 10000), mem_length=2000,
                                      repeats=2, compile_repeats=2),
        conv=conv.ConvConfig(length=10, batch=2, repeats=2, budget_s=3.0),
        startup=startup.StartupConfig(epochs=200),
        ensemble=ensemble.EnsembleConfig(cases=(("mlp", 8),), steps=60, repeats=2),
        name="quick")


@dataclass
class Results:
    config: str
    machine: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def find(self, case: str, impl: str) -> Row | None:
        return next((r for r in self.rows if r.case == case and r.impl == impl), None)


def run(cases: Sequence[str], cfg: Config, log: Callable[[str], None] = print,
        keep_going: bool = True) -> Results:
    """Run ``cases`` with ``cfg``; a failing case is recorded in ``errors`` (unless
    ``keep_going`` is false) and the others still run."""
    res = Results(cfg.name, machine_info())
    res.machine["loadavg_start"] = _loadavg()
    runners: dict[str, Callable[[], list[Row]]] = {
        "mlp": lambda: seed.run_case("mlp", cfg.mlp, log),
        "rate": lambda: seed.run_case("rate", cfg.rate, log),
        "lif": lambda: lif.run_case(cfg.lif, log),
        "scaling": lambda: scaling.run_case(cfg.scaling, log),
        "parse": lambda: parse.run_case(cfg.parse, log),
        "conv": lambda: conv.run_case(cfg.conv, log),
        "startup": lambda: startup.run_case(cfg.startup, log),
        "ensemble": lambda: ensemble.run_case(cfg.ensemble, log),
    }
    for case in cases:
        log(f"== {case}")
        t0 = time.perf_counter()
        try:
            res.rows.extend(runners[case]())
        except Exception as err:
            if not keep_going:
                raise
            res.errors[case] = f"{type(err).__name__}: {err}"
            log(f"  {case} FAILED: {res.errors[case]}")
        res.seconds[case] = time.perf_counter() - t0
    res.machine["loadavg_end"] = _loadavg()
    return res


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


# --- targets -----------------------------------------------------------------------------------


def _ratio(res: Results, case: str, impl: str, ref: str) -> float | None:
    row = res.find(case, impl)
    return None if row is None else row.speedup_over(res.find(case, ref))


def _cpu_ratio(res: Results, case: str, impl: str, ref: str) -> float | None:
    row = res.find(case, impl)
    return None if row is None else row.cpu_speedup_over(res.find(case, ref))


def _speed_target(res: Results, case: str, ref: str, threshold: float) -> Target:
    label = {"rockpool": "Rockpool", "hand-written": "hand-written", "spyx": "Spyx"}[ref]
    return Target(f"{case}: rpgraph / {label}", _ratio(res, case, "rpgraph", ref), threshold,
                  cpu_measured=_cpu_ratio(res, case, "rpgraph", ref))


def targets(res: Results, cfg: Config) -> list[Target]:
    out = [
        _speed_target(res, "rate", "rockpool", 2.5),
        _speed_target(res, "rate", "hand-written", 0.95),
        _speed_target(res, "mlp", "rockpool", 1.5),
        _speed_target(res, "mlp", "hand-written", 0.95),
        _speed_target(res, "lif N=1024", "rockpool", 10.0),
        _speed_target(res, "lif N=1024", "spyx", 1.0),
        *_protocol_targets(res),
        _speed_target(res, f"conv SNN T={cfg.conv.length} B={cfg.conv.batch}",
                      "hand-written", 0.95),
    ]
    sc = cfg.scaling
    lo, hi = min(sc.lengths), max(sc.lengths)
    r_lo = res.find("scaling compile", f"rpgraph T={lo}")
    r_hi = res.find("scaling compile", f"rpgraph T={hi}")
    comp = None
    if r_lo and r_hi and r_lo.compile_s and r_hi.compile_s is not None:
        comp = r_hi.compile_s / r_lo.compile_s
    out.append(Target(f"compile time T={hi} / T={lo}", comp, 1.5, at_most=True))
    case = f"scaling memory T={sc.mem_length}"
    for label in ("tutorial_rate", "recurrent"):
        off = res.find(case, f"{label} remat=off")
        on = res.find(case, f"{label} remat={sc.remat}")
        red = None
        if off and on and off.value is not None and on.value:
            red = off.value / on.value
        out.append(Target(f"remat={sc.remat} temp-memory reduction, {label}, T={sc.mem_length}",
                          red, 5.0))
    out += _startup_targets(res)
    out += _ensemble_targets(res, cfg)
    front = res.find(f"parse {cfg.parse.layers} layers", "rpgraph parse+graph")
    out.append(Target(f"parse+graph of a {cfg.parse.layers}-layer spec, ms",
                      front.value if front else None, 1000.0, at_most=True))
    # linear size inference: was 52 s (quadratic in the declaration order) for 12,000 nodes
    up = res.find(parse.reversed_case(cfg.parse), "rpgraph graph")
    out.append(Target(f"graph of a {cfg.parse.chain_nodes}-node chain declared bottom-up, ms",
                      up.value if up else None, 5000.0, at_most=True))
    return out


def _protocol_targets(res: Results) -> list[Target]:
    """The Open Neuromorphic protocol at 16k neurons: rpgraph at least as fast as Spyx on the
    same device, and (judged on GPU only) below the published RTX 4090 figures."""
    case = "lif N=16384"
    on_gpu = res.machine.get("jax_backend") == "gpu"
    out = [_speed_target(res, case, "spyx", 1.0)]
    for impl, key in (("rpgraph", "float32"), ("rpgraph bf16", "half")):
        row = res.find(case, impl)
        ms = row.value if row is not None and on_gpu else None
        out.append(Target(f"{case}: {impl} fwd+bwd ms vs published {key} (GPU target)", ms,
                          lif.PUBLISHED_16K_MS[key], at_most=True))
    return out


def _startup_targets(res: Results) -> list[Target]:
    case = startup.CASE
    check = res.find("startup: rpgraph check tutorial_rate", "rpgraph")
    programs = res.find("startup: chunk programs per run", "rpgraph")
    return [
        Target("startup: whole-process train, cold cache: rpgraph / Rockpool",
               _ratio(res, case, "rpgraph cold cache", "rockpool"), 2.5,
               cpu_measured=_cpu_ratio(res, case, "rpgraph cold cache", "rockpool")),
        Target("startup: whole-process train, warm cache: rpgraph / Rockpool",
               _ratio(res, case, "rpgraph warm cache", "rockpool"), 3.0,
               cpu_measured=_cpu_ratio(res, case, "rpgraph warm cache", "rockpool")),
        Target("startup: warm-cache train, whole-process wall / training time",
               startup.warm_training_ratio(res.rows), 1.5, at_most=True),
        Target("startup: rpgraph check, whole-process wall s",
               check.value if check else None, 0.5, at_most=True,
               cpu_measured=check.cpu_value if check else None),
        Target("startup: chunk programs compiled per run",
               programs.value if programs else None, 1.0, at_most=True),
    ]


def _ensemble_targets(res: Results, cfg: Config) -> list[Target]:
    out = []
    on_gpu = res.machine.get("jax_backend") == "gpu"
    # the targets: K=8 on the seed MLP on any device, K=32 on the rate network on GPU
    wanted = {("mlp", 8): (1.5, True), ("rate", 32): (10.0, on_gpu),
              ("rate-sweep", 32): (10.0, on_gpu)}
    for kind, k in cfg.ensemble.cases:
        case = ensemble.case_name(kind, k)
        # throughput: the batched (vmapped) ensemble; the default one runs the models one
        # after another inside its program (bit-identical), so its steady state is about the
        # sequential one's (both rows are in the table)
        ens = res.find(case, "rpgraph ensemble batched")
        seq = res.find(case, f"rpgraph {k} sequential")
        threshold, applies = wanted.get((kind, k), (1.0, True))
        ratio = ens.speedup_over(seq) if ens and applies else None
        cpu = ens.cpu_speedup_over(seq) if ens and applies else None
        where = " (GPU target)" if (kind, k) in (("rate", 32), ("rate-sweep", 32)) else ""
        out.append(Target(f"{case}: batched ensemble / {k} sequential runs{where}", ratio,
                          threshold, cpu_measured=cpu))
    return out


# --- the table ---------------------------------------------------------------------------------


def _fmt(v: float | None, spec: str = ".3g") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return format(v, spec)


def table(res: Results) -> str:
    head = ["case", "implementation", "result", "unit", "compile s",
            "x Rockpool", "x hand-written", "x Spyx", "cpu-time", "cpu x Rockpool",
            "cpu x hand", "cpu x Spyx", "note"]
    lines = []
    for r in res.rows:
        refs = [None if r.impl == ref else _fmt(r.speedup_over(res.find(r.case, ref)), ".2f")
                for ref in REFERENCES]
        cpu = [None if r.impl == ref else _fmt(r.cpu_speedup_over(res.find(r.case, ref)),
                                                ".2f") for ref in REFERENCES]
        lines.append([r.case, r.impl, _fmt(r.value, ".4g"), r.unit, _fmt(r.compile_s, ".2f"),
                      *[x or "" for x in refs], _fmt(r.cpu_value, ".4g"),
                      *[x or "" for x in cpu], r.note])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    widths[-1] = 0
    fmt_row = lambda row: "  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip()  # noqa: E731
    sep = "  ".join("-" * w for w in widths[:-1]) + "  ----"
    return "\n".join([fmt_row(head), sep, *(fmt_row(r) for r in lines)])


def report(res: Results, cfg: Config) -> str:
    m = res.machine
    v = m["versions"]
    parts = [
        f"rpgraph benchmarks ({res.config}) on {m['hostname']}: {m['cpu_model']}, "
        f"{m['cpu_usable']}/{m['cpu_count']} cores, jax {v['jax']} {m['jax_backend']} "
        f"({m['device_kind']}), rockpool {v['rockpool']}, spyx {v['spyx']}, "
        f"load avg {m.get('loadavg_start')} -> {m.get('loadavg_end')}",
        "",
        table(res),
        "",
        "x REF: how many times faster this row is than REF in the same case, from wall time "
        "(median of warm calls); cpu-time / cpu x REF: the same from process CPU time (all "
        "threads), steadier when other processes share the machine",
    ]
    parts += ["", "targets:"] + ["  " + t.line() for t in targets(res, cfg)]
    for case, err in res.errors.items():
        parts.append(f"ERROR in {case}: {err}")
    parts.append("case seconds: " + ", ".join(f"{k} {s:.0f}" for k, s in res.seconds.items()))
    return "\n".join(parts)


def to_json(res: Results, cfg: Config) -> dict[str, Any]:
    return {
        "config": res.config,
        "machine": res.machine,
        "rows": [r.as_dict() for r in res.rows],
        "targets": [t.as_dict() for t in targets(res, cfg)],
        "seconds": res.seconds,
        "errors": res.errors,
    }


def default_json_path(res: Results) -> Path:
    m = res.machine
    return Path(__file__).resolve().parent / "results" / \
        f"{m['hostname']}-{m['jax_backend']}.json"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (under 2 minutes)")
    ap.add_argument("--json", type=Path, default=None, help="where to write the results")
    ap.add_argument("--cases", default=",".join(CASES),
                    help=f"comma-separated subset of {','.join(CASES)}")
    args = ap.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        ap.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    cfg = quick() if args.quick else full()
    t0 = time.perf_counter()
    res = run(cases, cfg, log=lambda s: print(s, file=sys.stderr, flush=True))
    res.seconds["total"] = time.perf_counter() - t0
    print(report(res, cfg))
    path = args.json or default_json_path(res)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(res, cfg), indent=2, default=str) + "\n",
                    encoding="utf-8")
    print(f"results written to {path}")
    return 1 if res.errors else 0


if __name__ == "__main__":
    sys.exit(main())
