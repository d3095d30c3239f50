"""loadkit._locust.final_table: Locust's final tables silenced, its live table kept."""

from __future__ import annotations

import inspect
import logging

import locust.main
import locust.stats
import pytest
from locust.stats import RequestStats

from loadkit._locust import final_table


def test_locust_prints_its_final_tables_through_the_stats_module_at_shutdown() -> None:
    """The assumption: replacing the ``locust.stats`` attributes reaches main's shutdown()."""
    source = inspect.getsource(locust.main.main)
    assert "stats.print_stats(runner.stats, current=False)" in source
    assert "stats.print_percentile_stats(runner.stats)" in source


def test_final_tables_print_nothing_and_the_live_table_still_prints(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(locust.stats, "print_stats", locust.stats.print_stats)  # restored after the test
    monkeypatch.setattr(locust.stats, "print_percentile_stats", locust.stats.print_percentile_stats)
    stats = RequestStats()
    stats.log_request("GET", "/x", 12.0, 10)
    caplog.set_level(logging.INFO, logger="locust.stats_logger")  # Locust prints its tables through it
    final_table.install()
    final_table.install()  # once: the second call finds its mark
    locust.stats.print_stats(stats, current=False)
    locust.stats.print_percentile_stats(stats)
    assert caplog.text == ""
    locust.stats.print_stats(stats)
    assert "/x" in caplog.text
