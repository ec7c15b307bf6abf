"""The import model: a NIR graph read into rpgraph nodes, scopes, parameters and edges.

:func:`load_graph` walks a :class:`nir.NIRGraph` (and its subgraphs) once and returns an
:class:`Import`: every node converted to an rpgraph kind with its parameters (the table
:data:`CONVERTERS`, with the discretisation of :mod:`rpgraph.nir.conventions`), given an
identifier unique in its scope, placed in a scope (the network, or a block for a subgraph
with one ``Input`` and one ``Output``; other subgraphs are flattened), and each neuron's
input gain folded into the ``linear`` nodes that feed it. What the conversion had to
approximate is collected in ``Import.notes`` (the importer warns with each).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import nir
import numpy as np

from ..ast import Bool, Call, Expr, Name, Num
from ..errors import SpecError, did_you_mean
from .conventions import (
    DISCRETISATIONS,
    INSTANT,
    TAU_INFINITE_STEPS,
    leaky,
    membrane,
    rockpool_r,
    synapse,
    tau_of,
)
from .files import MAX_NESTING, NESTING_HINT
from .metadata import meta_float, meta_str
from .names import ident, unique
from .shaped import conv_call, flat_node, flatten_ok, pool_call, shape_of

__all__ = ["CONVERTERS", "SUPPORTED", "Conv", "Import", "Node", "load_graph"]


@dataclass
class Conv:
    """One converted NIR node: an rpgraph module call and its parameters."""

    kind: str  # rpgraph kind: linear, lif, expsyn, li, if, delay, identity, ...
    size_in: int
    size_out: int
    call: Name | Call  # how the spec declares it: ``expsyn``, ``linear(3)``
    params: dict[str, np.ndarray] = field(default_factory=dict)
    gain: np.ndarray | None = None  # per-neuron input gain still to fold in
    frozen: tuple[str, ...] = ()
    reset: str = ""  # a lif's or if's reset: "subtract" | "v_reset"


@dataclass
class Node:
    """One rpgraph node (port, module or block instance) of the import."""

    key: str  # unique id: NIR path joined with "/"
    scope: str  # key of the enclosing block node ("" for the network)
    name: str  # rpgraph identifier inside its scope
    role: str  # input, output, port_in, port_out, module, block
    nir_type: str
    nir_path: str
    conv: Conv | None = None
    size: int = 0
    shape: tuple[int, ...] = ()  # a port's tensor shape when it has more than one axis


@dataclass
class Import:
    """A whole NIR graph read into rpgraph terms (see the module docstring)."""

    dt: float
    convention: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (u, v, scope)
    blocks: dict[str, str] = field(default_factory=dict)  # block node key -> block name
    bad: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    taken: dict[str, set[str]] = field(default_factory=dict)  # scope -> names in use


# --- module calls ----------------------------------------------------------------------------


def _call(func: str, *args: Expr, **kwargs: Expr) -> Name | Call:
    """``func(args, key = value)`` as the spec writes it: a bare name without arguments."""
    return Call(func, args, tuple(kwargs.items())) if args or kwargs else Name(func)


def _int(n: int) -> Num:
    return Num(float(n), is_int=True)


# --- node conversion -------------------------------------------------------------------------


def _f64(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _vec(a: Any) -> np.ndarray:
    return np.atleast_1d(_f64(a))


#: How a note says a decay was clamped (:func:`load_graph` then asks whether ``dt`` is right).
_CLAMPED = "forward-Euler decay 1 - dt/tau <= 0 clamped to 2**-20"


def _clamped(notes: list[str], name: str, *flags: bool) -> None:
    for flag in flags:
        if flag:
            notes.append(f"'{name}': dt >= tau, {_CLAMPED}")


def _r_unused(notes: list[str], name: str, r: np.ndarray, tau: np.ndarray, dt: float,
              conv: str) -> None:
    """Rockpool reads ``r`` only as its step ``tau / (1 + r)``: say so when ``r`` is neither
    Rockpool's exported value nor rpgraph's (which both mean that step)."""
    if not DISCRETISATIONS[conv].exponential or np.allclose(
            r, rockpool_r(tau, dt), rtol=1e-3, atol=0) or np.allclose(
            r, tau / dt - 1, rtol=1e-3, atol=0):
        return
    notes.append(f"'{name}': Rockpool convention: r is no gain (Rockpool reads it only as "
                 "its step, tau / (1 + r)), so this r is ignored")


Result = Conv | tuple[Conv, Conv] | str  # a node, a (synapse, membrane) pair, or why not
Converter = Callable[[str, Any, float, str, list[str]], Result]


def _affine(name: str, node: Any, dt: float, conv: str, notes: list[str]) -> Result:
    w = _f64(node.weight)
    if w.ndim != 2:
        return f"weight of shape {w.shape} (only 2-D weights)"
    params = {"weight": w.T.copy()}
    call = _call("linear", _int(w.shape[0]))
    if isinstance(node, nir.Affine):
        bias = _vec(node.bias)
        if bias.size != w.shape[0]:
            return f"bias of shape {bias.shape} for a weight of shape {w.shape}"
        params["bias"] = bias.reshape(w.shape[0]).copy()
        call = _call("linear", _int(w.shape[0]), bias=Bool(True))
    return Conv("linear", w.shape[1], w.shape[0], call, params)


def _scale(name: str, node: Any, dt: float, conv: str, notes: list[str]) -> Result:
    s = _f64(node.scale)
    if np.all(s == 1.0):  # any shape: identity is element-wise (a dropout's export)
        return Conv("identity", s.size, s.size, _call("identity"))
    if s.ndim != 1:
        return f"scale of shape {s.shape} (only 1-D)"
    return Conv("linear", s.size, s.size, _call("linear", _int(s.size)),
                {"weight": np.diag(s)}, frozen=("weight",))


def _li(name: str, node: Any, dt: float, conv: str, notes: list[str]) -> Result:
    """``LI`` as ``li`` (forward-Euler conventions: NIR's equation as ``li`` steps it) or as
    ``expsyn`` (Rockpool's ``ExpSyn``, ``v = A (v + S)``; or an ``LI`` that rpgraph wrote
    for an ``expsyn``, metadata ``rpgraph_kind``)."""
    r = _vec(node.r)
    if r.ndim != 1:
        return f"shape {r.shape} (only 1-D neuron layers)"
    ones = np.ones(r.size)
    tau, v_leak = _vec(node.tau) * ones, _vec(node.v_leak) * ones
    as_expsyn = meta_str(getattr(node, "metadata", {}), "rpgraph_kind") == "expsyn"
    if not DISCRETISATIONS[conv].exponential and not as_expsyn:
        return _li_euler(name, tau, r * ones, v_leak, dt, notes)
    if np.any(v_leak != 0):
        return "LI with v_leak != 0 (read as expsyn, which has no bias)"
    a, gain, clamped = leaky(tau, r, dt, conv)
    _clamped(notes, name, clamped)
    _r_unused(notes, name, r, tau, dt, conv)
    return Conv("expsyn", r.size, r.size, _call("expsyn"), {"tau": tau_of(a, dt)}, gain=gain)


def _li_euler(name: str, tau: np.ndarray, r: np.ndarray, v_leak: np.ndarray, dt: float,
              notes: list[str]) -> Conv:
    """``li`` runs ``v += dt / tau (v_leak - v + r S)``, NIR's ``LI`` by forward Euler: the
    parameters are the file's. Where ``dt >= tau`` (decay ``1 - dt / tau <= 0``) the decay is
    clamped to :data:`INSTANT` as for the other neurons: ``tau' = dt / (1 - INSTANT)`` with
    ``r`` and ``v_leak`` scaled by ``tau' / tau`` so that ``dt / tau' * r'`` stays
    ``dt / tau * r``."""
    clamped = tau <= dt
    _clamped(notes, name, bool(np.any(clamped)))
    tau_c = np.where(clamped, dt / (1.0 - INSTANT), tau)
    scale = tau_c / tau
    params = {"tau": tau_c, "r": r * scale, "v_leak": v_leak * scale}
    return Conv("li", tau.size, tau.size, _call("li"), params)


def _integrator(name: str, node: Any, dt: float, conv: str, notes: list[str]) -> Result:
    r = _vec(node.r)
    if r.ndim != 1:
        return f"shape {r.shape} (only 1-D neuron layers)"
    return Conv("expsyn", r.size, r.size, _call("expsyn"),
                {"tau": np.full(r.size, dt * TAU_INFINITE_STEPS)}, gain=r * dt)


def _cuba_li(name: str, node: Any, dt: float, conv: str, notes: list[str]) -> Result:
    """``CubaLI`` as two ``expsyn`` nodes: the synaptic current ``I`` (``tau_syn``) and the
    membrane ``v`` (``tau_mem``) it drives; the discretisation of ``CubaLIF`` without the
    spike. The membrane's input gain ``K / A_m`` becomes a frozen diagonal ``linear``."""
    tau_m = _vec(node.tau_mem)
    if tau_m.ndim != 1:
        return f"shape {tau_m.shape} (only 1-D neuron layers)"
    ones = np.ones(tau_m.size)
    if np.any(_vec(node.v_leak) != 0):
        return "CubaLI with v_leak != 0 (expsyn has no bias)"
    a_m, k, _, clamped_m = membrane(tau_m * ones, _vec(node.r), _vec(node.v_leak), dt, conv)
    a_s, g_s, clamped_s = synapse(_vec(node.tau_syn) * ones, _vec(node.w_in) * ones, dt, conv)
    _clamped(notes, name, clamped_m, clamped_s)
    _r_unused(notes, name, _vec(node.r) * ones, tau_m * ones, dt, conv)
    n = tau_m.size
    syn = Conv("expsyn", n, n, _call("expsyn"), {"tau": tau_of(a_s, dt)}, gain=g_s / a_s)
    mem = Conv("expsyn", n, n, _call("expsyn"), {"tau": tau_of(a_m, dt)}, gain=k / a_m)
    return syn, mem


@dataclass(frozen=True)
class _Dynamics:
    """``I[t] = a_s I[t-1] + g_s S[t]``; ``v[t] = a_m v[t-1] + k I[t] + bias``."""

    a_m: np.ndarray
    k: np.ndarray
    bias: np.ndarray
    a_s: np.ndarray
    g_s: np.ndarray


def _no_synapse(name: str, node: Any, notes: list[str]) -> None:
    kind = type(node).__name__
    notes.append(f"'{name}' ({kind}): NIR's {kind} has no synapse; imported as a lif with a "
                 "near-instant synapse (tau_syn = dt / (20 ln 2): 2**-20 of the last step's "
                 "current remains) and a 2**20 input gain (large weights: rescale before "
                 "training)")


def _lif_dynamics(name: str, node: Any, dt: float, conv: str, notes: list[str]
                  ) -> _Dynamics:
    n = np.size(node.v_threshold)
    ones = np.ones(n)
    a_m, k, bias, clamped = membrane(_vec(node.tau) * ones, _vec(node.r) * ones,
                                     _vec(node.v_leak) * ones, dt, conv)
    _clamped(notes, name, clamped)
    _r_unused(notes, name, _vec(node.r) * ones, _vec(node.tau) * ones, dt, conv)
    _no_synapse(name, node, notes)
    return _Dynamics(a_m, k, bias, np.full(n, INSTANT), ones)


def _cuba_lif_dynamics(name: str, node: Any, dt: float, conv: str, notes: list[str]
                       ) -> _Dynamics:
    ones = np.ones(np.size(node.v_threshold))
    a_m, k, bias, clamped_m = membrane(_vec(node.tau_mem) * ones, _vec(node.r) * ones,
                                       _vec(node.v_leak) * ones, dt, conv)
    a_s, g_s, clamped_s = synapse(_vec(node.tau_syn) * ones, _vec(node.w_in) * ones, dt, conv)
    _clamped(notes, name, clamped_m, clamped_s)
    _r_unused(notes, name, _vec(node.r) * ones, _vec(node.tau_mem) * ones, dt, conv)
    return _Dynamics(a_m, k, bias, a_s, g_s)


def _threshold_dynamics(name: str, node: Any, dt: float, conv: str, notes: list[str]
                        ) -> _Dynamics:
    ones = np.ones(np.size(node.threshold))
    notes.append(f"'{name}' (Threshold): approximated by a lif with instantaneous membrane "
                 "and synapse (2**-20 memory of the last step)")
    return _Dynamics(INSTANT * ones, ones, 0 * ones, INSTANT * ones, ones)


def _threshold_of(node: Any) -> tuple[Any, np.ndarray] | str:
    """``(node, thresholds)`` of a spiking node, its parameters flattened channel-major when
    the layer is shaped; or why its thresholds cannot be imported."""
    thr = _vec(node.threshold if isinstance(node, nir.Threshold) else node.v_threshold)
    if thr.ndim > 1:  # a shaped layer (C, H, W): parameters channel-major, as activity
        node = flat_node(node)
        thr = thr.reshape(-1)
    if thr.ndim != 1:
        return f"shape {thr.shape} (only 1-D neuron layers)"
    if np.any(thr <= 0):
        return "threshold <= 0 (rpgraph lif needs positive thresholds)"
    return node, thr


def _spiking(dynamics: Callable[[str, Any, float, str, list[str]], _Dynamics]) -> Converter:
    """A converter for a spiking node whose discrete update ``dynamics`` gives."""

    def convert(name: str, node: Any, dt: float, conv: str, notes: list[str]) -> Result:
        checked = _threshold_of(node)
        if isinstance(checked, str):
            return checked
        node, thr = checked
        d = dynamics(name, node, dt, conv, notes)
        return _lif(node, d, thr, dt, conv)

    return convert


def _if(name: str, node: Any, dt: float, conv: str, notes: list[str]) -> Result:
    """``IF`` as ``if``: NIR's ``dv/dt = R I`` by forward Euler is ``vmem += r x`` with
    ``r = R dt``, exactly ``if``'s step. The reset is the convention's (NIR's ``v = v_reset``
    after one spike on ``v > v_threshold``; Rockpool's: one spike on ``v >= thr``, the
    threshold subtracted) unless the node's ``rpgraph_reset`` metadata says otherwise."""
    checked = _threshold_of(node)
    if isinstance(checked, str):
        return checked
    node, thr = checked
    n = thr.size
    params = {"r": _vec(node.r) * dt * np.ones(n), "threshold": thr.copy()}
    reset = meta_str(getattr(node, "metadata", {}), "rpgraph_reset") or \
        DISCRETISATIONS[conv].reset
    if reset == "v_reset":
        v_reset = getattr(node, "v_reset", None)
        params["v_reset"] = np.zeros(n) if v_reset is None else _vec(v_reset) * np.ones(n)
        return Conv("if", n, n, _call("if", reset=Name("v_reset")), params, reset=reset)
    # spikes = multi clipped to one: floor(v / thr) >= 1 exactly when v >= thr (> 0)
    return Conv("if", n, n, _call("if", spikes=Name("multi"), max_spikes_per_dt=_int(1)),
                params, reset=reset)


def _lif(node: Any, d: _Dynamics, thr: np.ndarray, dt: float, conv: str) -> Conv:
    n = thr.size
    params = {"tau_mem": tau_of(d.a_m, dt), "tau_syn": tau_of(d.a_s, dt).reshape(n, 1),
              "bias": d.bias, "threshold": thr.copy()}
    gain = d.k * d.g_s / d.a_s
    meta = getattr(node, "metadata", {})
    # NIR sets v to v_reset after a spike; Rockpool (and rpgraph's default) subtracts the
    # threshold instead. Rockpool-convention graphs keep Rockpool's reset unless the node
    # says otherwise (rpgraph writes its reset into each node's metadata).
    reset = meta_str(meta, "rpgraph_reset") or DISCRETISATIONS[conv].reset
    if reset == "v_reset":
        v_reset = getattr(node, "v_reset", None)
        params["v_reset"] = (np.zeros(n) if v_reset is None else _vec(v_reset) * np.ones(n)
                             ).copy()
        return Conv("lif", n, n, _call("lif", reset=Name("v_reset")), params, gain=gain,
                    reset=reset)
    max_spikes = meta_float(meta, "rpgraph_max_spikes_per_dt", 1.0)
    ms = _int(1) if max_spikes == 1.0 else Num(max_spikes)
    return Conv("lif", n, n, _call("lif", max_spikes_per_dt=ms), params, gain=gain,
                reset=reset)


def _conv(name: str, node: Any, dt: float, conv: str, notes: list[str]) -> Result:
    res = conv_call(node)
    if isinstance(res, str):
        return res
    kind, call, params = res
    n_in, n_out = _shape_size(node.input_type), _shape_size(node.output_type)
    return Conv(kind, n_in, n_out, call, params)


def _pool(name: str, node: Any, dt: float, conv: str, notes: list[str]) -> Result:
    res = pool_call(node)
    if isinstance(res, str):
        return res
    kind, call = res
    return Conv(kind, _shape_size(node.input_type), _shape_size(node.output_type), call)


def _flatten(name: str, node: Any, dt: float, conv: str, notes: list[str]) -> Result:
    why = flatten_ok(node)
    if why is not None:
        return why
    n = _shape_size(node.input_type)
    return Conv("flatten", n, n, _call("flatten"))


def _delay(name: str, node: Any, dt: float, conv: str, notes: list[str]) -> Result:
    d = _vec(node.delay)
    if d.ndim != 1:
        return f"shape {d.shape} (only 1-D delays)"
    if np.any(d < 0) or not np.all(np.isfinite(d)):
        return "negative or non-finite delays"
    steps = np.round(d / dt)
    if np.any(np.abs(steps * dt - d) > 1e-6 * max(1.0, float(d.max(initial=0.0)))):
        notes.append(f"Delay '{name}': delays rounded to whole steps of {dt:g} s")
    # the initialiser's range sizes the node's buffer; the delays themselves are the params
    longest = float(steps.max(initial=0.0) * dt)
    call = _call("delay", Call("uniform", (Num(0.0), Num(longest))))
    return Conv("delay", d.size, d.size, call, {"d": steps * dt})


#: NIR node type -> its converter; the order is the one the "supported" hint lists.
CONVERTERS: dict[type, Converter] = {
    nir.Affine: _affine,
    nir.Linear: _affine,
    nir.Scale: _scale,
    nir.LI: _li,
    nir.I: _integrator,
    nir.LIF: _spiking(_lif_dynamics),
    nir.CubaLIF: _spiking(_cuba_lif_dynamics),
    nir.CubaLI: _cuba_li,
    nir.IF: _if,
    nir.Threshold: _spiking(_threshold_dynamics),
    nir.Conv1d: _conv,
    nir.Conv2d: _conv,
    nir.SumPool2d: _pool,
    nir.AvgPool2d: _pool,
    nir.Flatten: _flatten,
    nir.Delay: _delay,
}
SUPPORTED: tuple[type, ...] = (nir.Input, nir.Output, nir.NIRGraph, *CONVERTERS)


def _converter(node: nir.NIRNode) -> Converter | None:
    return next((CONVERTERS[c] for c in type(node).__mro__ if c in CONVERTERS), None)


def _bad_values(node: nir.NIRNode) -> str | None:
    """Why a node's numbers cannot be imported: NaN or infinite entries anywhere, or a time
    constant that is not positive (it would silently become a growing, not leaky, state)."""
    for field_name, value in vars(node).items():
        if field_name in ("metadata", "input_type", "output_type"):
            continue
        try:
            a = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            continue
        if not np.all(np.isfinite(a)):
            return f"non-finite values in {field_name}"
        if field_name.startswith("tau") and np.any(a <= 0):
            return f"{field_name} <= 0 (time constants must be positive)"
    return None


# --- structure -------------------------------------------------------------------------------


def _claim(imp: Import, scope: str, raw: str) -> str:
    taken = imp.taken.setdefault(scope, set())
    name = unique(ident(raw), taken | set(imp.blocks.values()))
    taken.add(name)
    return name


def _add(imp: Import, key: str, scope: str, raw: str, role: str, node: nir.NIRNode,
         path: str, conv: Conv | None = None, size: int = 0) -> None:
    imp.nodes[key] = Node(key, scope, _claim(imp, scope, raw), role, type(node).__name__,
                          path, conv, size)


def _all_names(imp: Import) -> set[str]:
    return set().union(*imp.taken.values()) if imp.taken else set()


def _shape_size(t: Any) -> int:
    a = np.asarray(t.get("input", t.get("output")) if isinstance(t, Mapping) else t)
    if a.dtype == object:  # a shape NIR left unknown (None): rpgraph infers it
        return 0
    return int(np.prod(a)) if a.size else 0


Ends = dict[str, tuple[dict[str, str], dict[str, str]]]  # subgraph -> (its inputs, outputs)


@dataclass(frozen=True)
class _Where:
    """Where a (sub)graph's nodes go: key prefix, scope, how its ports are read (``top``:
    network ports, ``block``: block ports, ``flat``: identity junctions), name prefix of
    flattened nodes and its nesting level."""

    prefix: str
    scope: str
    mode: str
    flat_prefix: str
    level: int


def _load(imp: Import, graph: nir.NIRGraph, at: _Where) -> tuple[dict[str, str], dict[str, str]]:
    """Add ``graph``'s nodes and edges; returns the keys of its Input and Output nodes by
    NIR name."""
    ins: dict[str, str] = {}
    outs: dict[str, str] = {}
    ends: Ends = {}
    for name, node in graph.nodes.items():
        key = at.prefix + name
        path, raw = key.replace("/", "."), at.flat_prefix + name
        if isinstance(node, (nir.Input, nir.Output)):
            is_in = isinstance(node, nir.Input)
            (ins if is_in else outs)[name] = key
            _port(imp, node, key, at, raw, path, is_in)
        elif isinstance(node, nir.NIRGraph):
            ends[name] = _subgraph(imp, node, name, key, at, raw, path)
        elif (bad := _bad_values(node)) is not None:
            imp.bad.append(f"'{path}' ({type(node).__name__}: {bad})")
        else:
            convert = _converter(node)
            res = "no rpgraph equivalent" if convert is None else convert(
                path, node, imp.dt, imp.convention, imp.notes)
            if isinstance(res, str):
                imp.bad.append(f"'{path}' ({type(node).__name__}: {res})")
            elif isinstance(res, tuple):  # CubaLI: two nodes, edges in reach the synapse
                syn = key + "#syn"
                imp.nodes[syn] = Node(syn, at.scope, _claim(imp, at.scope, raw + "_syn"),
                                      "module", "CubaLI synapse", path, res[0])
                imp.nodes[key] = Node(key, at.scope, _claim(imp, at.scope, raw), "module",
                                      "CubaLI membrane", path, res[1])
                imp.edges.append((syn, key, at.scope))
                ends[name] = ({"input": syn}, {"output": key})
            else:
                _add(imp, key, at.scope, raw, "module", node, path, res)
    names = set(graph.nodes)
    for u, v in graph.edges:
        imp.edges.append((_endpoint(at.prefix, u, ends, 1, names),
                          _endpoint(at.prefix, v, ends, 0, names), at.scope))
    return ins, outs


def _port(imp: Import, node: nir.NIRNode, key: str, at: _Where, raw: str, path: str,
          is_in: bool) -> None:
    size = _shape_size(node.input_type if is_in else node.output_type)
    if at.mode == "flat":
        conv = Conv("identity", size, size, _call("identity"))
        _add(imp, key, at.scope, raw, "module", node, path, conv, size)
    else:
        role = ("input" if is_in else "output") if at.mode == "top" else (
            "port_in" if is_in else "port_out")
        _add(imp, key, at.scope, raw, role, node, path, size=size)
        shape = shape_of(node.input_type if is_in else node.output_type)
        imp.nodes[key].shape = shape if len(shape) > 1 else ()


def _subgraph(imp: Import, node: nir.NIRGraph, name: str, key: str, at: _Where, raw: str,
              path: str) -> tuple[dict[str, str], dict[str, str]]:
    """A subgraph with one Input and one Output becomes a block instance, any other is
    flattened into ``<sub>__<node>`` names."""
    if at.level + 1 > MAX_NESTING:
        raise SpecError(f"NIR subgraph '{path}' is nested deeper than {MAX_NESTING} levels",
                        hint=NESTING_HINT)
    n_in = sum(isinstance(v, nir.Input) for v in node.nodes.values())
    n_out = sum(isinstance(v, nir.Output) for v in node.nodes.values())
    if n_in == 1 and n_out == 1:
        _add(imp, key, at.scope, raw, "block", node, path)
        # rpgraph writes each block instance's block name into its metadata
        base = meta_str(getattr(node, "metadata", {}), "rpgraph_block")
        imp.blocks[key] = unique(ident(base or name + "_graph"),
                                 set(imp.blocks.values()) | _all_names(imp))
        return _load(imp, node, _Where(key + "/", key, "block", "", at.level + 1))
    imp.notes.append(f"subgraph '{path}' has {n_in} inputs and {n_out} outputs: "
                     "flattened (a block has exactly one of each)")
    return _load(imp, node, _Where(key + "/", at.scope, "flat", raw + "__", at.level + 1))


def _endpoint(prefix: str, name: str, ends: Ends, side: int, names: set[str]) -> str:
    """Key of an edge end: a subgraph name resolves to its single Output (``side = 1``) or
    Input (``side = 0``); ``sub.port`` to that port; any other name must be a node of the
    graph (``names``)."""
    head, _, port = name.partition(".")
    if head in ends and not (port and name in names):  # "a.b" may be a node's own name
        ports = ends[head][side]
        if port in ports:
            return ports[port]
        if not port and len(ports) == 1:
            return next(iter(ports.values()))
        if not port:
            raise SpecError(f"NIR edge names subgraph '{name}' which has {len(ports)} "
                            f"{'outputs' if side else 'inputs'}; name one as '{name}.<port>'")
    if name not in names:
        where = prefix.replace("/", ".")
        raise SpecError(f"NIR edge names '{where}{name}', which is not a node of "
                        f"{'the graph' if not where else 'subgraph ' + repr(where[:-1])}",
                        hint=did_you_mean(name, names))
    return prefix + name


# --- input gains -----------------------------------------------------------------------------


def _fold_gains(imp: Import) -> None:
    """Fold every neuron's input gain into its incoming linear weights, or insert a frozen
    diagonal ``linear`` in front of it."""
    preds: dict[str, list[str]] = {k: [] for k in imp.nodes}
    succs: dict[str, list[str]] = {k: [] for k in imp.nodes}
    for u, v, _ in imp.edges:
        if u in imp.nodes and v in imp.nodes:
            preds[v].append(u)
            succs[u].append(v)
    for key, node in list(imp.nodes.items()):
        c = node.conv
        if c is None or c.gain is None:
            continue
        gain = c.gain
        c.gain = None
        if np.allclose(gain, 1.0, rtol=1e-12, atol=0):
            continue
        feeders: list[str] = []
        if _feeders(imp, key, preds, succs, feeders, set()) and feeders and all(
                _per_channel(gain, c) for f in feeders if (c := imp.nodes[f].conv)):
            for f in feeders:
                fc = imp.nodes[f].conv
                assert fc is not None
                if fc.kind.startswith("conv"):  # one gain per output channel (checked)
                    g = gain.reshape(fc.params["weight"].shape[0], -1)[:, 0]
                    fc.params["weight"] = fc.params["weight"] * g.reshape(
                        -1, *([1] * (fc.params["weight"].ndim - 1)))
                    if "bias" in fc.params:
                        fc.params["bias"] = fc.params["bias"] * g
                    continue
                fc.params["weight"] = fc.params["weight"] * gain[None, :]
                if "bias" in fc.params:
                    fc.params["bias"] = fc.params["bias"] * gain
            continue
        gkey = key + "#in"
        gname = _claim(imp, node.scope, node.name.rstrip("_") + "_in")
        conv = Conv("linear", c.size_in, c.size_in, _call("linear", _int(c.size_in)),
                    {"weight": np.diag(gain)}, frozen=("weight",))
        imp.nodes[gkey] = Node(gkey, node.scope, gname, "module", "(input gain)",
                               node.nir_path + " input gain", conv)
        imp.edges = [(u, gkey if v == key else v, s) for u, v, s in imp.edges]
        imp.edges.append((gkey, key, node.scope))
        preds[gkey], succs[gkey] = preds[key], [key]
        preds[key] = [gkey]
        imp.notes.append(f"'{node.nir_path}': input gain kept as a frozen diagonal linear "
                         f"'{gname}' (its inputs are not linear nodes used only there)")


def _feeders(imp: Import, key: str, preds: dict[str, list[str]],
             succs: dict[str, list[str]], out: list[str], seen: set[str]) -> bool:
    """Collect in ``out`` the ``linear`` nodes whose outputs reach ``key`` only (through
    ports and identities); ``False`` when some path into ``key`` starts elsewhere."""
    for p in preds[key]:
        if p in seen:
            return False
        seen.add(p)
        node = imp.nodes[p]
        if len(succs[p]) != 1:
            return False
        if node.role in ("port_in", "port_out") or (
                node.conv is not None and node.conv.kind == "identity"):
            if not _feeders(imp, p, preds, succs, out, seen):
                return False
        elif node.conv is not None and node.conv.kind == "linear":  # Scale stays diagonal
            out.append(p)
        elif node.conv is not None and node.conv.kind.startswith("conv"):
            out.append(p)  # folds when the gain is one number per channel (_per_channel)
        else:
            return False
    return True


def _per_channel(gain: np.ndarray, conv: Conv) -> bool:
    """Whether an input gain is one number per output channel of ``conv`` (not a
    convolution: true), so it folds into the convolution's weights and bias."""
    if not conv.kind.startswith("conv"):
        return True
    g = np.asarray(gain).reshape(conv.params["weight"].shape[0], -1)
    return bool(np.allclose(g, g[:, :1], rtol=1e-12, atol=0))


# --- the whole graph -------------------------------------------------------------------------


def load_graph(graph: nir.NIRGraph, dt: float, convention: str, from_rpgraph: bool
               ) -> Import:
    """Read ``graph`` at step ``dt`` in ``convention`` (not ``"auto"``) into an
    :class:`Import`; one :class:`SpecError` lists every node that cannot be imported.
    ``from_rpgraph``: the graph was written by rpgraph (its resets need no note).

    >>> g = nir.NIRGraph(nodes={"x": nir.Input(np.array([2])), "w": nir.Linear(np.eye(2)),
    ...                         "y": nir.Output(np.array([2]))}, edges=[("x", "w"), ("w", "y")])
    >>> [(n.name, n.role) for n in load_graph(g, 1e-3, "norse", False).nodes.values()]
    [('x', 'input'), ('w', 'module'), ('y', 'output')]
    """
    imp = Import(float(dt), convention)
    _load(imp, graph, _Where("", "", "top", "", 0))
    if imp.bad:
        raise SpecError(f"cannot import NIR graph: {len(imp.bad)} unsupported node"
                        f"{'s' if len(imp.bad) != 1 else ''}: {', '.join(imp.bad)}",
                        hint="supported: " + ", ".join(t.__name__ for t in SUPPORTED))
    for key, node in imp.nodes.items():
        if node.role == "block":
            sub = [n for n in imp.nodes.values() if n.scope == key]
            if not any(n.role == "port_in" for n in sub):
                raise SpecError(f"subgraph '{node.nir_path}' has no input")
    if not any(n.role == "input" for n in imp.nodes.values()):
        raise SpecError("the NIR graph has no Input node")
    _fold_gains(imp)
    subtract = [n.nir_path for n in imp.nodes.values()
                if n.conv is not None and n.conv.reset == "subtract"]
    if any(_CLAMPED in note for note in imp.notes):  # most likely the wrong step
        imp.notes.append(f"dt = {dt:g} s is not shorter than some of the file's time constants; "
                         "is it the step the file was made for? (snnTorch writes its files for "
                         "dt = 0.1 ms: --dt 0.1ms)")
    if subtract and not from_rpgraph:
        imp.notes.append(f"{', '.join(repr(p) for p in subtract)}: Rockpool convention, so "
                         "after a spike the threshold is subtracted (Rockpool's reset, firing "
                         "on v >= thr), not v set to v_reset (NIR's), and at most one spike "
                         "is emitted per step (Rockpool's multi-spike neurons may emit more)")
    return imp
