"""Locust's own start-up failures, told as loadkit's one-line errors (problem, value, fix).

Two failures happen inside Locust's ``main`` where no event lets loadkit raise first (the
texts matched here are Locust's, kept below with a contract test):

- the master cannot bind ``--master-bind-port``: Locust dies with a traceback of
  ``RPCError("Socket bind failure: ...")``. :func:`install_excepthook` prints one line
  instead (exit code stays Locust's 1, as for a bundled target whose port is in use);
- ``--expect-workers`` is not reached within ``--expect-workers-max-wait``: Locust logs
  "Gave up waiting for workers to connect" and exits 1. :class:`ExpectWorkersHint`
  completes that log line with the counts and the fix.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

from loadkit._locust.patch import mark_patched, patched
from loadkit._locust.runners import ready_workers

#: Logger of Locust's ``main`` and the line it logs when ``--expect-workers`` was not reached in time.
MAIN_LOGGER = "locust.main"
GAVE_UP_MESSAGE = "Gave up waiting for workers to connect"
#: Start of the ``RPCError`` text when the master cannot bind ``--master-bind-port``.
BIND_FAILURE_PREFIX = "Socket bind failure: "
#: Name of the exception class Locust raises for that failure (``locust.exception.RPCError``).
RPC_ERROR_NAME = "RPCError"

_GAVE_UP = GAVE_UP_MESSAGE
_ADDR = re.compile(r"\s*\(addr='[^']*:(\d+)'\)")


def bind_failure_line(exc: BaseException) -> str | None:
    """The one line for a master that cannot bind its port, or None for any other error (pure).

    Locust's message: ``Socket bind failure: Address already in use (addr='tcp://127.0.0.1:5557')``.
    """
    text = str(exc)
    if type(exc).__name__ != RPC_ERROR_NAME or not text.startswith(BIND_FAILURE_PREFIX):
        return None
    match = _ADDR.search(text)
    port = match.group(1) if match else "?"
    reason = _ADDR.sub("", text.removeprefix(BIND_FAILURE_PREFIX)).strip()
    return (
        f"loadkit: error: the master cannot listen on --master-bind-port {port} ({reason}): "
        "stop what listens there or pass another --master-bind-port (and the same --master-port to the workers)"
    )


def install_excepthook() -> None:
    """Print :func:`bind_failure_line` instead of a traceback; other errors go to the previous hook."""
    previous = sys.excepthook
    if patched(previous):
        return

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        line = bind_failure_line(exc)
        if line is None:
            previous(kind, exc, tb)
        else:
            print(line, file=sys.stderr, flush=True)

    sys.excepthook = mark_patched(hook, previous)


def gave_up_line(ready: int, expected: int, max_wait: float) -> str:
    """Locust's give-up message completed with the counts and the fix (pure)."""
    return (
        f"{_GAVE_UP}: {ready} of --expect-workers {expected} ready within --expect-workers-max-wait {max_wait:g}s: "
        "start the missing workers (locust -f ... --worker --master-host MASTER), or lower --expect-workers"
    )


class ExpectWorkersHint(logging.Filter):
    """A filter on Locust's ``locust.main`` logger that rewrites the give-up line (see the module docstring)."""

    def __init__(self, ready: Callable[[], int], expected: int, max_wait: float) -> None:
        super().__init__()
        self._ready = ready
        self._expected = expected
        self._max_wait = max_wait

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == _GAVE_UP:
            record.msg = gave_up_line(self._ready(), self._expected, self._max_wait)
        return True


def install_expect_workers_hint(runner: Any, options: Any) -> None:
    """On a master, complete Locust's give-up line (idempotent per process)."""
    logger = logging.getLogger(MAIN_LOGGER)
    if any(isinstance(f, ExpectWorkersHint) for f in logger.filters):
        return
    expected = int(getattr(options, "expect_workers", 1) or 1)
    max_wait = float(getattr(options, "expect_workers_max_wait", 0) or 0)
    logger.addFilter(ExpectWorkersHint(lambda: ready_workers(runner), expected, max_wait))
