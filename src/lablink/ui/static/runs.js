// Runs table: selection for Compare (kept in the URL) and live rows over SSE.
"use strict";
(function () {
  const L = window.lablink;

  // Selected runs on other pages ride along as hidden inputs of the compare form.
  function selection() {
    const offpage = [...document.querySelectorAll('[data-role="offpage"]')].map((el) => el.value);
    const here = [...document.querySelectorAll('input[name="run"][form="compare"]:checked')];
    return [...offpage, ...here.map((el) => el.value)];
  }

  function updateSelection() {
    const ids = selection();
    document.querySelector('[data-role="selected-count"]').textContent = ids.length;
    document.querySelector('[data-role="compare"]').disabled = ids.length < 2;
    L.setQuery({ sel: ids.join(",") });
    // Paging and sorting links carry the selection too.
    for (const a of document.querySelectorAll('main a[href^="/p/"]')) {
      const url = new URL(a.href);
      if (ids.length) url.searchParams.set("sel", ids.join(","));
      else url.searchParams.delete("sel");
      a.href = url.pathname + url.search;
    }
  }

  function flash(el) {
    el.classList.remove("flash");
    void el.offsetWidth; // restart the animation
    el.classList.add("flash");
  }

  function setStatus(row, status, reason) {
    row.dataset.status = status;
    if (status !== "running") delete row.querySelector('[data-role="duration"]').dataset.started;
    const cell = row.querySelector("td.status");
    cell.replaceChildren(L.badge(status));
    if (reason) cell.title = reason;
    flash(cell);
  }

  function onPoints(row, payload) {
    const hb = row.querySelector(".hb");
    if (hb) {
      hb.dataset.since = String(Date.now() / 1000);
      hb.textContent = L.fmtAge(Number(hb.dataset.since));
    }
    for (const [key, series] of Object.entries(payload.metrics || {})) {
      const cell = row.querySelector(`td[data-col="${CSS.escape("metrics." + key)}"]`);
      if (!cell || !series.steps.length) continue;
      let last = 0;
      for (let i = 1; i < series.steps.length; i++) if (series.steps[i] >= series.steps[last]) last = i;
      const v = series.values[last];
      const value = cell.querySelector('[data-role="value"]') || cell;
      value.textContent = typeof v === "string" ? L.fmtNum(Number(v)) : L.fmtNum(v);
      flash(cell);
    }
  }

  function live(data) {
    const note = document.getElementById("live-note");
    let fresh = 0;
    const row = (id) => document.querySelector(`tr[data-run="${CSS.escape(id)}"]`);
    L.follow({ project: data.project, cursor: data.cursor }, {
      status: (msg) => {
        const tr = row(msg.run_id);
        if (tr) setStatus(tr, msg.payload.status, msg.payload.reason);
      },
      points: (msg) => {
        const tr = row(msg.run_id);
        if (tr) onPoints(tr, msg.payload);
      },
      run_created: (msg) => {
        if (row(msg.run_id)) return;
        fresh += 1;
        const a = document.createElement("a");
        a.href = window.location.href;
        a.textContent = `${fresh} new run${fresh === 1 ? "" : "s"} — reload`;
        note.replaceChildren(a);
      },
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const data = L.pageData();
    const boxes = document.querySelectorAll('input[name="run"][form="compare"]');
    boxes.forEach((el) => el.addEventListener("change", updateSelection));
    const all = document.querySelector('[data-role="select-all"]');
    all.addEventListener("change", () => {
      boxes.forEach((el) => { el.checked = all.checked; });
      updateSelection();
    });
    document.querySelector('[data-role="compare"]').disabled = selection().length < 2;
    live(data);
  });
})();
