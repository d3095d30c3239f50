"""loadkit.web.load: the Arrival rate tab's row, formatted from the open model's summary (pure).

The tab and ``GET /loadkit/load`` on a real web UI are tests/integration/test_open_model_web.py.
"""

from __future__ import annotations

from loadkit.web.load import COLUMNS, row


def test_an_open_model_row_names_its_profile_and_formats_rates() -> None:
    summary = {
        "model": "open",
        "profile": "constant 200 it/s",
        "target_rate_now": 200.0,
        "achieved_rate_now": 199.26,
        "iterations_started": 812,
        "iterations_late": 3,
        "iterations_dropped": 0,
        "max_lateness_ms": None,
        "workers": 2,
    }
    assert row(summary) == {
        "model": "open: constant 200 it/s",
        "target_rate_now": "200.0",
        "achieved_rate_now": "199.3",
        "iterations_started": "812",
        "iterations_late": "3",
        "iterations_dropped": "0",
        "max_lateness_ms": "",  # not known yet: an empty cell, not "None"
        "workers": "2",
    }


def test_a_closed_model_row_has_every_column_and_only_the_model() -> None:
    cells = row({"model": "closed"})
    assert list(cells) == [key for key, _title in COLUMNS]
    assert cells["model"] == "closed" and not any(v for k, v in cells.items() if k != "model")
