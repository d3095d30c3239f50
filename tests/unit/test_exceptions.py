"""Exit codes and the error tree live low in the tree, where every module may import them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from loadkit import exceptions
from loadkit.exceptions import (
    EXIT_FAILURES,
    EXIT_OK,
    EXIT_THRESHOLDS,
    EXIT_USAGE,
    ConfigError,
    DataError,
    LoadkitError,
    ProtoError,
    TargetError,
    exit_code_for,
)

PACKAGE = Path(exceptions.__file__).resolve().parent


def test_exit_codes_are_the_readme_table() -> None:
    assert (EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_THRESHOLDS) == (0, 1, 2, 99)


@pytest.mark.parametrize(
    ("error", "code"),
    [(ConfigError("x"), 2), (ProtoError("x"), 2), (DataError("x"), 2), (TargetError("x"), 1), (LoadkitError("x"), 1)],
)
def test_each_error_maps_to_its_code(error: LoadkitError, code: int) -> None:
    assert exit_code_for(error) == code


def test_the_cli_still_offers_the_codes_it_used_to_define() -> None:
    import loadkit.cli

    assert loadkit.cli.EXIT_USAGE is EXIT_USAGE and loadkit.cli.EXIT_THRESHOLDS is EXIT_THRESHOLDS


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_core_module_imports_the_cli() -> None:
    """The command line sits on top: a core module reaching up into it is the fault issue 11 fixed."""
    offenders = [
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*.py")
        if "cli" not in path.relative_to(PACKAGE).parts[:1]
        and any(name == "loadkit.cli" or name.startswith("loadkit.cli.") for name in _imported_modules(path))
    ]
    assert offenders == [], f"core modules import loadkit.cli (import from loadkit.exceptions instead): {offenders}"
