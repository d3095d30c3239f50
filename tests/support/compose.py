"""Read ``docker-compose.yml`` the way Compose does, for tests that have no container engine.

:func:`load` parses it (YAML anchors and ``<<`` merges included); :func:`interpolate` expands
``${NAME}``, ``${NAME:-default}``, ``${NAME-default}`` and ``$$`` from a mapping, as Compose does
from the shell and ``.env``. :class:`Service` gives one service's command, environment,
healthcheck and mounts, and :meth:`Service.local_argv` maps its container paths and
executables onto this checkout, so a test can run exactly what the container would.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
#: What a user would set in the shell or .env for a short headless run of the compose file
#: (the real-engine and the network-namespace tests run the same one).
HEADLESS_SETTINGS = {
    "LOCUST_HEADLESS": "true",
    "LOCUST_USERS": "8",
    "LOCUST_SPAWN_RATE": "8",
    "LOCUST_RUN_TIME": "10s",
    "LOCUST_EXPECT_WORKERS": "2",
    "LOADKIT_HEALTH_INTERVAL": "1",
}
BIN = Path(sys.executable).parent

_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<default>[^}]*))?\}")


def load(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The parsed compose file."""
    with path.open() as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Expand Compose variables in ``value`` from ``env``; an unset variable without default is "".

    ``${NAME:?message}`` raises ValueError when NAME is unset or empty, as Compose refuses to start.
    """

    def expand(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, default = match.group("name"), match.group("op"), match.group("default")
        current = env.get(name)
        if (op == ":?" and not current) or (op == "?" and current is None):
            raise ValueError(f"compose refuses to start: {name}: {default}")
        if op == ":-" and not current:
            return default or ""
        if op == "-" and current is None:
            return default or ""
        return current or ""

    return _VARIABLE.sub(expand, value)


@dataclass(frozen=True)
class Service:
    """One service of the compose file."""

    name: str
    spec: dict[str, Any]

    @property
    def command(self) -> list[str]:
        command = self.spec["command"]
        assert isinstance(command, list), f"{self.name}: write command as a list (exec form)"
        return [str(part) for part in command]

    def environment(self, env: Mapping[str, str]) -> dict[str, str]:
        """The service's environment, interpolated from ``env`` (the shell / ``.env``)."""
        raw = self.spec.get("environment") or {}
        assert isinstance(raw, dict), f"{self.name}: write environment as a mapping"
        return {str(k): interpolate(str(v), env) for k, v in raw.items()}

    @property
    def healthcheck(self) -> list[str] | None:
        """The healthcheck's argv (``CMD`` form), or None without one."""
        check = self.spec.get("healthcheck")
        if check is None:
            return None
        test = check["test"]
        assert test[0] == "CMD", f"{self.name}: healthcheck test must be exec form ['CMD', ...]"
        return [str(part) for part in test[1:]]

    def mounts(self) -> dict[str, Path]:
        """Container path → host path of each bind mount (host paths relative to the compose file)."""
        result: dict[str, Path] = {}
        for volume in self.spec.get("volumes") or []:
            host, container = str(volume).split(":")[:2]
            result[container] = (COMPOSE_FILE.parent / host).resolve()
        return result

    def local_argv(self, argv: list[str], paths: Mapping[str, Path]) -> list[str]:
        """``argv`` for this checkout: ``python``/``locust``/``loadkit`` from this venv, paths mapped."""
        executables = {"python": sys.executable, "locust": str(BIN / "locust"), "loadkit": str(BIN / "loadkit")}
        first = executables.get(argv[0], argv[0])
        return [first, *(map_path(arg, paths) for arg in argv[1:])]


def map_path(value: str, paths: Mapping[str, Path]) -> str:
    """Replace a leading container path (longest match first) by its host path."""
    for container in sorted(paths, key=len, reverse=True):
        if value == container or value.startswith(container + "/"):
            return str(paths[container]) + value[len(container) :]
    return value


def services(data: Mapping[str, Any] | None = None) -> dict[str, Service]:
    data = load() if data is None else data
    return {name: Service(name, spec) for name, spec in data["services"].items()}
