"""loadkit._locust.quiet: Locust's 0-user lines dropped, the rest kept."""

from __future__ import annotations

import inspect
import logging

import locust.runners
import pytest

from loadkit._locust import quiet


def test_locust_logs_its_ramp_and_spawn_lines_on_the_runners_logger() -> None:
    source = inspect.getsource(locust.runners)
    assert "logger = logging.getLogger(__name__)" in source and locust.runners.__name__ == quiet.LOGGER
    assert '"Ramping to %d users at a rate of %.2f per second"' in source
    assert 'f"All users spawned: {_format_user_classes_count_for_log(' in source


def test_zero_user_lines_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger(quiet.LOGGER)
    before = list(logger.filters)
    try:
        quiet.hide_zero_user_lines()
        quiet.hide_zero_user_lines()
        assert len(logger.filters) == len(before) + 1
        with caplog.at_level(logging.INFO, logger=quiet.LOGGER):
            logger.info("Ramping to 0 users at a rate of 1.00 per second")
            logger.info('All users spawned: {"CrudUser": 0} (0 total users)')
            logger.info("Ramping to 5 users at a rate of 1.00 per second")
        assert [r.getMessage() for r in caplog.records] == ["Ramping to 5 users at a rate of 1.00 per second"]
    finally:
        logger.filters[:] = before
