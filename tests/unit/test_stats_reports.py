"""Report renderers: JUnit XML, JSON, console table (pure)."""

from __future__ import annotations

import json
import os
import re
import resource
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from loadkit.exceptions import ConfigError
from loadkit.stats.facets import is_facet
from loadkit.stats.hdr import Percentiles
from loadkit.stats.reports import (
    check_writable,
    console_table,
    dumps_json,
    open_model_lines,
    to_json_dict,
    to_junit,
    write_report,
)
from loadkit.stats.snapshot import EntryStats, RunSnapshot
from loadkit.stats.thresholds import evaluate, parse_thresholds

_PCT = {"p50": 1.0, "p90": 2.0, "p95": 3.0, "p99": 4.0, "p99.9": 5.0, "p99.99": 6.0}


def _snapshot() -> RunSnapshot:
    def row(rtype: str, name: str, count: int, failures: int) -> EntryStats:
        return EntryStats(rtype, name, count, failures, 12.5, 1.5, 0.2, Percentiles(count, dict(_PCT), 7.0))

    meta = {"duration_s": 12.0, "start_time_iso": "2026-11-23T02:00:00+00:00"}
    entries = (row("GET", "/items", 100, 3), row("grpc", "/demo.v1.Demo/GetItem", 200, 0))
    return RunSnapshot(entries, row("", "Aggregated", 300, 3), meta)


def _results():  # type: ignore[no-untyped-def]
    return evaluate(parse_thresholds(["p99<5ms", "p50<0.5ms", "/nope: p99<1ms"]), _snapshot())


def _validate_junit_shape(root: ET.Element) -> None:
    """The common JUnit schema (as Jenkins/GitLab read it), checked element by element."""
    assert root.tag == "testsuites"
    for suite in root:
        assert suite.tag == "testsuite"
        for attr in ("name", "tests", "failures", "errors", "time"):
            assert attr in suite.attrib, attr
        int(suite.get("tests", "x"))
        int(suite.get("failures", "x"))
        float(suite.get("time", "x"))
        for case in suite:
            assert case.tag == "testcase"
            assert {"classname", "name", "time"} <= set(case.attrib)
            float(case.get("time", "x"))
            for child in case:
                assert child.tag in {"failure", "error", "skipped", "system-out", "system-err"}
                if child.tag == "failure":
                    assert "message" in child.attrib and "type" in child.attrib
        counted = sum(1 for case in suite if case.find("failure") is not None)
        assert counted == int(suite.get("failures", "-1"))
        assert len(list(suite)) == int(suite.get("tests", "-1"))


def test_junit_has_a_testcase_per_threshold_and_per_failing_entry() -> None:
    root = ET.fromstring(to_junit(_snapshot(), _results()))
    _validate_junit_shape(root)
    cases = root.findall("./testsuite/testcase")
    names = [c.get("name") for c in cases]
    assert names == ["p99<5ms", "p50<0.5ms", "/nope: p99<1ms", "GET /items"]
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failed) == {"p50<0.5ms", "/nope: p99<1ms", "GET /items"}
    message = failed["p50<0.5ms"].get("message", "")  # type: ignore[union-attr]
    assert "0.500 ms" in message and "1.000 ms" in message
    assert root.get("failures") == "3" and root.get("tests") == "4"


def test_junit_all_passing_has_no_failures() -> None:
    results = evaluate(parse_thresholds(["p99<5ms"]), _snapshot())
    snapshot = _snapshot()
    clean = RunSnapshot(tuple(r for r in snapshot.entries if not r.failures), snapshot.total, snapshot.meta)
    root = ET.fromstring(to_junit(clean, results))
    _validate_junit_shape(root)
    assert root.get("failures") == "0" and root.get("tests") == "1"


def test_json_document_holds_entries_total_and_thresholds(tmp_path: Path) -> None:
    doc = to_json_dict(_snapshot(), _results(), {"workers": {"w1": {"cpu": 10}}})
    path = write_report(tmp_path / "sub" / "report.json", dumps_json(doc))
    loaded = json.loads(path.read_text())
    assert loaded["total"]["count"] == 300 and loaded["total"]["failures"] == 3
    assert loaded["total"]["percentiles_ms"] == {**_PCT, "max": 7.0}
    assert [e["key"] for e in loaded["entries"]] == ["GET /items", "grpc /demo.v1.Demo/GetItem"]
    assert [t["passed"] for t in loaded["thresholds"]] == [True, False, False]
    assert loaded["thresholds_passed"] is False
    assert loaded["workers"] == {"w1": {"cpu": 10}}
    assert not list(tmp_path.glob("sub/*.partial"))


def test_console_table_shows_percentiles_and_verdicts() -> None:
    text = console_table(_snapshot(), _results())
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("Type"))
    for label in ("p50", "p99.9", "p99.99", "max"):
        assert label in header
    assert any("/demo.v1.Demo/GetItem" in line and "4.000" in line for line in lines)
    assert any(line.startswith("p50<0.5ms") and line.rstrip().endswith("FAIL") for line in lines)
    assert lines[-1] == "loadkit: THRESHOLDS FAILED"


def test_check_writable_accepts_new_folders_and_rejects_a_file_parent_or_a_folder(tmp_path: Path) -> None:
    check_writable(tmp_path / "new" / "deeper" / "r.json", "--report-json")  # created at the end
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"--report-json '.*/file/r\.json': .*/file is not a folder"):
        check_writable(tmp_path / "file" / "r.json", "--report-json")
    with pytest.raises(ConfigError, match=r"--report-junit '.*' is a folder: give a file path"):
        check_writable(tmp_path, "--report-junit")
    with pytest.raises(
        ConfigError, match=rf"is a folder: give a file path, e\.g\. {re.escape(str(tmp_path))}/report\.json$"
    ):
        check_writable(tmp_path, "--report-json")


def test_check_writable_refuses_devices_fifos_and_links_to_them(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"--report-json '.*pipe' is a FIFO, not a regular file: give a file path"):
        check_writable(fifo, "--report-json")
    with pytest.raises(ConfigError, match=r"'/dev/null' is a character device, not a regular file"):
        check_writable("/dev/null", "--report-junit")
    link = tmp_path / "to-null"
    link.symlink_to("/dev/null")
    with pytest.raises(ConfigError, match=r"'.*to-null' \(a link to /dev/null\) is a character device"):
        check_writable(link, "--report-json")


def test_a_link_to_a_regular_file_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real" / "r.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "r.json"
    link.symlink_to(real)
    check_writable(link, "--report-json")
    assert write_report(link, "new") == real
    assert link.is_symlink() and real.read_text() == "new"
    assert sorted(p.name for p in real.parent.iterdir()) == ["r.json"]


def test_a_failed_write_leaves_neither_a_partial_nor_a_changed_report(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("old")
    # Python ignores SIGXFSZ, so a write past RLIMIT_FSIZE is an OSError (EFBIG), as on a full disk.
    big = "x" * 4096
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, hard))
    try:
        with pytest.raises(OSError, match="File too large"):
            write_report(target, big)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_json_report_puts_arrays_of_numbers_on_one_line_and_leaves_strings_alone() -> None:
    from loadkit.stats.reports import dumps_json

    document = {"p99": [1.5, None, 2], "names": ["a", "b"], "odd": "GET /x[\n 1, 2\n]", "nested": [[1, 2], [3]]}
    text = dumps_json(document)
    assert json.loads(text) == document
    assert '"p99": [1.5, null, 2]' in text and '"nested": [\n    [1, 2],\n    [3]\n  ]' in text


def test_service_entries_are_facets_and_summary_lines() -> None:
    assert is_facet("GET-service") and is_facet("grpc-ttfm") and not is_facet("GET")
    lines = open_model_lines(
        {
            "profile": "constant 100 it/s",
            "max_users": 20,
            "target_rate": 100.0,
            "achieved_rate": 99.5,
            "elapsed_s": 10.0,
            "iterations_started": 995,
            "iterations_late": 3,
            "late_ratio": 0.003,
            "iterations_dropped": 0,
            "max_lateness_ms": 12.5,
        }
    )
    assert "target 100.00 it/s, achieved 99.50 it/s" in lines[0]
    assert "late 3 (0.30%), dropped 0, max lateness 12.5 ms" in lines[1]
