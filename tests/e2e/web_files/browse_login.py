"""Log in to the web UI in headless Chromium and read every extension tab; print JSON.

Run as its own process (``python browse_login.py URL USER PASSWORD``): sync Playwright does
not mix with the gevent-patched test process. URL is the UI's root (with its base path).
"""

from __future__ import annotations

import json
import sys
import time

from playwright.sync_api import Page, sync_playwright


def rows(page: Page) -> list[list[str]]:
    cells = page.locator("table tbody tr").evaluate_all(
        "trs => trs.map(tr => Array.from(tr.querySelectorAll('td')).map(td => td.innerText.trim()))"
    )
    return [list(r) for r in cells]


def tab_rows(page: Page, title: str, want: str, deadline: float) -> list[list[str]]:
    page.get_by_role("tab", name=title).click()
    seen: list[list[str]] = []
    while time.monotonic() < deadline:
        seen = rows(page)
        if any(want in cell for row in seen for cell in row):
            break
        time.sleep(0.3)
    return seen


def main(url: str, user: str, password: str) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_context(ignore_https_errors=True).new_page()
            page.goto(url, wait_until="networkidle", timeout=60_000)
            login_url = page.url
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", "wrong")
            page.locator("button[type=submit]").first.click()
            page.wait_for_url("**/login", timeout=30_000)
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", password)
            page.locator("button[type=submit]").first.click()
            page.wait_for_selector("role=tab[name='Fleet']", timeout=60_000)
            deadline = time.monotonic() + 60
            result = {
                "login_url": login_url,
                "after_login_url": page.url,
                "fleet": tab_rows(page, "Fleet", "local", deadline),
                "latency": tab_rows(page, "Latency (HDR)", "web probe", deadline),
                "content": tab_rows(page, "Content", "extension row", deadline),
            }
            # The page's own POST (Origin: the UI itself) passes the origin check: stop the run.
            page.get_by_role("button", name="Stop").click()
            state = ""
            while time.monotonic() < deadline and state != "stopped":
                time.sleep(0.3)
                state = page.evaluate("fetch('stats/requests').then(r => r.json()).then(b => b.state)")
            result["state_after_stop"] = state
            print(json.dumps(result))
        finally:
            browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
