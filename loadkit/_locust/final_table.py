"""One final table: loadkit's HDR table instead of Locust's approximated one.

When a ``locust`` process shuts down it prints its own final table and "Response time
percentiles (approximated)" (``locust.main``'s ``shutdown`` calls ``stats.print_stats(...,
current=False)`` and ``stats.print_percentile_stats``). loadkit prints exact HDR percentiles
of the same requests; two tables that disagree (p99 137.6 vs 140) confuse more than they
tell. :func:`install` makes those two final calls print nothing; Locust's live table
(``print_stats`` with ``current=True``) and its error report stay. ``--locust-final-table``
keeps Locust's tables (the plugin then never calls :func:`install`).

Assumption (tests/unit/test_locust_compat.py checks it): ``locust.main`` calls both through
the ``locust.stats`` module attribute at shutdown, so replacing the attribute is enough.
"""

from __future__ import annotations

from typing import Any

import locust.stats

from loadkit._locust.patch import mark_patched, patched


def install() -> None:
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
