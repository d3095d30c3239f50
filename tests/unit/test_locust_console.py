"""loadkit._locust.console: Locust's final tables silenced, its live table kept and aligned."""

from __future__ import annotations

import inspect
import logging

import locust.main
import locust.stats
import pytest
from locust.stats import RequestStats

from loadkit._locust import console


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
    console.silence_final_tables()
    console.silence_final_tables()  # once: the second call finds its mark
    locust.stats.print_stats(stats, current=False)
    locust.stats.print_percentile_stats(stats)
    assert caplog.text == ""
    locust.stats.print_stats(stats)
    assert "/x" in caplog.text


def test_print_stats_builds_its_table_through_the_module_globals() -> None:
    assert "get_stats_summary(stats, current)" in inspect.getsource(locust.stats.print_stats)
    assert "STATS_TYPE_WIDTH" in inspect.getsource(locust.stats.StatsEntry.to_string)


def test_wide_types_keep_the_columns_aligned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locust.stats, "get_stats_summary", locust.stats.get_stats_summary)
    monkeypatch.setattr(locust.stats, "STATS_TYPE_WIDTH", locust.stats.STATS_TYPE_WIDTH)
    stats = RequestStats()
    for method, name in (("GET", "/items"), ("grpc-ttfm", "/demo.v1.Demo/ListItems"), ("DELETE-service", "/x")):
        stats.log_request(method, name, 12.0, 10)
    console.fit_type_column()
    lines = locust.stats.get_stats_summary(stats, current=False)
    bars = {tuple(i for i, ch in enumerate(line) if ch == "|") for line in lines if "|" in line and "-|-" not in line}
    assert len(bars) == 1, lines  # every row's column separators at the same places
    name_at = lines[0].index("Name")
    assert name_at == len("DELETE-service") + 2, lines[0]  # the widest type, a space, and Locust's own space
    assert all(lines[i].index(name) == name_at for i, name in ((2, "/demo.v1"), (3, "/items"), (4, "/x"))), lines
