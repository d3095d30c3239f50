"""`loadkit demo` (the README's first command) runs to its summary, as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

KINDS = ["GetItem", "ListItems", "PutItems", "Chat"]


def test_demo_runs_every_call_kind_on_workers_and_passes(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    out = subprocess.run(
        [sys.executable, "-m", "loadkit.cli", "demo", "--run-time", "6s", "--users", "8", "--report-dir", str(reports)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "loadkit demo passed" in out.stdout
    assert "all thresholds passed" in out.stdout + out.stderr

    report = json.loads((reports / "demo.json").read_text())
    assert report["run"]["workers"] == 2
    counts = {e["key"]: e["count"] for e in report["entries"]}
    for kind in KINDS:
        assert counts.get(f"grpc /demo.v1.Demo/{kind}", 0) > 0, counts
    for streaming in ("ListItems", "Chat"):
        assert counts.get(f"grpc-ttfm /demo.v1.Demo/{streaming}", 0) > 0, counts
    assert counts.get("GET /me", 0) > 0 and counts.get("POST /items", 0) > 0, counts
    assert report["total"]["failures"] == 0
    # Time to first message is a facet of a stream call, not a request of its own.
    calls = sum(e["count"] for e in report["entries"] if not e["type"].endswith("-ttfm"))
    assert report["total"]["count"] == report["total"]["hdr_count"] == calls

    junit = ET.parse(reports / "demo-junit.xml").getroot()
    cases = junit.findall(".//testcase")
    assert len(cases) >= 4, "one testcase per threshold"
    assert not junit.findall(".//failure")
    page = (reports / "demo.html").read_text()
    assert "PASS" in page and all(f"{kind}: latency over time" in page for kind in KINDS)  # the pictures too


def test_demo_rejects_a_bad_option_before_starting_anything(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "loadkit.cli", "demo", "--users", "many"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "--users: invalid int value: 'many'" in out.stderr
