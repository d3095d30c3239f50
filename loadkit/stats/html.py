"""The ``--report-html`` file: one self-contained page with the run's verdict and pictures.

A thin template (``assets/report.html``) filled with tables rendered here and the chart
specs of :mod:`loadkit.stats.charts`, drawn in the browser by ``assets/charts.js`` with
uPlot (vendored in ``assets/``, MIT, ``assets/LICENSE-uPlot``). Everything is inlined — no
CDN, no network — so the file opens offline, from a CI artifact or an e-mail.

Every string from the run (entry names, hosts, threshold expressions) is escaped, and the
chart JSON sits in a ``<script type="application/json">`` with ``<``, ``>`` and ``&``
escaped, so a request name cannot end the script.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from html import escape
from importlib import resources
from typing import Any

from loadkit.stats.charts import charts

#: Chart groups in page order, with their headings and a line on how to read them.
GROUPS = (
    (
        "distribution",
        "Latency by percentile",
        "HdrHistogram's plot: x is 1/(1-percentile) on a log axis, "
        "so each decade (90 %, 99 %, 99.9 %) gets the same room; from the merged HDR histograms.",
    ),
    (
        "latency",
        "Latency over time",
        "p50/p90/p99/max per interval, exact (HDR histograms per interval, "
        "merged across workers); intervals widen in long runs.",
    ),
    ("rates", "Requests and failures", "Per second, per interval, all workers."),
    (
        "health",
        "Worker health",
        "CPU and gevent loop lag per worker; shaded where a worker saturated (its response times are inflated).",
    ),
    ("open", "Open model", "Target vs achieved arrival rate; iterations started late or dropped."),
)


@cache
def _asset(name: str) -> str:
    return resources.files("loadkit.stats").joinpath("assets", name).read_text(encoding="utf-8")


def asset(name: str) -> str:
    """A bundled asset's text (``charts.js``, ``uPlot.iife.min.js``, ``uPlot.min.css``)."""
    return _asset(name)


def script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element."""
    text = json.dumps(value, separators=(",", ":"), default=str)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def to_html(document: Mapping[str, Any]) -> str:
    """The whole page for a ``--report-json`` document (with its ``timeline``/``distribution``)."""
    specs = charts(document)
    run = document.get("run") or {}
    parts = {
        "title": escape(f"loadkit report {run.get('start_time_iso', '')}"),
        "uplot_css": asset("uPlot.min.css"),
        "uplot_js": asset("uPlot.iife.min.js"),
        "charts_js": asset("charts.js"),
        "data": script_json(specs),
        "body": _body(document, {spec["group"] for spec in specs}),
    }
    return re.sub(r"<!--loadkit:(\w+)-->", lambda m: parts[m.group(1)], asset("report.html"))


def verdict(document: Mapping[str, Any]) -> tuple[bool, str]:
    """``(passed, line)``: thresholds and failed requests, as the exit code decides."""
    thresholds = document.get("thresholds") or []
    failed = [t for t in thresholds if t.get("passed") is False]
    failures = int((document.get("total") or {}).get("failures", 0))
    if failed:
        return False, f"FAIL: {len(failed)} of {len(thresholds)} thresholds failed"
    if failures:
        return False, f"FAIL: {failures} requests failed" + (" (thresholds passed)" if thresholds else "")
    return True, f"PASS: {len(thresholds)} thresholds passed, no request failed" if thresholds else "PASS"


def _body(document: Mapping[str, Any], groups: set[str]) -> str:
    run = document.get("run") or {}
    passed, line = verdict(document)
    html = [
        "<h1>loadkit report</h1>",
        f'<p><span class="verdict {"pass" if passed else "fail"}" id="verdict">{escape(line)}</span></p>',
        _partial(document),
        _meta(run, document),
        _thresholds(document.get("thresholds") or []),
        _entries([*(document.get("entries") or []), document.get("total") or {}]),
    ]
    for group, title, note in GROUPS:
        if group in groups:
            html.append(f'<h2>{escape(title)}</h2><p class="note">{escape(note)}</p>')
            html.append(f'<div data-chart-group="{group}"></div>')
    if "open" not in groups:
        html.append('<p class="note" id="no-open-model">No open-model data in this run.</p>')
    html.append(_exemplars(document.get("exemplars") or {}))
    return "\n".join(html)


def _exemplars(section: Mapping[str, Any]) -> str:
    """Per entry: its slowest requests and a few per latency band, by trace id (:mod:`loadkit.stats.exemplars`)."""
    if not section:
        return ""
    head = "<tr><th>trace id</th><th>latency ms</th><th>time (UTC)</th><th>worker</th><th>error</th></tr>"

    def rows(exemplars: Sequence[Mapping[str, Any]], band: str = "") -> str:
        cells = []
        for e in exemplars:
            when = datetime.fromtimestamp(float(e.get("time") or 0), UTC).strftime("%H:%M:%S.%f")[:-3]
            cells.append(
                f"<tr><td><code>{escape(str(e.get('trace_id')))}</code>{escape(band)}</td>"
                f"<td>{float(e.get('latency_ms') or 0):,.3f}</td><td>{when}</td>"
                f"<td>{escape(str(e.get('worker') or ''))}</td><td>{escape(str(e.get('error') or ''))}</td></tr>"
            )
        return "".join(cells)

    html = [
        "<h2>Slowest requests (exemplars)</h2>",
        '<p class="note">Per entry, the slowest requests and a few per latency band, by the trace id each carried '
        "(W3C traceparent): look them up in your tracing backend.</p>",
    ]
    for entry, sets in section.items():
        bands = "".join(rows(b.get("exemplars") or [], f" · {b.get('range')}") for b in sets.get("bands") or [])
        html.append(
            f'<h3>{escape(entry)}</h3><table class="exemplars" data-entry="{escape(entry)}">{head}'
            f"{rows(sets.get('slowest') or [])}</table>"
            f'<details><summary>by latency band</summary><table class="exemplars">{head}{bands}</table></details>'
        )
    return "\n".join(html)


def _partial(document: Mapping[str, Any]) -> str:
    """A checkpoint's line (:mod:`loadkit.stats.checkpoint`): the run was still going."""
    if document.get("complete", True) is not False:
        return ""
    covered = document.get("covered") or {}
    text = f"Partial report (checkpoint): covers {covered.get('from')} to {covered.get('to')}; the run was still going."
    return f'<p class="note" id="partial">{escape(text)}</p>'


def _meta(run: Mapping[str, Any], document: Mapping[str, Any]) -> str:
    late = (document.get("timeline") or {}).get("late")
    rows = [
        ("Started", run.get("start_time_iso")),
        ("Duration", f"{float(run.get('duration_s') or 0):.1f} s"),
        ("Host", run.get("host")),
        ("Runner", run.get("runner")),
        ("Workers", run.get("workers")),
        _users_row(run),
        ("Aborted", run.get("abort_reason") or "no"),
        ("loadkit", run.get("loadkit_version")),
    ]
    if late:
        rows.append(("Late worker deltas", f"{late} (counted; their slot's percentiles were already settled)"))
    cells = "".join(f'<tr><td>{escape(k)}</td><td class="text">{escape(str(v))}</td></tr>' for k, v in rows)
    return f'<table class="meta">{cells}</table>'


def _users_row(run: Mapping[str, Any]) -> tuple[str, Any]:
    """Closed model: Locust's user count; open model: the profile and pool (its user count is 0)."""
    load = run.get("load") or {}
    if load.get("model") == "open":
        return ("Model", f"open: {load.get('profile')}, pool of up to {load.get('max_users')} users")
    return ("Users", run.get("user_count"))


def _thresholds(results: Sequence[Mapping[str, Any]]) -> str:
    if not results:
        return '<p class="note">No thresholds.</p>'
    rows = []
    for r in results:
        status = {True: "pass", False: "FAIL", None: "pending"}[r.get("passed")]
        actual = r.get("actual")
        cells = [r.get("expression"), f"{r.get('op')} {r.get('expected')} {r.get('unit') or ''}", actual, status]
        css = ' class="fail"' if r.get("passed") is False else ""
        rows.append(f"<tr{css}>" + "".join(f'<td class="text">{escape(str(c))}</td>' for c in cells) + "</tr>")
    head = "<tr><th>Threshold</th><th>Expected</th><th>Actual</th><th>Result</th></tr>"
    return f'<h2>Thresholds</h2><table id="thresholds">{head}{"".join(rows)}</table>'


def _entries(rows: Sequence[Mapping[str, Any]]) -> str:
    labels = ["p50", "p90", "p95", "p99", "p99.9", "max"]
    head = "<tr><th>Entry</th><th># reqs</th><th># fails</th><th>req/s</th>" + "".join(
        f"<th>{label} ms</th>" for label in labels
    )
    body = []
    for row in rows:
        if not row:
            continue
        pct = row.get("percentiles_ms") or {}
        cells = [
            f'<td class="text">{escape(str(row.get("key", "")))}</td>',
            f"<td>{int(row.get('count', 0))}</td>",
            f"<td>{int(row.get('failures', 0))}</td>",
            f"<td>{float(row.get('rps', 0.0)):.1f}</td>",
            *(f"<td>{float(pct.get(label, 0.0)):.3f}</td>" for label in labels),
        ]
        css = ' class="fail"' if row.get("failures") else ""
        body.append(f"<tr{css}>{''.join(cells)}</tr>")
    return f'<h2>Requests (HDR percentiles)</h2><table id="entries">{head}</tr>{"".join(body)}</table>'
