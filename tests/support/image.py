"""One loadkit image per test session, named by the content it is built from.

The compose and the Kubernetes tests both run the repository's Dockerfile. Each used to build
it (Compose in one, ``docker build`` in the other, then a copy into podman), and both named the
result ``loadkit:local``, which any other checkout on the same engine overwrites. Here the
image is built once, tagged ``loadkit:src-<key>`` where the key hashes the Dockerfile, every
file its ``COPY`` lines take (as ``.dockerignore`` leaves them: no ``__pycache__``, no ``*.pyc``)
and the base image's id (:func:`source_key`). An image with that tag is this very source, so
it is used as it is; any edit gives another tag, so a stale image is never run.

:func:`ensure_image` builds it (or finds it) and returns the tag; the session fixture
``loadkit_image`` (tests/e2e/conftest.py) calls it once. Compose runs it through
``FLEET_IMAGE`` (docker-compose.yml), kustomize through an ``images:`` entry of the test's
overlay (tests/support/kube.py), as a user runs a pushed image.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from tests.support import ROOT

REPOSITORY = "loadkit"
PREFIX = "src-"
#: Keyed images older than this are removed when a new one is built (other sessions' older sources).
KEEP_S = 24 * 3600
_IGNORED_DIRS = {"__pycache__"}
_IGNORED_SUFFIXES = (".pyc", ".pyo", ".pyd")


def copied_paths(dockerfile: Path = ROOT / "Dockerfile") -> list[str]:
    """The sources of the Dockerfile's ``COPY`` lines (flags and destinations left out), in order."""
    sources: list[str] = []
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if words and words[0].upper() == "COPY":
            args = [w for w in words[1:] if not w.startswith("--")]
            sources += [s for s in args[:-1] if s not in sources]
    return sources


def _files(path: Path) -> Iterator[Path]:
    if path.is_symlink() or path.is_file():
        yield path
        return
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in _IGNORED_DIRS)
        for name in sorted(files):
            if not name.endswith(_IGNORED_SUFFIXES):
                yield Path(folder, name)
        for name in dirs:  # a symlinked folder (loadkit/targets): docker copies the link itself
            if Path(folder, name).is_symlink():
                yield Path(folder, name)
        dirs[:] = [d for d in dirs if not Path(folder, d).is_symlink()]


def source_key(base_image_id: str, root: Path = ROOT) -> str:
    """sha256 of the Dockerfile, every file it copies (path and bytes; a symlink: its target) and the base image."""
    digest = hashlib.sha256(base_image_id.encode())
    for name in ["Dockerfile", *copied_paths(root / "Dockerfile")]:
        for file in _files(root / name):
            digest.update(b"\0" + file.relative_to(root).as_posix().encode() + b"\0")
            digest.update(os.readlink(file).encode() if file.is_symlink() else file.read_bytes())
    return digest.hexdigest()


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


def ensure_image(base_image: str) -> tuple[str, float]:
    """``loadkit:src-<key>`` on the Docker engine, built unless there; the tag and the build's seconds (0: found)."""
    base = _docker("image", "inspect", "--format", "{{.Id}}", base_image)
    assert base.returncode == 0, f"no base image {base_image}: {base.stderr.strip()}"
    tag = f"{REPOSITORY}:{PREFIX}{source_key(base.stdout.strip())[:16]}"
    if _docker("image", "inspect", tag).returncode == 0:
        return tag, 0.0
    started = time.monotonic()
    built = _docker("build", "-q", "-t", tag, str(ROOT), timeout=900)
    assert built.returncode == 0, built.stderr[-3000:]
    _prune(tag)
    return tag, time.monotonic() - started


def _prune(keep: str) -> None:
    """Remove keyed tags older than :data:`KEEP_S` (a failed removal, e.g. an image in use, is left)."""
    listed = _docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.CreatedAt}}", f"{REPOSITORY}:{PREFIX}*")
    now = time.time()
    for line in listed.stdout.splitlines():
        tag, _, created = line.partition(" ")
        stamp = _created(created)
        if tag != keep and stamp is not None and now - stamp > KEEP_S:
            _docker("rmi", tag)


def _created(text: str) -> float | None:
    """Epoch seconds of docker's ``CreatedAt`` ("2026-12-05 00:31:51 +0000 UTC"), or None."""
    try:
        return datetime.strptime(" ".join(text.split()[:3]), "%Y-%m-%d %H:%M:%S %z").timestamp()
    except ValueError:
        return None
