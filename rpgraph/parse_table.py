"""The LALR tables of rpgraph's grammar, built once and shipped as data.

Building the Lark parser from ``grammar/rpgraph.lark`` computes its LALR(1) tables (0.1 s at
every start, a fifth of ``rpgraph check``). Lark can serialize a built parser; its own cache
does that with pickle, which rpgraph never uses, so the tables are shipped as JSON
(``parse_table.json``, written by :func:`rpgraph.parse.write_table`). The file records the SHA-256
of the grammar it was built from and the Lark version; a table that does not match both is
never used (the grammar is then built as before), and a test fails when the shipped one is
stale.

>>> from rpgraph.parse import build_parser
>>> table = dumps(build_parser(), "grammar text")
>>> loads(table, "other grammar text") is None  # built from another grammar: not used
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from lark import Lark
from lark.grammar import Rule
from lark.lexer import TerminalDef

__all__ = ["TABLE", "dumps", "loads"]

TABLE = Path(__file__).with_name("parse_table.json")
#: Options given when the table is loaded, not stored in it (objects, not data).
_AT_LOAD = ("postlex",)
#: JSON object keys are strings; Lark's memo and state tables are keyed by integers.
_INT_KEYS = "__int_keys__"


def _digest(grammar: str) -> str:
    return hashlib.sha256(grammar.encode("utf-8")).hexdigest()


def _lark_version() -> str:
    return metadata.version("lark")


def _encode(obj: Any) -> Any:
    """Dicts keyed by integers as ``{"__int_keys__": [[k, v], ...]}``; the rest as is."""
    if isinstance(obj, dict):
        if obj and all(isinstance(k, int) for k in obj):
            return {_INT_KEYS: [[k, _encode(v)] for k, v in obj.items()]}
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    return obj


def _decode(obj: dict[str, Any]) -> Any:
    if _INT_KEYS in obj and len(obj) == 1:
        return {int(k): v for k, v in obj[_INT_KEYS]}
    return obj


def dumps(parser: Lark, grammar: str) -> str:
    """The tables of ``parser`` (built from the text ``grammar``) as JSON text."""
    data, memo = parser.memo_serialize([TerminalDef, Rule])
    data["options"] = {k: v for k, v in data["options"].items() if k not in _AT_LOAD}
    table = {"grammar_sha256": _digest(grammar), "lark": _lark_version(),
             "data": data, "memo": memo}
    return json.dumps(_encode(table), sort_keys=True, separators=(",", ":")) + "\n"


def loads(text: str, grammar: str, **at_load: Any) -> Lark | None:
    """The parser in the JSON ``text`` when it was built from ``grammar`` by the installed
    Lark, given the load-time options ``at_load`` (``postlex``, ...); else None."""
    table = json.loads(text, object_hook=_decode)
    if table.get("grammar_sha256") != _digest(grammar) or table.get("lark") != _lark_version():
        return None
    return Lark._load_from_dict(table["data"], table["memo"], **at_load)  # type: ignore[no-any-return]


def load_or_build(grammar: str, build: Callable[[], Lark], **at_load: Any) -> Lark:
    """The shipped parser of ``grammar`` if :data:`TABLE` is current, else ``build()``."""
    try:
        text = TABLE.read_text(encoding="utf-8")
    except OSError:
        return build()
    return loads(text, grammar, **at_load) or build()
