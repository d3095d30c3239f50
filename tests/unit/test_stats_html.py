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
