// Draws the dashboard's two charts with uPlot and refreshes their data every few seconds
// (the panels are refreshed by htmx: hx-trigger="every Ns" in index.html).
(function () {
  "use strict";
  const holder = document.getElementById("throughput-chart");
  const url = holder.dataset.url;
  const refreshMs = 1000 * Number(holder.dataset.refresh || 3);
  let throughput = null;
  let stagesChart = null;

  function width(el) { return Math.max(280, el.clientWidth - 8); }

  function drawThroughput(data) {
    const series = [data.t, data.completed, data.failed];
    if (throughput) { throughput.setData(series); return; }
    throughput = new uPlot({
      width: width(holder), height: 220, legend: { live: false },
      series: [{}, { label: "completed", stroke: "#15803d", fill: "rgba(21,128,61,.12)" },
               { label: "failed", stroke: "#b91c1c", fill: "rgba(185,28,28,.12)" }],
      axes: [{}, { label: "jobs / min" }],
      scales: { y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    }, series, holder);
  }

  function drawStages(stages) {
    const el = document.getElementById("stages-chart");
    const x = stages.map((_, i) => i);
    const series = [x, stages.map(s => s.p50_ms), stages.map(s => s.p95_ms)];
    if (stagesChart) { stagesChart.setData(series); return; }
    const bars = (align) => uPlot.paths.bars({ size: [0.3, 40], align: align });
    stagesChart = new uPlot({
      width: width(el), height: 220,
      scales: { x: { time: false, range: [-0.5, stages.length - 0.5] },
                y: { range: (u, min, max) => [0, Math.max(1, max)] } },
      legend: { live: false },
      series: [{}, { label: "p50", stroke: "#2563eb", fill: "rgba(37,99,235,.6)", paths: bars(-1),
                     points: { show: false } },
               { label: "p95", stroke: "#f59e0b", fill: "rgba(245,158,11,.6)", paths: bars(1),
                 points: { show: false } }],
      axes: [{ splits: () => x, values: (u, splits) => splits.map(i => stages[i] ? stages[i].stage : "") },
             { label: "ms" }],
    }, series, el);
  }

  async function refresh() {
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(response.status);
      const data = await response.json();
      drawThroughput(data.throughput);
      drawStages(data.stages);
      document.getElementById("updated").textContent =
        "updated " + new Date(data.generated_at).toLocaleTimeString();
    } catch (error) {
      document.getElementById("updated").textContent = "refresh failed: " + error;
    }
  }

  refresh();
  setInterval(refresh, refreshMs);
})();
