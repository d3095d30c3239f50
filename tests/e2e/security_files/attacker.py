"""A hostile peer of a loadkit master, for the fleet-security table (tests/e2e/test_secured_fleet.py).

A raw pyzmq DEALER (or, as a fake master, a ROUTER) speaking Locust's msgpack Message
format ``(type, data, node_id)``, to 127.0.0.1 only. Usage::

    attacker.py ATTACK PORT [ARG]

It prints one JSON line at the end: what came back to it (replies, rows).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from typing import Any

import msgpack
import zmq

HOST = "127.0.0.1"  # never anything else
ME = f"rogue-{uuid.uuid4().hex[:8]}"


def pack(kind: str, data: Any, node: str = ME) -> bytes:
    return msgpack.dumps((kind, data, node))


def dealer(port: int, identity: str = ME) -> zmq.Socket[bytes]:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.identity = identity.encode()
    sock.linger = 0
    sock.sndhwm = 0  # queue everything: the floods must all go out
    sock.connect(f"tcp://{HOST}:{port}")
    return sock


def collect(sock: zmq.Socket[bytes], seconds: float) -> list[tuple[str, Any]]:
    """Every message the master sends back within ``seconds``."""
    got: list[tuple[str, Any]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if sock.poll(left * 1000):
            try:
                kind, data, _node = msgpack.loads(sock.recv(), strict_map_key=False)
            except Exception:
                kind, data = "<undecodable>", None
            got.append((str(kind), data))
    return got


def summary(got: list[tuple[str, Any]], **extra: Any) -> dict[str, Any]:
    rows = sum(len(d.get("rows", [])) for k, d in got if k == "loadkit:data_grant" and isinstance(d, dict))
    return {"me": ME, "replies": sorted({k for k, _ in got}), "rows": rows, **extra}


def data_request(want: int = 50) -> bytes:
    return pack("loadkit:data_request", {"want": want, "acks": [], "releases": []})


def bare_data_request(port: int, _arg: str) -> dict[str, Any]:
    sock = dealer(port)
    for _ in range(5):
        sock.send(data_request())
    return summary(collect(sock, 3.0))


def forged_stats(port: int, _arg: str) -> dict[str, Any]:
    """1,000 samples at 5 s each, Locust's stats and loadkit's HDR deltas: would fail p95<1000ms."""
    from locust.stats import RequestStats

    from loadkit.stats.hdr import HdrRecorder

    stats, hdr = RequestStats(use_response_times_cache=False), HdrRecorder()
    for _ in range(1000):
        stats.log_request("GET", "/health", 5000, 0)
        hdr.record("GET", "/health", 5000.0)
    report = {
        "stats": stats.serialize_stats(),
        "stats_total": stats.total.get_stripped_report(),
        "errors": stats.serialize_errors(),
        "user_classes_count": {"Api": 1},
        "user_count": 1,
        "loadkit_hdr": hdr.take_deltas(),
    }
    sock = dealer(port)
    for _ in range(5):
        sock.send(pack("stats", report))
        time.sleep(0.5)
    return summary(collect(sock, 1.0))


def spoof(port: int, victim: str) -> dict[str, Any]:
    """The victim's id in the message (own connection), then as the connection's identity too."""
    own, stolen = dealer(port), dealer(port, identity=victim)
    for sock in (own, stolen):
        sock.send(pack("loadkit:hello", {"version": "0.0.0+evil"}, victim))
        sock.send(pack("quit", None, victim))
        sock.send(pack("client_stopped", None, victim))
    return summary(collect(own, 2.0) + collect(stolen, 0.5))


def malformed(port: int, _arg: str) -> dict[str, Any]:
    sock = dealer(port)
    sock.send(os.urandom(64))
    sock.send(b"\x05")
    sock.send(msgpack.dumps(["heartbeat", None]))  # too short
    sock.send_multipart([b"heartbeat", b"x"])  # three frames at the ROUTER
    sock.send(pack("heartbeat", None))  # unregistered
    sock.send(pack("client_ready", "2.47.0"))
    time.sleep(0.3)
    sock.send(pack("heartbeat", None))  # registered: Locust's handler indexes None
    sock.send(pack("heartbeat", {"state": "ready"}))  # no cpu usage: KeyError in Locust's handler
    sock.send(pack("spawning_complete", None))
    sock.send(pack("exception", 7))
    return summary(collect(sock, 2.0))


def oversized(port: int, _arg: str) -> dict[str, Any]:
    sock = dealer(port)
    sock.send(pack("client_ready", "2.47.0"))  # registered, never accepted (no hello)
    sock.send(data_request(2**63 - 1))
    sock.send(data_request(3_000_000))
    sock.send(pack("loadkit:hello", {"version": "x" * 50_000_000}))  # ~50 MB
    for i in range(100_000):  # invented ids
        sock.send(pack("stats", {"user_classes_count": {}}, f"invented-{i}"))
    return summary(collect(sock, 3.0))


def ready_flood(port: int, _arg: str) -> dict[str, Any]:
    sock = dealer(port)
    for _ in range(10_000):
        sock.send(pack("client_ready", "2.47.0"))
    got = collect(sock, 3.0)
    return summary(got, acks=sum(1 for k, _ in got if k == "ack"))


def fake_master(port: int, host: str) -> dict[str, Any]:
    """Bind PORT; ack every worker and send it a spawn of one user against ``host``."""
    sock = zmq.Context.instance().socket(zmq.ROUTER)
    sock.linger = 0
    sock.bind(f"tcp://{HOST}:{port}")
    print("fake master listening", flush=True)
    workers: set[str] = set()
    deadline = time.monotonic() + 12.0
    while (left := deadline - time.monotonic()) > 0:
        if not sock.poll(left * 1000):
            break
        ident, payload = sock.recv_multipart()[:2]
        kind = msgpack.loads(payload, strict_map_key=False)[0]
        node = ident.decode()
        if kind == "client_ready" and node not in workers:
            workers.add(node)
            sock.send_multipart([ident, msgpack.dumps(("ack", {"index": 0}, node))])
            job = {
                "timestamp": time.time(),
                "user_classes_count": {"Api": 1},
                "host": host,
                "stop_timeout": None,
                "parsed_options": {},
            }
            sock.send_multipart([ident, msgpack.dumps(("spawn", job, node))])
        elif kind == "heartbeat":
            sock.send_multipart([ident, msgpack.dumps(("heartbeat", None, node))])
    return {"me": "fake-master", "workers": len(workers), "replies": [], "rows": 0}


ATTACKS = {
    f.__name__.replace("_", "-"): f
    for f in (bare_data_request, forged_stats, spoof, malformed, oversized, ready_flood, fake_master)
}

if __name__ == "__main__":
    attack, port, arg = sys.argv[1], int(sys.argv[2]), (sys.argv[3] if len(sys.argv) > 3 else "")
    if attack != "fake-master":
        print(json.dumps({"me": ME}), flush=True)
    print(json.dumps(ATTACKS[attack](port, arg)), flush=True)
