"""docker-compose.yml on a real engine, one isolated compose project per test.

:class:`ComposeFleet` runs the repository's compose file as a user would, through Compose
(v2 or Debian's v1, whichever this machine has), with three things of its own, all in a
temporary folder: a project name (so containers and networks never meet a developer's
fleet), an env file (the settings a user would put in ``.env``: add yours to
:attr:`ComposeFleet.settings`, e.g. a fleet secret; ``FLEET_IMAGE`` names the session's image,
tests/support/image.py) and an override file mapping the
master's reports to a folder made the way the README says (``install -d -m 777``).
:meth:`ComposeFleet.down` removes every container and network it made.

The engine itself comes from ``scripts/container_engine.py`` (:func:`engine`): a test calls
:func:`need_engine` first, which sets one up or skips with one line naming what to install
(fails instead under ``LOADKIT_TESTS_STRICT=1``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.support.requirements import require

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
#: Variables the compose file reads: the test's env file sets them, the caller's shell must not.
_FILE_VARIABLES = ("LOCUST_", "LOADKIT_", "DEMO_", "WEB_UI_", "COMPOSE_", "FLEET_IMAGE")


def engine() -> ModuleType:
    """``scripts/container_engine.py`` as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("container_engine", ROOT / "scripts" / "container_engine.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def need_engine() -> ModuleType:
    """The engine module once an engine runs and the base image exists; else skip (or fail when strict)."""
    module = engine()
    try:
        module.ensure(install=False)
    except module.EngineUnavailable as exc:
        require(f"needs a container engine: {exc}")
    return module


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check:
        assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr.strip()}"
    return done


#: The fleet secret every project's .env holds (docker-compose.yml refuses to start without one).
FLEET_SECRET = "compose-e2e-fleet-secret-0123456789"


@dataclass
class ComposeFleet:
    """One compose project of docker-compose.yml, with its own env file, override and reports."""

    compose: list[str]
    workdir: Path
    project: str
    settings: dict[str, str] = field(default_factory=dict)
    #: The image every service runs (``FLEET_IMAGE``): the session's, built from this checkout.
    image: str = "loadkit:local"

    @property
    def reports(self) -> Path:
        return self.workdir / "reports"

    def _write_files(self) -> tuple[Path, Path]:
        if not self.reports.exists():  # README: `install -d -m 777 loadkit-reports`, whoever runs it
            subprocess.run(["install", "-d", "-m", "777", str(self.reports)], check=True)
        env_file = self.workdir / ".env"
        settings = {
            "LOADKIT_FLEET_SECRET": FLEET_SECRET,
            "FLEET_IMAGE": self.image,
            **self.settings,
        }  # what the README's one-liner writes
        env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        override = self.workdir / "override.yml"
        reports = json.dumps(f"{self.reports}:/app/loadkit-reports")
        override.write_text(f"services:\n  master:\n    volumes:\n      - {reports}\n")
        return env_file, override

    def run(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``compose -p PROJECT --env-file ... -f docker-compose.yml -f override ARGS`` from the repo."""
        env_file, override = self._write_files()
        argv = [*self.compose, "-p", self.project, "--env-file", str(env_file)]
        argv += ["-f", str(COMPOSE_FILE), "-f", str(override), *args]
        env = {k: v for k, v in os.environ.items() if not k.startswith(_FILE_VARIABLES)}
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        if check:
            assert done.returncode == 0, f"{' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
        return done

    def ids(self, service: str) -> list[str]:
        """Container ids of ``service`` (running or not), in no particular order."""
        return self.run("ps", "-q", service).stdout.split()

    def one(self, service: str) -> str:
        (container,) = self.ids(service)
        return container

    def logs(self, container: str, timestamps: bool = False) -> str:
        done = docker("logs", *(["-t"] if timestamps else []), container, check=False)
        return done.stdout + done.stderr

    def exit_code(self, container: str) -> int:
        return int(docker("inspect", "-f", "{{.State.ExitCode}}", container).stdout)

    def running(self, container: str) -> bool:
        return docker("inspect", "-f", "{{.State.Running}}", container).stdout.strip() == "true"

    def wait(self, container: str, timeout: float) -> int:
        """The container's exit code once it has exited (``docker wait``)."""
        return int(docker("wait", container, timeout=timeout).stdout)

    def stop(self, container: str, grace: int = 10) -> tuple[float, int]:
        """``docker stop`` (SIGTERM, SIGKILL after ``grace`` s): seconds it took and the exit code."""
        started = time.monotonic()
        docker("stop", "-t", str(grace), container, timeout=grace + 30)
        return time.monotonic() - started, self.exit_code(container)

    def exec(self, container: str, *argv: str) -> subprocess.CompletedProcess[str]:
        return docker("exec", container, *argv, check=False, timeout=60)

    def report(self) -> Any:
        return json.loads((self.reports / "fleet.json").read_text())

    def dump(self) -> str:
        """Every container's state and log tail (printed by the fixture: pytest shows it on failure)."""
        out = []
        for container in self.run("ps", "-a", "-q", check=False).stdout.split():
            name = docker("inspect", "-f", "{{.Name}} {{.State.Status}} {{.State.ExitCode}}", container, check=False)
            out.append(f"--- {name.stdout.strip()}\n{self.logs(container)[-3000:]}")
        return "\n".join(out)

    def down(self) -> str:
        """Remove the project's containers and networks; returns what is left of it (should be nothing)."""
        self.run("down", "-v", "-t", "5", "--remove-orphans", timeout=180, check=False)
        left = docker("ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={self.project}", check=False)
        return left.stdout.strip()


def python_in(fleet: ComposeFleet, container: str, code: str) -> Any:
    """Run ``code`` with the image's python inside ``container``; its stdout parsed as JSON, or None."""
    done = fleet.exec(container, "python", "-c", code)
    return json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else None


HTTP_COUNTERS = """
import json, urllib.request as u
print(json.dumps(json.loads(u.urlopen('http://127.0.0.1:8080/counters', timeout=5).read())))
"""
GRPC_COUNTERS = """
import json, grpc
from google.protobuf.json_format import MessageToDict
from loadkit.gen.demo.v1 import admin_pb2, admin_pb2_grpc
with grpc.insecure_channel('127.0.0.1:50051') as ch:
    reply = admin_pb2_grpc.AdminStub(ch).GetCounters(admin_pb2.GetCountersRequest(), timeout=5)
print(json.dumps(MessageToDict(reply)))
"""
