"""Locust's console tables: one final table (loadkit's), a Type column that fits.

**One final table**: loadkit's HDR table instead of Locust's approximated one.

When a ``locust`` process shuts down it prints its own final table and "Response time
percentiles (approximated)" (``locust.main``'s ``shutdown`` calls ``stats.print_stats(...,
current=False)`` and ``stats.print_percentile_stats``). loadkit prints exact HDR percentiles
of the same requests; two tables that disagree (p99 137.6 vs 140) confuse more than they
tell. :func:`install` makes those two final calls print nothing; Locust's live table
(``print_stats`` with ``current=True``) and its error report stay. ``--locust-final-table``
keeps Locust's tables (the plugin then never calls :func:`install`).

**A Type column that fits**: Locust's live table gives the request type 8 characters
(``locust.stats.STATS_TYPE_WIDTH``), so loadkit's ``grpc-ttfm`` and ``DELETE-service`` rows
pushed every column after them right. :func:`fit_type_column` widens it to the widest type
before each table (the Name column shrinks by as much: the table keeps its width).

Assumptions (tests/unit/test_locust_console.py checks them): ``locust.main`` calls both
printers through the ``locust.stats`` module attribute at shutdown, and ``print_stats``
calls ``get_stats_summary``, which reads ``STATS_TYPE_WIDTH``, through its module globals.
"""

from __future__ import annotations

from typing import Any

import locust.stats

from loadkit._locust.patch import mark_patched, patched


def silence_final_tables() -> None:
    """Silence Locust's final stats and approximated percentile tables in this process (once)."""
    if patched(locust.stats.print_stats):
        return
    original_stats = locust.stats.print_stats

    def print_stats(stats: Any, current: bool = True) -> None:
        if current:  # the live table while the test runs
            original_stats(stats, current=current)

    def print_percentile_stats(stats: Any) -> None:
        """Replaced by loadkit's HDR table (exact, not approximated)."""

    locust.stats.print_stats = mark_patched(print_stats, original_stats)
    locust.stats.print_percentile_stats = mark_patched(print_percentile_stats, locust.stats.print_percentile_stats)


def fit_type_column() -> None:
    """Make Locust's tables' Type column as wide as the widest request type (once per process)."""
    if patched(locust.stats.get_stats_summary):
        return
    original = locust.stats.get_stats_summary
    default = locust.stats.STATS_TYPE_WIDTH

    def get_stats_summary(stats: Any, current: bool = True) -> list[str]:
        widest = max((len(method) + 1 for _name, method in stats.entries), default=0)  # keys: (name, method)
        locust.stats.STATS_TYPE_WIDTH = max(default, widest)
        return list(original(stats, current))

    locust.stats.get_stats_summary = mark_patched(get_stats_summary, original)
