"""The servicer of ``demo.v1.Demo``: one method of each gRPC kind, with injectable faults.

Every method reads its faults from the call's metadata (see :mod:`loadkit.targets.grpc.faults`)::

    stub.GetItem(req, metadata=[("x-delay-ms", "50"), ("x-status", "NOT_FOUND")])
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, NoReturn

import grpc

from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc, types_pb2
from loadkit.targets.grpc.faults import BadFaultMetadata, Faults, parse_faults

#: Largest payload a request may ask for; larger sizes are INVALID_ARGUMENT.
MAX_PAYLOAD = 16 * 1024 * 1024
_SLEEP_SLICE = 0.05


def _abort(context: Any, code: grpc.StatusCode, details: str) -> NoReturn:
    context.abort(code, details)
    raise AssertionError("context.abort returned")  # pragma: no cover - abort always raises


def _sleep(context: Any, seconds: float) -> None:
    """Sleep, but stop early when the client went away (so cancelled calls free their thread)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0 and context.is_active():
        time.sleep(min(left, _SLEEP_SLICE))


def _payload(context: Any, size: int) -> bytes:
    if size < 0 or size > MAX_PAYLOAD:
        _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"payload_size {size} out of range: use 0-{MAX_PAYLOAD}")
    return b"x" * size


def _item(context: Any, item_id: str, payload_size: int) -> types_pb2.Item:
    return types_pb2.Item(
        id=item_id,
        name=f"item {item_id}",
        tags=["demo"],
        payload=_payload(context, payload_size),
        created_unix_ms=int(time.time() * 1000),
    )


def _begin(context: Any) -> Faults:
    """Parse the call's faults and apply the ones decided up front (bad metadata, fail-percent)."""
    try:
        faults = parse_faults(context.invocation_metadata())
    except BadFaultMetadata as exc:
        _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    if faults.roll_unavailable():
        _abort(context, grpc.StatusCode.UNAVAILABLE, f"injected failure (x-fail-percent {faults.fail_percent:g})")
    return faults


def _fail_now(context: Any, faults: Faults) -> None:
    """Fail a call at its start when x-status asks to (streams with x-fail-after fail later)."""
    if faults.status not in (None, grpc.StatusCode.OK) and faults.fail_after is None:
        _sleep(context, faults.delay_s)
        assert faults.status is not None
        _abort(context, faults.status, f"injected status {faults.status.name} (x-status)")


def _fail_after(context: Any, faults: Faults, messages: int) -> None:
    if faults.fail_after is not None and messages >= faults.fail_after:
        code = faults.stream_status
        _abort(context, code, f"injected {code.name} after {messages} messages (x-fail-after)")


class DemoServicer(demo_pb2_grpc.DemoServicer):
    """Answers ``demo.v1.Demo`` from nothing but the request: no state, any load."""

    def GetItem(self, request: demo_pb2.GetItemRequest, context: Any) -> types_pb2.Item:
        faults = _begin(context)
        _fail_now(context, faults)
        _sleep(context, faults.delay_s)
        return _item(context, request.id, request.payload_size)

    def ListItems(self, request: demo_pb2.ListItemsRequest, context: Any) -> Iterator[types_pb2.Item]:
        faults = _begin(context)
        _fail_now(context, faults)
        for sent in range(request.count):
            _fail_after(context, faults, sent)
            _sleep(context, faults.delay_s)
            yield _item(context, str(sent), request.payload_size)
        _fail_after(context, faults, request.count)

    def PutItems(self, request_iterator: Iterator[types_pb2.Item], context: Any) -> demo_pb2.PutItemsSummary:
        faults = _begin(context)
        _fail_now(context, faults)
        _fail_after(context, faults, 0)
        summary = demo_pb2.PutItemsSummary()
        for item in request_iterator:
            _sleep(context, faults.delay_s)
            summary.received += 1
            summary.total_bytes += item.ByteSize()
            summary.ids.append(item.id)
            _fail_after(context, faults, summary.received)
        return summary

    def Chat(self, request_iterator: Iterator[types_pb2.ChatMessage], context: Any) -> Iterator[types_pb2.ChatMessage]:
        faults = _begin(context)
        _fail_now(context, faults)
        _fail_after(context, faults, 0)
        for sent, message in enumerate(request_iterator, start=1):
            _sleep(context, faults.delay_s)
            yield types_pb2.ChatMessage(seq=message.seq, text=message.text, payload=message.payload)
            _fail_after(context, faults, sent)
