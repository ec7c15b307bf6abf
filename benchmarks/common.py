"""Shared pieces of the benchmark suite: timing, rows of the result table, machine facts."""

from __future__ import annotations

import os
import platform
import socket
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

import jax

# Rockpool and JAX are chatty about deprecations and unusable donated buffers on CPU.
warnings.filterwarnings("ignore")


@dataclass
class Timing:
    """Wall-clock seconds of a first call (trace + compile + run) and of warm calls, and the
    process CPU seconds (all threads) of the warm calls: on a shared machine, CPU time is the
    steadier measure of work done, wall time the one a user waits for."""

    first_s: float
    warm_s: list[float]
    cpu_s: list[float] = field(default_factory=list)

    @property
    def cpu_median_s(self) -> float | None:
        return statistics.median(self.cpu_s) if self.cpu_s else None

    @property
    def median_s(self) -> float:
        return statistics.median(self.warm_s)

    @property
    def compile_s(self) -> float:
        """First call minus a warm call: the one-off cost of tracing and compiling."""
        return max(0.0, self.first_s - self.median_s)


def block(tree: Any) -> Any:
    """Wait for every array in ``tree`` (JAX dispatch is asynchronous)."""
    return jax.block_until_ready(tree)


def time_calls(fn: Callable[[], Any], repeats: int, *, budget_s: float | None = None,
               min_repeats: int = 2) -> Timing:
    """Call ``fn`` once cold, then ``repeats`` times warm; each call is blocked on.

    With ``budget_s`` the warm calls stop early (after at least ``min_repeats``) once their
    total exceeds the budget, so a slow configuration cannot blow the run's time limit.
    """
    t0 = time.perf_counter()
    block(fn())
    first = time.perf_counter() - t0
    warm: list[float] = []
    cpu: list[float] = []
    for i in range(max(1, repeats)):
        c0, t0 = time.process_time(), time.perf_counter()
        block(fn())
        warm.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if budget_s is not None and i + 1 >= min_repeats and sum(warm) > budget_s:
            break
    return Timing(first, warm, cpu)


@dataclass
class Row:
    """One implementation's measurement in one case.

    ``value`` is a throughput (``higher_is_better``, e.g. steps/s) or a time (ms); ``None``
    when the implementation could not run (``note`` says why).
    """

    case: str
    impl: str
    value: float | None
    unit: str
    higher_is_better: bool
    compile_s: float | None = None
    note: str = ""
    cpu_value: float | None = None  # ``value`` computed from process CPU time instead of wall
    extra: dict[str, Any] = field(default_factory=dict)

    def speedup_over(self, other: Row | None) -> float | None:
        """How many times faster this row is than ``other`` (None if either is missing)."""
        if other is None or self.value is None or other.value is None:
            return None
        if self.value <= 0 or other.value <= 0:
            return None
        return self.value / other.value if self.higher_is_better else other.value / self.value

    def cpu_speedup_over(self, other: Row | None) -> float | None:
        """:meth:`speedup_over` on CPU time (steadier when other processes share the CPU)."""
        if other is None or self.cpu_value is None or other.cpu_value is None:
            return None
        if self.cpu_value <= 0 or other.cpu_value <= 0:
            return None
        if self.higher_is_better:
            return self.cpu_value / other.cpu_value
        return other.cpu_value / self.cpu_value

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Target:
    """A PASS/FAIL check on a measured ratio: ``measured >= threshold`` (or ``<=``)."""

    name: str
    measured: float | None
    threshold: float
    at_most: bool = False
    cpu_measured: float | None = None  # the same ratio from CPU time, for reference

    @property
    def passed(self) -> bool | None:
        if self.measured is None:
            return None
        return self.measured <= self.threshold if self.at_most else \
            self.measured >= self.threshold

    def line(self) -> str:
        op = "<=" if self.at_most else ">="
        if self.passed is None:
            return f"n/a   {self.name}: not measured (target {op} {self.threshold:g})"
        status = "PASS" if self.passed else "FAIL"
        margin = self.measured / self.threshold if self.threshold else float("nan")
        cpu = "" if self.cpu_measured is None else f"; from CPU time: {self.cpu_measured:.3g}"
        return (f"{status}  {self.name}: {self.measured:.3g} (target {op} {self.threshold:g}; "
                f"{margin:.2f}x of target{cpu})")

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "measured": self.measured, "threshold": self.threshold,
                "at_most": self.at_most, "passed": self.passed,
                "cpu_measured": self.cpu_measured}


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """Facts a reader needs to compare two result files."""
    dev = jax.devices()[0]
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 0
    return {
        "hostname": socket.gethostname(),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_usable": usable,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax_backend": jax.default_backend(),
        "device_kind": dev.device_kind,
        "device_count": jax.device_count(),
        "versions": {d: _version(d) for d in ("jax", "jaxlib", "optax", "numpy", "rockpool",
                                                "spyx", "flax", "rpgraph")},
    }
