"""The loss expression of a spec, turned into a pure JAX function.

``loss = mse(y, target) + 1e3 * l2sqr(params) + 1e3 * bounds_cost`` is a tiny expression
language over a whitelist: the functions of :data:`rpgraph.losses.LOSS_FUNCTIONS`, the
bounds terms ``bounds_cost`` (Rockpool's) and ``bounds_penalty`` (continuous), numbers and
arithmetic. Names mean: an output port (``y``), ``target``, ``params``. The tree is walked
once at compile time into nested closures; nothing is evaluated as Python code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from . import ast
from .errors import SpecNameError, SpecValueError, did_you_mean
from .expr import Quantity, as_float, evaluate
from .graph import Network
from .losses import LOSS_FUNCTIONS
from .vocab import BINARY, NEG

Array = Any
Term = Callable[[dict[str, Array], Any, Any], Any]

BOUND_TERMS = ("bounds_cost", "bounds_penalty")


def default_loss(net: Network) -> ast.Expr:
    """``mse(<first output>, target)``: the loss when the spec gives none."""
    return ast.Call("mse", (ast.Name(net.outputs[0]), ast.Name("target")))


def loss_expr(net: Network) -> ast.Expr:
    """The spec's loss expression, or the default ``mse(y, target)``."""
    if net.spec.train is not None:
        s = net.spec.train.get("loss")
        if s is not None:
            return s.value
    return default_loss(net)


def _bound_fn(net: Network, name: str) -> Term:
    from .bounds import bounds_cost, bounds_penalty, template

    lower, upper = template(net)
    fn = bounds_cost if name == "bounds_cost" else bounds_penalty
    return lambda outs, target, params: fn(params, lower, upper)


def _compile(expr: ast.Expr, net: Network) -> Term:
    if isinstance(expr, ast.Num):
        v = _constant(expr)
        return lambda outs, target, params: v
    if isinstance(expr, ast.Name):
        if expr.id in net.outputs:
            key = expr.id
            return lambda outs, target, params: outs[key]
        if expr.id == "target":
            return lambda outs, target, params: target
        if expr.id == "params":
            return lambda outs, target, params: params
        if expr.id in BOUND_TERMS:
            return _bound_fn(net, expr.id)
        if expr.id in net.sim:
            v = float(net.sim[expr.id])
            return lambda outs, target, params: v
        known = [*net.outputs, "target", "params", *BOUND_TERMS]
        raise SpecNameError(f"undefined name '{expr.id}' in the loss", expr.span,
                            hint=did_you_mean(expr.id, known) or f"names: {', '.join(known)}")
    if isinstance(expr, ast.Neg):
        f = _compile(expr.operand, net)
        return lambda outs, target, params: NEG.apply(f(outs, target, params))
    if isinstance(expr, ast.BinOp):
        a, b, op = _compile(expr.left, net), _compile(expr.right, net), BINARY[expr.op].apply
        return lambda outs, target, params: op(a(outs, target, params), b(outs, target, params))
    if isinstance(expr, ast.Call):
        if expr.func in BOUND_TERMS and not expr.args and not expr.kwargs:
            return _bound_fn(net, expr.func)
        if expr.func not in LOSS_FUNCTIONS:
            known = [*LOSS_FUNCTIONS, *BOUND_TERMS]
            raise SpecNameError(f"unknown loss function '{expr.func}'", expr.func_span,
                                hint=did_you_mean(expr.func, known)
                                or f"known: {', '.join(sorted(known))}")
        fn = LOSS_FUNCTIONS[expr.func]
        args = [_compile(a, net) for a in expr.args]
        kwargs = {k: _constant(v) for k, v in expr.kwargs}

        def call(outs: dict[str, Array], target: Any, params: Any) -> Any:
            return fn(*(a(outs, target, params) for a in args), **kwargs)

        return call
    raise SpecValueError("this is not allowed in a loss expression",
                         getattr(expr, "span", None),
                         hint="use loss functions, outputs, target, params and numbers")


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


def compile_loss(net: Network) -> Callable[[dict[str, Array], Any, Any], Array]:
    """The spec's loss as ``fn(outputs, target, params) -> scalar``.

    >>> from rpgraph.graph import loads
    >>> net = loads("network n { input x : 2\\n output y : 2\\n x -> y }")
    >>> float(compile_loss(net)({"y": jnp.ones((1, 3, 2))}, jnp.zeros((1, 3, 2)), {}))
    1.0
    """
    f = _compile(loss_expr(net), net)
    return lambda outs, target, params: jnp.asarray(f(outs, target, params), jnp.float32)


def compile_terms(net: Network) -> Callable[[dict[str, Array], Any, Any], dict[str, Array]]:
    """Each top-level term of the loss by its source text, for diagnostics.

    >>> from rpgraph.graph import load
    >>> import jax.numpy as jnp, rpgraph
    >>> net = load("specs/tutorial_rate.rpg")
    >>> params = rpgraph.compile(net).init(0)
    >>> y = t = jnp.zeros((1, 100, 2))
    >>> sorted(compile_terms(net)({"y": y}, t, params))
    ['1e3 * bounds_cost', '1e3 * l2sqr(params)', 'mse(y, target)']
    """
    from .fmt import format_expr

    terms = [(format_expr(t), _compile(t, net)) for t in _terms(loss_expr(net))]
    return lambda outs, target, params: {name: f(outs, target, params) for name, f in terms}
