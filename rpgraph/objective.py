"""The objective of a spec: its loss and its parameter bounds, built once.

``loss = mse(y, target) + 1e3 * l2sqr(w_*.weight) + (rate(h) - 0.05) ** 2 + bounds_cost``
is a tiny expression language over a whitelist: the functions of
:data:`rpgraph.losses.LOSS_FUNCTIONS`, the bounds terms ``bounds_cost`` (Rockpool's) and
``bounds_penalty`` (continuous), numbers and arithmetic. Names mean:

* an output port (``y``) or any module node (``h``): its output, ``(B, T, N)``;
* ``target``; ``params`` (every parameter);
* a target written as in ``bounds`` and ``freeze`` (``w_rec.weight``, ``w_*.weight``,
  ``h.*``): the parameters it matches, by the same matcher;
* ``node.state`` (``h.vmem``, ``h.isyn``, ``h.spikes``, ``h.x``): the node's recorded trace
  of that state, ``(B, T, ...)`` (the network then runs with recording on).

The tree is walked once into nested closures; nothing is evaluated as Python code. A Python
callable can replace the expression (``fit(prog, loss=fn)``).

:func:`make_objective` builds the loss together with the bounds it and the trainer enforce
(the spec's, or a user-edited template that overrides them) into one :class:`Objective`,
which ``Program.loss``, the training step and evaluation share.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import ast
from .bounds import bounds_cost, bounds_penalty, check_like, project, template
from .errors import SpecNameError, SpecShapeError, SpecValueError, did_you_mean
from .expr import Quantity, as_float, evaluate
from .fmt import format_expr
from .graph import Network, ParamNode
from .graph.passes import match_params
from .losses import LOSS_FUNCTIONS
from .modules import KINDS
from .train_config import elaborate_train
from .vocab import BINARY, BOUND_TERMS, NEG

if TYPE_CHECKING:  # the real modules; at run time, imported on first use
    import jax.numpy as jnp
else:
    from .lazy_jax import jnp

Array = Any
Tree = dict[str, dict[str, Any]]
Records = dict[str, dict[str, Array]]
Term = Callable[[dict[str, Array], Any, Any, Records], Any]
Bounds = tuple[Tree, Tree]
#: Loss functions of activity (a node's output or a recorded state), never of parameters.
ACTIVITY_FUNCTIONS = frozenset({"rate"})
#: A Python loss: ``fn(outputs, target, params, records) -> scalar``.
LossFn = Callable[[dict[str, Array], Any, Tree, Records], Array]


def default_loss(net: Network) -> ast.Expr:
    """``mse(<first output>, target)``: the loss when the spec gives none."""
    return ast.Call("mse", (ast.Name(net.outputs[0]), ast.Name("target")))


def loss_expr(net: Network) -> ast.Expr:
    """The spec's loss expression, or the default ``mse(y, target)``; read from the
    elaborated train block, so a mistake anywhere in that block is reported here."""
    config = elaborate_train(net)
    if config is not None and config.loss is not None:
        return config.loss
    return default_loss(net)


def record_keys(net: Network, node: str) -> tuple[str, ...]:
    """What a loss may read of module ``node`` as ``node.key``: its recorded states and
    ``output``.

    >>> from rpgraph.graph import load
    >>> record_keys(load("specs/srnn.rpg"), "h")
    ('vmem', 'isyn', 'spikes', 'output')
    """
    m = net.module(node)
    kind = KINDS[m.kind]
    return (*kind.record_keys(kind.configure(m.cfg, dt=net.dt)), "output")


class _Compiler:
    """The loss expression -> nested closures ``(outs, target, params, records) -> value``;
    ``records`` says whether any of them reads the network's recorded traces."""

    def __init__(self, net: Network, bounds: Bounds) -> None:
        self.net = net
        self.bounds = bounds
        self.records = False
        self.params: list[ParamNode] = net.params()
        self.modules = set(net.modules())

    def bound_fn(self, name: str) -> Term:
        lower, upper = self.bounds
        fn = bounds_cost if name == "bounds_cost" else bounds_penalty
        return lambda outs, target, params, rec: fn(params, lower, upper)

    def compile(self, expr: ast.Expr) -> Term:
        if isinstance(expr, ast.Num):
            v = _constant(expr)
            return lambda outs, target, params, rec: v
        if isinstance(expr, ast.Name):
            return self.name(expr)
        if isinstance(expr, ast.Ref):
            return self.ref(expr)
        if isinstance(expr, ast.Neg):
            f = self.compile(expr.operand)
            return lambda outs, target, params, rec: NEG.apply(f(outs, target, params, rec))
        if isinstance(expr, ast.BinOp):
            a, b, op = self.compile(expr.left), self.compile(expr.right), BINARY[expr.op].apply
            return lambda outs, target, params, rec: op(a(outs, target, params, rec),
                                                        b(outs, target, params, rec))
        if isinstance(expr, ast.Call):
            return self.call(expr)
        raise SpecValueError("this is not allowed in a loss expression",
                             getattr(expr, "span", None),
                             hint="use loss functions, node names, parameter targets "
                             "(w_*.weight), recorded states (h.vmem), target, params and "
                             "numbers")

    def name(self, expr: ast.Name) -> Term:
        key = expr.id
        if key in self.net.outputs:
            return lambda outs, target, params, rec: outs[key]
        if key == "target":
            return lambda outs, target, params, rec: target
        port = _target_port(key, self.net)
        if port is not None:
            return lambda outs, target, params, rec: _port_target(target, port)
        if key == "params":
            return lambda outs, target, params, rec: params
        if key in BOUND_TERMS:
            return self.bound_fn(key)
        if key in self.modules:
            self.records = True
            return lambda outs, target, params, rec: rec[key]["output"]
        if key in self.net.sim:
            v = float(self.net.sim[key])
            return lambda outs, target, params, rec: v
        known = [*self.net.outputs, "target", "params", *BOUND_TERMS, *self.modules,
                 *(f"target_{o}" for o in self.net.outputs),
                 *(f"labels_{o}" for o in self.net.outputs)]
        raise SpecNameError(f"undefined name '{key}' in the loss", expr.span,
                            hint=did_you_mean(key, known) or f"names: {', '.join(known)}")

    def ref(self, expr: ast.Ref) -> Term:
        node, key = ".".join(expr.parts[:-1]), expr.parts[-1]
        if node in self.modules and "*" not in expr.text:
            ids = {p.name for p in self.params if p.module == node}
            if key not in ids:
                keys = record_keys(self.net, node)
                if key not in keys:
                    raise SpecNameError(
                        f"'{expr.text}' names neither a parameter nor a recorded state of "
                        f"'{node}'", expr.span,
                        hint=did_you_mean(key, [*sorted(ids), *keys])
                        or f"'{node}' has parameters {', '.join(sorted(ids)) or '(none)'} "
                        f"and records {', '.join(keys)}")
                self.records = True
                return lambda outs, target, params, rec: rec[node][key]
        if len(expr.parts) < 2:
            raise SpecValueError(f"'{expr.text}' must name a node and a parameter", expr.span,
                                 hint=f"write e.g. '{expr.text}.weight' or '{expr.text}.*'")
        by_id = {p.id: p for p in self.params}
        pairs = [(by_id[pid].module, by_id[pid].name) for pid in match_params(self.params, expr)]

        def select(outs: dict[str, Array], target: Any, params: Any, rec: Records) -> Any:
            out: dict[str, dict[str, Array]] = {}
            for m, n in pairs:
                out.setdefault(m, {})[n] = params[m][n]
            return out

        return select

    def selects_params(self, expr: ast.Expr) -> bool:
        """Whether ``expr`` stands for parameters (``params``, ``w_*.weight``, ``h.*``)."""
        if isinstance(expr, ast.Name):
            return expr.id == "params"
        if isinstance(expr, ast.Ref):
            node, key = ".".join(expr.parts[:-1]), expr.parts[-1]
            return not (node in self.modules and "*" not in expr.text
                        and key in record_keys(self.net, node))
        return False

    def call(self, expr: ast.Call) -> Term:
        if expr.func in BOUND_TERMS and not expr.args and not expr.kwargs:
            return self.bound_fn(expr.func)
        if expr.func not in LOSS_FUNCTIONS:
            known = [*LOSS_FUNCTIONS, *BOUND_TERMS]
            raise SpecNameError(f"unknown loss function '{expr.func}'", expr.func_span,
                                hint=did_you_mean(expr.func, known)
                                or f"known: {', '.join(sorted(known))}")
        fn = LOSS_FUNCTIONS[expr.func]
        args = [self.compile(a) for a in expr.args]
        if expr.func in ACTIVITY_FUNCTIONS:
            for a in expr.args:
                if self.selects_params(a):
                    raise SpecValueError(
                        f"{expr.func}() takes a node's output or a recorded state, not "
                        "parameters", getattr(a, "span", expr.span),
                        hint=f"write e.g. '{expr.func}(h)' or '{expr.func}(h.spikes)'")
        kwargs = {k: _constant(v) for k, v in expr.kwargs}

        def call(outs: dict[str, Array], target: Any, params: Any, rec: Records) -> Any:
            return fn(*(a(outs, target, params, rec) for a in args), **kwargs)

        return call


def _target_port(name: str, net: Network) -> str | None:
    """The output ``target_<output>`` / ``labels_<output>`` names (what a data file with
    several outputs calls its arrays), or ``None``."""
    for prefix in ("target_", "labels_"):
        if name.startswith(prefix) and name[len(prefix):] in net.outputs:
            return name[len(prefix):]
    return None


def _port_target(target: Any, port: str) -> Any:
    # several outputs: targets by output name; one output: the target array itself
    return target[port] if isinstance(target, dict) else target


def _constant(expr: ast.Expr) -> float:
    """A constant in SI units (``20 ms`` is 0.02), by the one constant evaluator."""
    v = evaluate(expr, {})
    if isinstance(v, Quantity):
        return v.value
    return as_float(v, expr, what="a number for a keyword argument of a loss function")


def _terms(expr: ast.Expr) -> list[ast.Expr]:
    """Split a sum into its top-level terms (``a + b - c`` -> ``[a, b, -c]``)."""
    if isinstance(expr, ast.BinOp) and expr.op in "+-":
        right = expr.right if expr.op == "+" else ast.Neg(expr.right, expr.right.span)
        return [*_terms(expr.left), right]
    return [expr]


def _python_term(fn: LossFn) -> Term:
    """A user's loss function as a term: its value must be a scalar."""

    def term(outs: dict[str, Array], target: Any, params: Any, rec: Records) -> Any:
        v = fn(outs, target, params, rec)
        shape = tuple(jnp.shape(v))
        if shape not in ((), (1,)):
            raise SpecShapeError(f"Expected the loss function to return a scalar, got an "
                                 f"array of shape {shape}")
        return jnp.reshape(v, ())

    return term


# --- the objective ---------------------------------------------------------------------------

Outputs = dict[str, Array]


@dataclass(frozen=True)
class Objective:
    """The loss and the bounds of a network, built once by :func:`make_objective`.

    Attributes:
        terms: ``(outputs, target, params, records=None) -> {source text: value}``, each
            top-level term of the loss (for diagnosing non-finite losses).
        loss: ``(outputs, target, params, records=None) -> scalar``: the float32 sum of the
            terms.
        loss_and_terms: both from one evaluation (what the training step records).
        records: whether the loss reads recorded traces or hidden nodes' outputs (then the
            network must run with ``record=True`` and pass its records).
        lower, upper: the bounds template (Rockpool ``make_bounds`` layout, after any
            override; a leaf is a float, or an array shaped like its parameter for
            per-element bounds); the loss's ``bounds_cost``/``bounds_penalty`` read these.
        project: per parameter, whether it is clipped into its box after each update
            (bounded, ``enforce project`` or ``both``).
        penalised: per parameter, whether its bound is meant as a penalty (bounded,
            ``enforce penalty`` or ``both``). The loss terms count every bounded parameter,
            as Rockpool's ``bounds_cost`` does; this says which ones the spec penalises.
        frozen: per parameter, whether training leaves it unchanged (``freeze``).

    >>> from rpgraph.graph import load
    >>> obj = make_objective(load("specs/tutorial_rate.rpg"))
    >>> obj.lower["hidden"]["tau"], obj.project["hidden"]["tau"], obj.frozen["hidden"]["tau"]
    (0.01, False, False)
    """

    terms: Callable[..., dict[str, Array]]
    loss: Callable[..., Array]
    loss_and_terms: Callable[..., tuple[Array, dict[str, Array]]]
    lower: Tree
    upper: Tree
    project: Tree
    penalised: Tree
    frozen: Tree
    records: bool = False

    def constrain(self, params: Tree) -> Tree:
        """``params`` with every projected parameter clipped into its box: what
        :func:`rpgraph.fit` applies after each optimizer update (see
        :func:`rpgraph.train.step.transform` for a loop of your own).

        >>> import jax.numpy as jnp
        >>> from rpgraph.graph import loads
        >>> obj = make_objective(loads("network n { input x : 1\\n output y : 1\\n"
        ...                             " x -> h: rate -> y }"))
        >>> c = obj.constrain({"h": {"tau": jnp.array([-1.0]), "bias": jnp.zeros(1),
        ...                        "threshold": jnp.zeros(1)}})
        >>> round(float(c["h"]["tau"][0]), 6)  # the default floor of a rate tau: dt / 2
        0.0005
        """
        return project(params, self.lower, self.upper, self.project)


PROJECTED = ("project", "both")  # enforce modes that clip after each update
PENALISED = ("penalty", "both")  # enforce modes meant as a loss term


def make_objective(net: Network, bounds: Bounds | None = None, loss: LossFn | None = None
                   ) -> Objective:
    """The loss and bounds of ``net``; ``bounds`` (a ``(lower, upper)`` template naming every
    parameter, e.g. an edited ``rpgraph bounds --format json``; a leaf may be an array
    shaped like its parameter) replaces the spec's bounds for projection *and* for the
    loss's bounds terms. Each parameter keeps its enforcement mode (one the spec leaves
    unbounded has the bounds block's default mode).

    ``loss`` (a Python function ``fn(outputs, target, params, records) -> scalar``) replaces
    the spec's loss expression; it cannot hold the spec's bounds terms, so every bounded
    parameter is then projected.

    >>> import jax.numpy as jnp, rpgraph
    >>> from rpgraph.graph import load
    >>> net = load("specs/tutorial_rate.rpg")
    >>> obj = make_objective(net)
    >>> params = rpgraph.compile(net).init(0)
    >>> y = t = jnp.zeros((1, 100, 2))
    >>> sorted(obj.terms({"y": y}, t, params))
    ['1e3 * bounds_cost', '1e3 * l2sqr(params)', 'mse(y, target)']
    >>> float(obj.loss({"y": y}, t, {}))
    0.0
    """
    if loss is not None and not callable(loss):
        raise SpecValueError(f"Expected loss to be a function fn(outputs, target, params, "
                             f"records) -> scalar, got {type(loss).__name__}")
    lower, upper = _bounds(net, bounds)
    if loss is not None:
        name = getattr(loss, "__name__", "loss")
        parts = [(f"{name}(outputs, target, params, records)", _python_term(loss))]
        records = True
    else:
        c = _Compiler(net, (lower, upper))
        parts = [(format_expr(t), c.compile(t)) for t in _terms(loss_expr(net))]
        records = c.records

    def loss_and_terms(outs: Outputs, target: Any, params: Tree, rec: Records | None = None
                       ) -> tuple[Array, dict[str, Array]]:
        r = rec if rec is not None else {}
        values = [(name, f(outs, target, params, r)) for name, f in parts]
        # summed from the list: two terms with the same text are both counted
        total = sum(jnp.asarray(v, jnp.float32) for _, v in values)
        return jnp.asarray(total, jnp.float32), dict(values)

    def terms(outs: Outputs, target: Any, params: Tree, rec: Records | None = None
              ) -> dict[str, Array]:
        return loss_and_terms(outs, target, params, rec)[1]

    def loss_value(outs: Outputs, target: Any, params: Tree, rec: Records | None = None
                   ) -> Array:
        return loss_and_terms(outs, target, params, rec)[0]

    proj, penalised, frozen = _masks(net, lower, upper, python_loss=loss is not None)
    return Objective(terms, loss_value, loss_and_terms, lower, upper, proj, penalised,
                     frozen, records)


def _bounds(net: Network, bounds: Bounds | None) -> Bounds:
    """The spec's template, or ``bounds`` checked and laid out like it."""
    lower, upper = template(net)
    if bounds is None:
        return lower, upper
    check_like(bounds[0], bounds[1], net, "bounds")
    return ({n: {k: _leaf(bounds[0][n][k]) for k in d} for n, d in lower.items()},
            {n: {k: _leaf(bounds[1][n][k]) for k in d} for n, d in upper.items()})


def _leaf(v: Any) -> Any:
    """A bound as the objective keeps it: a float, or a float64 array for per-element
    bounds (one whose elements are all equal is that float)."""
    a = np.asarray(v, np.float64)
    if a.ndim == 0:
        return float(a)
    if a.size and np.all(a == a.flat[0]):
        return float(a.flat[0])
    return a


def _bounded(lo: Any, hi: Any) -> bool:
    return bool(np.any(np.asarray(lo) > -math.inf) or np.any(np.asarray(hi) < math.inf))


def _masks(net: Network, lower: Tree, upper: Tree, python_loss: bool = False
           ) -> tuple[Tree, Tree, Tree]:
    """``(project, penalised, frozen)``, laid out like the template."""
    info = {(d.module, d.name): d for d in net.params()}
    projected: Tree = {}
    penalised: Tree = {}
    frozen: Tree = {}
    for n, leaves in lower.items():
        for k, lo in leaves.items():
            d = info[n, k]
            bounded = _bounded(lo, upper[n][k])
            mode = "project" if python_loss else (d.enforce or net.enforce)
            projected.setdefault(n, {})[k] = bounded and mode in PROJECTED
            penalised.setdefault(n, {})[k] = bounded and mode in PENALISED
            frozen.setdefault(n, {})[k] = not d.trainable
    return projected, penalised, frozen
