"""The arrival-rate profile: a constant rate or linear ramps, and when each iteration is due.

Pure (no Locust, no gevent): the scheduler asks :meth:`RateProfile.due` for the intended
start of iteration ``k`` (0, 1, 2, …) in seconds from the schedule's start, so every
intended time is an absolute function of ``k`` — nothing accumulates, nothing drifts.

The k-th iteration is due when the integral of the rate reaches ``k``: for a constant
rate ``r`` that is ``k / r``; within a linear ramp it is the root of a quadratic.

Stages follow k6's ``ramping-arrival-rate``: ``"30s:100,2m:100,30s:500,1m:0"`` ramps
linearly from the previous stage's target (0 before the first) to each stage's target
over its duration. A zero-length stage (``"0s:100"``) jumps to its target at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from loadkit.exceptions import ConfigError

_STAGES_HELP = "write DURATION:RATE pairs, e.g. '30s:100,2m:100,30s:500,1m:0'"
_DURATION = re.compile(r"^(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?$")
_RATE = re.compile(r"^(?P<n>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?:/\s*(?P<unit>s|m|h))?$")
_PER_SECOND = {None: 1.0, "s": 1.0, "m": 1 / 60.0, "h": 1 / 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in ``"90"``, ``"30s"``, ``"2m"``, ``"1h30m"``, ``"1m30.5s"``; ValueError otherwise."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        match = _DURATION.match(text)
        if not text or match is None:
            raise ValueError(f"bad duration {text!r}") from None
        value = float(match["h"] or 0) * 3600 + float(match["m"] or 0) * 60 + float(match["s"] or 0)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"bad duration {text!r}")
    return value


def parse_rate(text: str | float, what: str = "--arrival-rate", allow_zero: bool = False) -> float:
    """Iterations per second in ``"100"``, ``"100/s"``, ``"6000/m"`` (ConfigError naming ``what``)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    else:
        match = _RATE.match(str(text).strip())
        if match is None:
            raise ConfigError(f"{what} {text!r} is not a rate: give iterations per second, e.g. 100 (or 6000/m)")
        value = float(match["n"]) * _PER_SECOND[match["unit"]]
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        least = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{what} {text!r} must be a number {least} (iterations per second), e.g. 100")
    return value


@dataclass(frozen=True)
class Stage:
    """Ramp linearly to ``target`` iterations/s over ``duration`` seconds (0: jump)."""

    duration: float
    target: float


def parse_stages(text: str) -> tuple[Stage, ...]:
    """``"30s:100,2m:100"`` → stages; ConfigError naming the bad part and the fix."""
    parts = [p.strip() for p in str(text).split(",")]
    if not any(parts):
        raise ConfigError(f"--arrival-stages {text!r} is empty: {_STAGES_HELP}")
    stages = []
    for part in parts:
        duration, sep, target = part.partition(":")
        if not sep:
            raise ConfigError(f"--arrival-stages {text!r} at {part!r}: missing ':' ({_STAGES_HELP})")
        try:
            seconds = parse_duration(duration)
        except ValueError:
            raise ConfigError(
                f"--arrival-stages {text!r} at {part!r}: bad duration {duration.strip()!r} ({_STAGES_HELP})"
            ) from None
        try:
            rate = parse_rate(target, "--arrival-stages target", allow_zero=True)
        except ConfigError:
            raise ConfigError(
                f"--arrival-stages {text!r} at {part!r}: bad rate {target.strip()!r}, "
                f"need a number >= 0 ({_STAGES_HELP})"
            ) from None
        stages.append(Stage(seconds, rate))
    if sum(s.duration for s in stages) <= 0:
        raise ConfigError(f"--arrival-stages {text!r} lasts 0 s: give at least one stage a duration ({_STAGES_HELP})")
    return tuple(stages)


@dataclass(frozen=True)
class _Segment:
    start: float  # seconds from the schedule's start
    duration: float  # math.inf for a constant rate for ever
    rate0: float
    rate1: float
    before: float  # iterations due before this segment (the rate's integral up to ``start``)

    def count(self, x: float) -> float:
        """Iterations due in the first ``x`` seconds of this segment."""
        if math.isinf(self.duration):
            return self.rate0 * x
        return self.rate0 * x + (self.rate1 - self.rate0) * x * x / (2.0 * self.duration)


class RateProfile:
    """Rate over time; ``RateProfile.constant(100)`` or ``RateProfile.ramping(parse_stages(...))``."""

    def __init__(self, segments: Sequence[_Segment]) -> None:
        self._segments = tuple(segments)
        last = self._segments[-1]
        self.duration = last.start + last.duration  # math.inf: no end
        self.total = math.inf if math.isinf(self.duration) else last.before + last.count(last.duration)
        first = self._segments[0]
        self._constant = first.rate0 if len(self._segments) == 1 and math.isinf(first.duration) else None

    @classmethod
    def constant(cls, rate: float) -> RateProfile:
        return cls([_Segment(0.0, math.inf, rate, rate, 0.0)])

    @classmethod
    def ramping(cls, stages: Sequence[Stage], start_rate: float = 0.0) -> RateProfile:
        segments: list[_Segment] = []
        t, before, rate = 0.0, 0.0, start_rate
        for stage in stages:
            if stage.duration > 0:
                seg = _Segment(t, stage.duration, rate, stage.target, before)
                segments.append(seg)
                before += seg.count(stage.duration)
                t += stage.duration
            rate = stage.target
        return cls(segments)

    @property
    def peak(self) -> float:
        return max(max(s.rate0, s.rate1) for s in self._segments)

    def rate_at(self, t: float) -> float:
        """Iterations per second intended at ``t`` seconds (0 outside the profile)."""
        if t < 0 or t >= self.duration:
            return 0.0
        seg = self._segment_at(t)
        if math.isinf(seg.duration):
            return seg.rate0
        return seg.rate0 + (seg.rate1 - seg.rate0) * (t - seg.start) / seg.duration

    def cumulative(self, t: float) -> float:
        """Iterations due in ``[0, t)``: the rate's integral."""
        if t <= 0:
            return 0.0
        if t >= self.duration:
            return self.total
        seg = self._segment_at(t)
        return seg.before + seg.count(t - seg.start)

    def due(self, k: int) -> float | None:
        """Intended start of iteration ``k`` in seconds from the start; None once the profile ended."""
        if k >= self.total:
            return None
        if self._constant is not None:
            return k / self._constant
        for seg in self._segments:
            end = seg.before + (seg.count(seg.duration) if not math.isinf(seg.duration) else math.inf)
            if k < end or seg is self._segments[-1]:
                return seg.start + _solve(seg, k - seg.before)
        return None  # pragma: no cover - the last segment always answers

    def first_due_at_or_after(self, t: float) -> int:
        """The first iteration index whose intended start is >= ``t``."""
        n = math.ceil(self.cumulative(t) - 1e-9)
        while n > 0:
            previous = self.due(n - 1)
            if previous is None or previous < t:
                break
            n -= 1
        return max(n, 0)

    def _segment_at(self, t: float) -> _Segment:
        for seg in reversed(self._segments):
            if t >= seg.start:
                return seg
        return self._segments[0]


def _solve(seg: _Segment, n: float) -> float:
    """Smallest x >= 0 with ``seg.count(x) == n`` (n >= 0), numerically stable for ramps up and down."""
    if n <= 0:
        return 0.0
    b = seg.rate0
    a = 0.0 if math.isinf(seg.duration) else (seg.rate1 - seg.rate0) / (2.0 * seg.duration)
    if a == 0.0:
        return n / b if b > 0 else 0.0
    disc = max(b * b + 4.0 * a * n, 0.0)
    x = 2.0 * n / (b + math.sqrt(disc)) if b + math.sqrt(disc) > 0 else 0.0
    return min(x, seg.duration)
