"""Data-parallel training over several processes (hosts), with ``jax.distributed``.

Every process runs the same ``rpgraph train``: it reads the same data, draws the same
minibatch order and builds the same program. :func:`initialize` joins the processes
(``jax.distributed.initialize``: a coordinator at ``HOST:PORT``, on CPU the gloo
collectives), after which ``jax.devices()`` lists every process's devices and the training
chunk shards each minibatch over all of them (:func:`~.step.batch_sharding`): each process
computes the loss and gradients of its share of the batch, and XLA sums the gradients across
processes, so the parameters stay replicated and equal everywhere. Only process 0 writes the
run folder; the others train silently.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import SpecValueError

#: environment variables read when the flags are not given (``--coordinator`` etc.)
ENV = {"coordinator": "RPGRAPH_COORDINATOR", "num_processes": "RPGRAPH_NUM_PROCESSES",
       "process_id": "RPGRAPH_PROCESS_ID"}


@dataclass(frozen=True)
class Cluster:
    """Where a process stands: ``coordinator`` (``HOST:PORT``), the number of processes
    and this one's id (0 is the one that writes).

    >>> Cluster("localhost:1234", 2, 1).writes
    False
    """

    coordinator: str
    num_processes: int
    process_id: int

    @property
    def writes(self) -> bool:
        """Whether this process writes the run folder and prints (process 0)."""
        return self.process_id == 0


def cluster_from(coordinator: str | None, num_processes: int | None, process_id: int | None,
                 env: Mapping[str, str] | None = None) -> Cluster | None:
    """The cluster named by the flags, each one missing taken from its environment variable
    (:data:`ENV`); ``None`` when none of the three is set (a single process).

    >>> cluster_from("localhost:1234", 2, 0, env={})
    Cluster(coordinator='localhost:1234', num_processes=2, process_id=0)
    >>> cluster_from(None, None, None, env={}) is None
    True
    """
    env = os.environ if env is None else env
    given: dict[str, str | int | None] = {"coordinator": coordinator,
                                          "num_processes": num_processes,
                                          "process_id": process_id}
    for key, var in ENV.items():
        if given[key] is None and env.get(var):
            given[key] = env[var]
    if all(v is None for v in given.values()):
        return None
    missing = [f"--{k.replace('_', '-')}" for k, v in given.items() if v is None]
    if missing:
        raise SpecValueError(f"several processes need --coordinator, --num-processes and "
                             f"--process-id; missing {', '.join(missing)}",
                             hint="e.g. --coordinator localhost:12355 --num-processes 2 "
                             "--process-id 0 (or RPGRAPH_COORDINATOR, ...)")
    address = str(given["coordinator"])
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SpecValueError(f"Expected --coordinator HOST:PORT, got '{address:.60}'",
                             hint="the address of process 0, e.g. localhost:12355")
    n, i = _count(given["num_processes"], "--num-processes"), _count(given["process_id"],
                                                                      "--process-id")
    if n < 1 or not 0 <= i < n:
        raise SpecValueError(f"Expected 0 <= --process-id < --num-processes, got process id "
                             f"{i} of {n}")
    return Cluster(address, n, i)


def _count(value: str | int | None, flag: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise SpecValueError(f"Expected {flag} to be a whole number, got '{value!s:.40}'"
                             ) from None


def initialize(cluster: Cluster) -> None:
    """Join the cluster (before JAX computes anything): ``jax.distributed.initialize`` with
    the coordinator, process count and id; on CPU the gloo collectives carry the gradient
    reductions between processes."""
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=cluster.coordinator,
                               num_processes=cluster.num_processes,
                               process_id=cluster.process_id)
