"""Case 5: the front end on a big spec: parse and graph build of a generated N-layer chain.

The spec-language issue asks that a 1,000-layer spec parses and builds its graph in under a
second. Timed here (median of warm repeats, after one call that builds the Lark parser),
never in the test suite. Also timed: the graph build of a long chain declared bottom-up
(each line feeds the one above it), the order that made size inference quadratic.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import rpgraph
from rpgraph.graph import build
from rpgraph.parse import parse

from .common import Row


@dataclass(frozen=True)
class ParseConfig:
    layers: int = 1000
    repeats: int = 5
    chain_nodes: int = 12_000  # the bottom-up chain


def reversed_chain_spec(nodes: int) -> str:
    """``x -> h0 -> ... -> y`` written one edge a line, last edge first.

    >>> print(reversed_chain_spec(2))
    network up {
        input x : 2
        output y : 2
        h1 -> y
        h0 -> h1: tanh
        x -> h0: tanh
    }
    <BLANKLINE>
    """
    lines = [f"    h{nodes - 1} -> y"] + [
        f"    {'x' if i == 0 else f'h{i - 1}'} -> h{i}: tanh" for i in reversed(range(nodes))]
    return "network up {\n    input x : 2\n    output y : 2\n" + "\n".join(lines) + "\n}\n"


def chain_spec(layers: int) -> str:
    """``x -> l0: linear(4, bias = true) -> ... -> y``, one layer per line."""
    return ("network deep {\n    input x : 4\n    output y : 4\n    x"
            + "".join(f"\n        -> l{i}: linear(4, bias = true)" for i in range(layers))
            + "\n        -> y\n}\n")


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def run_case(cfg: ParseConfig, log: Callable[[str], None] = print) -> list[Row]:
    text = chain_spec(cfg.layers)
    t0 = time.perf_counter()
    rpgraph.loads(text)  # builds the parser and warms the caches
    cold_ms = 1000 * (time.perf_counter() - t0)
    spec = parse(text)
    parse_ms = _median_ms(lambda: parse(text), cfg.repeats)
    graph_ms = _median_ms(lambda: build(spec), cfg.repeats)
    total_ms = _median_ms(lambda: rpgraph.loads(text), cfg.repeats)
    case = f"parse {cfg.layers} layers"
    log(f"  {case}: parse {parse_ms:.1f} ms, graph {graph_ms:.1f} ms, "
        f"parse+graph {total_ms:.1f} ms (first call {cold_ms:.0f} ms)")
    up = parse(reversed_chain_spec(cfg.chain_nodes))
    up_ms = _median_ms(lambda: build(up), max(1, cfg.repeats // 2))
    log(f"  graph of a {cfg.chain_nodes}-node chain declared bottom-up: {up_ms:.0f} ms")
    return [Row(case, "rpgraph parse", parse_ms, "ms", False),
            Row(case, "rpgraph graph", graph_ms, "ms", False),
            Row(case, "rpgraph parse+graph", total_ms, "ms", False,
                extra={"first_call_ms": cold_ms}),
            Row(reversed_case(cfg), "rpgraph graph", up_ms, "ms", False)]


def reversed_case(cfg: ParseConfig) -> str:
    return f"graph {cfg.chain_nodes}-node chain bottom-up"
