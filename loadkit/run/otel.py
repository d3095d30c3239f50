"""One OpenTelemetry span per task iteration under Locust's ``--otel``: the parent of its calls' spans.

A user's task run (closed model: one ``execute_task`` between two waits; open model: the one
task an iteration runs) is an INTERNAL span named after the task (``loadkit.user_class``,
``loadkit.task``), current while the task runs, so every loadkit call span in it
(:mod:`loadkit.users.spans`) and any other instrumentation the task triggers is its child, and
the whole iteration is one trace. It is ERROR when the task ended with a failure: a failed gRPC
call (``GrpcCallError``) or an exception; Locust's flow control (``StopUser``,
``InterruptTaskSet``, ``RescheduleTask``...) is not one. A nested TaskSet is no iteration of its
own: each of its tasks is one.

A *late* iteration of the open model (started more than ``LATE_AFTER_S`` after its intended time,
as the report counts them) records ``loadkit.intended_start`` (Unix time, ns) and
``loadkit.lateness_ms``: the span starts when it really ran, and its calls' latencies in the report
count from the intended start (wrk2's correction, :mod:`loadkit.load.node`).

Installed once per process, and only when a run has ``--otel`` with the SDK: without it Locust's
``execute_task`` is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from time import time_ns
from typing import Any

from gevent import getcurrent
from locust.exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, StopUser

from loadkit._locust.users import wrap_execute_task
from loadkit.load.accounting import LATE_AFTER_S
from loadkit.load.node import LATENESS_MS
from loadkit.users.grpc_calls import GrpcCallError
from loadkit.users.spans import spans_for

_FLOW = (StopUser, InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately)


def install(environment: Any) -> bool:
    """Trace every task iteration of this run's users when ``--otel`` is on; True when it is."""
    if spans_for(environment) is None:
        return False
    wrap_execute_task(_traced)
    return True


def is_failure(exc: BaseException) -> bool:
    """Whether a task that raised ``exc`` failed (not Locust's flow control; a failed gRPC call does)."""
    if isinstance(exc, GrpcCallError):
        return True
    return isinstance(exc, Exception) and not isinstance(exc, _FLOW)


def iteration_attributes(user_class: str, task: str, lateness_ms: float | None, now_ns: int) -> dict[str, Any]:
    """The iteration span's attributes; a late one's intended start (Unix ns) and lateness (ms)."""
    attributes: dict[str, Any] = {"loadkit.user_class": user_class, "loadkit.task": task}
    if lateness_ms is not None and lateness_ms > LATE_AFTER_S * 1000.0:
        attributes["loadkit.intended_start"] = now_ns - round(lateness_ms * 1_000_000)
        attributes["loadkit.lateness_ms"] = lateness_ms
    return attributes


def _traced(original: Callable[..., Any]) -> Callable[..., Any]:
    from opentelemetry.trace import Status, StatusCode

    lateness_of = LATENESS_MS.get

    def execute_task(taskset: Any, task: Any) -> Any:
        user = taskset.user
        spans = spans_for(user.environment)
        if spans is None or isinstance(task, type):  # a run without --otel; a nested TaskSet
            return original(taskset, task)
        name = getattr(task, "__name__", None) or type(task).__name__
        attributes = iteration_attributes(type(user).__name__, name, lateness_of(getcurrent()), time_ns())
        with spans.tracer.start_as_current_span(
            name, attributes=attributes, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                return original(taskset, task)
            except BaseException as exc:
                if is_failure(exc):
                    span.set_attribute("error.type", type(exc).__qualname__)
                    span.set_status(Status(StatusCode.ERROR, (str(exc) or type(exc).__qualname__)[:1000]))
                raise

    return execute_task
