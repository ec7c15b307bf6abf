"""Reading and writing ``.nir`` files (HDF5, through :func:`nir.read` / :func:`nir.write`).

A file is checked before NIR's reader builds the graph: it must be one self-contained HDF5
file (no links to other files, no soft links, no datasets stored in other files: files
written by :func:`nir.write` have none) whose subgraphs nest at most :data:`MAX_NESTING`
levels deep. Every failure is a :class:`~rpgraph.errors.SpecError` in plain words.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import NoReturn

import h5py
import nir

from ..errors import SpecError

__all__ = ["MAX_NESTING", "read_nir", "write_nir"]

#: How deep NIR subgraphs may nest (a subgraph of the top graph is at level 1); each level
#: becomes an rpgraph block instance, and block instances nest at most this deep too.
MAX_NESTING = 32
#: Objects (groups and datasets) a file may hold: bounds the check of a file whose hard
#: links make the same group reachable along many paths.
MAX_OBJECTS = 1_000_000
NESTING_HINT = (f"rpgraph imports subgraphs nested at most {MAX_NESTING} levels deep; "
                "flatten the outer ones")

# groups per subgraph level (its node group and that node's "nodes"), plus room for the
# top groups and nested metadata
_MAX_GROUP_DEPTH = 2 * MAX_NESTING + 16
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_SELF_CONTAINED = "rpgraph reads one self-contained file (nir.write writes no links)"


def read_nir(path: str | Path) -> nir.NIRGraph:
    """Read a NIR file (HDF5) into a :class:`nir.NIRGraph`.

    Raises :class:`SpecError` for a missing, unreadable or corrupt file, a file that is not
    self-contained, or subgraphs nested deeper than :data:`MAX_NESTING`. Graphs whose types
    do not check (some older exporters) are read again without the type check, with a
    warning.

    >>> g = read_nir("../shared/nir/lif_norse.nir")  # doctest: +SKIP
    >>> sorted(g.nodes)  # doctest: +SKIP
    ['0', '1', 'input', 'output']
    """
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"NIR file '{p}' does not exist", hint="check the path")
    try:
        with h5py.File(p, "r") as f:
            problem = _check(f)
    except Exception as err:  # noqa: BLE001 - any failure of the HDF5 library is reported
        _unreadable(p, err)
    if problem is not None:
        raise SpecError(f"NIR file '{p}' {problem[0]}", hint=problem[1])
    first: Exception | None = None
    try:
        graph = nir.read(p)
    except Exception as err:  # noqa: BLE001 - any failure of the reader is reported
        first = err
    if first is not None:
        try:
            graph = nir.read(p, type_check=False)
        except Exception as err:  # noqa: BLE001
            _unreadable(p, err)
        warnings.warn(f"NIR file '{p}' does not type-check ({first}); read without the "
                      "type check", stacklevel=2)
    if not isinstance(graph, nir.NIRGraph):
        raise SpecError(f"NIR file '{p}' holds a {type(graph).__name__}, not a graph")
    return graph


def _unreadable(p: Path, err: Exception) -> NoReturn:
    """Raise the plain message for a file that is not HDF5, else the reader's own words."""
    with p.open("rb") as f:
        signature = f.read(len(_HDF5_SIGNATURE))
    if signature != _HDF5_SIGNATURE:
        raise SpecError(f"'{p}' is not a NIR file: it does not start with the HDF5 "
                        "signature", hint="NIR files are HDF5 files written by "
                        "nir.write") from None
    raise SpecError(f"cannot read NIR file '{p}': {type(err).__name__}: {err}",
                    hint="is it a NIR (HDF5) file written by nir.write?") from None


def _check(root: h5py.File) -> tuple[str, str] | None:
    """Why the file cannot be read safely (message, hint), or ``None``.

    Walks every link without following any that leaves the file (iteratively, so that a
    deep file cannot exhaust Python's stack). A NIR graph is stored as ``node/nodes/<name>``
    with a subgraph's nodes under its own ``nodes`` group, so a path's count of ``nodes``
    groups less one is the subgraph level it is at.
    """
    stack: list[tuple[h5py.Group, str, int]] = [(root, "", 0)]
    seen = 0
    while stack:
        group, path, level = stack.pop()
        if path.count("/") > _MAX_GROUP_DEPTH:  # a hard-link cycle outside the node tree
            return (f"nests HDF5 groups more than {_MAX_GROUP_DEPTH} deep (at '{path}')",
                    "is it a NIR file written by nir.write?")
        for name in group:
            seen += 1
            if seen > MAX_OBJECTS:
                return (f"holds more than {MAX_OBJECTS:,} HDF5 objects",
                        "NIR files of rpgraph's size hold far fewer")
            where = f"{path}/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                return (f"links to another file ('{link.filename}') at '{where}'",
                        _SELF_CONTAINED)
            if isinstance(link, h5py.SoftLink):
                return f"holds a soft link at '{where}'", _SELF_CONTAINED
            obj = group[name]
            if isinstance(obj, h5py.Dataset) and (obj.external or obj.is_virtual):
                return f"stores dataset '{where}' in another file", _SELF_CONTAINED
            if not isinstance(obj, h5py.Group):
                continue
            depth = level + (name == "nodes")
            if depth - 1 > MAX_NESTING:
                sub = ".".join(p for p in where.split("/")[3:-1] if p != "nodes")
                return (f"nests subgraphs deeper than {MAX_NESTING} levels (at '{sub}')",
                        NESTING_HINT)
            stack.append((obj, where, depth))
    return None


def write_nir(graph: nir.NIRGraph, path: str | Path) -> None:
    """Write ``graph`` to ``path`` with :func:`nir.write` (SpecError when that fails).

    >>> write_nir(to_nir(net, params), "net.nir")  # doctest: +SKIP
    """
    p = Path(path)
    if p.parent and not p.parent.exists():
        raise SpecError(f"cannot write NIR file '{p}': folder '{p.parent}' does not exist",
                        hint="create it first, or pick another path")
    try:
        nir.write(p, graph)
    except Exception as err:  # noqa: BLE001
        raise SpecError(f"cannot write NIR file '{p}': {type(err).__name__}: {err}") from None
