// Parameters against a metric: parallel coordinates and a scatter, from the page's JSON.
"use strict";
(function () {
  const escapeHtml = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const layout = { margin: { l: 60, r: 40, t: 40, b: 40 }, font: { family: "system-ui, sans-serif", size: 12 } };
  const config = { responsive: true, displaylogo: false };

  function axis(a) {
    const d = { label: escapeHtml(a.label), values: a.values };
    if (a.ticktext) { d.ticktext = a.ticktext.map(escapeHtml); d.tickvals = a.tickvals; }
    return d;
  }

  function scatter(data, label) {
    const a = data.axes.find((x) => x.label === label);
    const x = a.ticktext ? a.values.map((i) => a.ticktext[i]) : a.values;
    Plotly.react("scatter", [{
      x, y: data.metric.values, type: "scatter", mode: "markers",
      text: data.runs.map((r) => escapeHtml(r.name)),
      hovertemplate: "%{text}: %{y:.4g}<extra></extra>", marker: { size: 8, color: "#0072B2" },
    }], { ...layout, height: 320, xaxis: { title: { text: escapeHtml(label) }, type: a.ticktext ? "category" : "-" },
          yaxis: { title: { text: escapeHtml(data.metric.label) } } }, config);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const { data } = window.lablink.pageData();
    if (!data || !data.axes.length) return;
    const metric = { ...axis(data.metric) };
    Plotly.newPlot("parcoords", [{
      type: "parcoords",
      line: { color: data.metric.values, colorscale: "Viridis", reversescale: data.metric.goal === "min", showscale: true },
      dimensions: [...data.axes.map(axis), metric],
    }], { ...layout, height: 420 }, config);
    const pick = document.getElementById("scatter-param");
    pick.addEventListener("change", () => scatter(data, pick.value));
    scatter(data, pick.value);
  });
})();
