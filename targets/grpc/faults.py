"""Fault injection for the demo gRPC target, read from request metadata.

The metadata keys are documented at the top of ``proto/demo/v1/demo.proto``:

- ``x-delay-ms``: latency added before the call is answered (per message on streams)
- ``x-status``: a status code name (``NOT_FOUND``) or number (``5``) to fail the call with
- ``x-fail-percent``: 0-100, the chance that the call fails with ``UNAVAILABLE``
- ``x-fail-after``: streams only, fail with ``x-status`` (or ``INTERNAL``) after N messages

Parsing is pure (:func:`parse_faults`) so it is testable without a server.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

import grpc

_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


class BadFaultMetadata(ValueError):
    """A fault-injection metadata value cannot be understood (answered with INVALID_ARGUMENT)."""


@dataclass(frozen=True)
class Faults:
    """The faults one call asked for. ``Faults()`` asks for none."""

    delay_s: float = 0.0
    status: grpc.StatusCode | None = None
    fail_percent: float = 0.0
    fail_after: int | None = None

    def roll_unavailable(self, rng: random.Random | None = None) -> bool:
        """True when this call should fail with UNAVAILABLE (drawn against ``fail_percent``)."""
        if self.fail_percent <= 0:
            return False
        return (rng or random).random() * 100 < self.fail_percent

    @property
    def stream_status(self) -> grpc.StatusCode:
        """The code a stream fails with once ``fail_after`` messages went by."""
        return self.status or grpc.StatusCode.INTERNAL


def parse_status(value: str) -> grpc.StatusCode:
    """``"NOT_FOUND"``, ``"not_found"`` or ``"5"`` → ``grpc.StatusCode.NOT_FOUND``."""
    text = value.strip()
    code = _BY_NUMBER.get(int(text)) if text.isdigit() else grpc.StatusCode.__members__.get(text.upper())
    if code is None:
        raise BadFaultMetadata(f"x-status {value!r} is not a gRPC status code: use a name like NOT_FOUND or 0-16")
    return code


def _number(key: str, value: str, low: float, high: float | None = None) -> float:
    try:
        number = float(value)
    except ValueError:
        raise BadFaultMetadata(f"{key} {value!r} is not a number: send e.g. {key}: 50") from None
    if number < low or (high is not None and number > high):
        bounds = f"{low:g}-{high:g}" if high is not None else f">= {low:g}"
        raise BadFaultMetadata(f"{key} {value!r} is out of range: send a value {bounds}")
    return number


def parse_faults(metadata: Iterable[tuple[str, str | bytes]] | None) -> Faults:
    """Read the ``x-*`` fault keys out of invocation metadata; other keys are ignored."""
    values = {key.lower(): value for key, value in (metadata or ()) if isinstance(value, str)}
    delay_s = _number("x-delay-ms", values["x-delay-ms"], 0) / 1000 if "x-delay-ms" in values else 0.0
    status = parse_status(values["x-status"]) if "x-status" in values else None
    percent = _number("x-fail-percent", values["x-fail-percent"], 0, 100) if "x-fail-percent" in values else 0.0
    fail_after = int(_number("x-fail-after", values["x-fail-after"], 0)) if "x-fail-after" in values else None
    return Faults(delay_s=delay_s, status=status, fail_percent=percent, fail_after=fail_after)
