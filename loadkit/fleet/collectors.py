"""Health collectors: small classes with one method, ``collect() -> {name: number}``.

Built-ins are registered below, in one place: :data:`WORKER_COLLECTORS` run on every load
generator (Locust worker, or the local process), :data:`AGENT_COLLECTORS` in ``loadkit
agent`` beside the system under test. Add your own with :func:`register_collector`::

    from loadkit.fleet.collectors import register_collector

    class OpenFiles:
        def __init__(self, environment): ...
        def collect(self):
            return {"open_files": len(psutil.Process().open_files())}

    register_collector("worker", OpenFiles)   # before the runner starts (locustfile import)

A factory gets the Locust ``Environment`` (``None`` in the agent). This module imports
neither Locust nor gevent, so the agent can run beside a target without them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal, Protocol

import psutil

from loadkit.stats.facets import FACET_SUFFIXES

Sample = dict[str, float]


class Collector(Protocol):
    """What :func:`register_collector` takes: a class (built with the ``Environment``) with ``collect()``.

    ``collect()`` returns this instant's figures, ``{name: number}``; it runs every health
    interval on the loop it measures, so keep it cheap (no blocking I/O)::

        class QueueDepth:
            def __init__(self, environment): self.environment = environment
            def collect(self): return {"queue_depth": float(len(my_queue))}
    """

    def collect(self) -> Sample: ...


CollectorFactory = Callable[[Any], Collector]

WORKER_COLLECTORS: list[CollectorFactory] = []
AGENT_COLLECTORS: list[CollectorFactory] = []


def register_collector(kind: Literal["worker", "agent"], factory: CollectorFactory) -> CollectorFactory:
    """Add a collector class (or factory) for ``kind``; returns it, so it works as a decorator."""
    registry = {"worker": WORKER_COLLECTORS, "agent": AGENT_COLLECTORS}.get(kind)
    if registry is None:
        raise ValueError(f"unknown collector kind {kind!r}: use 'worker' or 'agent'")
    registry.append(factory)
    return factory


def collect_all(collectors: list[Collector]) -> Sample:
    """One sample from every collector; a failing collector costs its own fields only."""
    sample: Sample = {"time": time.time()}
    for collector in collectors:
        try:
            sample.update(collector.collect())
        except (psutil.Error, OSError):
            continue
    return sample


class _Rate:
    """Per-second rate of a growing counter, between two calls."""

    def __init__(self, read: Callable[[], float]) -> None:
        self._read = read
        self._last = (time.monotonic(), read())

    def __call__(self) -> float:
        now, value = time.monotonic(), self._read()
        then, before = self._last
        self._last = (now, value)
        return (value - before) / (now - then) if now > then else 0.0


# --- load generator (one process) ---------------------------------------------------
class ProcessCpu:
    """CPU % of this process since the last sample (100 = one core busy)."""

    def __init__(self, _env: Any = None) -> None:
        self._proc = psutil.Process()
        self._proc.cpu_percent(None)

    def collect(self) -> Sample:
        return {"cpu_percent": self._proc.cpu_percent(None)}


class ProcessMemory:
    """Resident memory of this process, MiB."""

    def __init__(self, _env: Any = None) -> None:
        self._proc = psutil.Process()

    def collect(self) -> Sample:
        return {"rss_mb": self._proc.memory_info().rss / 2**20}


class ProcessConnections:
    """Open inet connections of this process."""

    def __init__(self, _env: Any = None) -> None:
        self._proc = psutil.Process()

    def collect(self) -> Sample:
        return {"connections": float(len(self._proc.net_connections(kind="inet")))}


class NetworkRate:
    """Bytes/s sent and received by the host (psutil has no per-process counters)."""

    def __init__(self, _env: Any = None) -> None:
        self._sent = _Rate(lambda: psutil.net_io_counters().bytes_sent)
        self._recv = _Rate(lambda: psutil.net_io_counters().bytes_recv)

    def collect(self) -> Sample:
        return {"net_sent_bps": self._sent(), "net_recv_bps": self._recv()}


class Users:
    """Users running in this process."""

    def __init__(self, env: Any) -> None:
        self._env = env

    def collect(self) -> Sample:
        runner = getattr(self._env, "runner", None)
        return {"users": float(runner.user_count if runner is not None else 0)}


class LoopLag:
    """gevent loop lag: the worst overshoot (ms) of a short sleep since the last sample.

    A greenlet sleeps ``interval`` s again and again; when the hub is starved (CPU-bound
    users, blocking calls) it wakes late, and every response time measured meanwhile is
    inflated by as much.
    """

    def __init__(self, _env: Any = None, interval: float = 0.05) -> None:
        import gevent

        self.interval = interval
        self._worst = 0.0
        self._greenlet = gevent.spawn(self._measure)

    def _measure(self) -> None:
        import gevent

        while True:
            start = time.perf_counter()
            gevent.sleep(self.interval)
            self._worst = max(self._worst, (time.perf_counter() - start - self.interval) * 1000)

    def collect(self) -> Sample:
        worst, self._worst = self._worst, 0.0
        return {"loop_lag_ms": worst}

    def stop(self) -> None:
        self._greenlet.kill(block=False)


class RequestCounts(Protocol):
    """Monotonic counts of requests and failed ones (facets left out), e.g. the HDR recorder."""

    requests: int
    failures: int


class Requests:
    """Requests and failures per second in this process.

    Counted by :meth:`on_request` as a ``request`` listener, or read from ``counts`` — the
    plugin passes its HDR recorder (:attr:`loadkit.stats.hdr.HdrRecorder.requests`), which
    counts the same on the listener it has anyway: one listener call less per request.
    """

    def __init__(self, _env: Any = None, counts: RequestCounts | None = None) -> None:
        self.requests = 0
        self.failures = 0
        source: RequestCounts = self if counts is None else counts
        self._rps = _Rate(lambda: source.requests)
        self._fps = _Rate(lambda: source.failures)
        self._source = source

    def on_request(self, request_type: str = "", exception: BaseException | None = None, **_kw: Any) -> None:
        if request_type.endswith(FACET_SUFFIXES):  # part of a request counted on its own event (is_facet, inlined)
            return
        self.requests += 1
        if exception is not None:
            self.failures += 1

    def collect(self) -> Sample:
        return {"rps": self._rps(), "fail_per_s": self._fps(), "requests": float(self._source.requests)}


# --- system under test (loadkit agent) ----------------------------------------------
class SystemCpu:
    """CPU % of the whole host (100 = all cores busy)."""

    def __init__(self, _env: Any = None) -> None:
        psutil.cpu_percent(None)

    def collect(self) -> Sample:
        return {"cpu_percent": psutil.cpu_percent(None)}


class SystemMemory:
    """Memory used on the host: percent and MiB."""

    def __init__(self, _env: Any = None) -> None:
        pass

    def collect(self) -> Sample:
        mem = psutil.virtual_memory()
        return {"mem_percent": mem.percent, "mem_used_mb": (mem.total - mem.available) / 2**20}


class DiskRate:
    """Bytes/s read from and written to the host's disks."""

    def __init__(self, _env: Any = None) -> None:
        self._read = _Rate(lambda: _disk().read_bytes)
        self._write = _Rate(lambda: _disk().write_bytes)

    def collect(self) -> Sample:
        return {"disk_read_bps": self._read(), "disk_write_bps": self._write()}


def _disk() -> Any:
    counters = psutil.disk_io_counters()
    if counters is None:  # no disks visible (some containers)
        raise OSError("no disk counters")
    return counters


WORKER_COLLECTORS.extend([ProcessCpu, ProcessMemory, NetworkRate, LoopLag, Users, ProcessConnections])
AGENT_COLLECTORS.extend([SystemCpu, SystemMemory, NetworkRate, DiskRate])
