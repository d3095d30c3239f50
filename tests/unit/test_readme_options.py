"""Every option the README and docs/ name exists: in :data:`loadkit.config.OPTIONS`, Locust's parser or loadkit's CLI.

Five people edited the README; an option renamed in ``config.py`` (or never added) must fail
here, not in a user's terminal. Only the families loadkit adds or documents are checked
(``--loadkit-*``, ``--report-*``, ``--threshold*``, ``--prometheus-*``, ``--web-*``,
``--arrival-*``, ``--max-*``, ``--fleet-*``); Locust's own flags of those families (e.g.
``--web-base-path``) and the ``loadkit`` CLI's (``loadkit demo --web``) count as existing.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from locust.argument_parser import get_parser

from loadkit.cli import build_parser
from loadkit.config import OPTIONS, RENAMED

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = r"(?:loadkit|report|threshold|prometheus|web|arrival|max|fleet)"
FLAG = re.compile(rf"(?<![\w-])--{FAMILIES}(?:-[a-z0-9]+)*(?![\w-])")


def pages_text() -> str:
    """README.md and every page under docs/ (the options reference is generated: it counts too)."""
    return "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def readme_flags() -> set[str]:
    return set(FLAG.findall(pages_text()))


def cli_flags(parser: argparse.ArgumentParser) -> set[str]:
    """The option strings of ``parser`` and of every subcommand under it (argparse keeps them in ``_actions``)."""
    flags: set[str] = set()
    for action in parser._actions:
        flags.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                flags |= cli_flags(sub)
    return flags


def test_the_readme_names_options_of_these_families() -> None:
    """The scan finds something (a broken pattern would make the next test pass vacuously)."""
    assert {"--loadkit-data", "--threshold", "--report-html", "--prometheus-port"} <= readme_flags()


def test_every_option_the_readme_names_exists() -> None:
    locust_help = get_parser().format_help()  # loadkit's plugin adds its options to it too
    known = {opt.flag for opt in OPTIONS} | set(re.findall(r"--[a-z0-9-]+", locust_help)) | cli_flags(build_parser())
    missing = sorted(readme_flags() - known)
    assert not missing, f"README.md names options that neither loadkit.config nor Locust has: {missing}"


def test_every_loadkit_variable_the_readme_names_is_an_options_variable() -> None:
    """``LOADKIT_*`` in the README are options' env vars (bar the test suite's own switch)."""
    named = set(re.findall(r"\bLOADKIT_[A-Z]+(?:_[A-Z]+)*\b", pages_text()))
    known = {opt.env_var for opt in OPTIONS} | set(RENAMED) | {"LOADKIT_TESTS_STRICT"}
    assert named, "the scan found no LOADKIT_* variable"
    assert not named - known, f"README.md names variables no option reads: {sorted(named - known)}"
