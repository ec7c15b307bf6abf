"""JAX's persistent compilation cache, as the command line uses it.

A fresh process spends most of a short training run compiling; with the cache on, a second
``rpgraph train`` of the same spec reads its compiled programs from disk instead.

The folder is ``$RPGRAPH_CACHE_DIR``, else ``$XDG_CACHE_HOME/rpgraph/jax``, else
``~/.cache/rpgraph/jax``; ``RPGRAPH_CACHE_DIR=off`` (or ``rpgraph train --no-cache``) turns
it off. One folder is safe across upgrades: JAX keys each entry by a hash of the lowered
program together with the jaxlib version, the backend and its platform version, the XLA
flags, the compile options and the devices (``jax._src.cache_key.get``), so a program
compiled by another jax/jaxlib, another XLA flag or another device is a miss, never a wrong
hit. The folder is not pruned (JAX's size limit needs the ``filelock`` package); deleting
it at any time is safe.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

OFF = "off"


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The cache folder the CLI uses, from ``environ`` (default ``os.environ``); ``None``
    when ``RPGRAPH_CACHE_DIR=off`` turns the cache off.

    >>> default_cache_dir({"XDG_CACHE_HOME": "/c"}), default_cache_dir({"RPGRAPH_CACHE_DIR": "off"})
    (PosixPath('/c/rpgraph/jax'), None)
    """
    env = os.environ if environ is None else environ
    own = env.get("RPGRAPH_CACHE_DIR")
    if own:
        return None if own.strip().lower() == OFF else Path(own).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rpgraph" / "jax"


def enable_cache(folder: str | Path | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in ``folder`` (default:
    :func:`default_cache_dir`) for this process; returns the folder in use, or ``None``
    when the cache stays off. Call it before the first compilation: JAX decides once per
    process whether it uses a cache. A cache folder the user already gave JAX
    (``JAX_COMPILATION_CACHE_DIR``) is kept. A folder that cannot be created leaves the
    cache off rather than stopping the run.

    >>> enable_cache("/tmp/rp-cache")  # doctest: +SKIP
    PosixPath('/tmp/rp-cache')
    """
    import jax

    given = jax.config.values.get("jax_compilation_cache_dir")
    if given:
        return Path(given)
    path = Path(folder) if folder is not None else default_cache_dir()
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    # JAX caches only programs that took >= 1 s to compile by default; a short run's
    # start-up is many programs of 0.05-0.5 s each, and reading one back costs milliseconds
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return path
