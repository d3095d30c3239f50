"""W3C trace context (``traceparent``, optional ``tracestate``) on every loadkit request.

A load test says "p99 is 1.8 s on GetItem"; the next question is "which requests, and where
did the time go in the service?". A tracing backend answers that if each request carries a
trace context and the report names the trace ids of the slow ones
(:mod:`loadkit.stats.exemplars`). So every GrpcUser call (gRPC metadata, all four kinds) and
every RestUser call (an HTTP header) gets a fresh ``traceparent``, and its trace id goes into
the request event's ``context`` under ``"trace_id"`` — merged with the user's ``context()`` as
Locust's own clients merge it, so listeners see it beside their own tags. ``measure()`` gets
one too (``m.trace_id``, ``m.traceparent``): pass it to the client loadkit does not wrap.

**On by default, 1 % sampled.** The header is on by default because the value is in the link
(an exemplar without a trace id names a request nobody can find), because a service that does
not trace ignores the header (W3C trace context is what OpenTelemetry, Envoy, nginx and the
cloud load balancers read, and what they pass on), and because it is cheap: about 0.5 % more
instructions per gRPC call and per REST call (bench/instructions.py, the ``+trace``/``-trace``
variants; README "Performance"). An unsampled trace id still names the request in the
service's logs (log correlation records it whether or not spans are kept). The **sampled flag**
is set on a share of requests, ``--trace-sample-ratio`` (default 0.01), decided from the trace
id as OpenTelemetry's ``TraceIdRatioBased`` sampler decides (the low 64 bits below
``ratio * 2**64``), so a test, a collector or a tail sampler can recompute it. Not 1.0: a
traced service follows its parent's flag (``ParentBased``), and a load test at 100 % would make
it record and export a span for every request — load the service adds to itself (changing the
latencies being measured) and a flood for a shared tracing backend. With a backend of its own,
``--trace-sample-ratio 1`` makes every exemplar a recorded trace. ``--no-trace-context`` sends no
header at all (a service that rejects unknown headers; comparing with a run without it).

Trace ids come from one ``random.Random`` per process, seeded from the OS and re-seeded in a
forked child, never from the ``random`` module a locustfile may seed for reproducible data (two
workers with the same seed would send the same trace ids).
"""

from __future__ import annotations

import os
import random
import re
from typing import Any

from loadkit.exceptions import ConfigError
from loadkit.run.context import StashKey, run_context

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
#: The key of the trace id (32 lowercase hex digits) in a request event's ``context``.
TRACE_ID_KEY = "trace_id"
#: Default share of requests with the sampled flag (the module docstring says why not 1).
DEFAULT_RATIO = 0.01

_M64 = (1 << 64) - 1
_rng = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _rng.seed(os.urandom(32)))

#: ``version-traceid-parentid-flags``, version 00 (W3C Trace Context, level 1).
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
#: A tracestate list member: ``key=value`` (W3C's grammar, simplified to its character sets).
_MEMBER = re.compile(
    r"^[a-z0-9][a-z0-9_\-*/@]{0,255}=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$"
)

Pairs = tuple[tuple[str, str], ...]


def parse_traceparent(value: str) -> tuple[str, str, bool] | None:
    """``(trace_id, parent_id, sampled)`` of a valid version-00 ``traceparent``, else None.

    ``parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")``
    → ``("4bf92f35...", "00f067aa0ba902b7", True)``; all-zero ids are invalid.
    """
    match = _TRACEPARENT.match(value.strip())
    if match is None or not int(match[1], 16) or not int(match[2], 16):
        return None
    return match[1], match[2], bool(int(match[3], 16) & 1)


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


class TraceContext:
    """Makes the trace context of each request: ``trace_id, pairs = tracing.new()``.

    ``pairs`` are the (name, value) pairs to send: gRPC metadata as they are, HTTP headers
    through ``dict(pairs)``. One instance per run (:func:`trace_context_for`)::

        trace_id, pairs = TraceContext(ratio=1.0).new()
        # ("4bf9...", (("traceparent", "00-4bf9...-00f0...-01"),))
    """

    __slots__ = ("_bound", "_getrandbits", "_state", "ratio", "state")

    def __init__(self, ratio: float = DEFAULT_RATIO, state: str | None = None) -> None:
        if not 0.0 <= ratio <= 1.0:
            raise ConfigError(f"--trace-sample-ratio {ratio:g} is out of range: give a number from 0 to 1")
        self.ratio = ratio
        self.state = check_tracestate(state) if state else None
        self._bound = _bound(ratio)
        self._state: Pairs = ((TRACESTATE, self.state),) if self.state else ()
        self._getrandbits = _rng.getrandbits

    def new(self) -> tuple[str, Pairs]:
        """A fresh trace id and the pairs carrying it (a new span id as the parent, the sampled flag)."""
        bits = self._getrandbits(192)  # trace id (128 bits) then parent span id (64 bits)
        trace = bits >> 64
        if not (trace and bits & _M64):  # an all-zero id is invalid (one chance in 2**64): draw again
            return self.new()
        text = f"{bits:048x}"
        trace_id = text[:32]
        flags = "-01" if trace & _M64 < self._bound else "-00"
        return trace_id, ((TRACEPARENT, "00-" + trace_id + "-" + text[32:] + flags), *self._state)

    def headers(self) -> tuple[str, dict[str, str]]:
        """``new()`` as an HTTP header dict (for clients loadkit does not wrap, WebSocket handshakes)."""
        trace_id, pairs = self.new()
        return trace_id, dict(pairs)


#: This part's key in the run's stash: None when ``--no-trace-context``.
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
    on = getattr(options, "trace_context", True)
    ratio = getattr(options, "trace_sample_ratio", None)
    tracing = (
        TraceContext(DEFAULT_RATIO if ratio is None else float(ratio), getattr(options, "trace_state", None))
        if on is not False
        else None
    )
    stash[TRACING] = tracing
    return tracing


def check_options(options: Any) -> None:
    """Raise ConfigError for a bad ``--trace-state`` (the ratio's range is checked by :mod:`loadkit.config`)."""
    state = getattr(options, "trace_state", None)
    if state:
        check_tracestate(state)
