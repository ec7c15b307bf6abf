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
        below = jnp.where(p < lo, lo - p, 0.0) if lo > -math.inf else 0.0
        above = jnp.where(p > hi, p - hi, 0.0) if hi < math.inf else 0.0
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
            if on and (lo > -math.inf or hi < math.inf):
                lo32 = _inside(lo, +1) if lo > -math.inf else None
                hi32 = _inside(hi, -1) if hi < math.inf else None
                if lo32 is not None and hi32 is not None and lo32 > hi32:
                    lo32 = hi32 = float(np.float32(lo))  # no float32 strictly inside: nearest
                p = jnp.clip(p, lo32, hi32)
            out[node][name] = p
    return out


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
            span = d.bound_spans[-1] if d.bound_spans else None
            raise SpecValueError(
                f"initial value {bad:g} of '{pid}' violates its bound ({side})", span,
                notes=[(d.span, f"'{pid}' is initialised by {d.init.describe()}")],
                hint="change the initialiser or the bound so that they agree",
            ).located(net.source, net.filename)


# --- emitting and reading templates ----------------------------------------------------------


def _enc(v: float) -> float | str:
    return v if math.isfinite(v) else ("inf" if v > 0 else "-inf")


def to_json(lower: Tree, upper: Tree) -> str:
    """JSON of a template; infinities are written ``"inf"``/``"-inf"`` (JSON has none).

    >>> print(to_json({"h": {"tau": 0.01}}, {"h": {"tau": math.inf}}))
    { "lower": { "h": { "tau": 0.01 } }, "upper": { "h": { "tau": "inf" } } }
    """
    data = {"lower": {n: {k: _enc(v) for k, v in d.items()} for n, d in lower.items()},
            "upper": {n: {k: _enc(v) for k, v in d.items()} for n, d in upper.items()}}
    return json.dumps(data, indent=2)


def from_json(text: str, where: str = "<bounds>") -> tuple[Tree, Tree]:
    """Read what :func:`to_json` wrote (after a user edited it).

    >>> from_json('{"lower": {"h": {"tau": 0.01}}, "upper": {"h": {"tau": "inf"}}}')
    ({'h': {'tau': 0.01}}, {'h': {'tau': inf}})
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise CheckpointError(f"bounds file '{where}' is not valid JSON: {e.msg} at line "
                              f"{e.lineno} column {e.colno}") from None
    if not isinstance(data, dict) or set(data) != {"lower", "upper"}:
        raise CheckpointError(f"bounds file '{where}' must hold an object with keys 'lower' "
                              "and 'upper'")

    def dec(v: Any, path: str) -> float:
        if isinstance(v, str) and v in ("inf", "-inf", "+inf"):
            return float(v)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        raise CheckpointError(f"bounds file '{where}': {path} must be a number, \"inf\" or "
                              f"\"-inf\", got {v!r}")

    out = []
    for side in ("lower", "upper"):
        tree = data[side]
        if not isinstance(tree, dict) or not all(isinstance(d, dict) for d in tree.values()):
            raise CheckpointError(f"bounds file '{where}': '{side}' must map nodes to "
                                  "{param: value}")
        out.append({n: {k: dec(v, f"{side}.{n}.{k}") for k, v in d.items()}
                    for n, d in tree.items()})
    return out[0], out[1]


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
    """A user-edited template must name exactly the network's parameters."""
    want, _ = template(net)
    for side, tree in (("lower", lower), ("upper", upper)):
        for n, d in want.items():
            for k in d:
                if k not in tree.get(n, {}):
                    raise CheckpointError(f"bounds file '{where}' has no {side} bound for "
                                          f"'{n}.{k}'")
        for n, d in tree.items():
            for k in d:
                if k not in want.get(n, {}):
                    raise CheckpointError(f"bounds file '{where}' names '{n}.{k}', which is "
                                          "not a parameter of this network")
    for n, d in lower.items():
        for k, lo in d.items():
            if lo > upper[n][k]:
                raise CheckpointError(f"bounds file '{where}': lower bound {lo:g} of "
                                      f"'{n}.{k}' is above its upper bound {upper[n][k]:g}")


def to_python(lower: Tree, upper: Tree) -> str:
    """Rockpool-style printout (``lower_bounds: {...}``), as the seed tutorial shows it."""

    def fmt(tree: Tree) -> str:
        rows = [f"    '{n}': {{" + ", ".join(f"'{k}': {v!r}" for k, v in d.items()) + "}"
                for n, d in tree.items()]
        return "{\n" + ",\n".join(rows) + "\n}"

    return f"lower_bounds = {fmt(lower)}\nupper_bounds = {fmt(upper)}\n"


def to_table(lower: Tree, upper: Tree, net: Network | None = None) -> str:
    """A fixed-width table: parameter, family, lower, upper, enforcement."""
    info = {p.id: p for p in net.params()} if net is not None else {}
    rows = [("parameter", "family", "lower", "upper", "enforce")]
    for n, d in lower.items():
        for k, lo in d.items():
            pd = info.get(f"{n}.{k}")
            rows.append((f"{n}.{k}", pd.family if pd else "", f"{lo:g}", f"{upper[n][k]:g}",
                         str(pd.enforce if pd else "")
                         if (lo > -math.inf or upper[n][k] < math.inf) else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


FORMATS = {"json": lambda lo, hi, net: to_json(lo, hi),
           "python": lambda lo, hi, net: to_python(lo, hi),
           "table": to_table}
