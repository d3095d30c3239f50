"""One span per task iteration under --otel (loadkit.run.otel), on a real SDK tracer in memory:
the calls' spans are its children, a failing task makes it ERROR, a late iteration records its
intended start; Locust's flow control is no failure."""

from __future__ import annotations

from typing import Any

import pytest
from locust import User, task
from locust.env import Environment
from locust.exception import InterruptTaskSet, RescheduleTask, StopUser
from locust.user.task import DefaultTaskSet, TaskSet
from opentelemetry.trace import SpanKind, StatusCode

from loadkit.run import otel
from loadkit.run.context import run_context
from loadkit.users.grpc_calls import GrpcCallError
from loadkit.users.spans import SPANS
from tests.support.otlp import memory_spans


@pytest.fixture
def restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Locust's own execute_task back after the test (the patch is process-wide)."""
    for cls in (TaskSet, DefaultTaskSet):
        monkeypatch.setattr(cls, "execute_task", cls.__dict__["execute_task"])


def test_a_tasks_calls_are_children_of_its_iteration_span(restored: None) -> None:
    spans, exporter = memory_spans()

    class Shop(User):
        @task
        def browse(self) -> None:
            spans.end(spans.start("GET /a", {}), {}, None)
            raise GrpcCallError(__import__("grpc").StatusCode.NOT_FOUND, "no item", "/x/Y")

    environment = Environment(user_classes=[Shop])
    run_context(environment)[SPANS] = spans
    assert otel.install(environment)
    user = Shop(environment)
    with pytest.raises(GrpcCallError):
        DefaultTaskSet(user).execute_task(Shop.browse)
    call, iteration = exporter.get_finished_spans()
    assert iteration.name == "browse" and iteration.kind == SpanKind.INTERNAL and iteration.parent is None
    assert call.parent is not None and call.parent.span_id == iteration.context.span_id
    assert iteration.attributes == {
        "loadkit.user_class": "Shop",
        "loadkit.task": "browse",
        "error.type": "GrpcCallError",
    }
    assert iteration.status.status_code == StatusCode.ERROR


def test_an_open_model_iteration_that_started_late_says_when_it_was_due(restored: None) -> None:
    from gevent import getcurrent

    from loadkit.load.node import LATENESS_MS

    spans, exporter = memory_spans()

    class Shop(User):
        @task
        def browse(self) -> None:
            pass

    environment = Environment(user_classes=[Shop])
    run_context(environment)[SPANS] = spans
    otel.install(environment)
    LATENESS_MS[getcurrent()] = 400.0  # as the open model's node sets it around the iteration
    try:
        DefaultTaskSet(Shop(environment)).execute_task(Shop.browse)
    finally:
        LATENESS_MS.pop(getcurrent(), None)
    (iteration,) = exporter.get_finished_spans()
    assert iteration.attributes["loadkit.lateness_ms"] == 400.0
    intended = iteration.attributes["loadkit.intended_start"]
    assert abs(iteration.start_time - 400_000_000 - intended) < 50_000_000  # ns: ~ the span's start - 400 ms


def test_without_otel_the_tasks_run_untraced(restored: None) -> None:
    environment = Environment()
    assert not otel.install(environment)  # no --otel: nothing patched
    assert not hasattr(DefaultTaskSet.execute_task, "_loadkit_patch")


@pytest.mark.parametrize(
    ("exc", "failed"),
    [
        (ValueError("x"), True),
        (GrpcCallError(__import__("grpc").StatusCode.UNAVAILABLE, "", "/a/B"), True),
        (RescheduleTask(), False),
        (InterruptTaskSet(), False),
        (StopUser(), False),
    ],
)
def test_only_failures_make_an_iteration_an_error(exc: BaseException, failed: bool) -> None:
    assert otel.is_failure(exc) is failed


def test_a_late_iteration_records_its_intended_start_and_lateness() -> None:
    on_time = otel.iteration_attributes("U", "t", 3.0, 10_000_000_000)  # within LATE_AFTER_S: not late
    assert on_time == {"loadkit.user_class": "U", "loadkit.task": "t"}
    late: dict[str, Any] = otel.iteration_attributes("U", "t", 250.0, 10_000_000_000)
    assert late["loadkit.intended_start"] == 10_000_000_000 - 250_000_000 and late["loadkit.lateness_ms"] == 250.0
