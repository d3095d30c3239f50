"""The trace contexts a bundled target received, so a test can check what the load test sent.

Both targets record each served call's ``traceparent`` header/metadata here (HTTP: ``GET
/traces``; gRPC: ``demo.v1.Admin/GetTraces``): how many calls came with a valid one, an invalid
one or none, how many were sampled, and the most recent calls (trace id, route, sampled, the
server's own handling time in ms) — enough to check that every exemplar in a report names a
request the target saw, at the latency the target saw. Memory is bounded (:data:`KEEP`).

Pure and thread-safe (the gRPC target serves from a thread pool); it parses ``traceparent``
itself so the targets depend on no loadkit module beyond the generated code.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from typing import Any

#: Most recent calls kept with their trace id; older ones are only counted.
KEEP = 100_000
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16


def parse(value: str | None) -> tuple[str, bool] | None:
    """``(trace_id, sampled)`` of a valid version-00 traceparent, else None."""
    match = _TRACEPARENT.match(value.strip()) if value else None
    if match is None or match[1] == _ZERO_TRACE or match[2] == _ZERO_SPAN:
        return None
    return match[1], bool(int(match[3], 16) & 1)


class TraceLog:
    """Counts of the trace contexts received, and the last :data:`KEEP` calls that carried one."""

    def __init__(self, keep: int = KEEP) -> None:
        self._lock = threading.Lock()
        self._recent: deque[tuple[str, str, bool, float]] = deque(maxlen=keep)
        self._counts = {"requests": 0, "valid": 0, "invalid": 0, "missing": 0, "sampled": 0}

    def record(self, traceparent: str | None, route: str, latency_ms: float) -> None:
        """One served call: its ``traceparent`` (None: none sent), route and handling time."""
        parsed = parse(traceparent)
        with self._lock:
            counts = self._counts
            counts["requests"] += 1
            if parsed is None:
                counts["missing" if traceparent is None else "invalid"] += 1
                return
            counts["valid"] += 1
            counts["sampled"] += parsed[1]
            self._recent.append((parsed[0], route, parsed[1], latency_ms))

    def snapshot(self) -> dict[str, Any]:
        """Counts and ``recent`` calls as JSON-ready data."""
        with self._lock:
            recent = [
                {"trace_id": t, "route": r, "sampled": s, "latency_ms": round(ms, 3)} for t, r, s, ms in self._recent
            ]
            return {**self._counts, "recent": recent}

    def reset(self) -> None:
        with self._lock:
            self._recent.clear()
            self._counts = dict.fromkeys(self._counts, 0)
