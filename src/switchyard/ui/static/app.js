// Switchyard dashboard: the overview's charts, cards and tops, refreshed every REFRESH_MS.
"use strict";
(function () {
  const REFRESH_MS = 10000;
  const root = document.getElementById("overview");
  if (!root) return;
  const range = root.dataset.range;
  const charts = {};
  const CHARTS = {
    rps: [["requests/s", "rps", "#3b82f6"]],
    errors: [["error rate", "error_rate", "#ef4444"]],
    latency: [["p50", "p50", "#10b981"], ["p95", "p95", "#f59e0b"]],
    ttfb: [["p50", "ttfb_p50", "#10b981"], ["p95", "ttfb_p95", "#f59e0b"]],
    tokens: [["input", "input_tokens", "#6366f1"], ["output", "output_tokens", "#ec4899"]],
    cost: [["USD", "cost", "#14b8a6"]],
  };
  const fmt = {
    requests: (v) => v.toLocaleString(),
    rps: (v) => v.toFixed(3),
    error_rate: (v) => (v === null ? "-" : (100 * v).toFixed(1) + " %"),
    p50: ms, p95: ms, ttfb_p95: ms,
    tokens: (v) => v.toLocaleString(),
    cost: (v) => "$" + v.toFixed(4),
  };
  function ms(v) { return v === null ? "-" : Math.round(v) + " ms"; }

  function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }

  function draw(data) {
    for (const [name, f] of Object.entries(fmt)) {
      document.getElementById("total-" + name).textContent = f(data.totals[name]);
    }
    for (const [name, lines] of Object.entries(CHARTS)) {
      const series = [data.times, ...lines.map(([, key]) => data.series[key])];
      const el = document.getElementById("chart-" + name);
      if (charts[name]) { charts[name].setData(series); continue; }
      const opts = {
        width: Math.max(el.clientWidth, 320), height: 180,
        series: [{}, ...lines.map(([label, , stroke]) => ({ label, stroke, width: 2, spanGaps: true, points: { show: true, size: 4 } }))],
        axes: [{}, { size: 60 }],
      };
      charts[name] = new uPlot(opts, series, el);
    }
    for (const [name, rows] of Object.entries(data.top)) {
      const body = document.querySelector("#top-" + name + " tbody");
      body.replaceChildren(...rows.map((r) => {
        const tr = document.createElement("tr");
        tr.append(cell(r.name), cell(r.requests.toLocaleString()), cell(r.errors.toLocaleString()), cell("$" + r.cost.toFixed(4)));
        return tr;
      }));
    }
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  }

  async function refresh() {
    const resp = await fetch("/ui/api/overview?range=" + encodeURIComponent(range), { credentials: "same-origin" });
    if (resp.status === 401) { window.location = "/ui/login"; return; }
    if (resp.ok) draw(await resp.json());
    else document.getElementById("updated").textContent = (await resp.json()).error;
  }
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
