"""`loadkit demo`'s own options are refused with one line and exit 2 before any target starts.

In-process (no subprocess, no target): the launcher is replaced by one that fails the test, so a
check that moved after the targets start fails here. ~0.1 s.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loadkit.cli import main


@pytest.fixture(autouse=True)
def _no_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    def launch(kind: str) -> None:
        raise AssertionError(f"the demo started its {kind} target before refusing a bad option")

    monkeypatch.setattr("loadkit.targets.launcher.launch", launch)


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_a_report_dir_that_is_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "reports"
    a_file.write_text("not a folder\n")
    err = _refused(["--report-dir", str(a_file)], capsys)
    assert err.startswith(f"loadkit: error: --report-dir '{a_file}' cannot be a folder of reports")
    assert "give a writable folder" in err


@pytest.mark.parametrize(
    ("run_time", "expected"),
    [
        ("bogus", "--run-time 'bogus' is not a duration: give seconds (30) or a span such as 30s, 2m, 1h30m"),
        ("0s", "--run-time must be positive, got '0s'"),
    ],
)
def test_a_bad_run_time_is_refused_before_the_targets_start(
    run_time: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused(["--run-time", run_time, "--report-dir", str(tmp_path / "r")], capsys)
    assert err.startswith(f"loadkit: error: {expected}")


def test_the_report_dir_is_created_when_missing(tmp_path: Path) -> None:
    reports = tmp_path / "a" / "b"
    with pytest.raises(AssertionError, match="started its grpc target"):
        main(["demo", "--run-time", "1s", "--report-dir", str(reports)])
    assert reports.is_dir()


def test_locusts_short_flags_are_accepted(tmp_path: Path) -> None:
    """-u and -t as Locust users type them (were "unrecognized arguments" with the top-level usage)."""
    with pytest.raises(AssertionError, match="started its grpc target"):
        main(["demo", "-u", "5", "-t", "1s", "--report-dir", str(tmp_path / "r")])


def test_demo_help_has_a_description(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    out = capsys.readouterr().out
    assert "Start the bundled gRPC and HTTP targets" in out and "-u USERS, --users USERS" in out
