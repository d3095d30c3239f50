"""The fleet secret on real ZeroMQ sockets (zmq.green, as in Locust): who completes the handshake.

A CURVE server set up by loadkit.fleet.security and a worker-side socket watched by
HandshakeWatch, in this (gevent-patched) process on 127.0.0.1: the right secret passes, another
secret or none is refused, and the watch says so in one line instead of waiting for ever.
Each test's contexts are destroyed after it (:func:`context`): left to the garbage collector,
unterminated, they warn (pyzmq's ResourceWarning, an error here).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import gevent
import pytest
import zmq.green as zmq

from loadkit.fleet import security

SECRET = "handshake-test-secret-0123456789"
_contexts: list[zmq.Context] = []


def context() -> zmq.Context:
    """A new context (each has its own ZAP endpoint), destroyed after the test."""
    _contexts.append(zmq.Context())
    return _contexts[-1]


@pytest.fixture(autouse=True)
def _destroy_contexts() -> Iterator[None]:
    yield
    while _contexts:
        _contexts.pop().destroy(linger=0)


@pytest.fixture
def server() -> Iterator[tuple[int, security.ZapHandler]]:
    socket = context().socket(zmq.ROUTER)
    socket.linger = 0
    zap = security.secure_server(socket, security.derive_keys(SECRET))
    port = socket.bind_to_random_port("tcp://127.0.0.1")
    try:
        yield port, zap
    finally:
        zap.close()
        socket.close(linger=0)


def watched_client(port: int, secret: str | None) -> tuple[zmq.Socket, security.HandshakeWatch, list[str]]:
    socket = context().socket(zmq.DEALER)
    socket.linger = 0
    if secret is not None:
        security.secure_client(socket, security.derive_keys(secret))
    watch = security.HandshakeWatch(socket, f"127.0.0.1:{port}", secret is not None, deadline=5.0)
    lines: list[str] = []
    watch.exit = lines.append  # instead of ending this process
    socket.connect(f"tcp://127.0.0.1:{port}")
    return socket, watch, lines


def settle(watch: security.HandshakeWatch, lines: list[str], timeout: float = 8.0) -> None:
    with gevent.Timeout(timeout, False):
        while not (watch.succeeded or lines):
            gevent.sleep(0.05)


def test_the_fleet_secret_passes(server: tuple[int, security.ZapHandler]) -> None:
    socket, watch, lines = watched_client(server[0], SECRET)
    settle(watch, lines)
    assert watch.succeeded and lines == []
    socket.close(linger=0)


@pytest.mark.parametrize(
    ("secret", "line"),
    [
        (
            "another-secret-of-enough-length",
            r"did not accept this worker's fleet secret \(or is not the fleet's master\)",
        ),
        (None, r"refused this worker's connection: it needs a fleet secret"),
    ],
    ids=["another-secret", "no-secret"],
)
def test_a_worker_without_the_secret_is_refused_and_told(
    server: tuple[int, security.ZapHandler], secret: str | None, line: str
) -> None:
    socket, watch, lines = watched_client(server[0], secret)
    settle(watch, lines)
    assert not watch.succeeded
    assert len(lines) == 1, lines
    assert re.search(line, lines[0]) and "LOADKIT_FLEET_SECRET" in lines[0]
    socket.close(linger=0)


def test_zap_refuses_a_curve_key_that_is_not_the_fleets(server: tuple[int, security.ZapHandler]) -> None:
    """The server's public key alone (e.g. leaked) is not enough: ZAP wants the fleet's client key."""
    keys, other = security.derive_keys(SECRET), security.derive_keys("another-secret-of-enough-length")
    socket = context().socket(zmq.DEALER)
    socket.linger = 0
    socket.curve_serverkey = keys.server_public
    socket.curve_publickey, socket.curve_secretkey = other.client_public, other.client_secret
    watch = security.HandshakeWatch(socket, f"127.0.0.1:{server[0]}", True, deadline=5.0)
    lines: list[str] = []
    watch.exit = lines.append
    socket.connect(f"tcp://127.0.0.1:{server[0]}")
    settle(watch, lines)
    assert not watch.succeeded and len(lines) == 1
    assert sum(server[1].refused.values()) >= 1  # each refused address is logged once
    socket.close(linger=0)


@pytest.fixture
def past_descriptor_1024() -> Iterator[None]:
    """This process holds descriptors past 1024, as a simulator process of 125 workers does."""
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip(f"needs 2048 open files (hard limit {hard}): raise it with ulimit -Hn")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_watch_works_past_descriptor_1024(
    server: tuple[int, security.ZapHandler], past_descriptor_1024: None
) -> None:
    """select() fails past descriptor 1024 (ValueError): the watch must wait another way."""
    socket, watch, lines = watched_client(server[0], SECRET)
    assert int(socket.get(zmq.FD)) > 1024
    settle(watch, lines)
    assert watch.succeeded and lines == [] and not watch.greenlet.dead
    socket.close(linger=0)


def test_a_master_that_never_completes_the_handshake_is_named_after_the_deadline(past_descriptor_1024: None) -> None:
    """A TCP peer that accepts and says nothing (not a ZeroMQ master): one line after the deadline."""
    import socket as plain

    listener = plain.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = context().socket(zmq.DEALER)
    client.linger = 0
    security.secure_client(client, security.derive_keys(SECRET))
    watch = security.HandshakeWatch(client, f"127.0.0.1:{port}", True, deadline=0.5)
    lines: list[str] = []
    watch.exit = lines.append
    client.connect(f"tcp://127.0.0.1:{port}")
    try:
        settle(watch, lines)
        assert not watch.succeeded and len(lines) == 1 and "fleet secret" in lines[0]
    finally:
        client.close(linger=0)
        listener.close()
