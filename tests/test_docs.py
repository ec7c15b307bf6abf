"""Every docstring example in the package runs and prints what it shows (doctest)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import warnings

import pytest

import rpgraph

# with the prefix, subpackages are walked as rpgraph's (without it, rpgraph/nir would be
# taken for the external ``nir`` package and rpgraph/modules skipped)
MODULES = ["rpgraph"] + sorted(
    m.name for m in pkgutil.walk_packages(rpgraph.__path__, prefix="rpgraph."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. the NIR export's note on subtractive resets
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS
                                 | doctest.NORMALIZE_WHITESPACE, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
