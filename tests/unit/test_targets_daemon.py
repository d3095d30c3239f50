"""PID lock files, ready lines and stop of a stale daemon (targets/daemon.py), in-process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from loadkit.exceptions import TargetError
from loadkit.targets.daemon import PidLock, read_pid, ready_line, running_pid, stop


def test_ready_line_is_what_tests_and_scripts_parse() -> None:
    assert ready_line("grpc", "127.0.0.1", 5) == "loadkit target grpc listening on 127.0.0.1:5"
    assert ready_line("http", "::1", 80) == "loadkit target http listening on [::1]:80"


def test_pid_lock_holds_the_pid_while_entered(tmp_path: Path) -> None:
    pidfile = tmp_path / "t.pid"
    with PidLock(pidfile):
        assert read_pid(pidfile) == os.getpid()
        assert running_pid(pidfile) == os.getpid()
    assert not pidfile.exists()
    assert running_pid(pidfile) is None


def test_a_held_pid_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    pidfile = tmp_path / "t.pid"
    with PidLock(pidfile), pytest.raises(TargetError, match=r"already running \(pid \d+\).*loadkit target stop"):
        PidLock(pidfile).__enter__()


def test_a_stale_pidfile_is_not_running_and_is_taken_over(tmp_path: Path) -> None:
    pidfile = tmp_path / "t.pid"
    pidfile.write_text("999999\n")
    assert running_pid(pidfile) is None
    with PidLock(pidfile):
        assert read_pid(pidfile) == os.getpid()


def test_read_pid_of_garbage_or_nothing(tmp_path: Path) -> None:
    assert read_pid(tmp_path / "missing.pid") is None
    (tmp_path / "bad.pid").write_text("not a pid")
    assert read_pid(tmp_path / "bad.pid") is None


def test_stop_without_a_daemon_removes_a_stale_pidfile(tmp_path: Path) -> None:
    pidfile = tmp_path / "t.pid"
    pidfile.write_text("999999\n")
    assert stop(pidfile) is None
    assert not pidfile.exists()
