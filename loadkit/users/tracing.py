"""W3C trace context (``traceparent``, optional ``tracestate``) on every loadkit request.

A load test says "p99 is 1.8 s on GetItem"; the next question is "which requests, and where
did the time go in the service?". A tracing backend answers that if each request carries a
trace context and the report names the trace ids of the slow ones
(:mod:`loadkit.stats.exemplars`). So with ``--trace-context`` every GrpcUser call (gRPC
metadata, all four kinds) and every RestUser call (an HTTP header) gets a fresh ``traceparent``,
and its trace id goes into the request event's ``context`` under ``"trace_id"`` (None when off),
merged with the user's ``context()`` as Locust's own clients merge it, so listeners see it beside
their own tags. ``measure()`` gets one too (``m.trace_id``, ``m.headers``): send them with the
call the block makes.

**Off by default; when on, every request sampled.** The header costs instructions on every call
whoever reads it, measured under callgrind (bench/instructions.py, calling thread, 200 calls,
three runs): +13,200 to +14,400 per gRPC unary call (+3.4 to +3.7 %: ~7,400 to make the id and
header here, the rest in grpcio sending one more metadata pair) and +20,700 to +30,900 per
RestUser call (+3.3 to +4.9 %: geventhttpclient writes one more header); with loadkit's plugin,
exemplar recording adds 13,600 to 18,500 more per traced call while its sets fill (a 200-call
window is all filling; in a long run a request rarely ranks). That is above the 3 % by which
loadkit's instruction budgets judge its own overhead, paid by every user of a load tool whether
or not a tracer is listening, so it is one flag to turn on (``--trace-context``,
``LOADKIT_TRACE_CONTEXT=true``), not a default. Once on, the **sampled flag** is set on
``--trace-sample-ratio`` of the requests (default 1: whoever turned tracing on wants the slow
requests' traces recorded, and an exemplar whose trace was not sampled names a trace nobody
kept), decided from the trace id as OpenTelemetry's ``TraceIdRatioBased`` sampler decides (the
low 64 bits below ``ratio * 2**64``), so a test, a collector or a tail sampler can recompute it.
Lower it when a traced service (which follows its parent's flag) or a shared tracing backend
cannot take a span per request: recording them is load the service adds to itself, changing the
latencies being measured. An unsampled trace id still names the request in the service's logs
(log correlation records it either way).

With Locust's ``--otel`` this module's ids are not used: each call sends its OpenTelemetry span's
context instead (:mod:`loadkit.users.spans` says why).

Trace ids come from one ``random.Random`` per process, seeded from the OS and re-seeded in a
forked child, never from the ``random`` module a locustfile may seed for reproducible data (two
workers with the same seed would send the same trace ids).
"""

from __future__ import annotations

import os
import random
import re
import weakref
from collections.abc import Callable
from typing import Any

from loadkit.exceptions import ConfigError
from loadkit.run.context import StashKey, run_context

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
#: The key of the trace id (32 lowercase hex digits) in a request event's ``context``.
TRACE_ID_KEY = "trace_id"
#: Default share of requests with the sampled flag (the module docstring says why 1).
DEFAULT_RATIO = 1.0

_M64 = (1 << 64) - 1
_rng = random.Random(os.urandom(32))

#: ``version-traceid-parentid-flags``, version 00 (W3C Trace Context, level 1).
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
#: A tracestate list member: ``key=value`` (W3C's grammar, simplified to its character sets).
_MEMBER = re.compile(
    r"^[a-z0-9][a-z0-9_\-*/@]{0,255}=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$"
)

Pairs = tuple[tuple[str, str], ...]
#: Makes one request's trace context: ``(trace id, pairs to send)``; None: none sent.
Trace = Callable[[], tuple[str, Pairs]] | None


def parse_traceparent(value: str) -> tuple[str, str, bool] | None:
    """``(trace_id, parent_id, sampled)`` of a valid version-00 ``traceparent``, else None.

    ``parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")``
    → ``("4bf92f35...", "00f067aa0ba902b7", True)``; all-zero ids are invalid.
    """
    match = _TRACEPARENT.match(value.strip())
    if match is None or not int(match[1], 16) or not int(match[2], 16):
        return None
    return match[1], match[2], bool(int(match[3], 16) & 1)


def http_headers(trace: Any, base: dict[str, str], headers: dict[str, str] | None) -> tuple[str | None, dict[str, str]]:
    """``(trace id, headers to send)`` of one HTTP call: ``base``, then a new trace context when
    ``trace`` (a :meth:`TraceContext.new`) is set, then the caller's ``headers``. A ``traceparent``
    the caller passes wins and names the call (it propagates its own context). Without tracing and
    without ``headers``, ``base`` itself is returned (no copy on the hot path)."""
    if trace is None:
        return None, ({**base, **headers} if headers else base)
    trace_id, pairs = trace()
    send = {**base}
    send.update(pairs)
    if headers:
        send.update(headers)
        if TRACEPARENT in headers:
            parsed = parse_traceparent(headers[TRACEPARENT])
            trace_id = parsed[0] if parsed else None
    return trace_id, send


def is_sampled(trace_id: str, ratio: float) -> bool:
    """Whether ``trace_id`` gets the sampled flag at ``ratio`` (OpenTelemetry's TraceIdRatioBased rule)."""
    return int(trace_id[16:], 16) < _bound(ratio)


def _bound(ratio: float) -> int:
    return round(ratio * (1 << 64))


def check_tracestate(value: str) -> str:
    """``value`` when it is a valid W3C ``tracestate`` (1-32 ``key=value`` members, ≤ 512 characters)."""
    members = [m.strip() for m in value.split(",") if m.strip()]
    if not members or len(members) > 32 or len(value) > 512 or not all(_MEMBER.match(m) for m in members):
        raise ConfigError(
            f"--trace-state {value!r} is not a W3C tracestate: give 1 to 32 comma-separated key=value "
            "members (keys lowercase, e.g. 'vendor=abc,rojo=00f067aa0ba902b7'), 512 characters at most"
        )
    return ",".join(members)


#: Ids drawn per refill: one ``getrandbits`` and one hex conversion for this many requests.
_BATCH = 32
_ID_HEX = 48  # trace id (32 hex digits) then parent span id (16)
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16
_instances: weakref.WeakSet[TraceContext] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    _rng.seed(os.urandom(32))
    for instance in list(_instances):  # a child must not send the ids its parent drew already
        instance.forget_drawn()


os.register_at_fork(after_in_child=_after_fork_in_child)


class TraceContext:
    """Makes the trace context of each request: ``trace_id, pairs = tracing.new()``.

    ``pairs`` are the (name, value) pairs to send: gRPC metadata as they are, HTTP headers
    through ``dict(pairs)``. One instance per run (:func:`trace_context_for`)::

        trace_id, pairs = TraceContext(ratio=1.0).new()
        # ("4bf9...", (("traceparent", "00-4bf9...-00f0...-01"),))

    The hot path (every request) is lean: random hex for :data:`_BATCH` requests at once, the
    sampling decision as a comparison of fixed-width hex strings (equal to comparing the numbers).
    """

    __slots__ = ("__weakref__", "_always", "_bound_hex", "_buffer", "_next", "_state", "ratio", "state")

    def __init__(self, ratio: float = DEFAULT_RATIO, state: str | None = None) -> None:
        if not 0.0 <= ratio <= 1.0:
            raise ConfigError(f"--trace-sample-ratio {ratio:g} is out of range: give a number from 0 to 1")
        self.ratio = ratio
        self.state = check_tracestate(state) if state else None
        bound = _bound(ratio)
        #: None: decided by the trace id; True/False: every/no request sampled (ratio 1 or 0).
        self._always: bool | None = True if bound >= 1 << 64 else (False if bound <= 0 else None)
        self._bound_hex = f"{min(bound, _M64):016x}"
        self._state: tuple[str, str] | None = (TRACESTATE, self.state) if self.state else None
        self._buffer = ""
        self._next = 0
        _instances.add(self)

    def new(self) -> tuple[str, Pairs]:
        """A fresh trace id and the pairs carrying it (a new span id as the parent, the sampled flag)."""
        i = self._next
        if i >= len(self._buffer):
            self._buffer = f"{_rng.getrandbits(4 * _ID_HEX * _BATCH):0{_ID_HEX * _BATCH}x}"
            i = 0
        self._next = i + _ID_HEX
        trace_id = self._buffer[i : i + 32]
        span_id = self._buffer[i + 32 : i + _ID_HEX]
        if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:  # invalid ids (one chance in 2**64): draw again
            return self.new()
        always = self._always
        sampled = trace_id[16:] < self._bound_hex if always is None else always
        value = f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}"
        if self._state is None:
            return trace_id, ((TRACEPARENT, value),)
        return trace_id, ((TRACEPARENT, value), self._state)

    def forget_drawn(self) -> None:
        """Draw afresh at the next call (a forked child must not reuse its parent's ids)."""
        self._next = len(self._buffer)

    def headers(self) -> tuple[str, dict[str, str]]:
        """``new()`` as an HTTP header dict (for clients loadkit does not wrap, WebSocket handshakes)."""
        trace_id, pairs = self.new()
        return trace_id, dict(pairs)


#: This part's key in the run's stash: None without ``--trace-context``.
TRACING: StashKey[TraceContext | None] = StashKey("tracing")


def trace_context_for(environment: Any) -> TraceContext | None:
    """The run's :class:`TraceContext` from its options (None: trace context off), made once per run.

    Users call it when they are created; a new user class (HTTP/2, WebSocket) adds
    ``trace_context_for(environment)`` the same way and sends ``dict(pairs)`` as headers.
    """
    stash = run_context(environment)
    if TRACING in stash:
        return stash[TRACING]
    options = getattr(environment, "parsed_options", None)
    on = getattr(options, "trace_context", False)
    ratio = getattr(options, "trace_sample_ratio", None)
    tracing = (
        TraceContext(DEFAULT_RATIO if ratio is None else float(ratio), getattr(options, "trace_state", None))
        if on
        else None
    )
    stash[TRACING] = tracing
    return tracing


def check_options(options: Any) -> None:
    """Raise ConfigError for a bad ``--trace-state`` (the ratio's range is checked by :mod:`loadkit.config`)."""
    state = getattr(options, "trace_state", None)
    if state:
        check_tracestate(state)
