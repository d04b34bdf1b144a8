// Charts of the run and compare pages: server-downsampled data, plotly.js, live over SSE.
"use strict";
(function () {
  const L = window.lablink;
  const MAX_FETCHES = 4;
  let data, opts;
  const charts = new Map(); // metric key -> chart state

  // -- data ------------------------------------------------------------------------
  let running = 0;
  const waiting = [];
  function limited(task) {
    return new Promise((resolve, reject) => {
      const start = () => {
        running += 1;
        task().then(resolve, reject).finally(() => {
          running -= 1;
          if (waiting.length) waiting.shift()();
        });
      };
      if (running < MAX_FETCHES) start(); else waiting.push(start);
    });
  }

  function historyUrl(chart) {
    const q = new URLSearchParams();
    data.runs.forEach((r) => q.append("run", r.id));
    q.set("key", chart.key);
    q.set("max_points", String(data.maxPoints));
    if (chart.range) {
      q.set("step_min", String(chart.range[0]));
      q.set("step_max", String(chart.range[1]));
    }
    return "/ui-data/history?" + q.toString();
  }

  function load(chart) {
    // Points that arrive while fetching wait in chart.pending, applied after the fetch.
    chart.loaded = false;
    const seq = (chart.loads += 1);
    return limited(async () => {
      const answer = await fetch(historyUrl(chart), { headers: { Accept: "application/json" } });
      const body = await answer.json();
      if (!answer.ok) throw new Error(body.error ? body.error.message : answer.statusText);
      if (seq !== chart.loads) return; // a newer load (another zoom) is on its way
      chart.series = new Map();
      chart.downsampled = false;
      for (const s of body.series) {
        chart.series.set(s.run, { steps: s.steps, values: s.values, times: s.times });
        chart.downsampled = chart.downsampled || s.downsampled;
      }
      chart.loaded = true;
      for (const [runId, points] of chart.pending.splice(0)) append(chart, runId, points);
      draw(chart);
    }).catch((err) => {
      if (seq !== chart.loads) return;
      if (chart.plotted) Plotly.purge(chart.el);
      chart.plotted = false;
      chart.loaded = true; // live points keep arriving; the next reload may succeed
      chart.pending.length = 0;
      const p = document.createElement("p");
      p.className = "status";
      p.textContent = "Could not load this chart: " + err.message;
      chart.el.replaceChildren(p);
    });
  }

  function scheduleReload(chart, delay) {
    if (chart.reloadTimer) return;
    chart.reloadTimer = setTimeout(() => { chart.reloadTimer = null; load(chart); }, delay);
  }

  // -- drawing -----------------------------------------------------------------------
  function ema(values, weight) {
    let last = 0;
    let n = 0;
    return values.map((v) => {
      if (v === null) return null;
      last = last * weight + (1 - weight) * v;
      n += 1;
      return last / (1 - Math.pow(weight, n)); // debiased, so the start is not pulled to 0
    });
  }

  // Plotly reads a small HTML subset in trace names; run names are user text.
  const escapeHtml = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

  // System metrics (sys/*) are sampled by the clock, not by training steps: with the
  // step axis chosen they are drawn against the time since each run started, in a unit
  // that suits the span, as W&B's "relative time" does.
  const isSystem = (chart) => chart.key.startsWith("sys/");
  const byRelativeTime = (chart) => opts.x === "step" && isSystem(chart);
  const UNITS = [[120, 1, "s"], [7200, 60, "min"], [Infinity, 3600, "h"]];

  // A run's start, or its first point if that came earlier (a clock set back, an import).
  const origin = (run, s) => Math.min(run.start, s.times.length ? s.times[0] : run.start);

  function timeUnit(chart) {
    let span = 0;
    for (const run of data.runs) {
      const s = chart.series.get(run.id);
      if (s && s.times.length) span = Math.max(span, s.times[s.times.length - 1] - origin(run, s));
    }
    const [, size, name] = UNITS.find(([limit]) => span < limit);
    return { size, name };
  }

  function xValues(chart, run, s, unit) {
    if (opts.x === "time") return s.times.map((t) => new Date(t * 1000));
    if (byRelativeTime(chart)) return s.times.map((t) => (t - origin(run, s)) / unit.size);
    return s.steps;
  }

  function xAxis(chart, unit) {
    if (opts.x === "time") return { type: "date", automargin: true, title: { text: "" } };
    if (byRelativeTime(chart)) {
      return { type: "linear", automargin: true, title: { text: `time since start (${unit.name})` } };
    }
    return { type: "linear", automargin: true, title: { text: "step" } };
  }

  // y of a series at x, linearly between its points (null outside it or across a gap).
  function interp(xs, ys, x) {
    if (!xs.length || x < xs[0] || x > xs[xs.length - 1]) return null;
    let lo = 0;
    let hi = xs.length - 1;
    while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (xs[mid] <= x) lo = mid; else hi = mid; }
    if (xs[lo] === x) return ys[lo];
    if (ys[lo] === null || ys[hi] === null) return null;
    return ys[lo] + (ys[hi] - ys[lo]) * (x - xs[lo]) / (xs[hi] - xs[lo]);
  }

  // Runs grouped on the server (same config but the seed): one mean line per group with
  // a mean ± std or min-max band, on the x values of the group's longest series.
  function groupTraces(chart, unit) {
    const out = [];
    for (const group of data.groups) {
      const members = [];
      for (const run of data.runs) {
        const s = chart.series.get(run.id);
        if (!group.runs.includes(run.id) || !s || !s.steps.length) continue;
        const y = opts.smooth > 0 ? ema(s.values, opts.smooth) : s.values;
        members.push({ x: xValues(chart, run, s, unit), y });
      }
      if (!members.length) continue;
      const grid = members.reduce((a, b) => (b.x.length > a.x.length ? b : a)).x;
      const num = (x) => (x instanceof Date ? x.getTime() : x);
      const mean = [], lo = [], hi = [];
      for (const x of grid) {
        const ys = members.map((m) => interp(m.x.map(num), m.y, num(x))).filter((v) => v !== null);
        if (!ys.length) { mean.push(null); lo.push(null); hi.push(null); continue; }
        const m = ys.reduce((a, b) => a + b, 0) / ys.length;
        mean.push(m);
        if (data.band === "minmax") { lo.push(Math.min(...ys)); hi.push(Math.max(...ys)); }
        else {
          const sd = Math.sqrt(ys.reduce((a, b) => a + (b - m) * (b - m), 0) / ys.length);
          lo.push(m - sd); hi.push(m + sd);
        }
      }
      const name = escapeHtml(group.name);
      const common = { x: grid, type: "scatter", mode: "lines", legendgroup: name, hoverinfo: "skip", showlegend: false };
      out.push({ ...common, y: lo, line: { width: 0, color: group.color } });
      out.push({ ...common, y: hi, line: { width: 0, color: group.color }, fill: "tonexty", fillcolor: group.color + "33" });
      out.push({ x: grid, y: mean, type: "scatter", mode: "lines", name, legendgroup: name,
                 line: { color: group.color, width: 1.8 }, hovertemplate: `${name}: %{y:.4g}<extra></extra>` });
    }
    return out;
  }

  function traces(chart, unit) {
    if (data.groups) return groupTraces(chart, unit);
    const out = [];
    for (const run of data.runs) {
      const s = chart.series.get(run.id);
      if (!s || !s.steps.length) continue;
      const x = xValues(chart, run, s, unit);
      const name = escapeHtml(run.name);
      const mode = s.steps.length === 1 ? "markers" : "lines";
      // One legend entry per run; clicking it hides the run's raw and smoothed lines together.
      const base = { x, type: "scatter", mode, name, legendgroup: run.id, line: { color: run.color, width: 1.6 }, marker: { color: run.color } };
      if (opts.smooth > 0) {
        out.push({ ...base, y: s.values, opacity: 0.25, line: { color: run.color, width: 1 }, hoverinfo: "skip", showlegend: false });
        out.push({ ...base, y: ema(s.values, opts.smooth), hovertemplate: `${name}: %{y:.4g}<extra></extra>` });
      } else {
        out.push({ ...base, y: s.values, hovertemplate: `${name}: %{y:.4g}<extra></extra>` });
      }
    }
    return out;
  }

  // A launched job's attempts (page data, then job.js as they change): a dotted line
  // where each attempt after the first began, labelled with its number and why the one
  // before ended, and the time between the two shaded. By step, an attempt begins at the
  // first point logged after its start (a resumed attempt continues the curve).
  function stepAt(s, ts, after) {
    if (after) {
      for (let i = 0; i < s.times.length; i++) if (s.times[i] >= ts) return s.steps[i];
    } else {
      for (let i = s.times.length - 1; i >= 0; i--) if (s.times[i] <= ts) return s.steps[i];
    }
    return null;
  }

  function attemptX(chart, run, s, unit, ts, after) {
    if (opts.x === "time") return new Date(ts * 1000);
    if (byRelativeTime(chart)) return (ts - origin(run, s)) / unit.size;
    return stepAt(s, ts, after);
  }

  function attemptMarks(chart, unit) {
    const shapes = [];
    const annotations = [];
    const attempts = data.attempts || [];
    const run = data.runs[0];
    const s = run && chart.series.get(run.id);
    if (data.runs.length !== 1 || attempts.length < 2 || !s || !s.steps.length) return { shapes, annotations };
    const grey = "#6e7781";
    for (let i = 1; i < attempts.length; i++) {
      const a = attempts[i];
      const prev = attempts[i - 1];
      if (!a.started_at) continue;
      const x = attemptX(chart, run, s, unit, a.started_at, true);
      if (x === null) continue;
      shapes.push({ type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1, line: { color: grey, width: 1, dash: "dot" } });
      const end = prev.ended_at ? attemptX(chart, run, s, unit, prev.ended_at, false) : null;
      if (end !== null && +end < +x) {
        shapes.push({ type: "rect", xref: "x", yref: "paper", x0: end, x1: x, y0: 0, y1: 1, layer: "below", fillcolor: "rgba(110,119,129,0.14)", line: { width: 0 } });
      }
      const why = `attempt ${prev.number} ${prev.status || "ended"}${prev.reason ? ": " + prev.reason : ""}`;
      annotations.push({
        x, xref: "x", y: 1, yref: "paper", yanchor: "top", xanchor: "left", showarrow: false,
        text: `#${a.number}`, font: { size: 10, color: grey }, hovertext: escapeHtml(why),
      });
    }
    return { shapes, annotations };
  }

  function draw(chart) {
    const unit = timeUnit(chart);
    const marks = attemptMarks(chart, unit);
    const layout = {
      height: Math.max(160, chart.el.clientHeight || 300),
      margin: { l: 56, r: 12, t: 8, b: 36 },
      // Compare views name each line in a legend under the chart; one run needs none.
      showlegend: data.runs.length > 1,
      legend: { orientation: "h", x: 0, y: -0.25, yanchor: "top", font: { size: 11 } },
      hovermode: data.runs.length > 1 ? "x unified" : "closest",
      xaxis: xAxis(chart, unit),
      yaxis: { type: opts.log ? "log" : "linear", automargin: true },
      font: { family: "system-ui, sans-serif", size: 12, color: "#1f2328" },
      // A user's zoom survives live redraws until an option changes the axes.
      uirevision: `${opts.x}-${opts.log}-${unit.name}`,
      shapes: marks.shapes,
      annotations: marks.annotations,
    };
    const config = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
    if (!chart.plotted) chart.el.replaceChildren();
    Plotly.react(chart.el, traces(chart, unit), layout, config);
    if (!chart.plotted) {
      chart.plotted = true;
      chart.el.on("plotly_relayout", (ev) => zoomed(chart, ev));
    }
    let points = 0;
    let lastStep = -1;
    for (const s of chart.series.values()) {
      points += s.steps.length;
      if (s.steps.length) lastStep = Math.max(lastStep, s.steps[s.steps.length - 1]);
    }
    chart.fig.dataset.points = String(points);
    chart.fig.dataset.attempts = String(marks.annotations.length);
    chart.fig.dataset.lastStep = String(lastStep);
  }

  function scheduleDraw(chart) {
    if (chart.drawQueued) return;
    chart.drawQueued = true;
    requestAnimationFrame(() => { chart.drawQueued = false; draw(chart); });
  }

  // Zooming in on a downsampled series fetches that step range at full detail.
  function zoomed(chart, ev) {
    if (opts.x !== "step" || byRelativeTime(chart)) return; // the range is not in steps
    // A drag-zoom reports "xaxis.range[0]" and "[1]"; Plotly.relayout may send "xaxis.range".
    const range = ev["xaxis.range"] || [ev["xaxis.range[0]"], ev["xaxis.range[1]"]];
    if (range[0] !== undefined && range[1] !== undefined) {
      if (!chart.downsampled && !chart.range) return;
      chart.range = [Math.max(0, Math.floor(range[0])), Math.ceil(range[1])];
      load(chart);
    } else if (ev["xaxis.autorange"] && chart.range) {
      chart.range = null;
      load(chart);
    }
  }

  // -- live ----------------------------------------------------------------------------
  function append(chart, runId, points) {
    let s = chart.series.get(runId);
    if (!s) { s = { steps: [], values: [], times: [] }; chart.series.set(runId, s); }
    // Events replay from the page's cursor, so the first fetch may already hold them.
    let last = s.steps.length ? s.steps[s.steps.length - 1] : -Infinity;
    const now = Date.now() / 1000;
    for (let i = 0; i < points.steps.length; i++) {
      if (points.steps[i] <= last) continue;
      last = points.steps[i];
      s.steps.push(last);
      s.values.push(L.toNumber(points.values[i]));
      s.times.push(now); // wall times are not in events; a reload brings the real ones
    }
    if (s.steps.length > 3 * data.maxPoints) scheduleReload(chart, 500);
    else if (opts.x === "time" || byRelativeTime(chart)) scheduleReload(chart, 2000);
  }

  // A group of fewer charts than "per row" spreads them over the whole width.
  function columns(section) {
    const n = section.querySelectorAll("figure.chart").length;
    section.style.setProperty("--cols", String(Math.max(1, Math.min(n, opts.per_row))));
  }

  function addChart(key) {
    const group = key.includes("/") ? key.split("/")[0] : "other";
    let section = document.querySelector(`section.group[data-group="${CSS.escape(group)}"]`);
    if (!section) {
      document.getElementById("no-metrics")?.remove();
      section = document.createElement("section");
      section.className = "group";
      section.dataset.group = group;
      const h = document.createElement("h3");
      h.textContent = group === "other" ? group : group + "/";
      const grid = document.createElement("div");
      grid.className = "charts";
      section.append(h, grid);
      document.getElementById("chart-groups").append(section);
    }
    const fig = document.createElement("figure");
    fig.className = "chart";
    fig.dataset.key = key;
    const cap = document.createElement("figcaption");
    cap.textContent = key;
    const plot = document.createElement("div");
    plot.className = "plot";
    fig.append(cap, plot);
    const grid = section.querySelector(".charts");
    grid.append(fig);
    columns(section);
    const chart = register(fig);
    chart.loaded = true; // a key new since the page rendered: every point comes as an event
    return chart;
  }

  function onPoints(msg) {
    const hb = document.querySelector('[data-role="heartbeat"]');
    if (hb) hb.dataset.since = String(Date.now() / 1000);
    const p = msg.payload;
    for (const [key, points] of Object.entries(p.metrics || {})) {
      const chart = charts.get(key) || addChart(key);
      if (!chart.loaded) { chart.pending.push([msg.run_id, points]); continue; }
      append(chart, msg.run_id, points);
      scheduleDraw(chart);
    }
    for (const key of p.keys || []) { // a batch too big to ride in the event
      scheduleReload(charts.get(key) || addChart(key), 300);
    }
  }

  function onStatus(msg) {
    const { status, reason } = msg.payload;
    document.querySelector('[data-role="status"]').replaceChildren(L.badge(status));
    const box = document.querySelector('[data-role="reason"]');
    box.replaceChildren();
    if (reason) {
      const pre = document.createElement("pre");
      pre.className = "reason";
      pre.textContent = reason;
      box.append(pre);
    }
    if (status !== "running") {
      const duration = document.querySelector('[data-role="duration"]');
      if (duration) delete duration.dataset.started; // stops ticking at about its end
      document.querySelector('[data-role="heartbeat"]')?.parentElement.remove();
      stream.stop();
      charts.forEach((chart) => scheduleReload(chart, 200)); // exact final curves
    }
  }

  let stream = null;
  function live() {
    if (!data.live) return;
    const run = data.runs[0];
    stream = L.follow(
      { project: run.project, run: run.id, cursor: data.cursor },
      { points: onPoints, status: onStatus },
    );
  }

  // -- options -------------------------------------------------------------------------
  function controls() {
    const form = document.querySelector('[data-role="chart-controls"]');
    if (!form) return;
    const smooth = form.elements.smooth;
    const out = form.querySelector("output");
    const redraw = () => charts.forEach((c) => { if (c.loaded) scheduleDraw(c); });
    // Changing the axes resets any zoom, so a zoomed chart gets its whole series back.
    const unzoom = () => charts.forEach((c) => { if (c.range) { c.range = null; load(c); } });
    form.addEventListener("submit", (e) => e.preventDefault());
    smooth.addEventListener("input", () => {
      opts.smooth = Number(smooth.value);
      out.textContent = opts.smooth.toFixed(2);
      L.setQuery({ smooth: opts.smooth > 0 ? smooth.value : null });
      redraw();
    });
    form.elements.log.addEventListener("change", () => {
      opts.log = form.elements.log.checked;
      L.setQuery({ log: opts.log ? "1" : null });
      unzoom();
      redraw();
    });
    form.elements.per_row.addEventListener("change", () => {
      opts.per_row = Number(form.elements.per_row.value);
      document.getElementById("chart-groups").style.setProperty("--per-row", String(opts.per_row));
      for (const section of document.querySelectorAll("section.group")) columns(section);
      L.setQuery({ per_row: opts.per_row === 2 ? null : String(opts.per_row) });
    });
    form.elements.x.addEventListener("change", () => {
      opts.x = form.elements.x.value;
      L.setQuery({ x: opts.x === "time" ? "time" : null });
      unzoom();
      redraw();
    });
  }

  // A chart's box changes with "per row", the window, or a drag on its corner: the
  // plot is redrawn to the new size (Plotly's own "responsive" follows the window only).
  const resized = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const chart = charts.get(entry.target.closest("figure").dataset.key);
      if (!chart || !chart.plotted) continue;
      const height = Math.max(160, chart.el.clientHeight);
      if (chart.el.layout && chart.el.layout.height !== height) Plotly.relayout(chart.el, { height });
      Plotly.Plots.resize(chart.el);
    }
  });

  function register(fig) {
    const chart = {
      key: fig.dataset.key, fig, el: fig.querySelector(".plot"), series: new Map(),
      loaded: false, loads: 0, pending: [], range: null, downsampled: false, plotted: false,
      drawQueued: false, reloadTimer: null,
    };
    charts.set(chart.key, chart);
    resized.observe(chart.el);
    return chart;
  }

  // job.js tells of a new or ended attempt of a running job
  document.addEventListener("lablink:attempts", (e) => {
    if (!data) return;
    data.attempts = e.detail;
    charts.forEach((chart) => { if (chart.loaded && chart.plotted) scheduleDraw(chart); });
  });

  document.addEventListener("DOMContentLoaded", () => {
    data = L.pageData();
    opts = { ...data.options };
    controls();
    // Only figures with a plot are charts: an incident's window is a figure.chart too,
    // drawn on the server as an SVG, and touching its missing plot would stop every chart.
    for (const fig of document.querySelectorAll("figure.chart[data-key]")) {
      if (!fig.querySelector(".plot")) continue;
      const chart = register(fig);
      chart.el.textContent = "Loading…";
      load(chart);
    }
    live();
  });
})();
