"""measure(): one request event per timed block, failures recorded, re-raised only when asked."""

from __future__ import annotations

from typing import Any

import pytest
from locust.env import Environment

from loadkit import ConfigError, MeasureFailure, measure


def recorder(env: Environment) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    env.events.request.add_listener(lambda **kw: events.append(kw))
    return events


def test_block_is_one_event_with_float_time_and_length() -> None:
    env = Environment()
    events = recorder(env)
    with measure(env, "db", "select") as m:
        m.response_length = 12
        m.context["rows"] = 3
    (event,) = events
    assert (event["request_type"], event["name"], event["response_length"]) == ("db", "select", 12)
    assert isinstance(event["response_time"], float) and event["response_time"] > 0
    assert event["exception"] is None and event["context"] == {"rows": 3}
    assert m.trace_id is None and m.headers == {}  # trace context is off by default


def test_with_trace_context_the_block_has_a_traceparent_to_send() -> None:
    from loadkit import config

    env = Environment(parsed_options=config.defaults(trace_context=True))
    events = recorder(env)
    with measure(env, "db", "select") as m:
        pass
    assert m.trace_id is not None and m.headers["traceparent"].split("-")[1] == m.trace_id
    assert events[0]["context"] == {"trace_id": m.trace_id}


def test_exception_is_recorded_and_swallowed_unless_reraise() -> None:
    env = Environment()
    events = recorder(env)
    with measure(env, "db", "q"):
        raise ValueError("boom")
    with pytest.raises(KeyError), measure(env, "db", "q", reraise=True):
        raise KeyError("k")
    assert [type(e["exception"]) for e in events] == [ValueError, KeyError]


def test_fail_marks_a_failure_without_raising() -> None:
    env = Environment()
    events = recorder(env)
    with measure(env, "cache", "get") as m:
        m.fail("miss")
    assert isinstance(events[0]["exception"], MeasureFailure) and str(events[0]["exception"]) == "miss"


def test_decorator_takes_the_user_from_self() -> None:
    env = Environment()
    events = recorder(env)

    class FakeUser:
        environment = env

        @measure(None, "redis", "get")
        def get(self, key: str) -> str:
            return key.upper()

    assert FakeUser().get("a") == "A"
    assert events[0]["name"] == "get" and events[0]["request_type"] == "redis"


def test_wrong_owner_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="needs a Locust User or Environment"), measure(object(), "x", "y"):
        pass
