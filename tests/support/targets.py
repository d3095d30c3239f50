"""Launch bundled targets as real ``loadkit target`` subprocesses, for tests of every layer.

Import it from any test module or bench::

    from tests.support.targets import Target, launch

    target = launch("grpc")            # waits for the ready line, port 0 → a free port
    try:
        ... target.address, target.url, target.counters() ...
    finally:
        target.stop()

Most tests use the fixtures in ``tests/conftest.py`` instead (``grpc_target``,
``http_target``, ``start_target``), which stop what they started.
"""

from __future__ import annotations

from typing import Any

from loadkit.targets import launcher
from loadkit.targets.launcher import READY, START_TIMEOUT, TargetExited
from tests.support import ROOT

__all__ = ["DOWN_ERRORS", "READY", "ROOT", "START_TIMEOUT", "Target", "TargetExited", "launch", "spawn"]

#: What a call to a killed target fails with, per kind (HTTP: refused, or reset when in flight).
DOWN_ERRORS = {"grpc": ("UNAVAILABLE",), "http": ("Connection refused", "Connection reset", "RemoteDisconnected")}


class Target(launcher.TargetProcess):
    """A target process (see :class:`loadkit.targets.launcher.TargetProcess`) plus its served-call counters."""

    def counters(self) -> dict[str, int]:
        """Served calls per method ("/demo.v1.Demo/GetItem") or route ("GET /items/{item_id}")."""
        if self.kind == "http":
            import httpx

            response = httpx.get(f"{self.url}/counters", timeout=15)
            response.raise_for_status()
            return {str(k): int(v) for k, v in response.json().items()}
        import grpc

        from loadkit.gen.demo.v1 import admin_pb2, admin_pb2_grpc

        with grpc.insecure_channel(self.address) as channel:
            reply = admin_pb2_grpc.AdminStub(channel).GetCounters(admin_pb2.GetCountersRequest(), timeout=15)
        return dict(reply.calls)

    def traces(self) -> dict[str, Any]:
        """The trace contexts the target received (:mod:`loadkit.targets.traces`): counts and ``recent`` calls."""
        if self.kind == "http":
            import httpx

            response = httpx.get(f"{self.url}/traces", timeout=15)
            response.raise_for_status()
            return dict(response.json())
        import grpc
        from google.protobuf import json_format

        from loadkit.gen.demo.v1 import admin_pb2, admin_pb2_grpc

        with grpc.insecure_channel(self.address) as channel:
            reply = admin_pb2_grpc.AdminStub(channel).GetTraces(admin_pb2.GetTracesRequest(), timeout=15)
        data = json_format.MessageToDict(
            reply, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        counts = {k: int(v) for k, v in data.items() if k != "recent"}
        recent = [
            {"trace_id": r["trace_id"], "route": r["method"], "sampled": r["sampled"], "latency_ms": r["latency_ms"]}
            for r in data.get("recent", [])
        ]
        return {**counts, "recent": recent}

    def protocols(self) -> dict[str, Any]:
        """HTTP target: ``{"requests": {"2": n}, "connections": {"2": m}, "websockets": k}`` (``GET /protocols``)."""
        import httpx

        response = httpx.get(f"{self.url}/protocols", timeout=15)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document

    def reset_counters(self) -> None:
        if self.kind == "http":
            import httpx

            httpx.delete(f"{self.url}/counters", timeout=15).raise_for_status()
            return
        import grpc

        from loadkit.gen.demo.v1 import admin_pb2, admin_pb2_grpc

        with grpc.insecure_channel(self.address) as channel:
            admin_pb2_grpc.AdminStub(channel).ResetCounters(admin_pb2.ResetCountersRequest(), timeout=15)


def spawn(kind: str, *args: str, env: dict[str, str] | None = None) -> Target:
    """Start ``loadkit target KIND --port 0 ARGS`` from the repo root without waiting."""
    return launcher.spawn(kind, *args, env=env, cwd=ROOT, cls=Target)


def launch(kind: str, *args: str, env: dict[str, str] | None = None, timeout: float = START_TIMEOUT) -> Target:
    """Start a target and wait for its ready line; stopped again if it does not get ready."""
    return launcher.launch(kind, *args, env=env, cwd=ROOT, timeout=timeout, cls=Target)
