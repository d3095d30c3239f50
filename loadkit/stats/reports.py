"""Reports of a finished run: JSON, JUnit XML and the console table.

Each renderer is a pure function of a :class:`~loadkit.stats.snapshot.RunSnapshot` and the
threshold results, so reports hold exactly the numbers the thresholds were judged on —
the final ones (:mod:`loadkit.stats.controller` takes the snapshot after every worker's
last report; Locust's ``--csv`` file lags the end of a run, these do not).

JUnit follows the common schema CI systems read (Jenkins, GitLab, GitHub actions):
``<testsuites><testsuite name tests failures errors skipped time timestamp><testcase
classname name time>[<failure message type>text</failure>]``. One testcase per threshold,
plus one per entry that had failed requests.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadkit.exceptions import ConfigError
from loadkit.stats.hdr import PERCENTILES
from loadkit.stats.snapshot import EntryStats, RunSnapshot
from loadkit.stats.thresholds import ThresholdResult, all_passed

JSON_SCHEMA_VERSION = 1


def to_json_dict(
    snapshot: RunSnapshot, results: Sequence[ThresholdResult], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``--report-json`` document: ``run``, ``entries``, ``total``, ``thresholds`` (+ ``extra``)."""
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "run": snapshot.meta,
        "entries": [row.as_dict() for row in snapshot.entries],
        "total": snapshot.total.as_dict(),
        "thresholds": [r.as_dict() for r in results],
        "thresholds_passed": all_passed(results),
        **(extra or {}),
    }


def to_junit(
    snapshot: RunSnapshot, results: Sequence[ThresholdResult], suite_name: str = "loadkit", complete: bool = True
) -> str:
    """The ``--report-junit`` document as a string (a checkpoint's says ``loadkit.complete`` false)."""
    duration = float(snapshot.meta.get("duration_s", 0.0))
    failing_entries = [row for row in snapshot.entries if row.failures]
    suites = ET.Element("testsuites", name=suite_name)
    suite = ET.SubElement(suites, "testsuite", name=suite_name, timestamp=str(snapshot.meta.get("start_time_iso", "")))
    failures = 0
    for result in results:
        case = ET.SubElement(
            suite, "testcase", classname=f"{suite_name}.thresholds", name=result.threshold.expression, time="0"
        )
        if not result.passed:
            failures += 1
            expected = result.threshold.describe_expected()
            failure = ET.SubElement(
                case, "failure", type="ThresholdFailed", message=f"expected {expected}, got {result.describe_actual()}"
            )
            failure.text = f"{result.threshold.expression}: expected {expected}, actual {result.describe_actual()}"
    for row in failing_entries:
        failures += 1
        case = ET.SubElement(
            suite, "testcase", classname=f"{suite_name}.requests", name=row.key, time=f"{duration:.3f}"
        )
        failure = ET.SubElement(
            case,
            "failure",
            type="RequestsFailed",
            message=f"{row.failures} of {row.count} requests failed ({row.fail_ratio:.2%})",
        )
        failure.text = f"{row.key}: {row.failures} failures in {row.count} requests"
    tests = len(results) + len(failing_entries)
    for element in (suites, suite):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", "0")
        element.set("time", f"{duration:.3f}")
    suite.set("skipped", "0")
    load = snapshot.meta.get("load")
    properties = ET.Element("properties")
    if not complete:
        ET.SubElement(properties, "property", name="loadkit.complete", value="false")
    if isinstance(load, dict):
        for key in _LOAD_PROPERTIES:
            if key in load:
                ET.SubElement(properties, "property", name=f"loadkit.load.{key}", value=str(load[key]))
    if len(properties):
        suite.insert(0, properties)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def console_table(snapshot: RunSnapshot, results: Sequence[ThresholdResult]) -> str:
    """The headless summary: HDR percentiles per entry and total, then the thresholds."""
    labels = [*PERCENTILES, "max"]
    header = ["Type", "Name", "# reqs", "# fails", "req/s", *labels]
    rows = [_row_cells(row, labels) for row in (*snapshot.entries, snapshot.total)]
    lines = ["loadkit: response times in ms (HDR histogram, 3 significant digits)"]
    lines += _grid(header, rows)
    load = snapshot.meta.get("load")
    if isinstance(load, dict) and load.get("model") == "open":
        lines += ["", *open_model_lines(load)]
    if results:
        lines += ["", "loadkit: thresholds"]
        cells = [
            [
                r.threshold.expression,
                r.threshold.describe_expected(),
                r.describe_actual(),
                "pass" if r.passed else "FAIL",
            ]
            for r in results
        ]
        lines += _grid(["Threshold", "Expected", "Actual", "Result"], cells)
        lines.append("loadkit: all thresholds passed" if all_passed(results) else "loadkit: THRESHOLDS FAILED")
    return "\n".join(lines)


def verdict_line(exit_code: int, results: Sequence[ThresholdResult], failures: int) -> str:
    """The run's last line: its exit code and why (0 pass, 1 Locust's failures, 99 thresholds)."""
    failed = [r for r in results if not r.passed]
    if exit_code == 0:
        count = len(results)
        why = f"{count} of {count} thresholds passed" if results else "no thresholds set (--threshold to gate)"
        return f"loadkit: PASSED (exit 0): {why}"
    if exit_code == 99:
        return f"loadkit: FAILED (exit 99): {len(failed)} of {len(results)} thresholds failed"
    if exit_code == 1:
        return f"loadkit: FAILED (exit 1): {failures} requests failed or a user raised (Locust's --exit-code-on-error)"
    return f"loadkit: FAILED (exit {exit_code})"


_LOAD_PROPERTIES = (
    "model",
    "profile",
    "max_users",
    "target_rate",
    "achieved_rate",
    "iterations_started",
    "iterations_late",
    "iterations_dropped",
    "late_ratio",
    "max_lateness_ms",
)


def open_model_lines(load: dict[str, Any]) -> list[str]:
    """The open model's summary: targets, achieved rate, iterations started/late/dropped."""

    def rate(value: Any) -> str:
        return "-" if value is None else f"{float(value):.2f} it/s"

    return [
        f"loadkit: open model ({load.get('profile')}, pool of {load.get('max_users')} users): "
        f"target {rate(load.get('target_rate'))}, achieved {rate(load.get('achieved_rate'))} "
        f"over {float(load.get('elapsed_s') or 0):.1f} s",
        f"loadkit: iterations started {load.get('iterations_started')}, late {load.get('iterations_late')} "
        f"({float(load.get('late_ratio') or 0):.2%}), dropped {load.get('iterations_dropped')}, "
        f"max lateness {float(load.get('max_lateness_ms') or 0):.1f} ms; latencies count from intended starts "
        "(uncorrected: the '<type>-service' entries)",
    ]


#: The file name a folder given for a report is suggested to end in, by option.
_REPORT_NAMES = {"--report-json": "report.json", "--report-junit": "junit.xml", "--report-html": "report.html"}


def check_writable(path: str | os.PathLike[str], flag: str) -> None:
    """Raise ConfigError now when a report could not be written at the end of the run.

    The path must be a regular file or not exist yet — not a folder, device, FIFO or socket
    (an atomic write would replace such a node with a plain file and the report would never
    reach what it named). A symlink is followed: the report replaces the file it points to
    and the link stays. The folder must exist or be creatable, and be writable.
    """
    given = Path(path)
    target = _resolved(given)
    via = f" (a link to {target})" if target != given else ""
    kind = _node_kind(target)
    name = _REPORT_NAMES.get(flag, "report")
    if kind == "a folder":
        raise ConfigError(f"{flag} {str(path)!r}{via} is a folder: give a file path, e.g. {given / name}")
    if kind is not None:
        raise ConfigError(
            f"{flag} {str(path)!r}{via} is {kind}, not a regular file: give a file path, e.g. loadkit-reports/{name}"
        )
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(f"{flag} {str(path)!r}: {folder} is not a folder: give a path under a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {str(path)!r}: folder {folder} is not writable: give a path you can write")


def write_report(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically (parents created); returns the path written.

    The text goes to a temporary ``*.partial`` file beside the target, is flushed to disk
    (``fsync``), then replaces it, and the folder is synced too: a reader never sees half a
    report, and a machine or process that dies right after (a master killed between two
    checkpoints, :mod:`loadkit.stats.checkpoint`) leaves the previous or the new report, whole.
    A symlink is written through (its target is replaced, the link stays). On any ``OSError``
    (disk full, file too large) the partial file is removed and the error raised.
    """
    target = _resolved(Path(path))
    kind = _node_kind(target)
    if kind is not None:  # it changed since the start-up check
        raise OSError(f"{target} is {kind}, not a regular file")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    try:
        # O_EXCL: never write through someone else's file or link; 0o666 less the umask, as any new file.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)
    return target


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); a file system that cannot sync a folder is left as is."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _resolved(path: Path) -> Path:
    """``path`` with symlinks followed (a dangling link names the file it would create)."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _node_kind(path: Path) -> str | None:
    """What ``path`` is when it exists and is not a regular file ("a FIFO", ...), else None."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    kinds = [
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), None)


#: An indented JSON array holding only numbers, null, true/false (no string, array or object);
#: the newline after ``[`` is indentation (a JSON string holds none), so strings are never touched.
_SCALAR_ARRAY = re.compile(r"\[\n\s+([-+.\deEnulltrfas,\s]*?)\n\s*\]")


def dumps_json(document: dict[str, Any]) -> str:
    """Indented JSON, with each array of numbers on one line (a 1-hour timeline stays small)."""
    text = json.dumps(document, indent=2, sort_keys=False, default=str)
    return _SCALAR_ARRAY.sub(lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text) + "\n"


def _row_cells(row: EntryStats, labels: Sequence[str]) -> list[str]:
    pct = row.percentiles.as_dict()
    return [
        row.request_type,
        row.name,
        str(row.count),
        f"{row.failures}({row.fail_ratio:.2%})",
        f"{row.rps:.2f}",
        *(_ms(pct.get(label, 0.0)) for label in labels),
    ]


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 100 else f"{value:.1f}"


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    return [fmt.format(*header), rule, *(fmt.format(*row) for row in rows)]
