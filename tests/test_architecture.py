"""The shape of the package: the direction of imports, pure rules, small modules and functions."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "switchboard"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def test_imports_follow_the_layers() -> None:
    """import-linter's contracts (pyproject.toml): layers, pure rules, types without resolvers."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_rules_load_nothing_but_the_standard_library() -> None:
    script = (
        "import json, sys, switchboard.rules, pkgutil, importlib\n"
        "for m in pkgutil.walk_packages(switchboard.rules.__path__, 'switchboard.rules.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout)
    roots = {name.split(".")[0] for name in loaded}
    assert roots & {"tortoise", "strawberry", "graphql", "redis", "jwt", "starlette", "pydantic"} == set()
    assert [
        name for name in loaded if name.startswith("switchboard.") and not name.startswith("switchboard.rules")
    ] == []


def _sources() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "migrations" not in p.parts]


def test_modules_stay_small() -> None:
    long = {
        str(p.relative_to(ROOT)): n for p in _sources() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_functions_stay_small() -> None:
    long = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = lines
    assert long == {}
