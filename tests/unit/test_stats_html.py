"""The HTML report page around the charts (pure): self-contained, escaped, its verdict line."""

from __future__ import annotations

import json
import re

from loadkit.stats.charts import charts
from loadkit.stats.html import script_json, to_html, verdict
from tests.support.report_doc import DOC


def test_page_is_self_contained_and_escapes_run_strings() -> None:
    page = to_html(DOC)
    assert "<b>x" not in page and "&lt;/script&gt;&lt;b&gt;x" in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)  # nothing fetched from a network
    assert "uPlot" in page and "LoadkitCharts" in page
    data = page.split('id="loadkit-charts-data" type="application/json">')[1].split("</script>")[0]
    assert [c["id"] for c in json.loads(data)] == [c["id"] for c in charts(DOC)]
    assert 'id="no-open-model"' in page
    assert "<td>Users</td>" in page and "<td>Model</td>" not in page


def test_an_open_model_page_names_its_profile_and_pool_not_a_user_count() -> None:
    load = {"model": "open", "profile": "constant 50 it/s", "max_users": 20}
    page = to_html({**DOC, "run": {**DOC["run"], "user_count": 0, "load": load}})
    assert "open: constant 50 it/s, pool of up to 20 users" in page and "<td>Users</td>" not in page


def test_script_json_cannot_close_its_script() -> None:
    assert "</" not in script_json({"name": "</script><script>alert(1)</script>"})


def test_verdict_follows_thresholds_then_failures() -> None:
    assert verdict(DOC) == (False, "FAIL: 1 requests failed (thresholds passed)")
    assert verdict({**DOC, "total": {"failures": 0}})[0] is True
    failing = {**DOC, "thresholds": [{"passed": False}, {"passed": True}]}
    assert verdict(failing) == (False, "FAIL: 1 of 2 thresholds failed")


def test_exemplars_are_a_table_per_entry_with_escaped_strings() -> None:
    row = {"trace_id": "ab" * 16, "latency_ms": 1234.5, "time": 0.0, "worker": "w<1>", "error": "<b>boom</b>"}
    section = {"GET /a<script>": {"slowest": [row], "bands": [{"range": "[1 ms, 4 ms)", "exemplars": [row]}]}}
    page = to_html({**DOC, "exemplars": section})
    assert "Slowest requests (exemplars)" in page and page.count("ab" * 16) == 2
    assert "<b>boom</b>" not in page and "&lt;b&gt;boom&lt;/b&gt;" in page and "GET /a&lt;script&gt;" in page
    assert "1,234.500" in page and "00:00:00.000" in page and "[1 ms, 4 ms)" in page
    assert "Slowest requests" not in to_html(DOC)  # no trace ids, no section
