"""Fixtures shared by every layer of the suite.

The test process runs Locust users in-process, so it is gevent-patched like a locust
process, first thing, through loadkit's one set-up function. Bundled targets therefore
always run as their own (unpatched) processes.
"""

from __future__ import annotations

from loadkit._locust.gevent import init_gevent

init_gevent()

# --- bundled targets -------------------------------------------------------------------
# Real ``loadkit target grpc|http`` subprocesses on 127.0.0.1, free ports. The Target class
# and launch() live in tests/support/targets.py; everything shared is in tests/support/.
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.support.requirements import need_chromium  # noqa: E402
from tests.support.targets import Target, launch  # noqa: E402


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A ``browser`` test needs Debian's Chromium: skip with one line, or fail under LOADKIT_TESTS_STRICT=1."""
    if item.get_closest_marker("browser") is not None:
        need_chromium()


@pytest.fixture(scope="session")
def grpc_target() -> Iterator[Target]:
    """The bundled gRPC target (``demo.v1.Demo`` + health + reflection + ``demo.v1.Admin``), one per session.

    Yields a :class:`tests.support.targets.Target`: ``host``, ``port``, ``address`` ("127.0.0.1:PORT"),
    ``url`` ("grpc://127.0.0.1:PORT"), ``counters()`` -> ``{"/demo.v1.Demo/GetItem": n, ...}``
    (calls counted when the server starts handling them, failures included; Admin calls
    not counted) and ``reset_counters()``. Shared by the whole session: call
    ``reset_counters()`` first in a test that checks counts. Fault injection via metadata
    ``x-delay-ms``, ``x-status``, ``x-fail-percent``, ``x-fail-after`` (see demo.proto).
    """
    target = launch("grpc")
    try:
        yield target
    finally:
        target.stop()


@pytest.fixture(scope="session")
def http_target() -> Iterator[Target]:
    """The bundled HTTP (FastAPI) target, one per session.

    Yields a :class:`tests.support.targets.Target` with ``url`` "http://127.0.0.1:PORT" and ``counters()`` ->
    ``{"GET /items/{item_id}": n, ...}`` (keyed by "METHOD /route/template"). Routes: /health,
    POST/GET /items, GET/PUT/DELETE /items/{item_id}, POST /login, GET /me, /metrics; faults via
    ``?delay_ms=&status=`` or headers ``x-delay-ms``/``x-status``. ``GET /items`` also returns
    ``creates`` (per id) and ``duplicate_creates``. Shared: reset counters before counting.
    """
    target = launch("http")
    try:
        yield target
    finally:
        target.stop()


@pytest.fixture(scope="session")
def http2_target() -> Iterator[Target]:
    """The bundled HTTP target served by hypercorn (``--http2``): HTTP/1.1 and h2c on one port, one per session.

    As ``http_target``, plus ``protocols()`` -> ``{"requests": {"2": n}, "connections": {"2": m},
    "websockets": k}`` (versions as ASGI names them). Shared: reset counters before counting.
    """
    target = launch("http", "--http2")
    try:
        yield target
    finally:
        target.stop()


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed (certificate, key) for 127.0.0.1/localhost (PEM files; the certificate is its own CA)."""
    from tests.support.tls import self_signed

    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def tls_http_target(tls_certificate: tuple[Path, Path]) -> Iterator[Target]:
    """The bundled HTTP target over TLS (``--certfile/--keyfile``: hypercorn, ALPN h2 then http/1.1), one per session.

    Its ``url`` says http://: reach it at ``f"https://127.0.0.1:{target.port}"`` trusting ``tls_certificate[0]``.
    """
    cert, key = tls_certificate
    target = launch("http", "--certfile", str(cert), "--keyfile", str(key))
    try:
        yield target
    finally:
        target.stop()


@pytest.fixture
def start_target() -> Iterator[Callable[..., Target]]:
    """Factory for a test's own target, to kill or restart: ``start_target("grpc", "--reload")``.

    Arguments after the kind are passed to ``loadkit target KIND`` (``--port 0`` unless given);
    ``env=`` adds environment variables. Returns a ready :class:`tests.support.targets.Target`; use
    ``target.kill()`` / ``target.stop()`` freely. Everything started is stopped at teardown.
    """
    started: list[Target] = []

    def start(kind: str, *args: str, env: dict[str, str] | None = None) -> Target:
        target = launch(kind, *args, env=env)
        started.append(target)
        return target

    try:
        yield start
    finally:
        for target in started:
            target.stop()


@pytest.fixture(autouse=True)
def _sigint_as_python_starts() -> None:
    """Every process a test starts acts on SIGINT: its parent (this one) must not ignore it.

    A child inherits an ignored signal, and Python then leaves SIGINT ignored. In full-suite runs
    the processes started late in the run ignored it (a master went on after SIGINT; a child found
    SIG_IGN), so something earlier left this process ignoring SIGINT at the OS level (not found
    yet: tests/e2e/test_fleet_faults.py). Re-installing Python's own handler restores the
    disposition children inherit (a caught signal is reset to default at exec).
    """
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)
