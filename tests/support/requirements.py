"""What a test needs from the machine, checked in one place: skip with one line, or fail in CI.

A test that needs a system browser, root, a container engine or a system command calls one
of these first (browser tests need nothing: the ``browser`` marker calls
:func:`need_chromium`, see tests/conftest.py)::

    from tests.support.requirements import need_root

    def test_namespaces() -> None:
        need_root()

On a newcomer's machine a missing requirement **skips** the test with one line naming what
to install; with ``LOADKIT_TESTS_STRICT=1`` (``.ci/run`` sets it) it **fails** instead, so
CI never skips silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

#: Set to 1 to turn every missing requirement into a failure (CI).
STRICT_ENV = "LOADKIT_TESTS_STRICT"
#: Debian's Chromium: Playwright drives it (``executable_path``), so no browser download is needed.
CHROMIUM = Path("/usr/bin/chromium")


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "") == "1"


def require(missing: str | None) -> None:
    """Skip (or fail when strict) with ``missing``, one line naming what to install; no-op on None."""
    if missing is None:
        return
    if strict():
        pytest.fail(f"{missing} ({STRICT_ENV}=1: a missing requirement fails)", pytrace=False)
    pytest.skip(missing)


def chromium_missing() -> str | None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "needs Playwright: pip install -e '.[test]'"
    if not os.access(CHROMIUM, os.X_OK):
        return f"needs Chromium at {CHROMIUM}: apt-get install chromium"
    return None


def need_chromium() -> Path:
    """Debian's Chromium and Playwright; returns the browser's path."""
    require(chromium_missing())
    return CHROMIUM


def need_root(why: str = "network namespaces") -> None:
    """Root (``why`` needs it): run the suite as root, e.g. in a container or CI."""
    require(None if os.geteuid() == 0 else f"needs root for {why}: run as root (CI does)")


def need_command(command: str, package: str) -> str:
    """A system command; ``package`` is the Debian package that provides it. Returns its path."""
    path = shutil.which(command)
    require(None if path else f"needs the `{command}` command: apt-get install {package}")
    return str(path)


def docker_missing() -> str | None:
    if shutil.which("docker") is None:
        return "needs a container engine: apt-get install docker.io (and start dockerd)"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"needs a running container engine (`docker info`: {exc}): start dockerd"
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no output"])[-1]
        return f"needs a running container engine (`docker info`: {reason}): start dockerd"
    return None


def need_docker() -> None:
    """A container engine that answers ``docker info``."""
    require(docker_missing())
