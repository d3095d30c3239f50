"""Open an HTML report in headless Chromium offline; print what each chart drew as JSON.

Run as its own process (``python browse_report.py REPORT.html [SCREENSHOT.png]``): sync
Playwright does not mix with the gevent-patched test process. Every request the page makes
to anything but its own file is blocked and listed, so a CDN link would show.
"""

from __future__ import annotations

import json
import sys

from playwright.sync_api import sync_playwright

# Per chart: its data as uPlot holds it, and how many canvas pixels have the first series' colour.
PROBE = """() => Object.entries(LoadkitCharts.registry).map(([id, c]) => {
  const canvas = c.plot.ctx.canvas;
  const px = c.plot.ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;  // pixels of the first series' colour (#1f77b4): its line was drawn
  for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0 && px[i] < 90 && px[i + 2] > 140 && px[i + 1] < 160) inked++;
  return {id, group: c.spec.group, title: c.spec.title, xs: c.plot.data[0].length,
          series: c.plot.data.slice(1).map(s => s.filter(v => v != null).length),
          labels: c.spec.series.map(s => s.label), bands: (c.spec.bands || []).length, inked,
          shown: c.plot.root.getBoundingClientRect().height > 100};
})"""


def main(path: str, screenshot: str | None) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            errors: list[str] = []
            outside: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith("file://")
                    else (outside.append(route.request.url), route.abort())
                ),
            )
            page.goto(f"file://{path}")
            page.wait_for_function("window.loadkitReady === true", timeout=30_000)
            charts = page.evaluate(PROBE)
            verdict = page.locator("#verdict").inner_text()
            if screenshot:
                page.screenshot(path=screenshot, full_page=True)
            print(json.dumps({"charts": charts, "errors": errors, "outside": outside, "verdict": verdict}))
        finally:
            browser.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
