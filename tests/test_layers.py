"""Layers point one way: read from the source (every import, function-level ones included), no app started.

    app.py -> ui/ -> core/studio.py (the facade) -> core's rooms -> the standard library and packages

core never imports gradio or ui; no room of core imports the facade; tabs never import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE_ROOMS = ("encoding", "exploration", "inputs", "judgments", "campaigns", "training", "evaluation")


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, wherever it stands (top level or inside a function)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
            # "from core import studio" imports a module too.
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def offending(paths: list[Path], forbidden) -> list[str]:
    return [f"{p.relative_to(ROOT)}:{line} imports {module}"
            for p in paths for line, module in imports_of(p) if forbidden(module)]


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_core_never_imports_gradio_or_the_ui():
    assert offending(python_files("core"), lambda m: m.split(".")[0] in ("gradio", "ui")) == []


@pytest.mark.parametrize("room", CORE_ROOMS)
def test_no_room_of_core_imports_the_apps_facade(room):
    assert python_files(f"core/{room}"), f"core/{room} is missing"
    assert offending(python_files(f"core/{room}"), lambda m: m == "core.studio") == []


def test_core_modules_stand_in_rooms():
    """The top of core/ holds the facade and a few small shared modules; the rest lives in rooms."""
    flat = {p.name for p in (ROOT / "core").glob("*.py")}
    assert flat <= {"__init__.py", "errors.py", "identity.py", "limits.py", "studio.py", "tempfiles.py"}


def test_tabs_never_import_each_other():
    tabs = sorted((ROOT / "ui").glob("*_tab.py"))
    assert len(tabs) >= 7
    for tab in tabs:
        others = {f"ui.{t.stem}" for t in tabs if t != tab}
        assert offending([tab], lambda m, others=others: m in others) == []


def test_the_imports_found_include_function_level_ones(tmp_path):
    source = tmp_path / "example.py"
    source.write_text("import os\n\ndef f():\n    from ui.cluster_tab import x\n    from core import studio\n")
    assert [m for _, m in imports_of(source)] == ["os", "ui.cluster_tab", "ui.cluster_tab.x", "core", "core.studio"]
