"""Helpers every test layer shares, in one copy: ports, polling, processes, targets, requirements.

Imported as ``tests.support`` (pytest puts the repository root on ``sys.path``:
``pythonpath = ["."]`` in pyproject.toml; bench scripts run as ``python -m bench.NAME`` from
the root, which does the same)::

    from tests.support import free_port, wait_for
    from tests.support.procs import Procs          # locust masters/workers, agents
    from tests.support.targets import launch       # bundled targets as subprocesses
    from tests.support.requirements import need_chromium, need_root, need_docker

This module itself imports nothing heavy (no Locust, no gevent), so a bench or a target
test can use it from an unpatched process.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The repository root (tests/support/ is two levels below it).
ROOT = Path(__file__).resolve().parents[2]

__all__ = ["ROOT", "free_port", "get_json", "wait_for"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the OS picks it; someone may take it before you bind)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy and return that; fail naming ``what`` at the deadline.

    An ``OSError`` from ``check`` (a port not open yet) counts as "not yet".
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def get_json(url: str, timeout: float = 5.0) -> Any:
    """GET ``url`` and decode its JSON body."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())
