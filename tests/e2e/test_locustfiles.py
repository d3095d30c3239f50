"""Every example in locustfiles/ runs under plain ``locust --headless`` against the bundled targets.

Also the streaming load check of issue 4 (grpc/grpc#27340: grpcio streams under gevent
reported to hang): 50 users on all three streaming kinds for 10 s must end on time
(hard subprocess timeout) with every stream counted and none failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.targets import Target

ROOT = Path(__file__).resolve().parents[2]
LOCUST = str(Path(sys.executable).parent / "locust")
pytestmark = pytest.mark.e2e

GET_ITEM = ("grpc", "/demo.v1.Demo/GetItem")
LIST_ITEMS = ("grpc", "/demo.v1.Demo/ListItems")
PUT_ITEMS = ("grpc", "/demo.v1.Demo/PutItems")
CHAT = ("grpc", "/demo.v1.Demo/Chat")

#: locustfile → entries (request type, name) that must have requests and no failures.
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "grpc_demo.py": [GET_ITEM, LIST_ITEMS, PUT_ITEMS, CHAT, ("grpc-ttfm", LIST_ITEMS[1])],
    "grpc_via_reflection.py": [GET_ITEM, LIST_ITEMS],
    "grpc_runtime_proto.py": [GET_ITEM, PUT_ITEMS],
    "grpc_streaming.py": [LIST_ITEMS, PUT_ITEMS, CHAT, ("grpc-ttfm", CHAT[1]), ("grpc", "ListItems (first 3)")],
    "rest_crud.py": [
        ("POST", "/login"),
        ("GET", "/me"),
        ("POST", "/items"),
        ("GET", "/items/{item_id}"),
        ("PUT", "/items/{item_id}"),
        ("DELETE", "/items/{item_id}"),
    ],
    "mixed.py": [GET_ITEM, ("GET", "/items"), ("POST", "/items"), ("local", "build payload")],
    "constant_throughput.py": [GET_ITEM],
    "fleet.py": [("POST", "/items"), GET_ITEM, LIST_ITEMS, ("grpc-ttfm", LIST_ITEMS[1])],
}
#: Options a locustfile needs beyond the common ones.
EXTRA_ARGS: dict[str, list[str]] = {"fleet.py": ["--loadkit-data", str(ROOT / "data" / "users.csv")]}


def locust_cmd(locustfile: str, users: int, seconds: int, *extra: str) -> list[str]:
    return [
        LOCUST,
        "-f",
        str(ROOT / "locustfiles" / locustfile),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{seconds}s",
        "--only-summary",
        "--loglevel",
        "WARNING",
        *extra,
    ]


def run_locust(
    locustfile: str, tmp_path: Path, grpc: Target, http: Target, users: int, seconds: int
) -> dict[tuple[str, str], dict[str, Any]]:
    out = tmp_path / "stats.json"
    env = {**os.environ, "DEMO_GRPC_HOST": grpc.url, "DEMO_HTTP_HOST": http.url, "PYTHONUNBUFFERED": "1"}
    cmd = locust_cmd(
        locustfile, users, seconds, "--json-file", str(out.with_suffix("")), *EXTRA_ARGS.get(locustfile, [])
    )
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired as exc:  # the run did not end on time: a hang
        pytest.fail(f"locust -f {locustfile} did not end within {seconds + 60}s: {exc.stderr!r}")
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return {(e["method"], e["name"]): e for e in json.loads(out.read_text())}


@pytest.mark.parametrize("locustfile", sorted(EXPECTED))
def test_locustfile_runs_headless(locustfile: str, tmp_path: Path, grpc_target: Target, http_target: Target) -> None:
    stats = run_locust(locustfile, tmp_path, grpc_target, http_target, users=5, seconds=3)
    for key in EXPECTED[locustfile]:
        assert key in stats, f"{key} missing from {sorted(stats)}"
        assert stats[key]["num_requests"] > 0, key
        assert stats[key]["num_failures"] == 0, (key, stats[key])


def test_streams_at_load_end_on_time(tmp_path: Path, grpc_target: Target, http_target: Target) -> None:
    stats = run_locust("grpc_streaming.py", tmp_path, grpc_target, http_target, users=50, seconds=10)
    for key in (LIST_ITEMS, PUT_ITEMS, CHAT, ("grpc", "ListItems (first 3)")):
        assert stats[key]["num_requests"] >= 50, (key, stats[key]["num_requests"])
        assert stats[key]["num_failures"] == 0, (key, stats[key])


def test_time_to_first_message_is_usable_in_thresholds(grpc_target: Target) -> None:
    env = {**os.environ, "DEMO_GRPC_HOST": grpc_target.url}
    cmd = locust_cmd(
        "grpc_streaming.py",
        3,
        2,
        "--threshold",
        "grpc-ttfm /demo.v1.Demo/ListItems: p95<0.001ms",
        "--threshold",
        "grpc-ttfm /demo.v1.Demo/Chat: p95<60000ms",
    )
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 99, proc.stderr[-3000:]  # loadkit's exit code for failed thresholds
    output = proc.stdout + proc.stderr
    lines = [line for line in output.splitlines() if line.startswith("grpc-ttfm /demo.v1.Demo/")]
    assert any("ListItems" in line and line.rstrip().endswith("FAIL") for line in lines), output[-3000:]
    assert any("Chat" in line and line.rstrip().endswith("pass") for line in lines), output[-3000:]


def test_host_option_overrides_the_class_host(grpc_target: Target) -> None:
    env = {**os.environ, "DEMO_GRPC_HOST": "grpc://127.0.0.1:9"}  # nothing listens there
    cmd = locust_cmd("grpc_via_reflection.py", 2, 2, "--host", grpc_target.url, "--exit-code-on-error", "3")
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]  # 1 would mean failed (UNAVAILABLE) requests
    assert "/demo.v1.Demo/GetItem" in proc.stdout + proc.stderr
