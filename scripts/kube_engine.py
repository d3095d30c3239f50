#!/usr/bin/env python3
"""A Kubernetes-YAML engine for deploy/kubernetes: kubectl to render, podman to run, offline.

No Kubernetes cluster can be installed on the CI machine, but Debian's podman (4.3) runs
Kubernetes YAML with ``podman kube play``. ``python3 scripts/kube_engine.py setup [--install]``
makes that usable, in idempotent steps, each skipped when already done:

1. packages: ``podman`` and ``catatonit`` (podman's pod init), and ``kubectl`` (Debian's
   ``kubernetes-client``) when no kubectl is on PATH; installed with apt-get when missing
   (``--install``, as root); without it a missing one is the line :class:`EngineUnavailable` says;
2. ``/etc/containers/containers.conf``: ``default_ulimits = []`` under ``[containers]``, so podman
   does not ask runc for rlimits a sandboxed machine cannot grant (runc then fails to start any
   container); an existing setting is left alone;
3. the image (``image`` action, or :func:`transfer_image`): ``loadkit:local`` (or the tag the
   tests give: their session's ``loadkit:src-KEY``, tests/support/image.py) as the Docker engine
   built it copied into podman's store with ``podman pull docker-daemon:TAG``, only when
   podman's copy is not that very image (same id).

Standard library only, like container_engine.py, which it reuses for running commands and for the
Docker engine (one copy of each helper); tests/e2e/test_kubernetes.py imports it through
tests/support/kube.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import container_engine
from container_engine import EngineUnavailable, Report, run

PACKAGES = {"podman": "podman", "catatonit": "catatonit", "kubectl": "kubernetes-client"}
#: Where Debian's catatonit lives (not on PATH).
CATATONIT = Path("/usr/libexec/podman/catatonit")
CONTAINERS_CONF = Path("/etc/containers/containers.conf")
IMAGE = "loadkit:local"
INSTALL_HINT = "apt-get install podman catatonit kubernetes-client (as root; .ci/run does)"


def missing_packages() -> list[str]:
    missing = [package for command, package in PACKAGES.items() if command != "catatonit" and not shutil.which(command)]
    if not CATATONIT.exists() and not shutil.which("catatonit"):
        missing.append("catatonit")
    return missing


def install_packages(report: Report) -> None:
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise EngineUnavailable(f"no Kubernetes-YAML engine: {' '.join(missing)} missing; {INSTALL_HINT}")
    started = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        done = run(argv, timeout=900, env=env)
        if done.returncode != 0:
            raise EngineUnavailable(f"`{' '.join(argv)}` failed: {done.stderr.strip()[-300:]}")
    report.timed("install " + " ".join(missing), started)


def configure_ulimits(report: Report, path: Path = CONTAINERS_CONF) -> None:
    """``default_ulimits = []`` under ``[containers]`` unless the file already sets it."""
    text = path.read_text() if path.exists() else ""
    try:
        settings = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise EngineUnavailable(f"{path} is not a TOML file podman can read ({exc}): fix it") from exc
    if "default_ulimits" in settings.get("containers", {}):
        return
    lines = text.splitlines()
    if "[containers]" in (line.strip() for line in lines):
        at = next(i for i, line in enumerate(lines) if line.strip() == "[containers]")
        lines.insert(at + 1, "default_ulimits = []")
    else:
        lines += ["[containers]", "default_ulimits = []"]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    except PermissionError as exc:
        raise EngineUnavailable(f"{path} needs `default_ulimits = []` under [containers]: add it as root") from exc
    report.steps[f"{path}: default_ulimits = []"] = 0.0


def image_id(engine: str, tag: str = IMAGE) -> str | None:
    done = run([engine, "image", "inspect", "--format", "{{.Id}}", tag], timeout=60)
    return done.stdout.strip().removeprefix("sha256:") or None if done.returncode == 0 else None


def transfer_image(report: Report, tag: str = IMAGE) -> None:
    """Docker's ``tag`` into podman's store unless podman already has that very image."""
    wanted = image_id("docker", tag)
    if wanted is None:
        raise EngineUnavailable(f"the Docker engine has no {tag}: build it first (docker build -t {tag} .)")
    if image_id("podman", tag) == wanted:
        return
    started = time.monotonic()
    done = run(["podman", "pull", "-q", f"docker-daemon:{tag}"], timeout=600)
    if done.returncode != 0:
        raise EngineUnavailable(f"podman pull docker-daemon:{tag} failed: {done.stderr.strip()[-300:]}")
    report.timed(f"podman pull docker-daemon:{tag}", started)


def ensure(install: bool = False) -> Report:
    """podman and kubectl present, podman configured; raises :class:`EngineUnavailable` if impossible."""
    report = Report()
    if install:
        install_packages(report)
    missing = missing_packages()
    if missing:
        raise EngineUnavailable(f"no Kubernetes-YAML engine: {' '.join(missing)} missing; {INSTALL_HINT}")
    configure_ulimits(report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["setup", "image"], help="setup: steps 1-2; image: step 3 (after a build)")
    parser.add_argument("--install", action="store_true", help="apt-get install what is missing (root)")
    args = parser.parse_args(argv)
    try:
        report = ensure(install=args.install)
        if args.action == "image":
            container_engine.ensure(install=False)
            transfer_image(report)
    except EngineUnavailable as exc:
        print(f"kube engine: {exc}", file=sys.stderr)
        return 1
    done = ", ".join(f"{step} {seconds:g} s" for step, seconds in report.steps.items()) or "nothing to do"
    print(f"kube engine ready ({done})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
