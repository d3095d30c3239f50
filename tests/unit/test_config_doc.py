"""docs/options.md is generated from loadkit.config and kept current."""

from __future__ import annotations

from pathlib import Path

from loadkit import config
from loadkit.config_doc import markdown

ROOT = Path(__file__).resolve().parents[2]


def test_docs_options_is_current() -> None:
    assert (ROOT / "docs" / "options.md").read_text() == markdown(), (
        "docs/options.md is stale: run .venv/bin/python -m loadkit.config_doc > docs/options.md"
    )


def test_docs_options_names_every_flag_and_variable() -> None:
    text = markdown()
    for opt in config.OPTIONS:
        assert f"`{opt.flag}`" in text and f"`{opt.env_var}`" in text, opt.flag
