"""Watch the web UI's "HDR charts" tab in headless Chromium while a run goes on; print what it drew.

Run as its own process (``python browse_charts_tab.py URL [SCREENSHOT.png]``). After the first
picture it watches the tab redraw (up to 20 s) until the rates chart has more points: workers
report every 3 s, so a redraw may bring nothing new.
"""

from __future__ import annotations

import json
import sys
import time

from playwright.sync_api import sync_playwright

PROBE = """() => Object.entries(LoadkitCharts.registry).map(([id, c]) => ({
  id, group: c.spec.group, points: c.plot.data.slice(1).reduce((n, s) => n + s.filter(v => v != null).length, 0),
  shown: document.body.contains(c.plot.root) && c.plot.root.getBoundingClientRect().height > 100}))"""


def _rate_points(charts: list[dict]) -> int:
    return sum(c["points"] for c in charts if c["id"] == "rates")


def main(url: str, screenshot: str | None) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url, wait_until="networkidle", timeout=60_000)
            page.get_by_role("tab", name="HDR charts", exact=True).click()
            page.wait_for_function("(window.loadkitChartsRefreshes || 0) >= 1", timeout=30_000)
            first = page.evaluate(PROBE)
            start = page.evaluate("window.loadkitChartsRefreshes")
            later, deadline = first, time.monotonic() + 20
            while time.monotonic() < deadline and _rate_points(later) <= _rate_points(first):
                time.sleep(0.5)
                later = page.evaluate(PROBE)
            refreshes = page.evaluate("window.loadkitChartsRefreshes") - start
            if screenshot:
                page.screenshot(path=screenshot, full_page=True)
            print(json.dumps({"first": first, "later": later, "refreshes": refreshes, "errors": errors}))
        finally:
            browser.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
