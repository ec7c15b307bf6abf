"""The NIR conformance tables in README.md, computed by simulation.

For each node type and convention, both ways: *exact*, *approx* (with the measured spike
agreement; rpgraph warned about it) or *unsupported*.

* Export: one spec with a branch per row (per-neuron parameters), run once by rpgraph,
  exported with each convention and run by that reader's numpy model (tests/nir_readers.py).
  A row is *exact* when the export did not warn about its node; the tests check that such
  rows agree (a silent approximation fails them).
* Import: one NIR graph with a branch per node type, imported in each convention and run by
  rpgraph, compared with NIR's equations in that convention (``nir_readers.equations``).
* The issue's three specs, exported with each convention: spike agreement of their ``lif``.

``python tests/nir_conformance.py`` prints the tables; ``--write`` puts them into README.md
between the ``<!-- nir-conformance -->`` markers (tests/test_nir_export.py checks that the
README holds what this computes).
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nir
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from nir_readers import MISREAD, RELEASE, Refused, caveats, equations, simulate  # noqa: E402

import rpgraph  # noqa: E402
from rpgraph import SpecError  # noqa: E402
from rpgraph.nir import to_nir  # noqa: E402

CONVENTIONS = ("nir", "norse", "snntorch", "rockpool")
MARK_BEGIN, MARK_END = "<!-- nir-conformance -->", "<!-- /nir-conformance -->"
DT = 1e-3
T = 200  # steps per simulation
EXACT = 0.999  # float32 (rpgraph) vs float64 (the readers): a rare tie may flip a spike

# --- export rows -----------------------------------------------------------------------------

LIF = "lif(tau_mem = 20 ms, tau_syn = 5 ms, threshold = 0.6"


@dataclass(frozen=True)
class Row:
    """One export row: the node observed (``key``), its output size and its branch."""

    key: str
    label: str
    size: int
    chain: str
    spiking: bool = True
    #: the conventions whose export rpgraph writes (the others refuse the kind)
    conventions: tuple[str, ...] = CONVENTIONS


EXPORT_ROWS = (
    Row("lin", "`linear` → `Linear` / `Affine`", 5, "x -> lin: linear(5, bias = true)", False),
    Row("idn", "`identity` → `Scale(1)` (or contracted)", 6, "x -> idn: identity", False),
    Row("syn", "`expsyn` → `LI`", 5, "x -> syn_w: linear(5) -> syn: expsyn(tau = 8 ms)", False),
    Row("vr", "`lif(reset = v_reset)` → `CubaLIF`", 8,
        f"x -> vr_w: linear(8) -> vr: {LIF}, reset = v_reset)"),
    Row("vb", "  … with a `bias`", 8,
        f"x -> vb_w: linear(8) -> vb: {LIF}, bias = 0.02, reset = v_reset)"),
    Row("vn", "  … with `v_reset ≠ 0`", 8,
        f"x -> vn_w: linear(8) -> vn: {LIF}, reset = v_reset, v_reset = -0.2)"),
    Row("rec", "  … with `rec = true` (`CubaLIF` ⇄ `Linear`)", 8,
        f"x -> rec_w: linear(8) -> rec: {LIF}, reset = v_reset, rec = true, "
        "w_rec = normal(0, 0.2))"),
    Row("sub", "`lif` (subtractive reset, several spikes per step)", 8,
        f"x -> sub_w: linear(8) -> sub: {LIF})"),
    Row("li", "`li` → `LI`", 5,
        "x -> li_w: linear(5) -> li: li(tau = 8 ms, r = 2, v_leak = 0.1)", False, ("nir",)),
    Row("nf", "`if(reset = v_reset)` → `IF`", 8,
        "x -> nf_w: linear(8) -> nf: if(r = 0.5, threshold = 0.6, reset = v_reset, "
        "v_reset = -0.1)", True, ("nir",)),
    Row("dl", "`delay` → `Delay`", 6, "x -> dl: delay(uniform(0 ms, 4 ms))", False, ("nir",)),
)
#: Rows no convention exports: (label, branch).
REFUSED_ROWS = (
    ("`lif(n_syn = 2)`", "x -> linear(16) -> lif(n_syn = 2)"),
    ("`alif` (NIR has no adaptive neuron)", "x -> linear(8) -> alif"),
    ("`if` (subtractive reset: NIR's `IF` sets `v_reset`)", "x -> linear(8) -> if"),
    ("`rate`, `tanh`, … (no NIR node)", "x -> linear(8) -> rate"),
)


def spec_of(rows: tuple[Row, ...] | list[Row]) -> str:
    ports = "".join(f"    output y_{r.key} : {r.size}\n" for r in rows)
    chains = "".join(f"    {r.chain} -> y_{r.key}\n" for r in rows)
    return f"network conformance (dt = 1 ms) {{\n    input x : 6\n{ports}{chains}}}\n"


def jitter(params: dict[str, Any], seed: int) -> dict[str, dict[str, np.ndarray]]:
    """Per-neuron time constants, thresholds and biases (not the constant initialisers)."""
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, np.ndarray]] = {}
    for node, leaves in params.items():
        out[node] = {}
        for k, v in leaves.items():
            v = np.asarray(v)
            if k.startswith("tau") or k in ("threshold", "bias"):
                v = v * rng.uniform(0.7, 1.3, v.shape)
            out[node][k] = v.astype(np.float32)
    return out


@dataclass
class Run:
    """A network run by rpgraph: program, parameters, input and every node's record."""

    prog: Any
    params: dict[str, Any]
    x: np.ndarray
    rec: dict[str, Any]


def init_numpy(prog: Any, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """Parameters drawn as each one's initialiser says, in numpy (``prog.init`` compiles an
    initialiser per shape, which would be most of these tests' time)."""
    rng = np.random.default_rng(seed)
    draw: dict[str, Callable[[tuple[int, ...], tuple[float, ...]], np.ndarray]] = {
        "kaiming": lambda s, a: rng.uniform(-1, 1, s) * np.sqrt(6.0 / s[0]),
        "uniform_sqrt": lambda s, a: rng.uniform(-1, 1, s) * np.sqrt(1.0 / s[0]),
        "normal": lambda s, a: (a[0] if len(a) > 1 else 0.0) + rng.normal(
            0, a[-1] if a else 1.0, s),
        "uniform": lambda s, a: rng.uniform(*(a or (0.0, 1.0)), s),
        "constant": lambda s, a: np.full(s, a[0] if a else 0.0),
    }
    params: dict[str, dict[str, np.ndarray]] = {}
    for info in prog.parameter_info().values():
        init = info["init"]
        value = draw[init.name](tuple(info["shape"]), tuple(init.args))
        params.setdefault(info["module"], {})[info["name"]] = value.astype(np.float32)
    return params


def run_rpgraph(text: str, x_of: Callable[[int], np.ndarray],
                tweak: Callable[[dict[str, Any]], dict[str, Any]] = lambda p: p) -> Run:
    prog = rpgraph.compile(text)
    params = tweak(init_numpy(prog, 0))
    x = x_of(prog.network.size(prog.inputs[0]))
    _, _, rec = prog.evolve(params, x, record=True)
    return Run(prog, params, x, {k: {kk: np.asarray(vv) for kk, vv in v.items()}
                                 for k, v in rec.items()})


def spikes_in(rate: float, steps: int, seed: int) -> Callable[[int], np.ndarray]:
    """Random input spike trains (Bernoulli ``rate`` per step and channel)."""
    return lambda n: (np.random.default_rng(seed).random((steps, n)) < rate).astype(
        np.float32)


def export_run() -> Run:
    return run_rpgraph(spec_of(EXPORT_ROWS), spikes_in(0.2, T, 1), lambda p: jitter(p, 2))


def export_quiet(net: Any, params: Any, convention: str) -> tuple[nir.NIRGraph, list[str]]:
    """``to_nir`` and the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = to_nir(net, params, convention=convention)
    return graph, [str(w.message) for w in caught]


def node_out(out: dict[str, Any], key: str) -> Any:
    """``key``'s entry, or its own inside the subgraph named like it (Rockpool's form of a
    recurrent neuron)."""
    return out[key] if key in out else out[f"{key}.{key}"]


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of (step, neuron) entries with the same spike count."""
    return float(np.mean(np.asarray(a) == np.asarray(b)))


@dataclass(frozen=True)
class Cell:
    """One table cell: ``exact`` | ``approx`` | ``unsupported`` | ``misread`` (the reader
    loads the node but does not run it as written), the measured spike agreement (spiking
    rows), why (unsupported, misread) and a footnote (which release of the reader)."""

    status: str
    agree: float | None = None
    why: str = ""
    note: str = ""

    def text(self, notes: list[str]) -> str:
        mark = ""
        if self.note:
            if self.note not in notes:
                notes.append(self.note)
            mark = f" [{notes.index(self.note) + 1}]"
        if self.status in ("exact", "approx"):
            pct = "" if self.agree is None or self.status == "exact" else \
                f" {100 * self.agree:.2f}%"
            return f"{self.status}{pct}{mark}"
        return (f"{self.status} ({self.why})" if self.why else self.status) + mark


def export_cell(run: Run, row: Row, convention: str) -> Cell:
    """One export row's cell: the row's branch exported alone and run by the reader."""
    net = rpgraph.loads(spec_of([row]))
    try:
        graph, notes = export_quiet(net, {k: v for k, v in run.params.items()
                                          if k in net.graph}, convention)
    except SpecError as err:
        return Cell("unsupported", why=re.sub(r".*\(\w+: (.*)\)", r"\1",
                                              str(err).splitlines()[0]))
    try:
        out = simulate(graph, run.x, convention)
    except Refused as err:
        return Cell("unsupported", why=str(err))
    warned = any(f"'{row.key}'" in n for n in notes)
    wrong = caveats(graph, convention, MISREAD)
    if row.key in wrong:
        return Cell("misread", why=wrong[row.key])
    note = caveats(graph, convention, RELEASE).get(row.key, "")
    got = node_out(out, row.key) if row.spiking else out[f"y_{row.key}"]
    want = run.rec[row.key]["spikes" if row.spiking else "output"]
    agree = agreement(got, want) if row.spiking else float(
        np.allclose(got, want, rtol=1e-4, atol=1e-5))
    if not warned and agree < EXACT:  # an approximation nobody was told about
        return Cell("silently wrong", agree)
    return Cell("approx" if warned else "exact", agree if row.spiking else None, note=note)


# --- import rows -----------------------------------------------------------------------------


def import_zoo(seed: int = 3) -> tuple[nir.NIRGraph, dict[str, str]]:
    """One NIR graph with a branch per importable node type (each neuron behind a Linear,
    so that its input gain folds into the weights); ``{node: label}``."""
    rng = np.random.default_rng(seed)
    n = 4
    u = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    w = lambda: nir.Linear(weight=rng.normal(0.6, 0.5, (n, n)))  # noqa: E731
    neurons: dict[str, tuple[str, nir.NIRNode]] = {
        "aff": ("`Affine`", nir.Affine(weight=rng.normal(0, 1, (n, n)), bias=u(-0.2, 0.2))),
        "lin": ("`Linear`", nir.Linear(weight=rng.normal(0, 1, (n, n)))),
        "scl": ("`Scale`", nir.Scale(scale=u(0.5, 1.5))),
        "li": ("`LI` (`v_leak = 0`)", nir.LI(tau=u(5e-3, 2e-2), r=u(0.5, 2), v_leak=0 * u(0, 1))),
        "cli": ("`CubaLI` (`v_leak = 0`)", nir.CubaLI(
            tau_syn=u(3e-3, 8e-3), tau_mem=u(1e-2, 3e-2), r=u(0.5, 2), v_leak=0 * u(0, 1),
            w_in=u(0.5, 1.5))),
        "itg": ("`I`", nir.I(r=u(2, 4))),
        "cuba": ("`CubaLIF`", nir.CubaLIF(
            tau_syn=u(3e-3, 8e-3), tau_mem=u(1e-2, 3e-2), r=u(20, 40), v_leak=u(-0.1, 0.3),
            v_threshold=u(0.5, 1), v_reset=u(-0.2, 0), w_in=u(5, 10))),
        "nlif": ("`LIF`", nir.LIF(tau=u(5e-3, 2e-2), r=u(0.5, 2), v_leak=u(0, 0.5),
                                  v_threshold=u(0.3, 0.6), v_reset=u(-0.1, 0))),
        "nif": ("`IF`", nir.IF(r=u(40, 60), v_threshold=u(0.5, 0.9), v_reset=0 * u(0, 1))),
        "thr": ("`Threshold`", nir.Threshold(threshold=u(0.1, 0.5))),
    }
    nodes: dict[str, nir.NIRNode] = {"x": nir.Input(input_type=np.array([n]))}
    edges = []
    for k, (_, node) in neurons.items():
        stateless = isinstance(node, (nir.Affine, nir.Linear, nir.Scale))
        if stateless:
            edges.append(("x", k))
        else:
            nodes[f"{k}_w"] = w()
            edges += [("x", f"{k}_w"), (f"{k}_w", k)]
        nodes[k] = node
        nodes[f"o_{k}"] = nir.Output(output_type=np.array([n]))
        edges.append((k, f"o_{k}"))
    return nir.NIRGraph(nodes=nodes, edges=edges), {k: v[0] for k, v in neurons.items()}


def single_imports() -> dict[str, nir.NIRNode]:
    """Import rows measured one node at a time (behind a ``Linear``): those a convention
    refuses, which would refuse the whole zoo graph; label -> node."""
    rng = np.random.default_rng(6)
    u = lambda lo, hi: rng.uniform(lo, hi, 4)  # noqa: E731
    return {
        "`LI` with `v_leak ≠ 0`": nir.LI(tau=u(5e-3, 2e-2), r=u(0.5, 2), v_leak=u(-0.2, 0.3)),
        "`CubaLI` with `v_leak ≠ 0`": nir.CubaLI(
            tau_syn=u(3e-3, 8e-3), tau_mem=u(1e-2, 3e-2), r=u(0.5, 2), v_leak=u(0.1, 0.2),
            w_in=u(0.5, 1.5)),
        "`Delay`": nir.Delay(delay=np.array([0.0, 1e-3, 2e-3, 4e-3])),
    }


#: Rows imported but not simulated in these tables: label -> footnote.
UNSIMULATED = {
    "`Conv1d`, `Conv2d`, `SumPool2d`, `AvgPool2d`, `Flatten`":
        "not simulated in this table; tests/test_shapes.py runs the public sinabs CNN file "
        "(`Conv2d`, `SumPool2d`, `Flatten`, `IF`) against a numpy simulation of NIR's "
        "equations",
}


def _import_cell(graph: nir.NIRGraph, keys: list[str], convention: str, x: np.ndarray
                 ) -> dict[str, Cell]:
    """Import ``graph`` in ``convention``, run it and compare each ``o_<key>`` output with
    NIR's equations in that convention (``key``: the node observed)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net, params = rpgraph.from_nir(graph, dt=DT, convention=convention)
    notes = [str(w.message) for w in caught]
    y, _, _ = _compiled(net).evolve(params, x)
    if not isinstance(y, dict):  # one output
        y = {f"o_{keys[0]}": y}
    ref = equations(graph, x, DT, convention)
    cells: dict[str, Cell] = {}
    for k in keys:
        got, want = np.asarray(y[f"o_{k}"]), ref[f"o_{k}"]
        spiking = isinstance(graph.nodes[k], (nir.CubaLIF, nir.LIF, nir.IF, nir.Threshold))
        agree = agreement(got, want) if spiking else float(
            np.allclose(got, want, rtol=1e-4, atol=1e-5))
        warned = any(f"'{k}'" in n and "input gain kept" not in n for n in notes)
        cells[k] = Cell("approx" if warned else "exact", agree if spiking else None)
        if not warned and agree < EXACT:
            cells[k] = Cell("silently wrong", agree)
    return cells


_PROGRAMS: dict[str, Any] = {}


def _compiled(net: Any) -> Any:
    """One program per imported structure (the header comment aside): the conventions
    that import alike share one compilation."""
    body = "\n".join(line for line in net.source.splitlines() if not line.startswith("#"))
    if body not in _PROGRAMS:
        _PROGRAMS[body] = rpgraph.compile(net)
    return _PROGRAMS[body]


def import_cells(convention: str) -> dict[str, Cell]:
    """Each import row's cell for ``convention`` (rows keyed by node name or label)."""
    graph, labels = import_zoo()
    x = np.random.default_rng(4).uniform(0, 1.5, (T, 4)).astype(np.float32)
    cells = _import_cell(graph, list(labels), convention, x)
    for label, node in single_imports().items():
        g = nir.NIRGraph(nodes={"x": nir.Input(np.array([4])),
                                "w": nir.Linear(weight=np.random.default_rng(7).normal(
                                    0.6, 0.5, (4, 4))),
                                "n": node, "o_n": nir.Output(np.array([4]))},
                         edges=[("x", "w"), ("w", "n"), ("n", "o_n")])
        try:
            cells[label] = _import_cell(g, ["n"], convention, x)["n"]
        except SpecError as err:
            cells[label] = Cell("unsupported", why=re.sub(
                r".*\(\w+: (?:\w+ with )?(.*)\)$", r"\1", str(err).splitlines()[0]))
    for label, note in UNSIMULATED.items():
        cells[label] = Cell("imported", note=note)
    return cells


# --- the specs -----------------------------------------------------------------------

_SUBTRACTIVE = "lif(tau_mem = 20 ms, tau_syn = 5 ms)"
_RESETTING = "lif(tau_mem = 20 ms, tau_syn = 5 ms, reset = v_reset)"
SPECS = {  # name -> (label, spec text)
    "digits": ("`specs/digits_lif.rpg`, 64 hidden",
               (ROOT / "specs" / "digits_lif.rpg").read_text().replace("linear(128)",
                                                                       "linear(64)")),
    # each with the neuron NIR's readers run (one spike per step, then v = v_reset)
    "digits_vr": ("  … its `lif` with `reset = v_reset`",
                  (ROOT / "specs" / "digits_lif.rpg").read_text().replace("linear(128)",
                                                                          "linear(64)")
                  .replace(_SUBTRACTIVE, _RESETTING)),
    "srnn": ("`specs/srnn.rpg` (`w_rec` × 0.1)", (ROOT / "specs" / "srnn.rpg").read_text()),
    "srnn_vr": ("  … its `lif` with `reset = v_reset`",
                (ROOT / "specs" / "srnn.rpg").read_text().replace(_SUBTRACTIVE, _RESETTING)),
    "biased": ("a `lif(bias = 0.02, reset = v_reset)` layer",
               "network biased (dt = 1 ms) {\n    input x : 16\n    output y : 4\n"
               "    x -> linear(32) -> h: lif(tau_mem = 20 ms, tau_syn = 5 ms, bias = 0.02, "
               "reset = v_reset) -> linear(4) -> y\n}\n"),
}
SPEC_STEPS = 300
SPEC_RATE = 0.05  # input spikes per channel and step


def _srnn_params(p: dict[str, Any]) -> dict[str, Any]:
    """srnn's initial recurrent weights make it run away (thousands of spikes per step)."""
    return {**p, "w_rec": {"weight": np.asarray(p["w_rec"]["weight"]) * 0.1}}


def spec_run(name: str) -> Run:
    return run_rpgraph(SPECS[name][1], spikes_in(SPEC_RATE, SPEC_STEPS, 5),
                       _srnn_params if name.startswith("srnn") else lambda p: p)


def firing(run: Run) -> float:
    """Mean spikes per neuron and step of the spec's ``h``."""
    return float(np.mean(run.rec["h"]["spikes"]))


def spec_agreement(name: str, run: Run, convention: str) -> tuple[float | None, str]:
    """Spike agreement of ``h`` when the reader of ``convention`` runs the export; ``None``
    and why when the export is refused (then the spiking core, without ``expsyn``, is run
    when there is one)."""
    try:
        graph, _ = export_quiet(run.prog, run.params, convention)
        got = node_out(simulate(graph, run.x, convention), "h")
        return agreement(got, run.rec["h"]["spikes"]), ""
    except SpecError as err:
        why = re.sub(r".*'(\w+)' \((\w+): .*", r"`\2` \1", str(err).splitlines()[0])
    core = SPECS[name][1].replace(" -> readout: expsyn(tau = 10 ms)", "")
    net = rpgraph.loads(core)
    graph, _ = export_quiet(net, {k: v for k, v in run.params.items() if k in net.graph},
                            convention)
    return agreement(node_out(simulate(graph, run.x, convention), "h"),
                     run.rec["h"]["spikes"]), why


# --- rendering -------------------------------------------------------------------------------


def refused_cell(branch: str, convention: str) -> str:
    """``unsupported`` when the export of ``branch`` is refused, as the row claims (the
    refusal comes before any parameter is read, so none are needed)."""
    try:
        to_nir(rpgraph.loads(spec_of([Row("r", "", 8, branch, False)])), {},
               convention=convention)
    except SpecError as err:
        assert str(err).startswith("error: cannot export to NIR"), str(err)
        return "unsupported"
    return "silently wrong (exported)"



def _table(head: str, rows: list[tuple[str, list[str]]]) -> list[str]:
    lines = [f"| {head} | " + " | ".join(f"`{c}`" for c in CONVENTIONS) + " |",
             "|---|" + "---|" * len(CONVENTIONS)]
    return lines + [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows]


def _spec_cell(agree: float | None, why: str) -> str:
    assert agree is not None
    if why:
        return f"refused ({why}); without it {100 * agree:.2f}%"
    return f"{100 * agree:.2f}%"


def render(export: dict[str, dict[str, Cell]], imports: dict[str, dict[str, Cell]],
           specs: dict[str, dict[str, tuple[float | None, str]]], rates: dict[str, float]
           ) -> str:
    """The README block between the markers."""
    notes: list[str] = []
    ex = [(r.label, [export[c][r.key].text(notes) for c in CONVENTIONS]) for r in EXPORT_ROWS]
    ex += [(label, [refused_cell(branch, c) for c in CONVENTIONS])
           for label, branch in REFUSED_ROWS]
    n_export_notes = len(notes)
    _, labels = import_zoo()
    im = [(label, [imports[c][k].text(notes) for c in CONVENTIONS])
          for k, label in labels.items()]
    im += [(label, [imports[c][label].text(notes) for c in CONVENTIONS])
           for label in [*single_imports(), *UNSIMULATED]]
    sp = [(f"{label}; {rates[name]:.2f} spikes per neuron and step",
           [_spec_cell(*specs[name][c]) for c in CONVENTIONS])
          for name, (label, _) in SPECS.items()]
    footnotes = [f"[{i + 1}] {n}." for i, n in enumerate(notes)]
    lines = [MARK_BEGIN, "", "Export (rpgraph → the reader of each convention; *exact*: no "
             f"warning and at least {100 * EXACT:.1f}% spike agreement, float32 against "
             "float64; *approx*: rpgraph warns, with the measured spike agreement):", ""]
    lines += _table("rpgraph → NIR", ex)
    lines += [""] + footnotes[:n_export_notes]
    lines += ["", "Import (NIR → rpgraph, against NIR's equations in that convention):", ""]
    lines += _table("NIR → rpgraph", im)
    if footnotes[n_export_notes:]:
        lines += [""] + footnotes[n_export_notes:]
    lines += ["", f"Spike agreement of the hidden `lif` layer `h` over {SPEC_STEPS} steps of "
              f"random input spikes ({SPEC_RATE} per channel and step), exported with each "
              "convention and run by its reader:", ""]
    lines += _table("spec", sp)
    return "\n".join([*lines, "", MARK_END])


def compute() -> str:
    run = export_run()
    export = {c: {r.key: export_cell(run, r, c) for r in EXPORT_ROWS} for c in CONVENTIONS}
    imports = {c: import_cells(c) for c in CONVENTIONS}
    specs, rates = {}, {}
    for name in SPECS:
        r = spec_run(name)
        specs[name] = {c: spec_agreement(name, r, c) for c in CONVENTIONS}
        rates[name] = firing(r)
    return render(export, imports, specs, rates)


def readme_block(text: str) -> str:
    start, end = text.index(MARK_BEGIN), text.index(MARK_END) + len(MARK_END)
    return text[start:end]


def write(block: str) -> None:
    path = ROOT / "README.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(readme_block(text), block), encoding="utf-8")


if __name__ == "__main__":
    table = compute()
    if "--write" in sys.argv[1:]:
        write(table)
    print(table)
