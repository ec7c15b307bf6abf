"""Provisional: the loss terms and parameter masks one training run uses.

Shaped like ``rpgraph.objective.make_objective(net, bounds) -> Objective`` (issue #11, item 4,
built in parallel): when that lands, the training modules import it from there and this
module goes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

import jax.numpy as jnp

from ..bounds import check_like, projection_mask, template
from ..graph import Network, param_nodes
from ..objective import compile_loss, compile_terms

if TYPE_CHECKING:
    from ..compile import Program

Array = Any
Tree = dict[str, dict[str, Any]]


class Objective(NamedTuple):
    """The loss and the parameter masks of a network, with its bounds or a user's."""

    terms: Callable[[dict[str, Array], Any, Any], dict[str, Array]]
    loss: Callable[[dict[str, Array], Any, Any], Array]
    loss_and_terms: Callable[[dict[str, Array], Any, Any], tuple[Array, dict[str, Array]]]
    lower: Tree
    upper: Tree
    project: Tree  # True where a parameter is clipped into its box after each update
    penalised: Tree  # True where a bounded parameter's bound is meant as a penalty
    frozen: Tree  # True where a parameter is not trained


def make_objective(net: Network, bounds: tuple[Tree, Tree] | None = None) -> Objective:
    """The objective of ``net``; ``bounds`` (a ``(lower, upper)`` template) replaces the
    spec's bounds for projection and for the loss's bounds terms.

    >>> from rpgraph.graph import loads
    >>> obj = make_objective(loads("network n { input x : 3\\n output y : 2\\n"
    ...                            " x -> linear(2) -> y }"))
    >>> obj.frozen, obj.project
    ({'linear_0': {'weight': False}}, {'linear_0': {'weight': False}})
    """
    if bounds is not None:
        check_like(bounds[0], bounds[1], net, "bounds")
        net = _with_bounds(net, bounds)
    lower, upper = template(net)
    frozen: Tree = {}
    penalised: Tree = {}
    for _, d in param_nodes(net.graph):
        frozen.setdefault(d["module"], {})[d["name"]] = not d["trainable"]
        bounded = d["lower"] > -math.inf or d["upper"] < math.inf
        penalised.setdefault(d["module"], {})[d["name"]] = bounded and d["enforce"] in (
            "penalty", "both")
    terms = compile_terms(net)

    def loss_and_terms(outs: dict[str, Array], target: Any, params: Any
                       ) -> tuple[Array, dict[str, Array]]:
        values = terms(outs, target, params)
        total = sum(jnp.asarray(v, jnp.float32) for v in values.values())
        return jnp.asarray(total, jnp.float32), values

    return Objective(terms, compile_loss(net), loss_and_terms, lower, upper,
                     projection_mask(net), penalised, frozen)


def _with_bounds(net: Network, bounds: tuple[Tree, Tree]) -> Network:
    """``net`` with its parameter nodes' bounds replaced by a user's template."""
    lower, upper = bounds
    g = net.graph.copy()  # fresh attribute dicts: the compiled network is not touched
    for _, d in param_nodes(g):
        d["lower"] = float(lower[d["module"]][d["name"]])
        d["upper"] = float(upper[d["module"]][d["name"]])
    return replace(net, graph=g)


def objective_of(prog: Program, objective: Objective | None = None) -> Objective:
    """``objective``, or else the spec's own (its loss, bounds and frozen parameters)."""
    return objective if objective is not None else make_objective(prog.network)
