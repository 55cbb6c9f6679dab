// Draws every <canvas data-chart="..."> from the JSON block named by data-chart-source, on page load and
// whenever HTMX swaps new content in (filters re-render the block with fresh data).
(function () {
  var palette = ["#4f46e5", "#0d9488", "#db2777", "#ca8a04", "#2563eb", "#7c3aed", "#dc2626", "#059669"];

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chartSource);
    if (!source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    var existing = Chart.getChart(canvas);
    if (existing) existing.destroy();
    new Chart(canvas, {
      type: canvas.dataset.chart,
      data: {
        labels: data.labels,
        datasets: [{
          label: canvas.dataset.chartLabel || "",
          data: data.values,
          backgroundColor: canvas.dataset.chart === "bar" ? palette[0] : palette,
          borderRadius: 4
        }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: canvas.dataset.chart !== "bar" } },
        scales: canvas.dataset.chart === "bar" ? { x: { ticks: { autoSkip: false, maxRotation: 45 } } } : {}
      }
    });
  }

  function drawAll(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.detail.elt); });
})();
