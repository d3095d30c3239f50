"""Http2User against the real bundled target served over HTTP/2 (hypercorn): h2c and TLS + ALPN.

The target records each request's HTTP version and the distinct connections it came on
(``GET /protocols``), so "HTTP/2, one connection per user" is the server's word, not the client's.
An HTTP/1.1-only TLS server (h1_tls_server.py, its own process) shows the fallback is never silent.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
from locust.env import Environment

from loadkit import ConfigError, Http2User
from tests.support import free_port, wait_for
from tests.support.targets import Target

H1_TLS_SERVER = Path(__file__).with_name("h1_tls_server.py")


@pytest.fixture
def env() -> Iterator[Environment]:
    environment = Environment(user_classes=[])
    environment.create_local_runner()
    yield environment
    environment.runner.quit()  # type: ignore[union-attr]


@pytest.fixture
def events(env: Environment) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    env.events.request.add_listener(lambda **kw: seen.append(kw))
    return seen


@pytest.fixture
def make_user(env: Environment) -> Iterator[Callable[..., Http2User]]:
    made: list[Http2User] = []

    def make(host: str, **attrs: Any) -> Http2User:
        made.append(type("Api", (Http2User,), {"host": host, **attrs})(env))
        return made[-1]

    yield make
    for user in made:
        user.close()


def test_h2c_users_multiplex_on_one_connection_each_and_the_server_sees_http2(
    env: Environment, events: list[dict[str, Any]], make_user: Callable[..., Http2User], http2_target: Target
) -> None:
    http2_target.reset_counters()
    users = [make_user(http2_target.url) for _ in range(3)]

    def calls(user: Http2User) -> None:
        created = user.rest("POST", "/items", json={"name": "x"}, expect=201)
        # two greenlets of one user at once: two streams on the user's one connection
        both = [gevent.spawn(user.rest, "GET", "/items/{item_id}", item_id=created.data["id"]) for _ in range(2)]
        gevent.joinall(both, raise_error=True)
        user.rest("GET", "/health", query={"delay_ms": "5"})

    gevent.joinall([gevent.spawn(calls, u) for u in users], raise_error=True)
    assert {e["context"]["http_version"] for e in events} == {"HTTP/2"}
    assert all(e["exception"] is None for e in events)
    assert env.stats.get("/items/{item_id}", "GET").num_requests == 6
    protocols = http2_target.protocols()
    assert protocols["requests"] == {"2": 12}
    assert protocols["connections"] == {"2": 3}  # one per user
    counters = http2_target.counters()
    assert counters == {"POST /items": 3, "GET /items/{item_id}": 6, "GET /health": 3}
    assert env.stats.total.num_requests == sum(counters.values())


def test_checks_template_names_and_context_merge_as_rest_user(
    env: Environment, events: list[dict[str, Any]], make_user: Callable[..., Http2User], http2_target: Target
) -> None:
    user = make_user(http2_target.url, context=lambda self: {"tenant": "a", "status": "user's"})
    missing = user.rest("GET", "/items/{item_id}", item_id="nope")
    assert not missing.ok and missing.status == 404 and "expected status 200, got 404" in str(missing.error)
    checked = user.rest("GET", "/health", check=lambda body: "missing" in body or "no 'missing' key")
    assert not checked.ok and "no 'missing' key" in str(checked.error)
    assert user.rest("GET", "/health", query={"status": "503"}, expect=503).ok
    assert [e["name"] for e in events] == ["/items/{item_id}", "/health", "/health"]
    first = events[0]["context"]
    assert first["tenant"] == "a" and first["http_version"] == "HTTP/2"
    assert first["status"] == 404  # the call's keys win, as in Locust's own clients
    assert env.stats.get("/health", "GET").num_failures == 1


def test_tls_negotiates_h2_through_alpn(
    events: list[dict[str, Any]],
    make_user: Callable[..., Http2User],
    tls_http_target: Target,
    tls_certificate: tuple[Path, Path],
) -> None:
    user = make_user(f"https://127.0.0.1:{tls_http_target.port}", verify=str(tls_certificate[0]))
    assert all(user.rest("GET", "/health").ok for _ in range(3))
    assert [e["context"]["http_version"] for e in events] == ["HTTP/2"] * 3
    import ssl

    import httpx

    trust = ssl.create_default_context(cafile=str(tls_certificate[0]))
    protocols = httpx.get(f"https://127.0.0.1:{tls_http_target.port}/protocols", verify=trust).json()
    assert protocols["requests"] == {"2": 3} and protocols["connections"] == {"2": 1}


def test_an_http1_answer_over_tls_is_a_failure_unless_fallback_is_allowed(
    env: Environment,
    events: list[dict[str, Any]],
    make_user: Callable[..., Http2User],
    tls_certificate: tuple[Path, Path],
) -> None:
    cert, key = tls_certificate
    server = subprocess.Popen(
        [sys.executable, str(H1_TLS_SERVER), str(cert), str(key)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        line = wait_for(lambda: server.stdout.readline(), 30, "the HTTP/1.1 TLS server")  # type: ignore[union-attr]
        host = "https://" + line.split()[-1]
        strict = make_user(host, verify=str(cert))
        refused = strict.rest("GET", "/health")
        assert not refused.ok and "answered over HTTP/1.1, not HTTP/2" in str(refused.error)
        lenient = make_user(host, verify=str(cert), http1_fallback=True)
        assert lenient.rest("GET", "/health").ok
    finally:
        server.terminate()
        server.wait(10)
    assert [e["context"]["http_version"] for e in events] == ["HTTP/1.1", "HTTP/1.1"]
    assert env.stats.get("/health", "GET").num_failures == 1


def test_no_response_is_a_failure_with_status_0(
    events: list[dict[str, Any]], make_user: Callable[..., Http2User]
) -> None:
    user = make_user(f"http://127.0.0.1:{free_port()}", timeout=5.0)
    result = user.rest("GET", "/health")
    assert not result.ok and result.status == 0
    assert "got 0" in str(result.error) and "ConnectError" in str(result.error)
    assert events[0]["context"] == {"http_version": "", "status": 0, "trace_id": None}


def test_a_host_that_is_no_http_url_is_one_line(env: Environment) -> None:
    with pytest.raises(ConfigError, match=r"host 'grpc://x:1' is not an HTTP URL: set host = 'https://"):
        type("Bad", (Http2User,), {"host": "grpc://x:1"})(env)
