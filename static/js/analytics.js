// Draws the analytics charts from the JSON the page embeds with json_script (CSP: no inline
// scripts). The page works without this file: the numbers are in the cards and tables.
(function () {
  "use strict";

  var PALETTE = ["#3559e0", "#12b76a", "#f79009", "#7a5af8", "#ee46bc", "#06aed4", "#84cc16", "#e04f16"];
  // Labels that mean the same thing on every router keep one colour, so a glance is enough.
  var FIXED = {
    "Primary (no rule matched)": "#475467",
    "Manual override": "#f04438",
    "(no answer)": "#f04438",
    "Other": "#d0d5dd",
  };

  function hexToRgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + ", " + ((n >> 8) & 255) + ", " + (n & 255) + ", " + alpha + ")";
  }

  // Rules take palette colours in order; "Sticky: <rule>" is a paler shade of its rule's colour.
  function colours(labels) {
    var out = {}, next = 0;
    labels.forEach(function (label) {
      if (FIXED[label]) out[label] = FIXED[label];
      else if (label.indexOf("Sticky: ") !== 0) out[label] = PALETTE[next++ % PALETTE.length];
    });
    labels.forEach(function (label) {
      if (out[label]) return;
      var rule = out[label.slice(8)];
      out[label] = rule ? hexToRgba(rule, 0.45) : PALETTE[next++ % PALETTE.length];
    });
    return out;
  }

  function shortDay(iso) {
    var d = new Date(iso + "T00:00:00");
    return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  }

  function money(v) {
    var digits = v === 0 || Math.abs(v) >= 1 ? 2 : Math.abs(v) >= 0.01 ? 4 : 6;
    return "$" + v.toFixed(digits);
  }

  // Axis labels get as many decimals as the step between ticks needs, so neighbouring ticks
  // never read the same ("$0.01, $0.01, $0.02" for a step of $0.005).
  function decimalsFor(step) {
    for (var d = 0; d < 10; d++) {
      var scaled = step * Math.pow(10, d);
      if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, scaled)) return d;
    }
    return 10;
  }

  function axisMoney(v, index, ticks) {
    if (v === 0) return "$0";
    var step = ticks && ticks.length > 1 ? Math.abs(ticks[1].value - ticks[0].value) : Math.abs(v);
    return "$" + v.toFixed(Math.max(2, decimalsFor(step)));
  }

  function base(labels) {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12, usePointStyle: true, pointStyle: "rectRounded" } },
        tooltip: { callbacks: { title: function (items) { return items.length ? labels[items[0].dataIndex] : ""; } } },
      },
      scales: {
        x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 12 } },
        y: { beginAtZero: true, grid: { color: "#eef0f3" } },
      },
    };
  }

  function stacked(id, series, days) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    var labels = days.map(shortDay);
    var palette = colours(series.map(function (s) { return s.label; }));
    var options = base(labels);
    options.scales.x.stacked = true;
    options.scales.y.stacked = true;
    options.scales.y.ticks = { precision: 0 };
    options.plugins.tooltip.filter = function (item) { return item.raw !== 0; };
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: labels,
        datasets: series.map(function (s) {
          return { label: s.label, data: s.values, backgroundColor: palette[s.label], borderRadius: 2, maxBarThickness: 36 };
        }),
      },
      options: options,
    });
  }

  function cost(id, data, days) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    var labels = days.map(shortDay);
    var options = base(labels);
    options.scales.y.ticks = { callback: axisMoney };
    options.plugins.tooltip.callbacks.label = function (item) {
      var daily = item.datasetIndex === 0 ? data.daily_actual : data.daily_primary;
      return item.dataset.label + ": " + money(item.raw) + " (that day " + money(daily[item.dataIndex]) + ")";
    };
    new Chart(canvas, {
      type: "line",
      data: {
        labels: labels,
        datasets: [
          { label: "Actual cost", data: data.actual, borderColor: "#3559e0", backgroundColor: "rgba(53, 89, 224, .12)", fill: "origin", tension: 0.2, pointRadius: 0, borderWidth: 2 },
          { label: "Primary model only", data: data.primary, borderColor: "#98a2b3", borderDash: [6, 4], fill: false, tension: 0.2, pointRadius: 0, borderWidth: 2 },
        ],
      },
      options: options,
    });
  }

  function draw() {
    var el = document.getElementById("analytics-data");
    if (!el || typeof Chart === "undefined") return;
    var data = JSON.parse(el.textContent);
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#667085";
    stacked("chart-rules", data.rules, data.days);
    stacked("chart-models", data.models, data.days);
    cost("chart-cost", data.cost, data.days);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
