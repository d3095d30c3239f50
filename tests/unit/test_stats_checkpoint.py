"""Checkpoints of the reports (loadkit.stats.checkpoint): which files, partial marks, ordering with the final write."""

from __future__ import annotations

import json
import os
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import pytest

from loadkit.exceptions import ConfigError
from loadkit.run import offload
from loadkit.stats import checkpoint, reports
from loadkit.stats.checkpoint import Checkpointer, ReportFile, report_files
from loadkit.stats.hdr import Percentiles
from loadkit.stats.html import to_html
from loadkit.stats.snapshot import EntryStats, RunSnapshot


def _snapshot(count: int = 10) -> RunSnapshot:
    pct = Percentiles(count, {"p50": 1.0, "p99": 2.0}, 3.0)
    row = EntryStats("GET", "/items", count, 0, 1.0, 1.0, 0.0, pct)
    return RunSnapshot((row,), row, {"start_time": 1_800_000_000.0, "duration_s": 5.0})


def _paths(**given: str) -> list[tuple[str, str]]:
    return [(f.kind, f.path) for f in report_files(given.get)]


def test_no_report_configured_means_no_file() -> None:
    assert report_files({}.get) == []


def test_json_goes_beside_the_first_configured_report_when_not_given() -> None:
    assert _paths(report_junit="out/junit.xml") == [("junit", "out/junit.xml"), ("json", "out/junit.json")]
    assert _paths(report_html="r/page.html", report_junit="r/j.xml") == [
        ("junit", "r/j.xml"),
        ("json", "r/j.json"),
        ("html", "r/page.html"),
    ]
    assert _paths(report_html="out/report.html") == [("json", "out/report.json"), ("html", "out/report.html")]


def test_a_given_json_path_wins_and_a_derived_one_never_replaces_a_configured_report() -> None:
    assert _paths(report_json="a.json", report_junit="b.xml") == [("junit", "b.xml"), ("json", "a.json")]
    assert _paths(report_junit="out/r.json") == [("junit", "out/r.json"), ("json", "out/r.loadkit.json")]


def test_status_names_what_a_checkpoint_covers() -> None:
    assert checkpoint.status(1_800_000_000.0, 1_800_000_012.5, False) == {
        "complete": False,
        "covered": {"from": "2027-01-15T08:00:00+00:00", "to": "2027-01-15T08:00:12+00:00", "seconds": 12.5},
    }


def test_partial_junit_and_html_say_so() -> None:
    junit = ET.fromstring(reports.to_junit(_snapshot(), [], complete=False))
    names = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert names == {"loadkit.complete": "false"}
    assert not list(ET.fromstring(reports.to_junit(_snapshot(), [])).iter("property"))
    document = reports.to_json_dict(_snapshot(), [], checkpoint.status(1_800_000_000.0, 1_800_000_012.0, False))
    assert 'id="partial"' in to_html(document)
    assert 'id="partial"' not in to_html({**document, "complete": True})


class _Run:
    """What a controller gives a checkpointer: a growing count, and the files to write."""

    def __init__(self, files: list[ReportFile]) -> None:
        self.files = files
        self.count = 0
        self.thread_ids: list[int] = []

    def take(self) -> tuple[list[ReportFile], RunSnapshot, list[Any], Callable[[], dict[str, Any]]]:
        self.count += 10
        snapshot = _snapshot(self.count)
        status = checkpoint.status(1_800_000_000.0, 1_800_000_001.0, False)
        return self.files, snapshot, [], lambda: reports.to_json_dict(snapshot, [], status)


@pytest.mark.parametrize("mode", ["fork", "thread"])
def test_checkpoints_are_written_off_the_loop_and_never_after_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Forked (Linux), the child takes the numbers and writes; else a thread writes: never the loop."""
    monkeypatch.setenv("LOADKIT_OFFLOAD", mode)
    assert offload.forks() is (mode == "fork")
    files = report_files({"report_junit": str(tmp_path / "j.xml"), "report_html": str(tmp_path / "r.html")}.get)
    run = _Run(files)
    writer = Checkpointer(0.01, run.take)
    here = (os.getpid(), threading.get_ident())
    where = tmp_path / "where"
    original = checkpoint.write

    def spy(rendered: Any) -> Any:
        with where.open("a") as out:  # a file: a forked child's list would stay in the child
            out.write(f"{os.getpid()} {threading.get_ident()}\n")
        return original(rendered)

    monkeypatch.setattr(checkpoint, "write", spy)
    writer.start()
    with gevent.Timeout(30):
        while len(writer.costs) < 3:
            gevent.sleep(0.01)
    writer.close()
    written, taken = len(writer.costs), run.count
    assert writer.write_once() is None and len(writer.costs) == written and run.count == taken  # closed: nothing
    seen = {tuple(int(x) for x in line.split()) for line in where.read_text().splitlines()}
    assert seen and here not in seen, "rendering and writing ran in the loop's thread"
    assert mode == "thread" or os.getpid() not in {pid for pid, _ in seen}, "not in a child"
    document = json.loads((tmp_path / "j.json").read_text())
    # forked, each child took the numbers from the master's memory as it was (the count never grew here)
    assert document["complete"] is False and document["total"]["count"] == (taken if mode == "thread" else 10)
    assert (tmp_path / "r.html").read_text().count('id="partial"') == 1
    assert not list(tmp_path.glob(".*partial")), "a temporary file was left behind"
    assert writer.costs and all(c.bytes > 0 for c in writer.costs)


def test_a_derived_json_path_is_refused_naming_where_it_came_from(tmp_path: Path) -> None:
    (tmp_path / "junit.json").mkdir()
    derived = report_files({"report_junit": str(tmp_path / "junit.xml")}.get)[1]
    with pytest.raises(ConfigError, match=r"--report-json \(by default beside --report-junit\) .* is a folder"):
        reports.check_writable(derived.path, derived.flag)


def test_a_checkpoint_that_cannot_be_written_is_one_error_line_until_it_changes(tmp_path: Path, caplog: Any) -> None:
    files = report_files({"report_json": str(tmp_path / "r.json")}.get)
    writer = Checkpointer(3600.0, _Run(files).take)
    (tmp_path / "r.json").mkdir()  # a folder where the report goes: every write fails the same way
    for _ in range(3):
        assert writer.write_once() is not None
    lines = [r for r in caplog.records if "could not write --report-json" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in caplog.records]
    (tmp_path / "r.json").rmdir()
    assert writer.write_once() is not None and json.loads((tmp_path / "r.json").read_text())["complete"] is False
