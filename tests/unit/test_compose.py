"""docker-compose.yml, Dockerfile and .dockerignore, checked without a container engine.

The file is parsed with PyYAML (anchors and merges as Compose resolves them); every
environment variable must be one Locust or loadkit actually reads, defaults must parse, and
the pieces must agree with each other (ports in commands, healthchecks and target URLs;
mounted paths that exist). tests/e2e/test_netns_fleet.py runs the same commands for real.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from loadkit.config import OPTIONS
from loadkit.fleet.sources import load_rows
from loadkit.stats.thresholds import parse_thresholds
from tests.support.compose import DOCKERFILE, ROOT, Service, interpolate, load, map_path, services

SERVICES = {"master", "worker", "target-http", "target-grpc", "agent"}


@pytest.fixture(scope="module")
def svc() -> dict[str, Service]:
    return services()


def locust_env_vars() -> set[str]:
    from locust.argument_parser import get_parser

    return {action.env_var for action in get_parser()._actions if getattr(action, "env_var", None)}


def seconds(duration: str) -> float:
    """A compose duration such as "3s" or "1m"."""
    return float(duration[:-1]) * {"s": 1, "m": 60}[duration[-1]]


def option_value(command: list[str], flag: str) -> str:
    assert flag in command, f"{flag} missing from {command}"
    return command[command.index(flag) + 1]


# --- the interpolation the other checks rely on ------------------------------------------


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        ("${A:-x}", {}, "x"),
        ("${A:-x}", {"A": ""}, "x"),
        ("${A-x}", {"A": ""}, ""),
        ("${A:-x}", {"A": "y"}, "y"),
        ("p95<${T:-1000}ms;$${literal}", {}, "p95<1000ms;${literal}"),
        ("${A}", {}, ""),
    ],
)
def test_interpolation_follows_compose(value: str, env: dict[str, str], expected: str) -> None:
    assert interpolate(value, env) == expected


#: What the README's one-liner writes into .env.
SECRET = {"LOADKIT_FLEET_SECRET": "s" * 43}

# --- services ----------------------------------------------------------------------------


def test_every_role_is_a_service_of_one_image_built_once(svc: dict[str, Service]) -> None:
    assert set(svc) == SERVICES
    for service in svc.values():
        assert interpolate(service.spec["image"], {}) == "loadkit:local", service.name
        assert interpolate(service.spec["image"], {"FLEET_IMAGE": "r/loadkit:1"}) == "r/loadkit:1"
        assert "init" not in service.spec, (
            f"{service.name}: every role handles SIGTERM as PID 1 (Kubernetes has no init)"
        )
    builders = [service.name for service in svc.values() if "build" in service.spec]
    assert builders == ["agent"], builders
    assert svc["agent"].spec["build"] == "."


def test_the_builder_is_the_first_service_compose_v1_creates(svc: dict[str, Service]) -> None:
    """Compose v1 creates images in start order and pulls those it does not build: the one
    service that builds must come before every other in that order (it has no dependency and
    is the first root in the file; v1's sort keeps file order otherwise)."""
    agent = svc["agent"].spec
    assert "depends_on" not in agent and "network_mode" not in agent
    assert next(iter(svc)) == "agent"


def test_master_serves_the_web_ui_on_loopback_and_headless_is_an_env_switch(svc: dict[str, Service]) -> None:
    master = svc["master"]
    assert master.command[:2] == ["locust", "--master"]
    (published,) = master.spec["ports"]
    assert interpolate(published, {}) == "127.0.0.1:8089:8089"
    assert interpolate(published, {"WEB_UI_PORT": "18089"}) == "127.0.0.1:18089:8089"
    assert interpolate(published, {"WEB_UI_BIND": "0.0.0.0"}) == "0.0.0.0:8089:8089"  # told otherwise
    assert "LOADKIT_WEB_TOKEN" in master.environment(SECRET)  # the login's secret reaches the master
    assert master.environment(SECRET)["LOCUST_HEADLESS"] == "false"
    assert master.environment({**SECRET, "LOCUST_HEADLESS": "true"})["LOCUST_HEADLESS"] == "true"


def test_agent_measures_the_http_targets_network(svc: dict[str, Service]) -> None:
    """target-http runs in the agent's network namespace, under its own name (an alias)."""
    assert svc["target-http"].spec["network_mode"] == "service:agent"
    assert "target-http" in svc["agent"].spec["networks"]["default"]["aliases"]


def test_workers_scale_and_find_the_master_by_name(svc: dict[str, Service]) -> None:
    worker = svc["worker"]
    assert worker.command[:2] == ["locust", "--worker"]
    assert option_value(worker.command, "--master-host") == "master"
    assert "ports" not in worker.spec and "container_name" not in worker.spec, "fixed names/ports block --scale"
    assert worker.spec["restart"] == "on-failure"
    assert "master" in worker.spec["depends_on"]
    replicas = worker.spec["deploy"]["replicas"]
    assert svc["master"].environment(SECRET)["LOCUST_EXPECT_WORKERS"] == str(replicas)


def test_locust_nodes_share_the_locustfile_and_target_urls(svc: dict[str, Service]) -> None:
    master, worker = svc["master"].environment(SECRET), svc["worker"].environment(SECRET)
    for name in ("LOCUST_LOCUSTFILE", "DEMO_HTTP_HOST", "DEMO_GRPC_HOST"):
        assert master[name] == worker[name], name
    locustfile = map_path(master["LOCUST_LOCUSTFILE"], svc["worker"].mounts())
    assert Path(locustfile).is_file(), f"{master['LOCUST_LOCUSTFILE']} is not a mounted file of this repo"
    for variable, service in (("DEMO_HTTP_HOST", "target-http"), ("DEMO_GRPC_HOST", "target-grpc")):
        url = urlsplit(master[variable])
        assert url.hostname == service, (variable, url)
        assert str(url.port) == option_value(svc[service].command, "--port"), variable


@pytest.mark.parametrize("kind", ["http", "grpc"])
def test_targets_listen_on_all_interfaces_with_a_healthcheck_on_their_port(svc: dict[str, Service], kind: str) -> None:
    target = svc[f"target-{kind}"]
    assert target.command[:3] == ["loadkit", "target", kind]
    assert option_value(target.command, "--host") == "0.0.0.0"
    check = target.healthcheck
    assert check == ["loadkit", "target", "check", kind, f"127.0.0.1:{option_value(target.command, '--port')}"]
    spec = target.spec["healthcheck"]
    assert {"interval", "timeout", "retries", "start_period"} <= set(spec)
    assert seconds(spec["timeout"]) >= 10, "a cold probe took 2-3 s on a busy host"
    assert seconds(spec["start_period"]) >= 30


def test_master_starts_once_the_targets_are_healthy(svc: dict[str, Service]) -> None:
    depends = svc["master"].spec["depends_on"]
    assert depends["target-http"]["condition"] == "service_healthy"
    assert depends["target-grpc"]["condition"] == "service_healthy"
    assert "agent" in depends
    agents = svc["master"].environment(SECRET)["LOADKIT_AGENT"]
    assert urlsplit(agents).hostname == "agent"
    assert str(urlsplit(agents).port) == option_value(svc["agent"].command, "--port")


def test_every_variable_is_one_locust_or_loadkit_reads(svc: dict[str, Service]) -> None:
    known = locust_env_vars() | {opt.env_var for opt in OPTIONS} | {"DEMO_HTTP_HOST", "DEMO_GRPC_HOST"}
    for service in svc.values():
        unknown = set(service.environment(SECRET)) - known
        assert not unknown, f"{service.name}: nothing reads {sorted(unknown)}"


def test_default_settings_are_valid(svc: dict[str, Service]) -> None:
    master = svc["master"]
    env = master.environment(SECRET)
    assert len(parse_thresholds(env["LOADKIT_THRESHOLD"])) >= 2
    rows = load_rows(map_path(env["LOADKIT_DATA"], master.mounts()))
    assert len({row["id"] for row in rows}) == len(rows) > 0, "data rows need unique ids"
    assert int(env["LOCUST_USERS"]) > 0 and int(env["LOCUST_EXPECT_WORKERS"]) > 0
    for report in ("LOADKIT_REPORT_JSON", "LOADKIT_REPORT_JUNIT", "LOADKIT_REPORT_HTML"):
        assert Path(env[report]).parent.as_posix() in master.mounts(), f"{report} is not on a mounted directory"


def test_mounted_directories_exist_in_the_repo(svc: dict[str, Service]) -> None:
    for service in svc.values():
        for container, host in service.mounts().items():
            if container != "/app/loadkit-reports":  # created by Compose on first run
                assert host.is_dir(), (service.name, container, host)


def test_every_service_command_is_exec_form() -> None:
    for name, spec in load()["services"].items():
        assert isinstance(spec["command"], list), f"{name}: a shell-form command would not get signals"


# --- Dockerfile and .dockerignore ----------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_base_user_and_install() -> None:
    steps = dockerfile_instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must run as a non-root user"
    last_user = max(i for i, (op, _) in enumerate(steps) if op == "USER")
    assert all(op != "RUN" for op, _ in steps[last_user:]), "nothing may run as root after USER"
    runs = " ".join(arg for op, arg in steps if op == "RUN")
    assert "pip install ." in runs
    for dev_tool in ("[test]", "pytest", "ruff", "mypy", "playwright"):
        assert dev_tool not in runs, f"{dev_tool} does not belong in the image"


def test_dockerfile_installs_dependencies_before_copying_the_code() -> None:
    steps = dockerfile_instructions()
    copies = [i for i, (op, _) in enumerate(steps) if op == "COPY"]
    first_install = next(i for i, (op, arg) in enumerate(steps) if op == "RUN" and "pip install" in arg)
    code_copy = next(i for i in copies if "loadkit" in shlex.split(steps[i][1])[0])
    assert copies[0] < first_install < code_copy, "dependency layer must not depend on the code"
    assert shlex.split(steps[copies[0]][1])[0] == "pyproject.toml"


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".git", ".venv", "tests", "loadkit-reports"):
        assert path in ignored, path


def test_loadkit_commands_and_healthchecks_parse(svc: dict[str, Service]) -> None:
    from loadkit.cli import build_parser

    parser = build_parser()
    argvs = [s.command for s in svc.values()] + [s.healthcheck for s in svc.values() if s.healthcheck]
    loadkit_argvs = [argv for argv in argvs if argv[0] == "loadkit"]
    assert len(loadkit_argvs) == 5  # two targets, the agent, two healthchecks
    for argv in loadkit_argvs:
        assert callable(parser.parse_args(argv[1:]).run), argv


def test_master_and_workers_need_the_same_fleet_secret(svc: dict[str, Service]) -> None:
    for name in ("master", "worker"):
        assert svc[name].environment(SECRET)["LOADKIT_FLEET_SECRET"] == SECRET["LOADKIT_FLEET_SECRET"]
        with pytest.raises(ValueError, match=r"LOADKIT_FLEET_SECRET: create \.env with the fleet secret first"):
            svc[name].environment({})


def test_env_file_is_never_committed_nor_copied_into_the_image() -> None:
    root = Path(__file__).resolve().parents[2]
    assert ".env" in (root / ".gitignore").read_text().split()
    assert ".env" in (root / ".dockerignore").read_text().split()
