"""ProtocolCounters (targets/http/protocols.py): requests per HTTP version, distinct connections per version."""

from __future__ import annotations

from loadkit.targets.http.protocols import ProtocolCounters


def test_counts_requests_and_distinct_connections_per_version() -> None:
    counters = ProtocolCounters()
    for port in (1, 1, 1, 2):
        counters.on_request({"http_version": "2", "client": ("127.0.0.1", port)})
    counters.on_request({"http_version": "1.1", "client": ("127.0.0.1", 3)})
    counters.on_request({"http_version": "1.1", "client": None})  # a unix socket: counted, no connection
    counters.on_websocket()
    assert counters.snapshot() == {
        "requests": {"2": 4, "1.1": 2},
        "connections": {"2": 2, "1.1": 1},
        "websockets": 1,
    }
    counters.reset()
    assert counters.snapshot() == {"requests": {}, "connections": {}, "websockets": 0}
