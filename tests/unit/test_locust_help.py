"""loadkit._locust.help: which command lines load loadkit's options into Locust's --help."""

from __future__ import annotations

from loadkit._locust.help import is_locust_help


def test_locust_help_is_recognised() -> None:
    assert is_locust_help(["/venv/bin/locust", "-f", "x.py", "--help"], [])
    assert is_locust_help(["-m", "-h"], ["python", "-m", "locust", "-h"])


def test_other_programs_and_locust_without_help_are_not() -> None:
    assert not is_locust_help(["/venv/bin/locust", "-f", "x.py"], [])
    assert not is_locust_help(["/usr/bin/grep", "--help"], ["grep", "--help"])
    assert not is_locust_help(["-m", "--help"], ["python", "-m", "pytest", "--help"])
