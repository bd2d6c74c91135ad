"""The codebase stays in shape: ruff's lint and format are clean, no module of the library is over 300 lines, and
no function over 60 lines except the report renderers (long f-string templates)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = sorted([*ROOT.glob("align/**/*.py"), *ROOT.glob("rewards/**/*.py")])


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff_is_clean(command):
    result = subprocess.run([sys.executable, "-m", "ruff", *command, "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_is_over_300_lines():
    long = {str(p.relative_to(ROOT)): n for p in LIBRARY if (n := len(p.read_text().splitlines())) > 300}
    assert long == {}


def long_functions(path: Path, limit: int = 60) -> list[str]:
    """Functions over `limit` lines, renderers (`render*`) aside."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        function = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("render")
        if function and node.end_lineno - node.lineno + 1 > limit:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    return found


def test_no_function_is_over_60_lines_outside_renderers():
    assert [f for path in LIBRARY for f in long_functions(path)] == []


def test_the_size_check_sees_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(70))
    (tmp_path / "m.py").write_text(f"def long():\n{body}\n\n\ndef render_report():\n{body}\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert long_functions(tmp_path / "m.py") == ["m.py:1 long"]
    finally:
        ROOT = saved
