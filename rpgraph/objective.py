"""The objective of a spec: its loss and its parameter bounds, built once.

``loss = mse(y, target) + 1e3 * l2sqr(params) + 1e3 * bounds_cost`` is a tiny expression
language over a whitelist: the functions of :data:`rpgraph.losses.LOSS_FUNCTIONS`, the
bounds terms ``bounds_cost`` (Rockpool's) and ``bounds_penalty`` (continuous), numbers and
arithmetic. Names mean: an output port (``y``), ``target``, ``params``. The tree is walked
once into nested closures; nothing is evaluated as Python code.

:func:`make_objective` builds the loss together with the bounds it and the trainer enforce
(the spec's, or a user-edited template that overrides them) into one :class:`Objective`,
which ``Program.loss``, the training step and evaluation share.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp

from . import ast
from .bounds import bounds_cost, bounds_penalty, check_like, template
from .errors import SpecNameError, SpecValueError, did_you_mean
from .expr import Quantity, as_float, evaluate
from .fmt import format_expr
from .graph import Network
from .losses import LOSS_FUNCTIONS
from .train_config import elaborate_train
from .vocab import BINARY, NEG

Array = Any
Tree = dict[str, dict[str, Any]]
Term = Callable[[dict[str, Array], Any, Any], Any]
Bounds = tuple[Tree, Tree]

BOUND_TERMS = ("bounds_cost", "bounds_penalty")


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


def _bound_fn(name: str, bounds: Bounds) -> Term:
    lower, upper = bounds
    fn = bounds_cost if name == "bounds_cost" else bounds_penalty
    return lambda outs, target, params: fn(params, lower, upper)


def _compile(expr: ast.Expr, net: Network, bounds: Bounds) -> Term:
    if isinstance(expr, ast.Num):
        v = _constant(expr)
        return lambda outs, target, params: v
    if isinstance(expr, ast.Name):
        if expr.id in net.outputs:
            key = expr.id
            return lambda outs, target, params: outs[key]
        if expr.id == "target":
            return lambda outs, target, params: target
        port = _target_port(expr.id, net)
        if port is not None:
            return lambda outs, target, params: _port_target(target, port)
        if expr.id == "params":
            return lambda outs, target, params: params
        if expr.id in BOUND_TERMS:
            return _bound_fn(expr.id, bounds)
        if expr.id in net.sim:
            v = float(net.sim[expr.id])
            return lambda outs, target, params: v
        known = [*net.outputs, "target", "params", *BOUND_TERMS,
                 *(f"target_{o}" for o in net.outputs), *(f"labels_{o}" for o in net.outputs)]
        raise SpecNameError(f"undefined name '{expr.id}' in the loss", expr.span,
                            hint=did_you_mean(expr.id, known) or f"names: {', '.join(known)}")
    if isinstance(expr, ast.Neg):
        f = _compile(expr.operand, net, bounds)
        return lambda outs, target, params: NEG.apply(f(outs, target, params))
    if isinstance(expr, ast.BinOp):
        a, b, op = (_compile(expr.left, net, bounds), _compile(expr.right, net, bounds),
                    BINARY[expr.op].apply)
        return lambda outs, target, params: op(a(outs, target, params), b(outs, target, params))
    if isinstance(expr, ast.Call):
        if expr.func in BOUND_TERMS and not expr.args and not expr.kwargs:
            return _bound_fn(expr.func, bounds)
        if expr.func not in LOSS_FUNCTIONS:
            known = [*LOSS_FUNCTIONS, *BOUND_TERMS]
            raise SpecNameError(f"unknown loss function '{expr.func}'", expr.func_span,
                                hint=did_you_mean(expr.func, known)
                                or f"known: {', '.join(sorted(known))}")
        fn = LOSS_FUNCTIONS[expr.func]
        args = [_compile(a, net, bounds) for a in expr.args]
        kwargs = {k: _constant(v) for k, v in expr.kwargs}

        def call(outs: dict[str, Array], target: Any, params: Any) -> Any:
            return fn(*(a(outs, target, params) for a in args), **kwargs)

        return call
    raise SpecValueError("this is not allowed in a loss expression",
                         getattr(expr, "span", None),
                         hint="use loss functions, outputs, target, params and numbers")


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




# --- the objective ---------------------------------------------------------------------------

Outputs = dict[str, Array]


@dataclass(frozen=True)
class Objective:
    """The loss and the bounds of a network, built once by :func:`make_objective`.

    Attributes:
        terms: ``(outputs, target, params) -> {source text: value}``, each top-level term
            of the loss (for diagnosing non-finite losses).
        loss: ``(outputs, target, params) -> scalar``: the float32 sum of the terms.
        loss_and_terms: both from one evaluation (what the training step records).
        lower, upper: the bounds template (Rockpool ``make_bounds`` layout, after any
            override); the loss's ``bounds_cost``/``bounds_penalty`` read these.
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

    terms: Callable[[Outputs, Any, Tree], dict[str, Array]]
    loss: Callable[[Outputs, Any, Tree], Array]
    loss_and_terms: Callable[[Outputs, Any, Tree], tuple[Array, dict[str, Array]]]
    lower: Tree
    upper: Tree
    project: Tree
    penalised: Tree
    frozen: Tree


PROJECTED = ("project", "both")  # enforce modes that clip after each update
PENALISED = ("penalty", "both")  # enforce modes meant as a loss term


def make_objective(net: Network, bounds: Bounds | None = None) -> Objective:
    """The loss and bounds of ``net``; ``bounds`` (a ``(lower, upper)`` template naming every
    parameter, e.g. an edited ``rpgraph bounds --format json``) replaces the spec's bounds
    for projection *and* for the loss's bounds terms. Each parameter keeps its enforcement
    mode (one the spec leaves unbounded has the bounds block's default mode).

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
    lower, upper = _bounds(net, bounds)
    parts = [(format_expr(t), _compile(t, net, (lower, upper))) for t in _terms(loss_expr(net))]

    def loss_and_terms(outs: Outputs, target: Any, params: Tree
                       ) -> tuple[Array, dict[str, Array]]:
        values = [(name, f(outs, target, params)) for name, f in parts]
        # summed from the list: two terms with the same text are both counted
        total = sum(jnp.asarray(v, jnp.float32) for _, v in values)
        return jnp.asarray(total, jnp.float32), dict(values)

    def terms(outs: Outputs, target: Any, params: Tree) -> dict[str, Array]:
        return loss_and_terms(outs, target, params)[1]

    def loss(outs: Outputs, target: Any, params: Tree) -> Array:
        return loss_and_terms(outs, target, params)[0]

    project, penalised, frozen = _masks(net, lower, upper)
    return Objective(terms, loss, loss_and_terms, lower, upper, project, penalised, frozen)


def _bounds(net: Network, bounds: Bounds | None) -> Bounds:
    """The spec's template, or ``bounds`` checked and laid out like it."""
    lower, upper = template(net)
    if bounds is None:
        return lower, upper
    check_like(bounds[0], bounds[1], net, "bounds")
    return ({n: {k: float(bounds[0][n][k]) for k in d} for n, d in lower.items()},
            {n: {k: float(bounds[1][n][k]) for k in d} for n, d in upper.items()})


def _masks(net: Network, lower: Tree, upper: Tree) -> tuple[Tree, Tree, Tree]:
    """``(project, penalised, frozen)``, laid out like the template."""
    info = {(d.module, d.name): d for d in net.params()}
    project: Tree = {}
    penalised: Tree = {}
    frozen: Tree = {}
    for n, leaves in lower.items():
        for k, lo in leaves.items():
            d = info[n, k]
            bounded = lo > -math.inf or upper[n][k] < math.inf
            project.setdefault(n, {})[k] = bounded and d.enforce in PROJECTED
            penalised.setdefault(n, {})[k] = bounded and d.enforce in PENALISED
            frozen.setdefault(n, {})[k] = not d.trainable
    return project, penalised, frozen
