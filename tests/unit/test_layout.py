"""What gets installed lives under loadkit's name: no top-level ``targets`` anywhere (docs/layout.md)."""

from __future__ import annotations

import ast
import os
import tomllib

from tests.support import ROOT

SOURCES = ("loadkit", "targets", "tests", "bench", "locustfiles", "scripts")


def _top_level_targets_imports() -> list[str]:
    found = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "loadkit/targets" in path.as_posix() or "/gen/" in path.as_posix():
                continue  # the symlinked copy of targets/ is checked under targets/
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                if any(n == "targets" or n.startswith("targets.") for n in names):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_nothing_imports_a_top_level_targets_package() -> None:
    """A checkout has targets/ on sys.path (pytest, python -m from the root); an installed loadkit has not."""
    assert _top_level_targets_imports() == [], "import loadkit.targets.<module> instead"


def test_targets_and_proto_are_installed_under_loadkit() -> None:
    for name in ("targets", "proto"):
        link = ROOT / "loadkit" / name
        assert link.is_symlink() and os.readlink(link) == f"../{name}", f"loadkit/{name} must be a symlink to ../{name}"
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["packages"]["find"]["include"] == ["loadkit*"]
    assert "proto/**/*.proto" in config["package-data"]["loadkit"]
