"""From a parsed spec to a checked :class:`~rpgraph.graph.Network`: elaboration, then
:data:`~rpgraph.graph.passes.PASSES` in order."""

from __future__ import annotations

from pathlib import Path

from .. import ast
from ..errors import SpecError, SpecGraphError
from ..expr import Quantity
from ..parse import parse, parse_file
from .elaborate import MAX_NODES, elaborate
from .network import Network
from .passes import PASSES


def build(spec: ast.Spec, *, max_nodes: int = MAX_NODES) -> Network:
    """Build and check the module graph of a parsed spec.

    ``max_nodes`` caps the ports, modules and block junctions the spec may expand to (blocks
    that use a block twice double the network at each level of nesting).

    >>> from rpgraph.parse import parse
    >>> build(parse("network n { input x : 4\\n output y : 4\\n x -> tanh -> y }")).modules()
    ['tanh_0']
    """
    try:
        g, ctx = elaborate(spec, max_nodes)
        for run in PASSES:
            out = run(g, ctx)
            if out is not None:
                g = out
    except SpecError as err:
        raise err.located(spec.source, spec.filename) from None
    except RecursionError:
        raise SpecGraphError("spec nests too deeply to build").located(
            spec.source, spec.filename) from None
    sim = {k: (v.value if isinstance(v, Quantity) else v) for k, v in ctx.consts.items()}
    return Network(spec.network.name, g, ctx.inputs, ctx.outputs, sim, spec, ctx.enforce)


def loads(text: str, filename: str = "<string>", *, max_nodes: int = MAX_NODES) -> Network:
    """Parse spec text and build its :class:`Network`.

    >>> loads("network n { input x : 2\\n output y : 2\\n x -> y }").outputs
    ['y']
    """
    return build(parse(text, filename), max_nodes=max_nodes)


def load(path: str | Path, *, max_nodes: int = MAX_NODES) -> Network:
    """Read a ``.rpg`` file and build its :class:`Network`.

    >>> net = load("specs/tutorial_rate.rpg")
    >>> net.name, net.inputs, net.outputs
    ('tutorial_rate', ['x'], ['y'])
    """
    return build(parse_file(path), max_nodes=max_nodes)
