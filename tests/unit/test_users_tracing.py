"""The trace context loadkit sends: valid W3C traceparents, sampled by OpenTelemetry's ratio rule."""

from __future__ import annotations

import math

import pytest

from loadkit import ConfigError, config
from loadkit.run.context import run_context
from loadkit.users.tracing import (
    TRACING,
    TraceContext,
    check_tracestate,
    is_sampled,
    parse_traceparent,
    trace_context_for,
)


def test_each_call_gets_a_fresh_valid_traceparent() -> None:
    tracing = TraceContext(ratio=1.0)
    seen = set()
    for _ in range(2000):
        trace_id, pairs = tracing.new()
        ((name, value),) = pairs
        parsed = parse_traceparent(value)
        assert name == "traceparent" and parsed is not None and parsed[0] == trace_id and parsed[2]
        seen.add(trace_id)
    assert len(seen) == 2000


@pytest.mark.parametrize("ratio", [0.0, 0.01, 0.3, 1.0])
def test_the_sampled_flag_follows_the_trace_id_and_the_ratio(ratio: float) -> None:
    tracing, n = TraceContext(ratio=ratio), 20_000
    sampled = 0
    for _ in range(n):
        trace_id, ((_, value),) = tracing.new()
        flag = value.endswith("-01")
        assert flag == is_sampled(trace_id, ratio)
        sampled += flag
    assert abs(sampled - n * ratio) <= 5 * math.sqrt(n * ratio * (1 - ratio)) + 1e-9


def test_tracestate_is_sent_after_traceparent() -> None:
    _trace_id, pairs = TraceContext(state="vendor=abc, rojo=00f067aa0ba902b7").new()
    assert pairs[1] == ("tracestate", "vendor=abc,rojo=00f067aa0ba902b7")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
    ],
)
def test_invalid_traceparents_are_refused(value: str) -> None:
    assert parse_traceparent(value) is None


@pytest.mark.parametrize("value", ["nokey", "UPPER=1", "a=b," * 33, "k=" + "v" * 600])
def test_a_bad_tracestate_is_one_line_naming_the_fix(value: str) -> None:
    with pytest.raises(ConfigError, match=r"--trace-state .* is not a W3C tracestate: give 1 to 32"):
        check_tracestate(value)


def test_the_run_makes_it_once_from_its_options() -> None:
    class Env:
        parsed_options = config.defaults(trace_context=True, trace_sample_ratio=0.25, trace_state="a=b")

    env = Env()
    tracing = trace_context_for(env)
    assert tracing is not None and (tracing.ratio, tracing.state) == (0.25, "a=b")
    assert trace_context_for(env) is tracing and run_context(env)[TRACING] is tracing
    off = Env()
    off.parsed_options = config.defaults(trace_context=False)
    assert trace_context_for(off) is None


def test_default_is_off_and_when_on_every_request_is_sampled() -> None:
    options = config.defaults()
    assert (options.trace_context, options.trace_sample_ratio, options.trace_state) == (False, 1.0, None)

    class Env:
        parsed_options = options

    assert trace_context_for(Env()) is None
    assert trace_context_for(type("Bare", (), {"parsed_options": None})()) is None  # no options: off too
    with pytest.raises(ConfigError, match=r"--trace-sample-ratio 1\.5 is out of range"):
        config.check(config.defaults(trace_sample_ratio=1.5))
