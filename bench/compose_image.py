"""The fleet image: build time cold and after a code edit, and its size (docs/containers.md).

    python3 scripts/container_engine.py setup && .venv/bin/python -m bench.compose_image

Builds the repository's Dockerfile as ``loadkit:bench`` (removed at the end; ``loadkit:local``
is left alone): once with ``--no-cache`` (every layer, pip downloading the dependencies), then
from a copy of the build context with one line added to a loadkit module, which only rebuilds
the layers from ``COPY loadkit`` on. Wall-clock seconds on a possibly shared machine: the figures
are what a user waits, not ratios. The time from ``up`` to the first users, a worker's idle RSS
and the stop times per role are printed by tests/e2e/test_compose_engine.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAG = "loadkit:bench"
CONTEXT = ["Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "loadkit", "targets", "locustfiles", "data"]
CONTEXT += ["proto"]


def build(context: Path, *extra: str) -> float:
    started = time.monotonic()
    done = subprocess.run(["docker", "build", "-q", *extra, "-t", TAG, str(context)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return time.monotonic() - started


def main() -> None:
    cold = build(ROOT, "--no-cache")
    with tempfile.TemporaryDirectory(prefix="loadkit-bench-") as tmp:
        context = Path(tmp)
        for name in CONTEXT:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, context / name)
        build(context)  # same content as the cold build: every layer from the cache
        with (context / "loadkit" / "_pid1.py").open("a") as fh:
            fh.write("# an edit\n")
        warm = build(context)
    size = json.loads(subprocess.run(["docker", "image", "inspect", TAG], capture_output=True, text=True).stdout)
    megabytes = size[0]["Size"] / 1e6
    base = size[0]["Config"].get("Labels") or {}
    subprocess.run(["docker", "rmi", TAG], capture_output=True, check=False)
    print(f"build cold (--no-cache): {cold:.1f} s")
    print(f"build after a code edit: {warm:.1f} s")
    origin = base.get("org.loadkit.stand-in", "python:3.11-slim from a registry")
    print(f"image size: {megabytes:.0f} MB (base: {origin})")


if __name__ == "__main__":
    main()
