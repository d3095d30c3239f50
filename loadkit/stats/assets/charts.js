/* loadkit charts: draws the chart specs of loadkit/stats/charts.py with uPlot (vendored, MIT).
   The same file serves the HTML report (inlined) and the web UI's Charts tab (fetched). */
(function () {
  "use strict";
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  var PCT_LABEL = function (x) {
    // x = 1/(1-p): 1 -> 0%, 10 -> 90%, 100 -> 99%, 1000 -> 99.9% ...
    if (x <= 1) return "0%";
    var p = 100 * (1 - 1 / x);
    var digits = Math.max(0, Math.round(Math.log10(x)) - 2);
    return p.toFixed(digits) + "%";
  };
  var registry = {};

  function decadeSplits(u, axisIdx, min, max) {
    var out = [];
    for (var v = 1; v <= max * 1.0001; v *= 10) if (v >= min / 1.0001) out.push(v);
    return out;
  }

  function options(spec, width) {
    var logX = spec.x.kind === "log-percentile";
    var series = [{ label: spec.x.label, value: logX ? function (u, v) { return v == null ? "" : PCT_LABEL(v); } : undefined }];
    spec.series.forEach(function (s, i) {
      series.push({
        label: s.label,
        stroke: s.dash ? "#999" : PALETTE[i % PALETTE.length],
        width: s.dash ? 1 : 1.5,
        dash: s.dash ? [6, 4] : undefined,
        spanGaps: spec.group === "health",  // workers sample at their own instants: join each one's points
        points: { show: spec.xs.length < 60 },
      });
    });
    var xAxis = { label: spec.x.label };
    if (logX) {
      xAxis.splits = decadeSplits;
      xAxis.values = function (u, vals) { return vals.map(PCT_LABEL); };
    }
    return {
      width: width,
      height: 240,
      series: series,
      scales: { x: logX ? { time: false, distr: 3, log: 10 } : { time: spec.x.kind === "time" } },
      axes: [xAxis, { label: spec.y.label, size: 60 }],
      legend: { live: true },
      hooks: { drawClear: [function (u) { drawBands(u, spec.bands || []); }] },
    };
  }

  function drawBands(u, bands) {
    var ctx = u.ctx;
    ctx.save();
    ctx.fillStyle = "rgba(214, 39, 40, 0.15)";
    bands.forEach(function (b) {
      var x0 = u.valToPos(b[0], "x", true), x1 = u.valToPos(b[1], "x", true);
      if (x1 - x0 < 2) { x0 -= 1; x1 += 1; }
      ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
    });
    ctx.restore();
  }

  function data(spec) {
    return [spec.xs].concat(spec.series.map(function (s) { return s.values; }));
  }

  function points(spec) {
    var n = 0;
    spec.series.forEach(function (s) { if (!s.dash) s.values.forEach(function (v) { if (v != null) n++; }); });
    return n;
  }

  /* Draw (or update in place) every chart of `specs` inside `root`; charts no longer present are removed. */
  function render(root, specs) {
    var seen = {};
    specs.forEach(function (spec) {
      seen[spec.id] = true;
      var box = root.querySelector('[data-chart-id="' + spec.id + '"]');
      var entry = registry[spec.id];
      if (entry && entry.root === root && box && entry.nseries === spec.series.length) {
        entry.plot.setData(data(spec));
        entry.spec = spec;
      } else {
        if (entry) entry.plot.destroy();
        if (!box) {
          box = document.createElement("figure");
          box.className = "loadkit-chart loadkit-chart-" + spec.group;
          box.setAttribute("data-chart-id", spec.id);
          var caption = document.createElement("figcaption");
          caption.textContent = spec.title;
          box.appendChild(caption);
          root.appendChild(box);
        }
        var width = Math.max(320, Math.min(box.clientWidth || root.clientWidth || 800, 1100) - 10);
        var plot = new uPlot(options(spec, width), data(spec), box);
        registry[spec.id] = { plot: plot, spec: spec, root: root, nseries: spec.series.length };
      }
      box.setAttribute("data-points", String(points(spec)));
      box.setAttribute("data-group", spec.group);
    });
    Object.keys(registry).forEach(function (id) {
      if (registry[id].root === root && !seen[id]) {
        registry[id].plot.destroy();
        var old = root.querySelector('[data-chart-id="' + id + '"]');
        if (old) old.remove();
        delete registry[id];
      }
    });
  }

  window.LoadkitCharts = { render: render, registry: registry };
})();
