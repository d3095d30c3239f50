"""Threshold grammar and evaluation (pure)."""

from __future__ import annotations

import math
import re

import pytest

from loadkit.exceptions import ConfigError
from loadkit.stats.hdr import HdrRecorder, Percentiles
from loadkit.stats.snapshot import EntryStats, RunSnapshot
from loadkit.stats.thresholds import evaluate, parse_threshold, parse_thresholds, required_percentiles


@pytest.mark.parametrize(
    ("text", "entry", "metric", "op", "expected"),
    [
        ("p95<50ms", None, "p95", "<", 50.0),
        ("p99.9 < 200ms", None, "p99.9", "<", 200.0),
        ("p99.99<1s", None, "p99.99", "<", 1000.0),
        ("p50<=250us", None, "p50", "<=", 0.25),
        ("p50<=250\u00b5s", None, "p50", "<=", 0.25),  # the micro sign
        ("p50<=250\u03bcs", None, "p50", "<=", 0.25),  # the Greek mu
        ("avg<10", None, "avg", "<", 10.0),
        ("fail_ratio<0.01", None, "fail_ratio", "<", 0.01),
        ("rps>500", None, "rps", ">", 500.0),
        ("count>=1e3", None, "count", ">=", 1000.0),
        ("/demo.v1.Demo/GetItem: p99<5ms", "/demo.v1.Demo/GetItem", "p99", "<", 5.0),
        ("GET /items: fail_ratio==0", "GET /items", "fail_ratio", "==", 0.0),
        ("http://h:80/x: max!=3ms", "http://h:80/x", "max", "!=", 3.0),
    ],
)
def test_parse(text: str, entry: str | None, metric: str, op: str, expected: float) -> None:
    t = parse_threshold(text)
    assert (t.entry, t.metric, t.op) == (entry, metric, op)
    assert math.isclose(t.expected, expected)


@pytest.mark.parametrize(
    ("text", "points_at"),
    [
        ("p99<5xs", "'xs'"),
        ("p999x<5ms", "'p999x'"),
        ("p0<5ms", "'p0'"),
        ("p101<5ms", "'p101'"),
        ("latency<5ms", "'latency'"),
        ("fail_ratio<1ms", "'ms'"),
        ("p99<", "missing number"),
        ("p99 5ms", "'p99 5ms'"),
        (": p99<5ms", "nothing before ':'"),
        ("", "empty"),
    ],
)
def test_bad_expressions_name_the_bad_part_in_one_line(text: str, points_at: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_threshold(text)
    message = str(info.value)
    assert points_at in message
    assert "\n" not in message


@pytest.mark.parametrize("text", ["p95<1e999ms", "p95<1e306s", "rps>-1e400", "p95<inf", "p95<nan"])
def test_infinities_and_nan_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match=r"not a finite number|missing number"):
        parse_threshold(text)


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("p95\u203950\u00b5s", "p95<50us"),  # typographic angle quote, micro sign
        ("p95 \u2264 3ms", "p95 <= 3ms"),
        ("GET /items\uff1a p99\uff1c5ms", "GET /items: p99<5ms"),  # full-width colon and less-than
    ],
)
def test_look_alike_characters_get_an_ascii_suggestion(text: str, suggestion: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"did you mean {suggestion!r}?")):
        parse_threshold(text)


def test_env_var_form_splits_on_semicolons() -> None:
    parsed = parse_thresholds(["p95<50ms; fail_ratio<0.01", "rps>1;"])
    assert [t.metric for t in parsed] == ["p95", "fail_ratio", "rps"]
    assert parse_thresholds(None) == []
    assert required_percentiles([*parsed, parse_threshold("p75<1ms")]) == [75.0, 95.0]


def _row(rtype: str, name: str, count: int, failures: int, p99: float, rps: float = 10.0) -> EntryStats:
    pct = Percentiles(count, {"p50": p99 / 2, "p99": p99}, p99 * 1.5)
    return EntryStats(rtype, name, count, failures, rps, p99 / 3, 0.1, pct)


def _snapshot() -> RunSnapshot:
    entries = (
        _row("GET", "/items", 100, 0, 4.0),
        _row("POST", "/items", 50, 5, 9.0),
        _row("grpc", "/demo.v1.Demo/GetItem", 1000, 0, 0.8),
    )
    return RunSnapshot(entries, _row("", "Aggregated", 1150, 5, 8.0, rps=500.0))


@pytest.mark.parametrize(
    ("text", "passed", "actual"),
    [
        ("p99<10ms", True, 8.0),
        ("p99<5ms", False, 8.0),
        ("fail_ratio<0.01", True, 5 / 1150),
        ("rps>=500", True, 500.0),
        ("max<10ms", False, 12.0),
        ("/demo.v1.Demo/GetItem: p99<1ms", True, 0.8),
        ("/demo.v1.Demo/GetItem: p99<500us", False, 0.8),
        ("GET /items: fail_ratio==0", True, 0.0),
        ("POST /items: failures==0", False, 5.0),
    ],
)
def test_evaluate(text: str, passed: bool, actual: float) -> None:
    [result] = evaluate([parse_threshold(text)], _snapshot())
    assert result.passed is passed
    assert result.actual is not None and math.isclose(result.actual, actual)


def test_ambiguous_or_unknown_entries_fail_with_a_hint() -> None:
    ambiguous, unknown, uncomputed = evaluate(
        parse_thresholds(["/items: p99<100ms", "/nope: p99<100ms", "p75<100ms"]), _snapshot()
    )
    assert not ambiguous.passed and "'GET /items'" in ambiguous.note and "'POST /items'" in ambiguous.note
    assert not unknown.passed and unknown.actual is None and "/nope" in unknown.note
    assert not uncomputed.passed  # p75 was not computed by this hand-made snapshot


def test_evaluates_on_a_real_recorder_snapshot() -> None:
    from loadkit.stats.snapshot import take_snapshot

    class _NoLocustStats:
        entries: dict[tuple[str, str], object] = {}
        total = None

    rec = HdrRecorder()
    for v in (1.0, 2.0, 3.0, 4.0):
        rec.record("grpc", "/m", v)
    snap = take_snapshot(_NoLocustStats(), rec, extra_percentiles=[75.0])
    # HDR reports the upper end of a value's bucket: 3.0 ms reads 3.001 ms.
    [p75, p99] = evaluate(parse_thresholds(["/m: p75<3.01ms", "/m: p99<3.5ms"]), snap)
    assert p75.passed and p75.actual == pytest.approx(3.0, rel=1e-3)
    assert not p99.passed


def _empty_total() -> EntryStats:
    return EntryStats("", "Aggregated", 0, 0, 0.0, 0.0, 0.0, Percentiles(0, {}, 0.0))


def test_run_level_thresholds() -> None:
    load = {"model": "open", "iterations_dropped": 3, "late_ratio": 0.002, "iterations_started": 10}
    snapshot = RunSnapshot((), _empty_total(), {"load": load})
    results = evaluate([parse_threshold("dropped_iterations==0"), parse_threshold("late_ratio<0.01")], snapshot)
    assert [(r.actual, r.passed) for r in results] == [(3.0, False), (0.002, True)]
    closed = RunSnapshot((), _empty_total(), {"load": {"model": "closed"}})
    (result,) = evaluate([parse_threshold("late_ratio<0.01")], closed)
    assert not result.passed and "not an open-model run" in result.note
    with pytest.raises(ConfigError, match="run-level metric"):
        parse_threshold("GET /x: dropped_iterations==0")


def test_a_misspelled_entry_gets_did_you_mean() -> None:
    (result,) = evaluate(parse_thresholds(["/itemz: p99<5ms"]), _snapshot())
    assert not result.passed and result.note.endswith("did you mean '/items'?"), result.note


def test_a_bad_condition_is_not_quoted_twice() -> None:
    with pytest.raises(ConfigError) as info:
        parse_threshold("p95<<50")
    assert str(info.value).startswith("bad threshold 'p95<<50': expected METRIC OP NUMBER"), info.value
    with pytest.raises(ConfigError, match=r"bad threshold '/x: p95<<50' at 'p95<<50': expected"):
        parse_threshold("/x: p95<<50")
