"""bench/fleet_scale.py's estimate of a one-hour run's report size from a shorter run's report.

What grows with a run's length in the JSON report, and how far (everything else — entries,
distributions, the fleet summary, at most 200 warnings — does not grow with time):

- ``timeline``: one column value per slot per entry; slots widen as the run grows
  (:func:`loadkit.stats.timeline.slot_of`), an hour has :func:`hour_slots` of them;
- ``fleet.health.fleet``: one fleet aggregate per :data:`~loadkit.fleet.health.FLEET_EVERY_S`,
  at most :data:`~loadkit.fleet.health.HISTORY` kept;
- ``fleet.health.workers``: one sample per health interval per kept worker (at most
  ``2 * HISTORY_WORKERS`` workers), at most ``HISTORY`` samples each.

Each part is measured in bytes per item in the short run and scaled to the hour's count; the
HTML report (drawn from the same document) is scaled by the JSON's factor.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from loadkit.fleet.health import FLEET_EVERY_S, HISTORY
from loadkit.stats.timeline import slot_of

HOUR_S = 3600
HEALTH_INTERVAL_S = 3.0  # --loadkit-health-interval's default


def hour_slots() -> int:
    """Slots of a one-hour run's timeline."""
    return len({slot_of(t, 0)[0] for t in range(HOUR_S)})


def _size(value: Any) -> int:
    return len(json.dumps(value))


def hour_estimate(report: Path, html: Path | None = None) -> dict[str, float]:
    """``{"json_mb": …, "html_mb": …}`` for a one-hour run like the one that wrote ``report``."""
    document = json.loads(report.read_text())
    total = report.stat().st_size
    grown = total
    timeline = document.get("timeline") or {}
    slots = len(timeline.get("t") or [])
    if slots:
        grown += _size(timeline) / slots * hour_slots() - _size(timeline)
    health = ((document.get("fleet") or {}).get("health")) or {}
    fleet = health.get("fleet") or []
    if fleet:
        grown += _size(fleet) / len(fleet) * min(HOUR_S / FLEET_EVERY_S, HISTORY) - _size(fleet)
    for samples in (health.get("workers") or {}).values():
        if samples:
            grown += _size(samples) / len(samples) * min(HOUR_S / HEALTH_INTERVAL_S, HISTORY) - _size(samples)
    factor = grown / total
    out = {"json_mb": grown / 1e6, "factor": factor}
    if html is not None and html.exists():
        out["html_mb"] = html.stat().st_size * factor / 1e6
    return out
