"""The HTTP target's listening socket (targets/http/server.py)."""

from __future__ import annotations

import socket

import pytest

from loadkit.exceptions import TargetError
from loadkit.targets.http.server import bind


def test_bound_socket_is_tcp_so_asyncio_sets_nodelay() -> None:
    """With proto 0, asyncio skips TCP_NODELAY and keep-alive clients wait 40 ms per request."""
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockname()[1] > 0
    finally:
        sock.close()


def test_a_busy_port_is_a_target_error_naming_it_and_the_fix() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(TargetError, match=rf"port {port} or pass another --port"):
            bind("127.0.0.1", port)
