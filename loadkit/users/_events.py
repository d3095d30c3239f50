"""The shared request-event timing of loadkit's users, and :func:`measure`.

Every loadkit user reports a call the same way: one Locust ``request`` event when the
call ends, ``response_time`` in milliseconds as a float taken from
:func:`time.perf_counter` (microsecond precision; Locust itself rounds only its own
display), ``exception`` set on failure and a ``context`` dict for the details, merged as Locust's
own clients merge it: ``{**user.context(), **call_context}`` (the call's keys win), so a
locustfile that tags requests through ``User.context()`` sees its tags on loadkit's events.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from time import perf_counter
from typing import Any, TypeVar

from locust.env import Environment

from loadkit.users.spans import spans_for
from loadkit.users.tracing import trace_context_for

F = TypeVar("F", bound=Callable[..., Any])
Fire = Callable[..., None]


def _overrides_context(user: Any) -> bool:
    from locust import User

    method = getattr(type(user), "context", None)
    return method is not None and method is not User.context


def user_fire(user: Any, fire: Fire) -> Fire:
    """``fire`` with ``user.context()`` merged into each event's context, as Locust's HttpSession does.

    A user class that keeps Locust's ``context()`` (always ``{}``) gets ``fire`` itself: no cost per call.
    """
    if not _overrides_context(user):
        return fire

    def fire_with_user_context(**kwargs: Any) -> None:
        kwargs["context"] = {**user.context(), **(kwargs.get("context") or {})}
        fire(**kwargs)

    return fire_with_user_context


class MeasureFailure(Exception):
    """A block timed by :func:`measure` was marked failed with :meth:`Measurement.fail`."""


class Measurement:
    """What the block timed by :func:`measure` can set: size, context, or a failure.

    With trace context on (:mod:`loadkit.users.tracing`), ``trace_id`` names the block in the
    request event's context and ``headers`` (``{"traceparent": ...}``) carries it: send them
    with the call the block makes, so the service's trace is the one the report names.
    """

    __slots__ = ("context", "exception", "headers", "response_length", "trace_id")

    def __init__(self, trace: tuple[str, tuple[tuple[str, str], ...]] | None = None) -> None:
        self.response_length = 0
        self.exception: BaseException | None = None
        if trace is None:
            self.trace_id: str | None = None
            self.headers: dict[str, str] = {}
            self.context: dict[str, Any] = {}
        else:
            self.trace_id = trace[0]
            self.headers = dict(trace[1])
            self.context = {"trace_id": self.trace_id}

    def fail(self, reason: str | BaseException) -> None:
        """Record the block as a failure without raising (``m.fail("empty result")``)."""
        self.exception = reason if isinstance(reason, BaseException) else MeasureFailure(reason)


def _environment_of(owner: Any) -> Environment:
    env = getattr(owner, "environment", owner)
    if not isinstance(env, Environment):
        from loadkit.exceptions import ConfigError

        raise ConfigError(
            f"measure() needs a Locust User or Environment as its first argument, got {type(owner).__name__}: "
            "call it as measure(self, 'db', 'query') from a task"
        )
    return env


class measure:
    """Time any block as one Locust request event, for clients loadkit does not wrap.

    As a context manager::

        with measure(self, "db", "select user") as m:
            rows = db.query(...)
            m.response_length = len(rows)

    or as a decorator of a task or helper method (the first argument must be the user)::

        @task
        @measure(None, "redis", "get")  # None: take the user from the method's ``self``
        def get(self): ...

    ``m.trace_id`` and ``m.headers`` (a fresh ``traceparent``) let the block's own call carry the
    trace context the report names (``requests.get(url, headers=m.headers)``). With Locust's
    ``--otel`` the block is a CLIENT span ``TYPE NAME`` and ``m.headers`` carry its context.

    An exception inside the block is recorded as the failure and swallowed, so the task
    goes on; pass ``reraise=True`` to re-raise it after recording.
    """

    def __init__(self, owner: Any, request_type: str, name: str, *, reraise: bool = False) -> None:
        self._owner = owner
        self._request_type = request_type
        self._name = name
        self._reraise = reraise

    def __enter__(self) -> Measurement:
        environment = _environment_of(self._owner)
        fire = environment.events.request.fire
        self._fire = user_fire(self._owner, fire) if hasattr(self._owner, "context") else fire
        self._spans = spans = spans_for(environment)
        if spans is None:
            tracing = trace_context_for(environment)
            self._m = Measurement(None if tracing is None else tracing.new())
        else:  # --otel: the block is a CLIENT span; m.headers propagate it
            attributes = {"loadkit.request_type": self._request_type, "loadkit.name": self._name}
            self._span = spans.start(f"{self._request_type} {self._name}", attributes)
            self._m = Measurement(spans.ids(self._span))
        self._start = perf_counter()
        return self._m

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        elapsed = (perf_counter() - self._start) * 1000.0
        m = self._m
        if exc is not None and not isinstance(exc, GeneratorExit):
            m.exception = exc
        self._fire(
            request_type=self._request_type,
            name=self._name,
            response_time=elapsed,
            response_length=m.response_length,
            exception=m.exception,
            context=m.context,
        )
        if self._spans is not None:
            error = m.exception
            failed = None if error is None else (str(error) or type(error).__qualname__)
            self._spans.end(self._span, {} if error is None else {"error.type": type(error).__qualname__}, failed)
        return exc is not None and not self._reraise and isinstance(exc, Exception)

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(user: Any, *args: Any, **kwargs: Any) -> Any:
            with measure(self._owner or user, self._request_type, self._name, reraise=self._reraise):
                return func(user, *args, **kwargs)
            return None

        return wrapper  # type: ignore[return-value]
