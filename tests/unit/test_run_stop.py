"""The one way a run ends (loadkit.run.stop): code precedence, one line, one stop, from its own greenlet."""

from __future__ import annotations

import logging
from typing import Any

import gevent
import pytest
from locust.env import Environment
from locust.exception import StopUser

from loadkit.exceptions import EXIT_FAILURES, EXIT_OK, EXIT_THRESHOLDS, EXIT_USAGE, ConfigError, DataError
from loadkit.run import stop as _stop
from loadkit.run.context import run_context
from loadkit.run.stop import STOP


class FakeRunner:
    """Counts quit/stop calls and which greenlet made them (held per test, not patched in)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def quit(self) -> None:
        self.calls.append(("quit", gevent.getcurrent()))

    def stop(self) -> None:
        self.calls.append(("stop", gevent.getcurrent()))


def ours(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Lines of the "loadkit" logger itself (a greenlet left by another test may log on a child logger)."""
    return [r.getMessage() for r in caplog.records if r.name == "loadkit"]


def make_env(web_ui: bool = False) -> tuple[Environment, FakeRunner]:
    env = Environment()
    runner = FakeRunner()
    env.runner = runner  # type: ignore[assignment]
    if web_ui:
        env.web_ui = object()  # type: ignore[assignment]
    return env, runner


@pytest.mark.parametrize(
    ("codes", "final"),
    [
        ((EXIT_THRESHOLDS, EXIT_USAGE), EXIT_USAGE),
        ((EXIT_USAGE, EXIT_THRESHOLDS), EXIT_USAGE),
        ((EXIT_FAILURES, EXIT_THRESHOLDS), EXIT_THRESHOLDS),
        ((EXIT_THRESHOLDS, EXIT_FAILURES), EXIT_THRESHOLDS),
        ((EXIT_OK,), None),  # no verdict: Locust decides
        ((EXIT_FAILURES, EXIT_OK), EXIT_FAILURES),
    ],
)
def test_the_more_severe_code_wins_in_any_order(codes: tuple[int, ...], final: int | None) -> None:
    env, _ = make_env()
    for code in codes:
        _stop.set_exit_code(env, code)
    assert env.process_exit_code == final


def test_end_run_logs_once_and_quits_once_from_its_own_greenlet(caplog: pytest.LogCaptureFixture) -> None:
    env, runner = make_env()
    caller = gevent.getcurrent()
    with caplog.at_level(logging.INFO, logger="loadkit"):
        for _ in range(5):  # every user of a run may hit the same mistake
            _stop.end_run(env, EXIT_USAGE, "loadkit: error: no method Foo")
        gevent.sleep(0.01)
    assert env.process_exit_code == EXIT_USAGE
    assert ours(caplog) == ["loadkit: error: no method Foo"]
    assert [name for name, _ in runner.calls] == ["quit"]
    assert runner.calls[0][1] is not caller


def test_a_second_code_is_recorded_and_its_line_logged_but_the_runner_stops_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env, runner = make_env()
    with caplog.at_level(logging.INFO, logger="loadkit"):
        _stop.end_run(env, EXIT_THRESHOLDS, "loadkit: threshold failed")
        _stop.end_run(env, EXIT_USAGE, "loadkit: error: refused")
        gevent.sleep(0.01)
    assert env.process_exit_code == EXIT_USAGE
    assert ours(caplog) == ["loadkit: threshold failed", "loadkit: error: refused"]
    assert len(runner.calls) == 1


def test_with_a_web_ui_the_test_stops_and_a_new_test_can_be_ended_again() -> None:
    env, runner = make_env(web_ui=True)
    _stop.end_run(env, EXIT_THRESHOLDS, "loadkit: threshold failed")
    gevent.sleep(0.01)
    _stop.on_test_start(env)
    _stop.end_run(env, EXIT_THRESHOLDS, "loadkit: threshold failed")
    gevent.sleep(0.01)
    assert [name for name, _ in runner.calls] == ["stop", "stop"]
    assert run_context(env)[STOP].stopping


def test_stop_run_maps_the_error_and_returns_the_stop_user() -> None:
    env, _ = make_env()
    assert isinstance(_stop.stop_run(env, DataError("bad row")), StopUser)
    assert env.process_exit_code == EXIT_USAGE


def test_exit_before_load_prints_one_line_and_exits_with_the_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _stop.exit_before_load(ConfigError("bad --threshold 'p95<': ..."))
    assert exited.value.code == EXIT_USAGE
    assert capsys.readouterr().err == "loadkit: error: bad --threshold 'p95<': ...\n"
