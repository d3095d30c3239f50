#!/usr/bin/env python3
"""A real Docker engine for the compose fleet, on a machine that may have none and no registry.

``python3 scripts/container_engine.py setup [--install]`` makes ``docker`` usable, in three
idempotent steps, each timed and each skipped when already done:

1. packages: Debian's ``docker.io`` (dockerd), ``docker-compose`` (v1) and ``debootstrap``,
   installed with apt-get when missing (``--install``, as root); without ``--install`` a missing
   package is the one line :class:`EngineUnavailable` says;
2. daemon: when ``docker info`` cannot reach one, ``dockerd`` is started in the background (its
   log in ``/var/log/loadkit-dockerd.log``) and its socket polled until it answers (deadline);
3. base image: when the Dockerfile's ``FROM`` image is absent and no registry is reachable, a
   local stand-in is built and tagged with that name (:func:`build_stand_in`): ``debootstrap
   --variant=minbase bookworm`` + Debian's python3 (3.11, as the real image) and pip, made to
   behave like ``python:3.11-slim`` for what the Dockerfile uses (``python``/``pip`` on PATH,
   system installs allowed: no PEP 668 marker), with this host's extra CA certificates and pip
   index settings, so ``pip install`` inside ``docker build`` reaches the package index exactly
   as pip on this host does. The Dockerfile is unchanged: on a machine with Docker Hub the real
   image is pulled instead and none of this runs.

Standard library only: .ci/run calls it with the system python3 before any venv exists, and
tests/e2e/test_compose_engine.py imports it (:func:`ensure`) so a developer's pytest run sets
up the same engine or skips with the one line naming what to install.
"""

from __future__ import annotations

import argparse
import configparser
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"dockerd": "docker.io", "docker-compose": "docker-compose", "debootstrap": "debootstrap"}
DOCKERD_LOG = Path("/var/log/loadkit-dockerd.log")
STAND_IN_LABEL = "org.loadkit.stand-in"
SUITE = "bookworm"  # Debian 12: its python3 is 3.11, as python:3.11-slim's
MIRROR = os.environ.get("LOADKIT_DEBIAN_MIRROR", "http://deb.debian.org/debian")
INSTALL_HINT = "apt-get install docker.io docker-compose debootstrap (or run scripts/compose-e2e.sh as root)"


class EngineUnavailable(RuntimeError):
    """No engine can run here; the message is the one line naming what to install or do."""


@dataclass
class Report:
    """What :func:`ensure` did, with how long each step took (seconds)."""

    steps: dict[str, float] = field(default_factory=dict)
    started_dockerd: subprocess.Popen[bytes] | None = None

    def timed(self, name: str, started: float) -> None:
        self.steps[name] = round(time.monotonic() - started, 1)


def run(argv: list[str], timeout: float = 600, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kw)  # type: ignore[call-overload, no-any-return]


def missing_packages() -> list[str]:
    return [package for command, package in PACKAGES.items() if shutil.which(command) is None]


def install_packages(report: Report) -> None:
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise EngineUnavailable(f"no container engine: {' '.join(missing)} missing; {INSTALL_HINT}")
    started = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        done = run(argv, timeout=900, env=env)
        if done.returncode != 0:
            raise EngineUnavailable(f"`{' '.join(argv)}` failed: {done.stderr.strip()[-300:]}")
    report.timed("install " + " ".join(missing), started)


def daemon_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def start_daemon(report: Report, deadline: float = 60) -> None:
    """Start dockerd in the background unless one answers; wait for its socket until ``deadline``."""
    if daemon_answers():
        return
    if shutil.which("docker") is None or shutil.which("dockerd") is None:
        raise EngineUnavailable(f"no container engine: docker/dockerd not installed; {INSTALL_HINT}")
    if os.geteuid() != 0:
        raise EngineUnavailable("no container engine answers and only root can start dockerd: start it, or run as root")
    started = time.monotonic()
    log = DOCKERD_LOG.open("ab")
    # Its own session: it outlives this process (CI's test run), as a system service would.
    report.started_dockerd = subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    while not daemon_answers():
        if report.started_dockerd.poll() is not None or time.monotonic() - started > deadline:
            tail = DOCKERD_LOG.read_text(errors="replace").strip().splitlines()[-3:]
            raise EngineUnavailable(f"dockerd did not come up within {deadline:g} s: {' | '.join(tail)}")
        time.sleep(0.5)
    report.timed("start dockerd", started)


def base_image(dockerfile: Path = ROOT / "Dockerfile") -> str:
    """The Dockerfile's ``FROM`` image."""
    for line in dockerfile.read_text().splitlines():
        if line.upper().startswith("FROM "):
            return line.split()[1]
    raise ValueError(f"{dockerfile} has no FROM line")


def image_exists(tag: str) -> bool:
    return run(["docker", "image", "inspect", tag], timeout=30).returncode == 0


def host_pip_settings() -> dict[str, str]:
    """This host's pip index settings that make sense in a container (no local paths).

    From ``pip config list`` (every config file pip reads and PIP_* variables): index URLs that are
    not ``file://``, trusted hosts and timeouts. Local find-links, file indexes and constraint
    files are left out: they point at this host's disk.
    """
    keep = {"index-url", "extra-index-url", "trusted-host", "timeout", "default-timeout", "retries"}
    done = run([sys.executable, "-m", "pip", "config", "list"], timeout=60)
    settings: dict[str, str] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        value = value.strip().strip("'\"")
        if name not in keep:
            continue
        if "index-url" in name:
            value = " ".join(url for url in value.split() if url.startswith(("http://", "https://")))
        if value:
            settings[name] = value
    return settings


def extra_ca_certificates() -> list[Path]:
    """The host's extra trusted CAs (Debian's place for them: /usr/local/share/ca-certificates)."""
    folder = Path("/usr/local/share/ca-certificates")
    return sorted(p for p in folder.rglob("*.crt") if p.is_file()) if folder.is_dir() else []


def build_stand_in(tag: str, report: Report) -> None:
    """debootstrap Debian bookworm + python3/pip, the host's CAs and pip settings; import as ``tag``."""
    if shutil.which("debootstrap") is None:
        raise EngineUnavailable(f"cannot build a stand-in for {tag}: debootstrap missing; {INSTALL_HINT}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="loadkit-base-") as tmp:
        rootfs = Path(tmp, "rootfs")
        include = "python3,python3-pip,python3-venv,ca-certificates"
        argv = ["debootstrap", "--variant=minbase", f"--include={include}", SUITE, str(rootfs), MIRROR]
        done = run(argv, timeout=1200)
        if done.returncode != 0:
            raise EngineUnavailable(f"debootstrap failed: {(done.stdout + done.stderr).strip()[-400:]}")
        _make_like_python_slim(rootfs)
        certs = rootfs / "usr/local/share/ca-certificates"
        certs.mkdir(parents=True, exist_ok=True)
        for cert in extra_ca_certificates():
            shutil.copy2(cert, certs / cert.name)
        done = run(["chroot", str(rootfs), "update-ca-certificates"], timeout=120)
        if done.returncode != 0:
            raise EngineUnavailable(f"update-ca-certificates in the stand-in failed: {done.stderr.strip()}")
        pip = configparser.ConfigParser()
        pip["global"] = {**host_pip_settings(), "cert": "/etc/ssl/certs/ca-certificates.crt"}
        with (rootfs / "etc/pip.conf").open("w") as fh:
            pip.write(fh)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / junk, ignore_errors=True)
        changes = [
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            f"LABEL {STAND_IN_LABEL}=debootstrap-{SUITE}",
            'CMD ["python3"]',
        ]
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        args = [arg for change in changes for arg in ("--change", change)]
        done = subprocess.run(
            ["docker", "import", *args, "-", tag], stdin=tar.stdout, capture_output=True, text=True, check=False
        )
        tar.wait()
        if done.returncode != 0 or tar.returncode != 0:
            raise EngineUnavailable(f"docker import of the stand-in failed: {done.stderr.strip()}")
    report.timed(f"build stand-in {tag}", started)


def _make_like_python_slim(rootfs: Path) -> None:
    """What the Dockerfile relies on from python:3.11-slim: `python` and `pip` on PATH, and pip
    installing into the system (the official image has no PEP 668 marker; Debian's python has one)."""
    for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    for name, target in (("python", "python3"), ("pip", "pip3")):
        link = rootfs / "usr/bin" / name
        if not link.exists():
            link.symlink_to(target)


def compose_command() -> list[str]:
    """Compose v2 (``docker compose``) when the client has it, else Debian's v1 ``docker-compose``."""
    if run(["docker", "compose", "version"], timeout=30).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise EngineUnavailable(f"no compose: docker-compose missing; {INSTALL_HINT}")


def ensure(install: bool = False) -> Report:
    """Engine up and the Dockerfile's base image present; raises :class:`EngineUnavailable` if impossible."""
    report = Report()
    if install:
        install_packages(report)
    start_daemon(report)
    compose_command()
    tag = base_image()
    if not image_exists(tag):
        build_stand_in(tag, report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["setup"])
    parser.add_argument("--install", action="store_true", help="apt-get install what is missing (root)")
    args = parser.parse_args(argv)
    try:
        report = ensure(install=args.install)
    except EngineUnavailable as exc:
        print(f"container engine: {exc}", file=sys.stderr)
        return 1
    done = ", ".join(f"{step} {seconds:g} s" for step, seconds in report.steps.items()) or "nothing to do"
    print(f"container engine ready ({done})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
