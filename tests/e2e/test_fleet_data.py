"""Test data across a real fleet: master + 3 locust workers write every row to the HTTP target.

The target counts creates per id (``GET /items`` → ``creates``), which proves each row was
used exactly once — or, with a worker SIGKILLed mid-test, at least once and none lost.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import Proc, Procs, get_json, wait_for

pytestmark = pytest.mark.e2e

LOCUSTFILE = "locustfiles/data_driven.py"
LOCUST_HEADLESS = [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--headless", "-u", "1", "-t", "5s"]


def run_fleet(
    procs: Procs, start_target: Callable[..., Any], rows: int, users: int, *extra: str
) -> tuple[str, Proc, list[Proc]]:
    target = start_target("http").url  # a fresh target: its per-id create counts start at zero
    master, port = procs.master(
        LOCUSTFILE,
        3,
        "--host",
        target,
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        "120s",
        "--loadkit-data",
        f"faker:{rows}:1",
        "--loadkit-data-exhausted",
        "stop-test",
        "--loadkit-data-batch",
        "25",
        *extra,
    )
    # Each worker samples its health at its own --loadkit-health-interval (default 3 s), not
    # the master's: a short interval here too, so a run of ~2 s still holds every worker's samples.
    health = {"LOADKIT_HEALTH_INTERVAL": "0.5"}
    workers = [procs.worker(LOCUSTFILE, port, env=health) for _ in range(3)]
    return target, master, workers


def creates(target: str) -> dict[str, int]:
    return get_json(f"{target}/items")["creates"]


def leasing_figures(master: Proc) -> dict[str, Any]:
    line = master.find("loadkit data: ")[-1][1]
    return json.loads(line.split("loadkit data: ", 1)[1])


def test_every_row_is_used_exactly_once_across_three_workers(
    procs: Procs, start_target: Callable[..., Any], tmp_path: Path
) -> None:
    rows = 1500
    report = tmp_path / "report.json"
    extra = ("--report-json", str(report), "--loadkit-health-interval", "0.5")
    target, master, _ = run_fleet(procs, start_target, rows, 15, *extra)
    code = master.wait(timeout=150)
    assert code == 0, master.output
    counts = creates(target)
    assert set(counts) == {f"row-{i}" for i in range(1, rows + 1)}
    assert set(counts.values()) == {1}
    figures = leasing_figures(master)
    assert figures["workers"] == 3
    assert figures["rows_leased"] == rows
    fleet = json.loads(report.read_text())["fleet"]
    assert len(fleet["health"]["workers"]) == 3
    assert fleet["data"]["figures"]["rows_leased"] == rows
    print("\nleasing figures (3 workers):", figures)


def test_a_killed_workers_rows_are_leased_again_and_none_lost(procs: Procs, start_target: Callable[..., Any]) -> None:
    rows = 3000
    target, master, workers = run_fleet(procs, start_target, rows, users=15)
    wait_for(lambda: len(creates(target)) >= 300, 90, "300 rows written")
    victim = workers[0]
    victim.kill()
    killed_at = time.monotonic()
    code = master.wait(timeout=150)
    assert code == 0, master.output
    counts = creates(target)
    assert set(counts) == {f"row-{i}" for i in range(1, rows + 1)}, "rows lost"
    reaped = master.find("is gone: ")
    assert reaped, master.output
    figures = leasing_figures(master)
    duplicates = sum(n - 1 for n in counts.values())
    print(
        f"\nkilled worker's rows back in the pool after {reaped[0][0] - killed_at:.2f}s; {reaped[0][1]};"
        f" duplicate writes (at-least-once): {duplicates}; figures: {figures}"
    )


@pytest.mark.parametrize(
    ("content", "spec", "message"),
    [
        (None, "missing.csv", "does not exist"),
        ("", "empty.csv", "holds no rows"),
        ('{"id": 1}\n{"id": 2,\n', "bad.jsonl", "bad.jsonl:2: bad JSON"),
        (None, "faker:many", "bad generator spec"),
    ],
)
def test_bad_data_is_one_line_and_exit_2_before_any_load(
    procs: Procs, tmp_path: Path, content: str | None, spec: str, message: str
) -> None:
    if content is not None:
        (tmp_path / spec).write_text(content, encoding="utf-8")
    arg = spec if spec.startswith("faker:") else str(tmp_path / spec)
    run = procs.start(
        "locust",
        [*LOCUST_HEADLESS, "--host", "http://127.0.0.1:9", "--loadkit-data", arg],
    )
    assert run.wait(timeout=60) == 2
    errors = run.find("loadkit: error:")
    assert len(errors) == 1 and message in errors[0][1], run.output
    assert "Traceback" not in run.output
    assert not run.find("Ramping"), run.output


def test_unknown_mode_is_a_usage_error(procs: Procs) -> None:
    run = procs.start(
        "locust",
        [*LOCUST_HEADLESS, "--loadkit-data", "faker:3", "--loadkit-data-mode", "random"],
    )
    assert run.wait(timeout=60) == 2
    assert "invalid choice: 'random'" in run.output
