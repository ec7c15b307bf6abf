"""How training reads its data: the whole data set kept on the device when it fits a
device-data budget, streamed from host memory in chunks when it does not.

On the device, each chunk of steps gathers its batches there (one transfer for the whole
run). Streamed, the batches of a chunk's steps are gathered on the host (numpy), sent as one
array of ``steps x batch`` samples and read back by the same compiled chunk with the indices
``0 .. steps * batch - 1``: each step sees the same samples in the same order, so a streamed
run ends bit for bit where the on-device run ends. A chunk whose batches exceed the budget
is sent in pieces of as many steps as fit (at least one), each padded to one width so the
run compiles one more program, not one per piece.

The budget is ``FitOptions.device_data`` (bytes), else ``RPGRAPH_DEVICE_DATA`` (``"2GB"``),
else half the accelerator's memory; on CPU, where the device is host memory, there is no
budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import SpecValueError
from ..io.data import Dataset
from ..memory import size_from_env

if TYPE_CHECKING:
    from ..compile import Program

Array = Any

__all__ = ["Feed", "device_budget"]


def device_budget(given: int | None = None) -> int | None:
    """The device-data budget in bytes: ``given``, else ``RPGRAPH_DEVICE_DATA``, else half
    the first accelerator's memory (``None`` on CPU: no limit).

    >>> device_budget(2**20)
    1048576
    """
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, int) or given <= 0:
            raise SpecValueError(f"Expected device_data in bytes (an integer > 0), got "
                                 f"{given!r:.40}")
        return given
    env = size_from_env("RPGRAPH_DEVICE_DATA")
    if env is not None:
        return env
    dev = jax.devices()[0]
    if dev.platform == "cpu":
        return None
    stats = dev.memory_stats() or {}
    limit = stats.get("bytes_limit")
    return int(limit) // 2 if limit else None


class Feed:
    """A data set's arrays for :func:`~.step.make_chunk`: on the device, or on the host and
    streamed (see the module notes). :meth:`run` runs one chunk of steps either way.

    >>> import rpgraph
    >>> from rpgraph.io.data import sinusoids
    >>> prog = rpgraph.compile("network n { input x : 2\\n output y : 1\\n x -> linear(1) -> y }")
    >>> Feed(prog, sinusoids(classes=2, length=3, channels_in=2), budget=16).streamed
    True
    """

    def __init__(self, prog: Program, ds: Dataset, *, budget: int | None) -> None:
        self.names = (tuple(prog.inputs), tuple(prog.outputs))
        ins = {k: np.asarray(v, np.float32) for k, v in ds.input_arrays(prog.inputs).items()}
        outs = {k: np.asarray(v) for k, v in ds.output_arrays(prog.outputs).items()}
        self.nbytes = sum(a.nbytes for a in (*ins.values(), *outs.values()))
        self.sample_bytes = max(1, self.nbytes // max(len(ds), 1))
        self.budget = budget
        self.streamed = budget is not None and self.nbytes > budget
        if self.streamed:
            self.inputs: Any = ins
            self.targets: Any = outs
        else:
            self.inputs = self._single({k: jnp.asarray(v) for k, v in ins.items()}, 0)
            self.targets = self._single({k: jnp.asarray(v) for k, v in outs.items()}, 1)

    def _single(self, arrays: Mapping[str, Array], side: int) -> Any:
        # one input (output): a plain array, as the chunk expects; several: a dict by port
        names = self.names[side]
        return arrays[names[0]] if len(names) == 1 else dict(arrays)

    def steps_per_piece(self, batch: int) -> int:
        """Steps whose batches fit the budget together (at least one)."""
        assert self.budget is not None
        return max(1, self.budget // (self.sample_bytes * max(batch, 1)))

    def run(self, run_chunk: Callable[..., Any], params: Any, opt_state: Any, idx: np.ndarray,
            step: int, count: int) -> Any:
        """``run_chunk(params, opt_state, inputs, targets, idx, step, count)`` for the ``count``
        real steps of ``idx`` (``(K, B)`` sample indices; rows past ``count`` are padding):
        ``(params, opt_state, losses, terms)``, ``losses`` at least ``count`` long."""
        if not self.streamed:
            return run_chunk(params, opt_state, self.inputs, self.targets, jnp.asarray(idx),
                             step, count)
        width = min(self.steps_per_piece(idx.shape[1]), len(idx))
        local = jnp.arange(width * idx.shape[1], dtype=jnp.int32).reshape(width, -1)
        losses, terms = [], []
        for lo in range(0, count, width):
            n = min(width, count - lo)
            rows = idx[lo:lo + n].reshape(-1)
            if n < width:  # padding rows (sample 0): one shape, one compiled program
                rows = np.concatenate([rows, np.zeros((width - n) * idx.shape[1], rows.dtype)])
            x = self._single({k: jnp.asarray(v[rows]) for k, v in self.inputs.items()}, 0)
            t = self._single({k: jnp.asarray(v[rows]) for k, v in self.targets.items()}, 1)
            params, opt_state, loss, term = run_chunk(params, opt_state, x, t, local, step + lo,
                                                      n)
            losses.append(loss[:n])
            terms.append(jax.tree_util.tree_map(lambda a, n=n: a[:n], term))
        cat = lambda *a: jnp.concatenate(a)  # noqa: E731
        return params, opt_state, cat(*losses), jax.tree_util.tree_map(cat, *terms)
