"""Security: no code execution paths, no pickle, data paths confined to the spec's folder,
and injection strings in every name or string position are inert."""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
from pathlib import Path

import numpy as np
import pytest

import rpgraph
from rpgraph.errors import DataError, SpecError
from rpgraph.train import resolve

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = sorted((ROOT / "rpgraph").rglob("*.py"))


# --- static checks of the library code -------------------------------------------------------


def _code_only(path: Path) -> str:
    """The file's code with strings, docstrings and comments blanked out."""
    out = []
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    for tok in tokens:
        if tok.type in (tokenize.STRING, tokenize.COMMENT):
            out.append('""')
        elif tok.type in (tokenize.NEWLINE, tokenize.NL):
            out.append("\n")
        elif sys_fstring(tok):
            out.append('""')
        else:
            out.append(tok.string + " ")
    return "".join(out)


def sys_fstring(tok: tokenize.TokenInfo) -> bool:
    # Python 3.12+ tokenizes f-strings into FSTRING_START/MIDDLE/END pieces
    return tokenize.tok_name.get(tok.type, "").startswith("FSTRING")


FORBIDDEN = {
    r"(?<![\w.])eval\s*\(": "eval()",
    r"(?<![\w.])exec\s*\(": "exec()",
    r"\bpickle\b|\bcPickle\b|\bdill\b|\bcloudpickle\b|\bshelve\b|\bmarshal\b": "pickle & co.",
    r"allow_pickle\s*=\s*True": "allow_pickle=True",
    r"__import__": "__import__",
    # importlib.metadata reads installed packages' versions (optax_table); it imports nothing
    r"\bimportlib\b(?!\s*\.\s*metadata\b)(?!\s+import\s+metadata\b)": "importlib",
    r"\bsubprocess\b": "subprocess",
    r"\bos\s*\.\s*(system|popen|exec\w*|spawn\w*)\b": "os.system & co.",
    r"\byaml\s*\.\s*load\b": "yaml.load",
}


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_execution_or_pickle(path: Path) -> None:
    code = _code_only(path)
    found = {what for pattern, what in FORBIDDEN.items() if re.search(pattern, code)}
    assert not found, f"{path.name} uses {found}"


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(ROOT)))
def test_compile_is_never_the_builtin(path: Path) -> None:
    """``compile(`` in rpgraph is rpgraph.compile; the builtin would compile user text.
    A call to a bare name ``compile`` is only allowed where the module binds that name
    itself (a def or an import of rpgraph's own compile)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name) and n.func.id in ("compile", "eval", "exec",
                                                                  "__import__")]
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            bound.add(node.name)
        elif isinstance(node, ast.ImportFrom) and (node.level > 0
                                                   or (node.module or "").startswith("rpgraph")):
            bound |= {a.asname or a.name for a in node.names}
    bad = [f"{path.name}:{c.lineno}" for c in calls if c.func.id not in bound]  # type: ignore
    assert not bad, f"builtin called: {bad}"
    builtins_attr = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                     and isinstance(n.value, ast.Name) and n.value.id == "builtins"]
    assert not builtins_attr


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(ROOT)))
def test_npy_loads_refuse_pickle(path: Path) -> None:
    """Every np.load / read_array call passes allow_pickle=False explicitly."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in ("load", "read_array") and \
                ast.unparse(node.func.value) in ("np", "numpy", "np.lib.format", "format"):
            kw = {k.arg: k.value for k in node.keywords}
            assert "allow_pickle" in kw, f"{path.name}:{node.lineno}"
            value = kw["allow_pickle"]
            assert isinstance(value, ast.Constant) and value.value is False, \
                f"{path.name}:{node.lineno}"


def test_object_npz_is_refused_without_unpickling(tmp_path: Path) -> None:
    """An object array in a data file is rejected before numpy would unpickle it."""
    marker = tmp_path / "UNPICKLED"

    class Boom:
        def __reduce__(self) -> tuple:
            return (os.mkdir, (str(marker),))

    np.savez(tmp_path / "evil.npz", inputs=np.array([Boom()], dtype=object),
             targets=np.zeros((1, 2, 2)))
    spec = tmp_path / "s.rpg"
    spec.write_text('network n {\n input x : 2\n output y : 2\n x -> y\n}\n'
                    'train {\n data = "evil.npz"\n}\n', encoding="utf-8")
    with pytest.raises(DataError, match="holds an object array"):
        resolve(rpgraph.compile(spec))
    assert not marker.exists()


# --- data paths stay in the spec's folder ----------------------------------------------------


def _spec_with_data(folder: Path, data_expr: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "net.rpg"
    spec.write_text("network n {\n input x : 3\n output y : 2\n x -> linear(2) -> y\n}\n"
                    f"train {{\n data = {data_expr}\n}}\n", encoding="utf-8")
    return spec


@pytest.fixture()
def outside(tmp_path: Path) -> Path:
    np.savez(tmp_path / "x.npz", inputs=np.zeros((2, 4, 3)), targets=np.zeros((2, 4, 2)))
    return tmp_path / "x.npz"


@pytest.mark.parametrize("data_expr", ['"../x.npz"', 'npz("../x.npz")', '"sub/../../x.npz"',
                                       '"/etc/passwd"', '"{abs}"', '"link.npz"'])
def test_data_paths_cannot_escape(tmp_path: Path, outside: Path, data_expr: str) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "link.npz").symlink_to(outside)
    spec = _spec_with_data(folder, data_expr.replace("{abs}", str(outside)))
    prog = rpgraph.compile(spec)
    with pytest.raises(DataError) as info:
        resolve(prog)
    assert "is outside the spec's folder" in info.value.message
    assert info.value.hint == "pass --allow-outside to read files outside the spec's folder"


def test_allow_outside_opens_the_door(tmp_path: Path, outside: Path) -> None:
    prog = rpgraph.compile(_spec_with_data(tmp_path / "specs", '"../x.npz"'))
    assert len(resolve(prog, allow_outside=True).data) == 2
    prog = rpgraph.compile(_spec_with_data(tmp_path / "specs2", '"/etc/passwd"'))
    with pytest.raises(DataError, match="is not a .npz archive|does not exist"):
        resolve(prog, allow_outside=True)  # readable, but never parsed as anything but npz


def test_cli_refuses_outside_data_without_flag(tmp_path: Path, outside: Path) -> None:
    from rpgraph.cli import main

    spec = _spec_with_data(tmp_path / "specs", '"/etc/passwd"')
    assert main(["train", str(spec), "--out", str(tmp_path / "r"), "--quiet",
                 "--no-plots"]) == 1
    assert not (tmp_path / "r").exists()


def test_data_inside_the_folder_is_fine(tmp_path: Path) -> None:
    folder = tmp_path / "specs"
    (folder / "data").mkdir(parents=True)
    np.savez(folder / "data" / "x.npz", inputs=np.zeros((2, 4, 3)), targets=np.zeros((2, 4, 2)))
    prog = rpgraph.compile(_spec_with_data(folder, '"data/x.npz"'))
    assert len(resolve(prog).data) == 2


# --- injection strings in every name and string position -------------------------------------

PAYLOADS = [
    "__import__('os').system('touch PWNED')",
    "${touch PWNED}",
    "`touch PWNED`",
    "; rm -rf PWNED_DIR; touch PWNED",
    "{{7*7}}",
    "$(touch PWNED)",
    "a\x00b",
    "x" * 100_000,
    "../../../../etc/passwd",
    "%s%s%s%n",
    "\u202etouch PWNED",
    "\\\"); import os; os.system('touch PWNED'); (\"",
]

TEMPLATE = """network {NAME} (dt = 1 ms) {{
    input  x : 4
    output y : 2
    x -> {LABEL}: {KIND}(2, weight = {VALUE}) -> h: rate(activation = {ACT}) -> y
}}

bounds {{
    {TARGET} >= 0
}}

train {{
    data      = {DATA}
    loss      = {LOSS}
    optimizer = {OPT}(lr = {VALUE2})
    freeze    = [{FREEZE}]
}}
"""
DEFAULTS = {
    "NAME": "n", "LABEL": "w", "KIND": "linear", "VALUE": "normal(0.1)", "ACT": "tanh",
    "TARGET": "h.tau", "DATA": '"x.npz"', "LOSS": "mse(y, target)", "OPT": "adam",
    "VALUE2": "1e-3", "FREEZE": "w.weight",
}
STRING_SLOTS = {"VALUE": "{s}", "ACT": "{s}", "DATA": "{s}", "VALUE2": "{s}",
                "LOSS": "mse(y, {s})", "FREEZE": "{s}", "TARGET": "h.{s}"}


def _quoted(payload: str) -> str:
    return '"' + payload.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for slot in DEFAULTS:
        for i, payload in enumerate(PAYLOADS):
            cases.append((slot, f"raw{i}", payload))  # the payload as bare text
            if slot in STRING_SLOTS:
                cases.append((slot, f"str{i}", STRING_SLOTS[slot].format(s=_quoted(payload))))
    return cases


CASES = _cases()


def _attempt(text: str, folder: Path) -> None:
    spec = folder / "inj.rpg"
    spec.write_text(text, encoding="utf-8")
    try:
        prog = rpgraph.compile(spec)
        resolve(prog)  # data, loss, optimizer and freeze are evaluated here
    except SpecError as err:
        str(err)  # renders without trouble


@pytest.mark.parametrize("slot", sorted(DEFAULTS))
def test_injection_strings_are_inert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     slot: str) -> None:
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "x.npz", inputs=np.zeros((2, 4, 4)), targets=np.zeros((2, 4, 2)))
    (tmp_path / "PWNED_DIR").mkdir()
    for case_slot, _, value in CASES:
        if case_slot != slot:
            continue
        text = TEMPLATE.format(**{**DEFAULTS, slot: value})
        _attempt(text, tmp_path)  # SpecError or harmless success; nothing else escapes
        assert not (tmp_path / "PWNED").exists()
        assert not Path("PWNED").exists()
        assert (tmp_path / "PWNED_DIR").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["PWNED_DIR", "inj.rpg", "x.npz"]


def test_injection_through_the_cli(tmp_path: Path) -> None:
    """The same strings as a file name, a --data path and an --out folder on the CLI."""
    from rpgraph.cli import main

    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        for payload in PAYLOADS[:7] + ["x" * 5000]:
            assert main(["check", payload]) == 1
            assert main(["train", payload, "--data", payload, "--quiet", "--no-plots"]) == 1
        assert not any(p.name == "PWNED" for p in tmp_path.rglob("*"))
    finally:
        os.chdir(cwd)


def test_default_template_is_valid(tmp_path: Path) -> None:
    """The injection template itself builds and resolves, so payloads reach every stage."""
    np.savez(tmp_path / "x.npz", inputs=np.zeros((2, 4, 4)), targets=np.zeros((2, 4, 2)))
    spec = tmp_path / "ok.rpg"
    spec.write_text(TEMPLATE.format(**DEFAULTS), encoding="utf-8")
    resolve(rpgraph.compile(spec))
