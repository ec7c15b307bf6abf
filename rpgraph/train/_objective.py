"""Provisional: the loss terms and parameter masks one training run uses.

Shaped like ``rpgraph.objective.make_objective(net, bounds) -> Objective`` (issue #11, item 4,
built in parallel): when that lands, the training modules import it from there and this
module goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

from ..bounds import check_like, penalised, projection_mask, template
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
    lower: Tree
    upper: Tree
    project: Tree  # True where a parameter is clipped into its box after each update
    penalised: bool
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
    for _, d in param_nodes(net.graph):
        frozen.setdefault(d["module"], {})[d["name"]] = not d["trainable"]
    return Objective(compile_terms(net), compile_loss(net), lower, upper, projection_mask(net),
                     penalised(net), frozen)


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
