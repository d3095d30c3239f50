"""``create_app()``: the bundled HTTP target, a FastAPI app with faults, auth and counters.

Routes: ``/health``; items CRUD (``POST /items``, ``GET /items``, ``GET|PUT|DELETE
/items/{item_id}``, free-form JSON objects); ``POST /login`` → ``{"token": ...}`` and
``GET /me`` needing ``Authorization: Bearer <token>``; ``GET /counters`` (served calls per
``"METHOD /route/{template}"``) and ``DELETE /counters``, which are not counted themselves;
``GET /metrics`` in Prometheus format; ``GET /protocols``: requests per HTTP version and
distinct connections per version (:mod:`~loadkit.targets.http.protocols`, reset with the
counters, not counted). WebSocket routes ``/ws/echo`` and ``/ws/pubsub/{topic}``:
:mod:`~loadkit.targets.http.websockets`.
``GET /traces`` (and ``DELETE /traces``, neither counted): the ``traceparent`` headers received,
with each call's handling time (:mod:`loadkit.targets.traces`).

Every counted route takes injected faults, from query parameters or headers::

    GET /items/1?delay_ms=50&status=503      (or headers x-delay-ms / x-status)

Example::

    uvicorn.run(create_app(), port=8080)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.requests import HTTPConnection
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from pydantic import BaseModel

from loadkit.targets.http.protocols import ProtocolCounters
from loadkit.targets.http.store import ItemStore, RouteCounters, Sessions
from loadkit.targets.http.websockets import add_websocket_routes
from loadkit.targets.traces import ServerSpans, TraceLog

#: Routes that serve the counters and are therefore not counted.
UNCOUNTED = frozenset({"GET /counters", "DELETE /counters", "GET /protocols", "GET /traces", "DELETE /traces"})
MAX_DELAY_MS = 60_000


class Login(BaseModel):
    username: str
    password: str


def _fault(request: Request, name: str) -> str | None:
    return request.query_params.get(name) or request.headers.get("x-" + name.replace("_", "-"))


def _int_fault(request: Request, name: str, low: int, high: int) -> int | None:
    raw = _fault(request, name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise HTTPException(400, f"{name} {raw!r} is not usable: send an integer {low}-{high}")
    return value


def create_app() -> FastAPI:
    """A fresh app with its own items, sessions, counters and metrics registry."""
    items = ItemStore()
    sessions = Sessions()
    counters = RouteCounters()
    traces = TraceLog(spans=ServerSpans.from_env("http"))  # SERVER spans when OTEL_EXPORTER_OTLP_ENDPOINT is set
    protocols = ProtocolCounters()
    registry = CollectorRegistry()
    served = Counter("loadkit_target_requests", "Calls served, by route", ["method", "route"], registry=registry)
    Gauge("loadkit_target_items", "Items stored", registry=registry).set_function(lambda: items.listing()["count"])

    async def count_and_inject(request: HTTPConnection) -> None:
        """Runs before every route: counts the call, then applies x-delay-ms / x-status."""
        if not isinstance(request, Request):  # a WebSocket session: counted by its own route
            return
        route = request.scope.get("route")
        template = getattr(route, "path", request.url.path)
        key = f"{request.method} {template}"
        if key in UNCOUNTED:
            return
        counters.increment(key)
        protocols.on_request(request.scope)
        served.labels(request.method, template).inc()
        delay_ms = _int_fault(request, "delay_ms", 0, MAX_DELAY_MS)
        status = _int_fault(request, "status", 400, 599)
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        if status is not None:
            raise HTTPException(status, f"injected status {status}")

    app = FastAPI(title="loadkit demo target", dependencies=[Depends(count_and_inject)])

    @app.middleware("http")
    async def record_trace(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """The call's traceparent and its handling time (faults included), for counted routes."""
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        key = f"{request.method} {getattr(route, 'path', request.url.path)}"
        if key not in UNCOUNTED:
            latency_ms = (time.perf_counter() - start) * 1000.0
            traces.record(request.headers.get("traceparent"), key, latency_ms, response.status_code)
        return response

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/items", status_code=201)
    async def create_item(fields: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        return items.create(fields)

    @app.get("/items")
    async def list_items() -> dict[str, Any]:
        return items.listing()

    @app.get("/items/{item_id}")
    async def get_item(item_id: str) -> dict[str, Any]:
        item = items.get(item_id)
        if item is None:
            raise HTTPException(404, f"no item {item_id!r}: create it with POST /items first")
        return item

    @app.put("/items/{item_id}")
    async def replace_item(item_id: str, fields: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        item = items.replace(item_id, fields)
        if item is None:
            raise HTTPException(404, f"no item {item_id!r}: create it with POST /items first")
        return item

    @app.delete("/items/{item_id}", status_code=204)
    async def delete_item(item_id: str) -> Response:
        if not items.delete(item_id):
            raise HTTPException(404, f"no item {item_id!r}")
        return Response(status_code=204)

    @app.post("/login")
    async def login(body: Login) -> dict[str, str]:
        if not body.username or not body.password:
            raise HTTPException(401, "username and password must not be empty")
        return {"token": sessions.login(body.username), "token_type": "bearer"}

    @app.get("/me")
    async def me(authorization: Annotated[str | None, Header()] = None) -> dict[str, str]:
        scheme, _, token = (authorization or "").partition(" ")
        user = sessions.user(token) if scheme.lower() == "bearer" else None
        if user is None:
            raise HTTPException(
                401, "send Authorization: Bearer <token> from POST /login", {"WWW-Authenticate": "Bearer"}
            )
        return {"username": user}

    @app.get("/counters")
    async def get_counters() -> dict[str, int]:
        return counters.snapshot()

    @app.delete("/counters")
    async def reset_counters() -> dict[str, int]:
        counters.reset()
        protocols.reset()
        return {}

    @app.get("/traces")
    async def get_traces() -> dict[str, Any]:
        return traces.snapshot()

    @app.delete("/traces")
    async def reset_traces() -> dict[str, int]:
        traces.reset()
        return {}

    @app.get("/protocols")
    async def get_protocols() -> dict[str, Any]:
        return protocols.snapshot()

    add_websocket_routes(app, counters, protocols)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
