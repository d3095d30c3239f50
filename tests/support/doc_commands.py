"""The commands the README and docs/ show, as a reader would type them.

A command is a line of a ```bash block, or a ``$ ``-prompted line of a ```console block
(prompt removed; a trailing ``# comment`` dropped). ```text blocks are illustrations (option
lists, layouts), not commands. Used by tests/unit/test_doc_commands.py (every command names
the test that runs it) and tests/e2e/test_readme_recipes.py (runs the README's recipes).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(text) if lang == language]


def section(text: str, heading: str) -> str:
    """The body of ``## heading`` (up to the next ``## ``)."""
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def commands(text: str) -> list[str]:
    found: list[str] = []
    for body in blocks(text, "bash"):
        found += [line.strip() for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for body in blocks(text, "console"):
        for line in body.splitlines():
            if line.startswith("$ "):
                found.append(re.sub(r"\s+#.*$", "", line[2:]).strip())
    return found
