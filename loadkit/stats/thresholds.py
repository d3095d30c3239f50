"""Pass/fail thresholds: a small grammar, parsed up front and evaluated on a snapshot.

Grammar (spaces are optional)::

    threshold  := [ entry ":" ] metric op number [ unit ]
    metric     := "p" PERCENT            p50, p95, p99.9, p99.99 (any 0 < PERCENT <= 100)
                | "avg" | "min" | "max" | "med"        response times
                | "fail_ratio"                         failures / requests, 0..1
                | "rps" | "count" | "failures"
                | "dropped_iterations" | "late_iterations"    open model (--arrival-rate): run-level,
                | "iterations" | "late_ratio" | "dropped_ratio"  no entry
    op         := "<" | "<=" | ">" | ">=" | "==" | "!="
    unit       := "us" | "µs" | "ms" | "s"             time metrics only; default ms
    entry      := a request name ("/demo.v1.Demo/GetItem", "/items"), or
                  "TYPE name" when a name is used by several request types ("GET /items")

Examples: ``p95<50ms``, ``p99.9<200ms``, ``fail_ratio<0.01``, ``rps>500``, ``avg<10ms``,
``/demo.v1.Demo/GetItem: p99<5ms``, ``GET /items: fail_ratio==0``, ``dropped_iterations==0``,
``late_ratio<0.01``. Without an entry a
threshold applies to the total. The entry is split at the LAST colon, so names holding a
colon work. A threshold on an entry that got no requests fails (a typo must not pass).
NUMBER must be finite: ``p95<1e999ms`` would read as "< inf" and always pass. An expression
that fails to parse because of a look-alike character (a typographic angle quote for ``<``,
a maths sign for ``<=``, full-width forms, the micro sign) gets an ASCII suggestion in its message.

:func:`parse_threshold` raises :class:`~loadkit.exceptions.ConfigError` with a one-line
message naming the bad part; :func:`evaluate` is pure, a function of a
:class:`~loadkit.stats.snapshot.RunSnapshot`.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from loadkit.exceptions import ConfigError
from loadkit.stats.snapshot import EntryStats, RunSnapshot

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_UNITS_MS = {"us": 0.001, "\u00b5s": 0.001, "\u03bcs": 0.001, "ms": 1.0, "s": 1000.0}  # µ: micro sign, Greek mu
_TIME_METRICS = {"avg", "min", "max", "med"}
_PLAIN_METRICS = {"fail_ratio", "rps", "count", "failures"}
#: Open-model metrics: keys of the snapshot's ``meta["load"]`` (see loadkit.load.base.BaseModel.summary).
_RUN_METRICS = {
    "dropped_iterations": "iterations_dropped",
    "late_iterations": "iterations_late",
    "iterations": "iterations_started",
    "late_ratio": "late_ratio",
    "dropped_ratio": "dropped_ratio",
}
_CONDITION = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z_0-9.]*)\s*(?P<op><=|>=|==|!=|<|>)\s*"
    r"(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)?\s*(?P<unit>[A-Za-z\u00b5\u03bc]*)\s*$"
)
_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")
_HELP = "e.g. 'p95<50ms', 'fail_ratio<0.01', 'GET /items: p99<5ms'"
#: Look-alikes of the grammar's ASCII characters (typographic quotes, maths signs, full-width forms).
_ASCII = str.maketrans(
    {
        "\u2039": "<",
        "\u203a": ">",
        "\u2264": "<=",
        "\u2265": ">=",
        "\u2260": "!=",
        "\uff1c": "<",
        "\uff1e": ">",
        "\uff1d": "=",
        "\u00ab": "<",
        "\u00bb": ">",
        "\u2212": "-",
        "\u00b5": "u",
        "\u03bc": "u",
        "\uff1a": ":",
    }
)


@dataclass(frozen=True)
class Threshold:
    """A parsed threshold; ``expected`` is in ms for time metrics."""

    expression: str
    entry: str | None
    metric: str
    op: str
    expected: float

    @property
    def is_time(self) -> bool:
        return self.metric in _TIME_METRICS or self.metric.startswith("p")

    def describe_expected(self) -> str:
        return f"{self.metric} {self.op} {_fmt(self.expected, self.is_time)}"


@dataclass(frozen=True)
class ThresholdResult:
    """Outcome of one threshold: ``actual`` is None when the entry got no requests."""

    threshold: Threshold
    actual: float | None
    passed: bool
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        t = self.threshold
        return {
            "expression": t.expression,
            "entry": t.entry,
            "metric": t.metric,
            "op": t.op,
            "expected": t.expected,
            "actual": self.actual,
            "unit": "ms" if t.is_time else "",
            "passed": self.passed,
            "note": self.note,
        }

    def describe_actual(self) -> str:
        return self.note if self.actual is None else _fmt(self.actual, self.threshold.is_time)


def parse_threshold(expression: str) -> Threshold:
    """Parse one expression, e.g. ``parse_threshold("GET /items: p99<5ms")``."""
    try:
        return _parse(expression)
    except ConfigError as exc:
        suggestion = expression.strip().translate(_ASCII)
        if suggestion == expression.strip():
            raise
        try:
            _parse(suggestion)
        except ConfigError:
            raise exc from None
        raise ConfigError(f"{exc}; did you mean {suggestion!r}?") from None


def _parse(expression: str) -> Threshold:
    text = expression.strip()
    if not text:
        raise ConfigError(f"empty threshold expression ({_HELP})")
    entry_part, sep, condition = text.rpartition(":")
    entry = entry_part.strip() if sep else None
    if sep and not entry:
        raise ConfigError(f"bad threshold {expression!r}: nothing before ':' (name an entry, {_HELP})")
    match = _CONDITION.match(condition)
    if match is None:
        where = "" if condition.strip() == text else f" at {condition.strip()!r}"
        raise ConfigError(f"bad threshold {expression!r}{where}: expected METRIC OP NUMBER ({_HELP})")
    metric, op, number, unit = match["metric"], match["op"], match["number"], match["unit"]
    metric = _check_metric(expression, metric)
    if metric in _RUN_METRICS and entry is not None:
        raise ConfigError(f"bad threshold {expression!r}: {metric} is a run-level metric, write it without an entry")
    if number is None:
        raise ConfigError(f"bad threshold {expression!r}: missing number after {op!r} ({_HELP})")
    value = float(number)
    if not math.isfinite(value):
        raise ConfigError(f"bad threshold {expression!r} at {number!r}: not a finite number ({_HELP})")
    is_time = metric in _TIME_METRICS or metric.startswith("p")
    if unit:
        if unit not in _UNITS_MS:
            raise ConfigError(f"bad threshold {expression!r} at {unit!r}: unknown unit (use ms, s or us)")
        if not is_time:
            raise ConfigError(f"bad threshold {expression!r} at {unit!r}: {metric} takes no unit")
        value *= _UNITS_MS[unit]
        if not math.isfinite(value):
            raise ConfigError(f"bad threshold {expression!r} at {number + unit!r}: not a finite number ({_HELP})")
    return Threshold(text, entry, metric, op, value)


def _check_metric(expression: str, metric: str) -> str:
    if metric in _TIME_METRICS or metric in _PLAIN_METRICS or metric in _RUN_METRICS:
        return metric
    pct = _PERCENTILE.match(metric)
    if pct and 0.0 < float(pct[1]) <= 100.0:
        return f"p{float(pct[1]):g}"
    known = "p<percent>, " + ", ".join(sorted(_TIME_METRICS | _PLAIN_METRICS | set(_RUN_METRICS)))
    raise ConfigError(f"bad threshold {expression!r} at {metric!r}: unknown metric (use {known})")


def parse_thresholds(expressions: Iterable[str] | str | None) -> list[Threshold]:
    """Parse a list of expressions; a string is split at ``;`` (``LOADKIT_THRESHOLD``)."""
    if expressions is None:
        return []
    if isinstance(expressions, str):
        expressions = [expressions]
    parsed = []
    for item in expressions:
        for part in item.split(";"):
            if part.strip():
                parsed.append(parse_threshold(part))
    return parsed


def evaluate(thresholds: Sequence[Threshold], snapshot: RunSnapshot) -> list[ThresholdResult]:
    """Evaluate every threshold against ``snapshot``."""
    return [evaluate_one(t, snapshot) for t in thresholds]


def evaluate_one(threshold: Threshold, snapshot: RunSnapshot) -> ThresholdResult:
    if threshold.metric in _RUN_METRICS:
        load = snapshot.meta.get("load") or {}
        value = load.get(_RUN_METRICS[threshold.metric]) if load.get("model") == "open" else None
        if value is None:
            return ThresholdResult(threshold, None, False, "not an open-model run (use --arrival-rate)")
        return ThresholdResult(threshold, float(value), _OPS[threshold.op](float(value), threshold.expected))
    row, note = _find_entry(threshold.entry, snapshot)
    if row is None or row.count == 0:
        return ThresholdResult(threshold, None, False, note or "no requests")
    actual = _metric_value(threshold.metric, row)
    return ThresholdResult(threshold, actual, _OPS[threshold.op](actual, threshold.expected))


def all_passed(results: Iterable[ThresholdResult]) -> bool:
    return all(r.passed for r in results)


def _find_entry(entry: str | None, snapshot: RunSnapshot) -> tuple[EntryStats | None, str]:
    if entry is None:
        return snapshot.total, ""
    exact = [row for row in snapshot.entries if row.key == entry]
    if exact:
        return exact[0], ""
    by_name = [row for row in snapshot.entries if row.name == entry]
    if len(by_name) > 1:
        types = ", ".join(f"'{row.key}'" for row in by_name)
        return None, f"ambiguous entry {entry!r}: write one of {types}"
    if by_name:
        return by_name[0], ""
    names = {row.name for row in snapshot.entries} | {row.key for row in snapshot.entries}
    close = difflib.get_close_matches(entry, sorted(names), n=1, cutoff=0.6)
    hint = f": did you mean {close[0]!r}?" if close else ""
    return None, f"no requests named {entry!r}{hint}"


def _metric_value(metric: str, row: EntryStats) -> float:
    values: dict[str, Callable[[], float]] = {
        "avg": lambda: row.avg_ms,
        "min": lambda: row.min_ms,
        "max": lambda: row.percentiles.max,
        "med": lambda: row.percentiles.values["p50"],
        "fail_ratio": lambda: row.fail_ratio,
        "rps": lambda: row.rps,
        "count": lambda: float(row.count),
        "failures": lambda: float(row.failures),
    }
    if metric in values:
        return values[metric]()
    # Percentiles beyond the standard ones are computed when asked for (see
    # required_percentiles); NaN makes every comparison fail if one was not.
    return row.percentiles.values.get(metric, float("nan"))


def required_percentiles(thresholds: Iterable[Threshold]) -> list[float]:
    """Percentiles the snapshot must compute for ``thresholds`` (e.g. 75.0 for ``p75<5ms``)."""
    return sorted({float(t.metric[1:]) for t in thresholds if t.metric.startswith("p")})


def _fmt(value: float, is_time: bool) -> str:
    return f"{value:.3f} ms" if is_time else f"{value:.4g}"
