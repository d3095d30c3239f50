/* loadkit's "HDR charts" tab in Locust's web UI: draws /loadkit/charts with charts.js, every 2 s.
   Locust's UI renders a tab as a table; this finds the tab's (empty) table by its one column
   title and puts the charts in its place while the tab is shown. */
(function () {
  "use strict";
  var KEY = "loadkit-charts";
  var MARKER = "loadkit HDR charts";  // web_charts.ANCHOR_TITLE
  var TITLES = { distribution: "Latency by percentile", latency: "Latency over time", rates: "Requests and failures",
                 health: "Worker health (shaded: a worker saturated)", open: "Open model" };
  var root = null, busy = false;

  function pageDir() { return location.href.split(/[?#]/)[0].replace(/[^/]*$/, ""); }

  function anchorTable() {
    var cells = document.querySelectorAll("th");
    for (var i = 0; i < cells.length; i++) {
      if (cells[i].textContent.trim() === MARKER) return cells[i].closest("table");
    }
    return null;
  }

  function groupRoot(group) {
    var box = root.querySelector('[data-chart-group="' + group + '"]');
    if (!box) {
      var h = document.createElement("h3");
      h.textContent = TITLES[group] || group;
      h.style.margin = "1em 0 .3em";
      box = document.createElement("div");
      box.setAttribute("data-chart-group", group);
      box.style.display = "grid";
      box.style.gridTemplateColumns = "repeat(auto-fill, minmax(520px, 1fr))";
      box.style.gap = "0 1em";
      root.appendChild(h);
      root.appendChild(box);
    }
    return box;
  }

  function refresh() {
    if (busy) return;
    var table = anchorTable();
    if (!table) return;  // another tab is shown
    table.style.display = "none";
    if (!root || !document.body.contains(root)) {
      root = document.createElement("div");
      root.id = "loadkit-charts";
      root.style.padding = "0 1em 2em";
      table.parentNode.insertBefore(root, table.nextSibling);
    }
    busy = true;
    fetch(pageDir() + "loadkit/charts", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (body) {
        var groups = {};
        body.charts.forEach(function (c) { (groups[c.group] = groups[c.group] || []).push(c); });
        Object.keys(groups).forEach(function (g) { LoadkitCharts.render(groupRoot(g), groups[g]); });
        root.setAttribute("data-refreshed", String(Date.now()));
        window.loadkitChartsRefreshes = (window.loadkitChartsRefreshes || 0) + 1;
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }

  setInterval(refresh, 2000);
  document.addEventListener("click", function () { setTimeout(refresh, 300); });
})();
