"""``RestUser``: a JSON-over-HTTP Locust user on Locust's FastHttpUser (geventhttpclient).

``self.rest(method, path, json=..., expect=200)`` sends JSON, checks the status and
that the body is JSON, and records a failure with a reason otherwise. Paths with
``{placeholders}`` are filled from keyword arguments and reported under the template,
so ``/items/{item_id}`` is one stats entry whatever the id.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Callable, Collection
from typing import Any

from gevent.pool import Group
from locust import FastHttpUser

from loadkit._locust.users import report_caught
from loadkit.users.spans import spans_for, url_full
from loadkit.users.tracing import Trace, http_headers, trace_context_for

_NO_KWARGS: dict[str, Any] = {}
_decode_json = jsonlib.JSONDecoder().decode
#: A body check: return True/None when fine, False or a reason string when not.
Check = Callable[[Any], "bool | str | None"]


class RestError(Exception):
    """A REST call did not meet its expectation; ``str()`` is the reason (status, JSON, check)."""


class RestResult:
    """What :meth:`RestUser.rest` returns: ``ok``, ``status``, parsed ``data``, the raw ``response``."""

    __slots__ = ("data", "error", "response", "status")

    def __init__(self, response: Any, data: Any, error: RestError | None) -> None:
        self.response = response
        self.status: int = response.status_code or 0
        self.data = data
        self.error = error

    @property
    def ok(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:
        return f"RestResult(status={self.status}, ok={self.ok})"


class RestUser(FastHttpUser):
    """A Locust user for JSON HTTP APIs::

        class Api(RestUser):
            host = "http://127.0.0.1:8080"

            @task
            def get_item(self):
                item = self.rest("GET", "/items/{item_id}", item_id=1).data
                self.rest("PUT", "/items/{item_id}", item_id=1, json={**item, "name": "x"})

    ``expect``: the accepted status code(s) (default 200). ``check``: a function of the
    parsed body returning False or a reason when the body is wrong. ``query``,
    ``headers`` and other FastHttpSession keywords (``kwargs=``) pass through.
    ``self.headers`` (e.g. a bearer token after login) is sent with every call, and with
    ``--trace-context`` so is a fresh W3C ``traceparent`` whose trace id is the request event's
    ``context["trace_id"]`` (:mod:`loadkit.users.tracing`; one in ``headers=`` is sent instead, and named).
    With Locust's ``--otel`` every call is a CLIENT span whose context is the one sent (:mod:`loadkit.users.spans`).
    Note: this ``rest`` replaces FastHttpUser's context-manager ``rest``; ``self.client``
    is Locust's FastHttpSession as usual.
    """

    abstract = True
    #: Headers sent with every call of this user (copy before mutating per user).
    headers: dict[str, str] = {}

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.headers = dict(type(self).headers)
        self._spans = spans_for(environment)  # --otel: a CLIENT span per call (loadkit.users.spans)
        tracing = None if self._spans is not None else trace_context_for(environment)
        self._trace: Trace = None if tracing is None else tracing.new

    def start(self, group: Group) -> Any:
        greenlet = super().start(group)
        greenlet.link(lambda _g: self.close())
        return greenlet

    def close(self) -> None:
        """Close this user's keep-alive connections (done when its greenlet ends); idempotent."""
        if self.client_pool is None:  # a class-level pool is shared: leave it open
            self.client.client.close()

    def rest(  # type: ignore[override]  # replaces FastHttpUser.rest (a with-block) on purpose
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        expect: int | Collection[int] = 200,
        check: Check | None = None,
        name: str | None = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        kwargs: dict[str, Any] | None = None,
        **path_params: Any,
    ) -> RestResult:
        """Send one JSON request and validate it; returns a :class:`RestResult` (never raises for HTTP)."""
        url = path.format(**path_params) if path_params else path
        if self._spans is None:  # the one check --otel costs when off
            return self._send(method, path, url, self._trace, json, expect, check, name, query, headers, kwargs)
        return self._spans.http(
            method,
            path,
            url_full(self.host or "", url, query),
            lambda trace: self._send(method, path, url, trace, json, expect, check, name, query, headers, kwargs),
        )

    def _send(
        self,
        method: str,
        path: str,
        url: str,
        trace: Trace,
        json: Any,
        expect: int | Collection[int],
        check: Check | None,
        name: str | None,
        query: dict[str, Any] | None,
        headers: dict[str, str] | None,
        kwargs: dict[str, Any] | None,
    ) -> RestResult:
        trace_id, send_headers = http_headers(trace, self.headers, headers)
        extra = {**kwargs, "params": query} if kwargs else ({"params": query} if query else _NO_KWARGS)
        response = self.client.request(
            method,
            url,
            name=name or path,
            json=json,
            headers=send_headers,
            catch_response=True,
            context={"trace_id": trace_id},  # merged after the user's context() by Locust's session
            **extra,
        )
        data, error = _validate(method, path, response, expect, check)
        # = response.success() / .failure(error) in a with-block: one request event (if the
        # body check raised, none, as Locust does for an exception that is no ResponseError).
        report_caught(self.environment, response, error)
        return RestResult(response, data, error)


def _validate(
    method: str, path: str, response: Any, expect: int | Collection[int], check: Check | None
) -> tuple[Any, RestError | None]:
    status = response.status_code or 0
    ok_status = status == expect if isinstance(expect, int) else status in expect
    if not ok_status:
        body = (response.text or "")[:200] if status else str(getattr(response, "error", "") or "no response")
        return None, RestError(f"{method} {path}: expected status {expect}, got {status}: {body}")
    content = response.content
    if not content:
        data = None
    else:
        try:
            # str input skips json.loads' encoding detection on bytes; anything but plain
            # UTF-8 JSON (a BOM, UTF-16, not JSON) takes the bytes path for the same result.
            data = _decode_json(content.decode())
        except ValueError:
            try:
                data = jsonlib.loads(content)
            except ValueError:
                return None, RestError(f"{method} {path}: response is not JSON: {content[:100]!r}")
    if check is not None:
        verdict = check(data)
        if verdict is False or isinstance(verdict, str):
            reason = verdict if isinstance(verdict, str) else "check failed"
            return data, RestError(f"{method} {path}: {reason}")
    return data, None
