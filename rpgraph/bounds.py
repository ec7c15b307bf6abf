"""Parameter bounds: templates, soft penalties and hard projection.

* :func:`template` is Rockpool's ``make_bounds`` generated from the graph's parameter
  nodes, with the spec's declared bounds already filled in.
* :func:`bounds_cost` is Rockpool's ``jax_loss.bounds_cost`` (exactly: a cost that jumps
  from 0 to ``exp(0) = 1`` when a parameter crosses its bound); :func:`bounds_penalty` is a
  continuous alternative (squared distance outside the box).
* :func:`project` clips parameters back into the box after an optimizer update; the
  trainer applies it inside the jitted step to the parameters whose bound says
  ``enforce project`` (or ``both``): the masks are built by :mod:`rpgraph.objective`.
* :func:`check_initial` refuses initial values outside their bounds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import CheckpointError, SpecValueError
from .graph import Network

if TYPE_CHECKING:  # the real modules; at run time, imported on first use
    import jax
    import jax.numpy as jnp
else:
    from .lazy_jax import jax, jnp

Array = Any
Tree = dict[str, dict[str, Any]]


def template(net: Network) -> tuple[Tree, Tree]:
    """``(lower, upper)``: one float per parameter, ``-inf``/``inf`` where unbounded.

    >>> from rpgraph.graph import loads
    >>> net = loads("network n (dt = 1 ms) { input x : 2\\n output y : 2\\n"
    ...             " x -> h: rate(activation = tanh) -> y }\\nbounds { h.tau >= 10 * dt }")
    >>> template(net)[0]["h"]["tau"]
    0.01
    """
    lower: Tree = {}
    upper: Tree = {}
    # Rockpool's layout: modules in data-flow order, parameters by name (JAX's leaf order)
    order = {n: i for i, n in enumerate(net.modules())}
    params = sorted(net.params(), key=lambda p: (order[p.module], p.name))
    for d in params:
        lower.setdefault(d.module, {})[d.name] = float(d.lower)
        upper.setdefault(d.module, {})[d.name] = float(d.upper)
    return lower, upper


def bounds_cost(params: Tree, lower: Tree, upper: Tree) -> Array:
    """Rockpool's ``bounds_cost``: ``sum(exp(-(p - lower)))`` over elements below their lower
    bound, plus the same above the upper bound. Discontinuous: a parameter just outside
    its bound costs about 1.

    >>> p = {"h": {"tau": jnp.array([0.005, 0.02])}}
    >>> round(float(bounds_cost(p, {"h": {"tau": 0.01}}, {"h": {"tau": math.inf}})), 4)
    1.005
    """
    total = jnp.float32(0.0)
    for p, lo, hi in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(lower),
                         jax.tree_util.tree_leaves(upper)):
        # An infinite bound contributes exactly 0; skipping it when that is known at trace
        # time saves an exp and a where over every element of large unbounded weights.
        if not _static_inf(lo, -1):
            lb_all = jnp.exp(-(p - jnp.clip(lo, -(2.0**31), None)))
            total = total + jnp.nansum(jnp.where(p < lo, lb_all, 0.0))
        if not _static_inf(hi, +1):
            ub_all = jnp.exp(-(jnp.clip(hi, None, 2.0**31 - 1) - p))
            total = total + jnp.nansum(jnp.where(p > hi, ub_all, 0.0))
    return total


def _static_inf(bound: Any, sign: int) -> bool:
    """Whether ``bound`` is known, before tracing, to be ``sign * inf`` everywhere (a
    per-element bound is a numpy array)."""
    if isinstance(bound, np.ndarray):
        return bool(bound.size) and bool(np.all(bound == sign * math.inf))
    return isinstance(bound, (int, float)) and bound == sign * math.inf


def bounds_penalty(params: Tree, lower: Tree, upper: Tree) -> Array:
    """Continuous penalty: ``sum(relu(lower - p)**2 + relu(p - upper)**2)``; zero inside the
    box and at its edge, so the loss does not jump when a parameter touches a bound.

    >>> p = {"h": {"tau": jnp.array([0.005, 0.02])}}
    >>> round(float(bounds_penalty(p, {"h": {"tau": 0.01}}, {"h": {"tau": math.inf}})), 8)
    2.5e-05
    """
    total = jnp.float32(0.0)
    for p, lo, hi in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(lower),
                         jax.tree_util.tree_leaves(upper)):
        below = 0.0 if _static_inf(lo, -1) else jnp.where(p < lo, lo - p, 0.0)
        above = 0.0 if _static_inf(hi, +1) else jnp.where(p > hi, p - hi, 0.0)
        total = total + jnp.sum(jnp.square(below)) + jnp.sum(jnp.square(above))
    return total


def project(params: Tree, lower: Tree, upper: Tree, mask: Tree | None = None) -> Tree:
    """Clip each (masked) parameter into ``[lower, upper]``; others pass through unchanged.

    >>> p = {"h": {"tau": jnp.array([0.005, 0.02])}}
    >>> out = project(p, {"h": {"tau": 0.01}}, {"h": {"tau": math.inf}})
    >>> [round(v, 6) for v in out["h"]["tau"].tolist()]
    [0.01, 0.02]
    """
    out: Tree = {}
    for node, leaves in params.items():
        out[node] = {}
        for name, p in leaves.items():
            lo, hi = lower[node][name], upper[node][name]
            on = mask[node][name] if mask is not None else True
            if on and not (_static_inf(lo, -1) and _static_inf(hi, +1)):
                if isinstance(lo, np.ndarray) or isinstance(hi, np.ndarray):
                    p = _clip_elements(p, lo, hi)
                else:
                    lo32 = _inside(lo, +1) if lo > -math.inf else None
                    hi32 = _inside(hi, -1) if hi < math.inf else None
                    if lo32 is not None and hi32 is not None and lo32 > hi32:
                        lo32 = hi32 = float(np.float32(lo))  # none strictly inside: nearest
                    p = jnp.clip(p, lo32, hi32)
            out[node][name] = p
    return out


def _clip_elements(p: Array, lo: Any, hi: Any) -> Array:
    """Per-element projection: each bound moved inside as :func:`_inside` does, element by
    element (infinite ones stay infinite)."""
    shape = jnp.shape(p)
    lo_a = np.broadcast_to(np.asarray(lo, np.float64), shape)
    hi_a = np.broadcast_to(np.asarray(hi, np.float64), shape)
    lo32 = np.array([_inside(v, +1) if v > -math.inf else -math.inf for v in lo_a.ravel()],
                    np.float32).reshape(shape)
    hi32 = np.array([_inside(v, -1) if v < math.inf else math.inf for v in hi_a.ravel()],
                    np.float32).reshape(shape)
    tight = lo32 > hi32  # no float32 strictly inside: the nearest to the lower bound
    lo32 = np.where(tight, lo_a.astype(np.float32), lo32)
    hi32 = np.where(tight, lo_a.astype(np.float32), hi32)
    return jnp.clip(p, jnp.asarray(lo32), jnp.asarray(hi32))


def _inside(bound: float, direction: int) -> float:
    """The float32 value nearest ``bound`` on the allowed side: ``float32(0.01)`` is just
    below 0.01, so clipping to it would leave a parameter outside a lower bound of 0.01."""
    b32 = np.float32(bound)
    if (direction > 0 and float(b32) < bound) or (direction < 0 and float(b32) > bound):
        b32 = np.nextafter(b32, np.float32(direction * np.inf))
    tiny = np.finfo(np.float32).tiny
    if 0 < abs(b32) < tiny:
        # XLA on CPU flushes subnormals to zero, so a clip to one lands on 0: use the nearest
        # value on the allowed side that survives (0 or the smallest normal float32).
        b32 = np.float32(np.sign(b32) * tiny) if (b32 > 0) == (direction > 0) else np.float32(0)
    return float(b32)


# a draw is float32: its extremes may pass the float64 range by a rounding error
_SLACK = 1 + 1e-6


def check_initial(net: Network, init: Callable[[int], Tree], seed: int = 0) -> None:
    """Raise a :class:`SpecValueError` when an initial value lies outside its bounds,
    pointing at the bound and at the initialiser. ``init(seed)`` gives the initial
    parameters; it is called only when an initialiser's range is not known statically.

    >>> import rpgraph
    >>> prog = rpgraph.compile("specs/tutorial_rate.rpg")
    >>> check_initial(prog.network, prog.init)
    """
    params = None
    for d in net.params():
        pid = d.id
        lo, hi = d.lower, d.upper
        if lo == -math.inf and hi == math.inf:
            continue
        rng = d.init.bounds()
        most = d.init.bounds(d.shape)
        if rng is None and most is not None and lo < most[0] * _SLACK and most[1] * _SLACK < hi:
            continue  # whatever it draws lies inside: no need to draw (nor to import JAX)
        if rng is None:
            if params is None:
                params = init(seed)
            a = np.asarray(params[d.module][d.name])
            rng = (float(a.min()), float(a.max())) if a.size else (lo, hi)
        if rng[0] < lo or rng[1] > hi:
            bad = rng[0] if rng[0] < lo else rng[1]
            side = f">= {lo:g}" if rng[0] < lo else f"<= {hi:g}"
            floor = d.floor and rng[0] < lo
            kind = net.module(d.module).kind
            # a floor has no bound in the spec to point at: point at the initialiser
            span = d.bound_spans[-1] if d.bound_spans else d.span if floor else None
            raise SpecValueError(
                f"initial value {bad:g} of '{pid}' violates its bound ({side})"
                + (f", the default floor of {kind} time constants" if floor else ""), span,
                notes=[] if floor else [(d.span, f"'{pid}' is initialised by "
                                                 f"{d.init.describe()}")],
                hint=(f"declare a lower bound to replace the floor, e.g. 'bounds {{ {pid} >= "
                      f"{bad:g} }}'" if floor else
                      "change the initialiser or the bound so that they agree"),
            ).located(net.source, net.filename)


# --- emitting and reading templates ----------------------------------------------------------


def _enc(v: Any) -> Any:
    """A bound for JSON: a number, ``"inf"``/``"-inf"``, or a (nested) list of those."""
    if isinstance(v, np.ndarray):
        return [_enc(x) for x in v.tolist()] if v.ndim else _enc(float(v))
    if isinstance(v, list):
        return [_enc(x) for x in v]
    v = float(v)
    return v if math.isfinite(v) else ("inf" if v > 0 else "-inf")


def to_json(lower: Tree, upper: Tree) -> str:
    """JSON of a template; infinities are written ``"inf"``/``"-inf"`` (JSON has none). A
    per-element bound is a (nested) list shaped like its parameter.

    >>> print(to_json({"h": {"tau": 0.01}}, {"h": {"tau": math.inf}}))
    { "lower": { "h": { "tau": 0.01 } }, "upper": { "h": { "tau": "inf" } } }
    """
    data = {"lower": {n: {k: _enc(v) for k, v in d.items()} for n, d in lower.items()},
            "upper": {n: {k: _enc(v) for k, v in d.items()} for n, d in upper.items()}}
    return json.dumps(data, indent=2)


#: Longest number a bounds file may spell (more digits than any float needs).
MAX_NUMBER_CHARS = 100


def _json_number(where: str) -> Callable[[str], float]:
    def number(text: str) -> float:
        if len(text) > MAX_NUMBER_CHARS:
            raise CheckpointError(f"bounds file '{where}': a number of {len(text)} characters "
                                  f"({text[:12]}...) is too long",
                                  hint="write bounds as ordinary numbers, or \"inf\"")
        v = float(text)
        if not math.isfinite(v):
            raise CheckpointError(f"bounds file '{where}': number {text} is too large",
                                  hint='write an infinite bound as "inf" or "-inf"')
        return v

    return number


def _json_constant(where: str) -> Callable[[str], float]:
    def constant(name: str) -> float:
        if name == "NaN":
            raise CheckpointError(f"bounds file '{where}': NaN is not a bound",
                                  hint='leave a side unbounded with "inf" or "-inf"')
        return float(name.replace("Infinity", "inf"))  # Infinity / -Infinity

    return constant


def from_json(text: str, where: str = "<bounds>") -> tuple[Tree, Tree]:
    """Read what :func:`to_json` wrote (after a user edited it). A bound is a number,
    ``"inf"``/``"-inf"``, or a nested list of those (per-element bounds, shaped like the
    parameter); NaN, over-long numbers and runaway nesting are refused.

    >>> from_json('{"lower": {"h": {"tau": 0.01}}, "upper": {"h": {"tau": "inf"}}}')
    ({'h': {'tau': 0.01}}, {'h': {'tau': inf}})
    >>> lower, _ = from_json('{"lower": {"h": {"tau": [0.01, 0.02]}}, "upper": {"h": {}}}')
    >>> lower["h"]["tau"].tolist()
    [0.01, 0.02]
    """
    try:
        data = json.loads(text, parse_int=_json_number(where), parse_float=_json_number(where),
                          parse_constant=_json_constant(where))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"bounds file '{where}' is not valid JSON: {e.msg} at line "
                              f"{e.lineno} column {e.colno}") from None
    except RecursionError:
        raise CheckpointError(f"bounds file '{where}' is nested too deeply",
                              hint="a bounds file is {\"lower\": {node: {param: value}}, "
                              "\"upper\": ...}") from None
    if not isinstance(data, dict) or set(data) != {"lower", "upper"}:
        raise CheckpointError(f"bounds file '{where}' must hold an object with keys 'lower' "
                              "and 'upper'")

    def scalar(v: Any, path: str) -> float:
        if isinstance(v, str) and v in ("inf", "-inf", "+inf"):
            return float(v)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        raise CheckpointError(f"bounds file '{where}': {path} must be a number, \"inf\", "
                              f"\"-inf\" or a list of those, got {_short(v)}")

    def dec(v: Any, path: str) -> float | np.ndarray:
        if not isinstance(v, list):
            return scalar(v, path)
        flat: list[float] = []
        todo: list[tuple[Any, str]] = [(v, path)]
        while todo:  # iterative: a deep list must not exhaust the stack
            item, at = todo.pop()
            if isinstance(item, list):
                todo.extend(reversed([(x, f"{at}[{i}]") for i, x in enumerate(item)]))
            else:
                flat.append(scalar(item, at))
        try:
            arr = np.array(v, np.float64)
        except (ValueError, TypeError):
            arr = None
        if arr is None or arr.size != len(flat):
            raise CheckpointError(f"bounds file '{where}': {path} is a ragged list; a "
                                  "per-element bound has its parameter's shape")
        return np.asarray(flat, np.float64).reshape(arr.shape)

    out = []
    for side in ("lower", "upper"):
        tree = data[side]
        if not isinstance(tree, dict) or not all(isinstance(d, dict) for d in tree.values()):
            raise CheckpointError(f"bounds file '{where}': '{side}' must map nodes to "
                                  "{param: value}")
        out.append({n: {k: dec(v, f"{side}.{n}.{k}") for k, v in d.items()}
                    for n, d in tree.items()})
    return out[0], out[1]


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def read_json(path: str | Path) -> tuple[Tree, Tree]:
    """Read a bounds file written by ``rpgraph bounds --format json`` (see :func:`from_json`);
    a missing or unreadable file is a :class:`CheckpointError`.

    >>> lower, upper = read_json("bounds.json")  # doctest: +SKIP
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CheckpointError(f"cannot read bounds file '{path}': {e}") from None
    return from_json(text, str(path))


def check_like(lower: Tree, upper: Tree, net: Network, where: str) -> None:
    """A user-edited template must name exactly the network's parameters; a per-element
    bound (an array) must have its parameter's shape; no bound may be NaN or cross the
    other side.

    >>> from rpgraph.graph import loads
    >>> net = loads("network n { input x : 2\\n output y : 2\\n x -> linear(2) -> y }")
    >>> check_like({"linear_0": {"weight": [[0, 0], [0, 0]]}},
    ...            {"linear_0": {"weight": 1.0}}, net, "b.json")
    >>> check_like({"linear_0": {"weight": [0, 0]}}, {"linear_0": {"weight": 1.0}}, net,
    ...            "b.json")
    Traceback (most recent call last):
    rpgraph.errors.CheckpointError: error: bounds file 'b.json': the lower bound of \
'linear_0.weight' has shape (2,); expected a number or an array of shape (2, 2)
    """
    want, _ = template(net)
    shapes = {(p.module, p.name): p.shape for p in net.params()}
    for side, tree in (("lower", lower), ("upper", upper)):
        if not isinstance(tree, dict) or not all(isinstance(d, dict) for d in tree.values()):
            raise CheckpointError(f"bounds '{where}': '{side}' must map nodes to "
                                  "{param: value}")
        for n, d in want.items():
            for k in d:
                if k not in tree.get(n, {}):
                    raise CheckpointError(f"bounds file '{where}' has no {side} bound for "
                                          f"'{n}.{k}'")
        for n, d in tree.items():
            for k, v in d.items():
                if k not in want.get(n, {}):
                    raise CheckpointError(f"bounds file '{where}' names '{n}.{k}', which is "
                                          "not a parameter of this network")
                _check_leaf(v, shapes[n, k], f"the {side} bound of '{n}.{k}'", where)
                # a lower bound of +inf (upper of -inf) leaves no value: projection would
                # move the parameter to infinity
                empty = math.inf if side == "lower" else -math.inf
                if np.any(np.asarray(v, np.float64) == empty):
                    raise CheckpointError(f"bounds file '{where}': the {side} bound of "
                                          f"'{n}.{k}' is {empty:g}, which no value satisfies",
                                          hint=f'leave a side unbounded with "{-empty:g}"')
    for n, d in lower.items():
        for k, lo in d.items():
            lo_a, hi_a = np.asarray(lo, np.float64), np.asarray(upper[n][k], np.float64)
            above = lo_a > hi_a
            if np.any(above):
                i = np.argwhere(np.broadcast_to(above, np.broadcast_shapes(
                    lo_a.shape, hi_a.shape)))[0]
                at = f"[{', '.join(str(int(j)) for j in i)}]" if len(i) else ""
                lo_v = float(np.broadcast_to(lo_a, above.shape)[tuple(i)])
                hi_v = float(np.broadcast_to(hi_a, above.shape)[tuple(i)])
                raise CheckpointError(f"bounds file '{where}': lower bound {lo_v:g} of "
                                      f"'{n}.{k}{at}' is above its upper bound {hi_v:g}")


def _check_leaf(v: Any, shape: tuple[int, ...], what: str, where: str) -> None:
    try:
        a = np.asarray(v, np.float64)
    except (ValueError, TypeError):
        raise CheckpointError(f"bounds file '{where}': {what} must be a number or an array "
                              f"of shape {shape}, got {_short(v)}") from None
    if a.ndim and a.shape != shape:
        raise CheckpointError(f"bounds file '{where}': {what} has shape {a.shape}; expected "
                              f"a number or an array of shape {shape}")
    if np.any(np.isnan(a)):
        raise CheckpointError(f"bounds file '{where}': {what} is NaN",
                              hint='leave a side unbounded with inf or -inf')


def to_python(lower: Tree, upper: Tree) -> str:
    """Rockpool-style printout (``lower_bounds = {...}``), as the seed tutorial shows it;
    runnable Python: infinities come from ``math``, per-element bounds are lists.

    >>> print(to_python({"h": {"tau": 0.01}}, {"h": {"tau": math.inf}}))
    from math import inf
    <BLANKLINE>
    lower_bounds = {
        'h': {'tau': 0.01}
    }
    upper_bounds = {
        'h': {'tau': inf}
    }
    <BLANKLINE>
    """

    def value(v: Any) -> str:
        if isinstance(v, np.ndarray):
            return repr(v.tolist()) if v.ndim else repr(float(v))
        return repr(float(v))

    def fmt(tree: Tree) -> str:
        rows = [f"    '{n}': {{" + ", ".join(f"'{k}': {value(v)}" for k, v in d.items()) + "}"
                for n, d in tree.items()]
        return "{\n" + ",\n".join(rows) + "\n}"

    return f"from math import inf\n\nlower_bounds = {fmt(lower)}\nupper_bounds = {fmt(upper)}\n"


def _cell(v: Any) -> str:
    a = np.asarray(v, np.float64)
    if a.ndim == 0:
        return f"{float(a):g}"
    return f"[{a.min():g} .. {a.max():g}]"  # per-element bounds: their range


def _bounded(lo: Any, hi: Any) -> bool:
    return bool(np.any(np.asarray(lo) > -math.inf) or np.any(np.asarray(hi) < math.inf))


def to_table(lower: Tree, upper: Tree, net: Network | None = None) -> str:
    """A fixed-width table: parameter, shape, family, lower, upper, enforcement; a time
    constant's default floor says so. (A per-element bound in a bounds file has the shape.)

    >>> from rpgraph.graph import loads
    >>> net = loads("network n (dt = 1 ms) { input x : 2\\n output y : 2\\n x -> h: rate -> y }")
    >>> print(to_table(*template(net), net))
    parameter    shape  family      lower   upper  enforce
    h.bias       (2,)   biases      -inf    inf
    h.tau        (2,)   taus        0.0005  inf    project (default floor)
    h.threshold  (2,)   thresholds  -inf    inf
    """
    info = {p.id: p for p in net.params()} if net is not None else {}
    rows = [("parameter", "shape", "family", "lower", "upper", "enforce")]
    for n, d in lower.items():
        for k, lo in d.items():
            pd = info.get(f"{n}.{k}")
            mode = str(pd.enforce if pd else "") + (" (default floor)" if pd and pd.floor
                                                     else "")
            shape = "" if pd is None else (f"({pd.shape[0]},)" if len(pd.shape) == 1
                                           else str(tuple(pd.shape)))
            rows.append((f"{n}.{k}", shape, pd.family if pd else "", _cell(lo),
                         _cell(upper[n][k]), mode if _bounded(lo, upper[n][k]) else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


FORMATS = {"json": lambda lo, hi, net: to_json(lo, hi),
           "python": lambda lo, hi, net: to_python(lo, hi),
           "table": to_table}
