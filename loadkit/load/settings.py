"""The open model's options, checked once: ``--arrival-rate``/``--arrival-stages``, ``--max-users``, ``--max-lateness``.

Pure. :func:`from_options` reads them from Locust's ``parsed_options`` (values may be
strings: the web UI's form sends text) and returns None for a closed-model run, or raises
:class:`~loadkit.exceptions.ConfigError` with one line naming the value and the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from loadkit.exceptions import ConfigError
from loadkit.load.profile import RateProfile, Stage, parse_duration, parse_rate, parse_stages

#: Default ``--max-lateness``: an iteration that cannot start within this is dropped.
DEFAULT_MAX_LATENESS_S = 10.0


@dataclass(frozen=True)
class ArrivalSettings:
    """An open-model run: a constant ``rate`` or ramping ``stages``, a pool, a lateness limit."""

    rate: float | None
    stages: tuple[Stage, ...]
    max_users: int
    max_lateness_s: float = DEFAULT_MAX_LATENESS_S

    def profile(self) -> RateProfile:
        if self.rate is not None:
            return RateProfile.constant(self.rate)
        return RateProfile.ramping(self.stages)

    def describe(self) -> str:
        if self.rate is not None:
            return f"constant {self.rate:g} it/s"
        return "ramping " + ",".join(f"{s.duration:g}s:{s.target:g}" for s in self.stages)


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def from_options(options: Any, check_users: bool = False) -> ArrivalSettings | None:
    """The run's open-model settings, or None for a closed-model run (see the module docstring).

    ``check_users``: also refuse Locust's ``-u/--users`` beside an arrival rate (command line).
    """
    rate_raw = getattr(options, "arrival_rate", None)
    stages_raw = getattr(options, "arrival_stages", None)
    pool_raw = getattr(options, "max_users", None)
    if not _given(rate_raw) and not _given(stages_raw):
        if _given(pool_raw):
            raise ConfigError(
                f"--max-users {pool_raw} sizes the pool of an arrival-rate run: add --arrival-rate RATE "
                "or --arrival-stages, or use -u/--users for a closed-model run"
            )
        return None
    if _given(rate_raw) and _given(stages_raw):
        raise ConfigError(
            f"--arrival-rate {rate_raw} and --arrival-stages {stages_raw!r} both given: use one "
            "(a constant rate, or stages such as '0s:100,1m:100')"
        )
    what = f"--arrival-rate {rate_raw}" if _given(rate_raw) else f"--arrival-stages {stages_raw!r}"
    users = getattr(options, "num_users", None)
    if check_users and users not in (None, 0):
        raise ConfigError(
            f"{what} with -u/--users {users}: an arrival-rate run takes its users from a pool "
            "(--max-users), not from -u; drop -u (or drop the arrival rate for a closed-model run)"
        )
    rate = parse_rate(str(rate_raw)) if _given(rate_raw) else None
    stages = parse_stages(str(stages_raw)) if _given(stages_raw) else ()
    peak = rate if rate is not None else max(s.target for s in stages)
    if peak <= 0:
        raise ConfigError(f"{what} never has a rate above 0: give a stage a target > 0, e.g. '30s:100'")
    max_users = max(1, math.ceil(peak)) if not _given(pool_raw) else _pool(pool_raw)
    lateness_raw = getattr(options, "max_lateness", None)
    max_lateness = DEFAULT_MAX_LATENESS_S
    if _given(lateness_raw):
        try:
            max_lateness = parse_duration(str(lateness_raw))
        except ValueError:
            max_lateness = -1.0
        if max_lateness <= 0:
            raise ConfigError(f"--max-lateness {lateness_raw!r} must be a duration > 0 in seconds, e.g. 10, 2.5 or 30s")
    return ArrivalSettings(rate, stages, max_users, max_lateness)


def _pool(raw: Any) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"--max-users {raw} must be a whole number >= 1 (the pool of users iterations run on)")
    return value
