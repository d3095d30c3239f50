"""tests/support/requirements.py: a missing requirement skips with one line, or fails when strict."""

from __future__ import annotations

import pytest

from tests.support import requirements
from tests.support.requirements import STRICT_ENV, need_command, require


def test_a_missing_requirement_skips_with_one_line_naming_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STRICT_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        need_command("surely-not-a-command-here", "some-package")
    assert str(skipped.value) == "needs the `surely-not-a-command-here` command: apt-get install some-package"


def test_strict_turns_the_skip_into_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=rf"apt-get install chromium \({STRICT_ENV}=1"):
        require("needs Chromium at /usr/bin/chromium: apt-get install chromium")


def test_a_present_requirement_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STRICT_ENV, "1")
    require(None)
    assert need_command("sh", "dash").endswith("sh")


def test_docker_probe_names_the_engine_or_passes() -> None:
    missing = requirements.docker_missing()
    assert missing is None or "container engine" in missing
