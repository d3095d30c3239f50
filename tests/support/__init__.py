"""Helpers every test layer shares, in one copy: ports, polling, processes, targets, requirements.

Imported as ``tests.support`` (pytest puts the repository root on ``sys.path``:
``pythonpath = ["."]`` in pyproject.toml; bench scripts run as ``python -m bench.NAME`` from
the root, which does the same)::

    from tests.support import free_port, wait_for
    from tests.support.procs import Procs          # locust masters/workers, agents
    from tests.support.targets import launch       # bundled targets as subprocesses
    from tests.support.requirements import need_chromium, need_root, need_docker
    from tests.support import import_file          # a locustfile's classes, by path

This module itself imports nothing heavy (no Locust, no gevent), so a bench or a target
test can use it from an unpatched process.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

#: The repository root (tests/support/ is two levels below it).
ROOT = Path(__file__).resolve().parents[2]

__all__ = ["ROOT", "free_port", "get_json", "import_file", "wait_for"]


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


def import_file(path: Path) -> ModuleType:
    """The module at ``path`` (a locustfile), imported once by its path, never via ``sys.path``.

    It is registered in ``sys.modules`` under its file's stem, as ``locust -f`` does, so a
    second call returns the same module (its import-time listeners are added once) and its
    classes' ``inspect.getfile`` names the file, which library mode hands to worker processes.
    """
    name = path.stem
    loaded = sys.modules.get(name)
    if loaded is not None and Path(getattr(loaded, "__file__", "")).resolve() == path.resolve():
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, f"cannot import {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up there
    spec.loader.exec_module(module)
    return module
