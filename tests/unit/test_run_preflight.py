"""loadkit.run.preflight: host parsing per user kind, TCP reachability, the order of the checks."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from locust import FastHttpUser, HttpUser, User

from loadkit import GrpcUser, Http2User, RestUser, WebSocketUser
from loadkit.exceptions import ConfigError
from loadkit.run.preflight import GRPC, HTTP, WS, Endpoint, check_reachable, endpoint, endpoints, unreachable, user_kind
from tests.support import free_port as closed_port  # nothing listens there once it is picked


@pytest.fixture
def listener() -> Iterator[tuple[str, int]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()


@pytest.mark.parametrize(
    ("kind", "host", "address"),
    [
        (HTTP, "http://127.0.0.1:8080/api", ("127.0.0.1", 8080)),
        (HTTP, "https://example.test", ("example.test", 443)),
        (HTTP, "http://example.test", ("example.test", 80)),
        (GRPC, "grpc://127.0.0.1:50051", ("127.0.0.1", 50051)),
        (GRPC, "127.0.0.1:50051", ("127.0.0.1", 50051)),
        (GRPC, "grpcs://example.test", ("example.test", 443)),
        (GRPC, "grpc://[::1]:50051", ("::1", 50051)),
        (WS, "ws://127.0.0.1:8080", ("127.0.0.1", 8080)),
        (WS, "wss://example.test", ("example.test", 443)),
        (WS, "http://example.test", ("example.test", 80)),
    ],
)
def test_endpoint_address(kind: str, host: str, address: tuple[str, int]) -> None:
    assert endpoint("U", kind, host) == Endpoint("U", host, address)


@pytest.mark.parametrize(
    ("kind", "host", "message"),
    [
        (HTTP, "ftp://127.0.0.1:21", r"U host 'ftp://127\.0\.0\.1:21' has scheme 'ftp': use http://"),
        (HTTP, "127.0.0.1:8080", r"U host '127\.0\.0\.1:8080' has no scheme: use http://"),
        (HTTP, "http://h:99999", r"has a bad port \(1-65535\): use e\.g\. http://"),
        (GRPC, "grpc://[::1]:99999", r"has a bad port 99999 \(1-65535\): use e\.g\. grpc://"),
        (GRPC, "ftp://127.0.0.1:21", r"GrpcUser host 'ftp://127\.0\.0\.1:21' has scheme 'ftp': use grpc://"),
        (GRPC, "grpc://127.0.0.1", r"has no port: use e\.g\. grpc://127\.0\.0\.1:50051"),
        (
            WS,
            "grpc://127.0.0.1:1",
            r"U host 'grpc://127\.0\.0\.1:1' has scheme 'grpc': use ws://HOST\[:PORT\] or wss://",
        ),
    ],
)
def test_endpoint_rejects_bad_hosts(kind: str, host: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        endpoint("U", kind, host)


def test_unreachable_names_the_reason(listener: tuple[str, int]) -> None:
    assert unreachable(listener, timeout=5) is None
    assert unreachable(("127.0.0.1", closed_port()), timeout=5) == "connection refused"


def test_check_reachable_names_host_user_and_fix(listener: tuple[str, int]) -> None:
    up = Endpoint("Up", f"http://127.0.0.1:{listener[1]}", listener)
    port = closed_port()
    down = Endpoint("Down", f"http://127.0.0.1:{port}", ("127.0.0.1", port))
    check_reachable([up, up])
    with pytest.raises(ConfigError) as info:
        check_reachable([up, down])
    assert str(info.value).startswith(
        f"cannot reach http://127.0.0.1:{port} for Down (connection refused): start the target or fix --host"
    )


class Plain(User):
    abstract = True
    host = "ftp://anything"


class Http(HttpUser):
    abstract = True
    host = "http://127.0.0.1:8080"


class Fast(FastHttpUser):
    abstract = True


class Rest(RestUser):
    abstract = True
    host = "https://api.test"


class Grpc(GrpcUser):
    abstract = True
    host = "grpc://127.0.0.1:50051"


class H2(Http2User):
    abstract = True


class Ws(WebSocketUser):
    abstract = True


def test_user_kind() -> None:
    assert [user_kind(c) for c in (Plain, Http, Fast, Rest, Grpc)] == [None, HTTP, HTTP, HTTP, GRPC]
    assert [user_kind(c) for c in (H2, Ws)] == [HTTP, WS]


def test_endpoints_skip_unknown_kinds_and_missing_hosts_and_honour_override() -> None:
    found = endpoints([Plain, Http, Fast, Rest, Grpc], None)
    assert [(e.user, e.address) for e in found] == [
        ("Http", ("127.0.0.1", 8080)),
        ("Rest", ("api.test", 443)),
        ("Grpc", ("127.0.0.1", 50051)),
    ]
    assert {e.host for e in endpoints([Http, Fast], "http://other:81")} == {"http://other:81"}
