"""Drive the Fleet tab in headless Chromium; print what it shows as JSON.

Run as its own process (``python browse_fleet.py URL``): sync Playwright does not mix with
the gevent-patched test process.
"""

from __future__ import annotations

import json
import sys
import time

from playwright.sync_api import sync_playwright


def rows(page: object) -> list[list[str]]:
    cells = page.locator("table tbody tr").evaluate_all(  # type: ignore[attr-defined]
        "trs => trs.map(tr => Array.from(tr.querySelectorAll('td')).map(td => td.innerText.trim()))"
    )
    return [list(r) for r in cells]


def main(url: str) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(url, wait_until="networkidle", timeout=60_000)
            page.get_by_role("tab", name="Fleet").click()
            headers = page.locator("table thead th").all_inner_texts()
            deadline = time.monotonic() + 60
            first: list[list[str]] = []
            while time.monotonic() < deadline:
                first = rows(page)
                if sum(1 for r in first if "worker" in r) == 3 and any("agent" in r for r in first):
                    break
                time.sleep(0.5)
            later = first
            while time.monotonic() < deadline:  # the tab must refresh by itself
                time.sleep(1)
                later = rows(page)
                if later != first:
                    break
            page.get_by_role("tab", name="Latency (HDR)").click()
            latency: list[list[str]] = []
            while time.monotonic() < deadline and not any("probe row" in r for r in latency):
                time.sleep(0.5)
                latency = rows(page)
            print(json.dumps({"headers": headers, "first": first, "later": later, "latency": latency}))
        finally:
            browser.close()


if __name__ == "__main__":
    main(sys.argv[1])
