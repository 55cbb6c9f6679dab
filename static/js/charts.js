// Draws every <canvas data-chart> from the JSON block named by its data-chart-source: a chart spec made by
// boxoffice/services/reports_figures.py (Chart.spec). Runs on page load and whenever HTMX swaps new content
// in (the dashboard filters re-render the charts with fresh figures). Works from a file:// page too: the
// downloaded dashboard carries this script and Chart.js inside it.
(function () {
  var PALETTE = ["#4f46e5", "#0d9488", "#db2777", "#f59e0b", "#2563eb", "#7c3aed", "#dc2626", "#059669"];
  var INK = "#4a4f6a";
  var GRID = "#e3e5ef";

  function formatter(format) {
    if (format === "money") {
      return function (value) {
        return "€" + Number(value).toLocaleString("en-GB", { minimumFractionDigits: 0, maximumFractionDigits: 0 });
      };
    }
    if (format === "percent") {
      return function (value) { return Number(value).toLocaleString("en-GB", { maximumFractionDigits: 1 }) + " %"; };
    }
    return function (value) { return Number(value).toLocaleString("en-GB", { maximumFractionDigits: 0 }); };
  }

  function exact(format) {
    if (format === "money") {
      return function (value) {
        return "€" + Number(value).toLocaleString("en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      };
    }
    return formatter(format);
  }

  // Long names (event titles) are cut to fit, more on a narrow chart; the tooltip has them whole.
  function shortLabel(label, chartWidth) {
    var room = chartWidth < 480 ? 16 : 28;
    label = String(label);
    return label.length > room ? label.slice(0, room - 1) + "…" : label;
  }

  // Every axis says what it measures and in which unit ("Net revenue (€)"), in the ticks' colour.
  function axisTitle(text) {
    return { display: Boolean(text), text: text || "", color: INK, font: { weight: "600" } };
  }

  function config(spec) {
    var doughnut = spec.kind === "doughnut";
    var valueAxis = spec.horizontal ? "x" : "y";
    var categoryAxis = spec.horizontal ? "y" : "x";
    var hasLine = spec.datasets.some(function (d) { return d.lineFormat; });

    var datasets = spec.datasets.map(function (d, index) {
      var colour = d.color || PALETTE[index % PALETTE.length];
      if (doughnut) {
        return { label: d.label, data: d.data, backgroundColor: spec.colors.length ? spec.colors : PALETTE,
                 borderColor: "#fff", borderWidth: 2, format: spec.format };
      }
      if (d.lineFormat) {
        return { type: "line", label: d.label, data: d.data, borderColor: colour, backgroundColor: colour,
                 borderWidth: 2, pointRadius: 3, tension: 0.25, yAxisID: "growth", order: 0, format: d.lineFormat };
      }
      var dataset = { label: d.label, data: d.data, backgroundColor: colour, borderRadius: 4, maxBarThickness: 44,
                      order: 1, format: spec.format };
      dataset[valueAxis + "AxisID"] = valueAxis;
      return dataset;
    });

    var scales = {};
    if (!doughnut) {
      scales[valueAxis] = {
        beginAtZero: true, stacked: spec.stacked, grid: { color: GRID },
        title: axisTitle(spec.valueTitle),
        ticks: { color: INK, maxRotation: 0, callback: formatter(spec.format) }
      };
      scales[categoryAxis] = {
        stacked: spec.stacked, grid: { display: false },
        title: axisTitle(spec.categoryTitle),
        ticks: {
          color: INK, autoSkip: !spec.horizontal, maxRotation: 50,
          callback: function (value) { return shortLabel(this.getLabelForValue(value), this.chart.width); }
        }
      };
      if (hasLine) {
        scales.growth = {
          position: "right", grid: { drawOnChartArea: false },
          title: axisTitle(spec.lineTitle),
          ticks: { color: INK, callback: formatter("percent") }
        };
      }
    }

    return {
      type: doughnut ? "doughnut" : "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        indexAxis: spec.horizontal ? "y" : "x",
        cutout: doughnut ? "58%" : undefined,
        scales: scales,
        plugins: {
          legend: {
            display: doughnut || datasets.length > 1, position: "bottom",
            labels: {
              color: INK, boxWidth: 12, boxHeight: 12, usePointStyle: true,
              sort: function (a, b) { return a.datasetIndex - b.datasetIndex; }
            }
          },
          tooltip: {
            callbacks: {
              label: function (item) {
                var value = item.raw === null ? "–" : exact(item.dataset.format)(item.raw);
                return " " + (doughnut ? item.label : item.dataset.label) + ": " + value;
              }
            }
          }
        }
      }
    };
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chartSource);
    if (!source || typeof Chart === "undefined") return;
    var existing = Chart.getChart(canvas);
    if (existing) existing.destroy();
    new Chart(canvas, config(JSON.parse(source.textContent)));
  }

  function drawAll(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  if (typeof Chart !== "undefined") {
    Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
  }
  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.detail.elt); });
})();
