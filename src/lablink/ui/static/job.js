// A launched job on the run page: its output panel (the last lines, live, searchable)
// and its attempts table, both following the run's events while it runs.
"use strict";
(function () {
  const L = window.lablink;
  const SEARCH_DELAY = 250; // ms after the last key before the server is asked
  let data, runId, maxLines;
  let cursor = 0; // the last log chunk shown
  let query = "";
  let generation = 0; // a new search makes answers of the previous one stale
  let fetching = false;
  let ready = false; // the last lines are shown: new ones may follow
  let again = false; // a chunk arrived while fetching: fetch once more after
  let lastAttempt = null;
  let panel, box, status, follow;

  const pad = (n, w = 2) => String(n).padStart(w, "0");
  function clock(t) {
    const d = new Date(t * 1000);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  // The text with each occurrence of the search marked; built from text nodes only.
  function marked(text) {
    const span = document.createElement("span");
    span.className = "text";
    if (!query) { span.textContent = text; return span; }
    const lower = text.toLowerCase();
    let at = 0;
    for (let i = lower.indexOf(query); i >= 0; i = lower.indexOf(query, at)) {
      span.append(text.slice(at, i));
      const mark = document.createElement("mark");
      mark.textContent = text.slice(i, i + query.length);
      span.append(mark);
      at = i + query.length;
    }
    span.append(text.slice(at));
    return span;
  }

  function lineEl(line) {
    const row = document.createElement("div");
    row.className = "log-line " + (line.s === "err" ? "err" : "out");
    const time = document.createElement("time");
    time.dateTime = new Date(line.t * 1000).toISOString();
    time.title = new Date(line.t * 1000).toString();
    time.textContent = clock(line.t);
    const mark = document.createElement("span");
    mark.className = "stream";
    mark.textContent = line.s === "err" ? "err" : "out";
    row.append(time, mark, marked(String(line.l)));
    return row;
  }

  function attemptEl(number) {
    const row = document.createElement("div");
    row.className = "log-attempt";
    row.dataset.attempt = String(number);
    row.textContent = `attempt ${number}`;
    return row;
  }

  function atBottom() {
    return box.scrollHeight - box.scrollTop - box.clientHeight < 24;
  }

  // Lines appended in order; an attempt's first line gets a separator; the oldest go
  // once more than maxLines are shown (the whole log is one link away).
  function show(lines, truncated) {
    const stick = follow.checked || atBottom();
    const frag = document.createDocumentFragment();
    for (const line of lines) {
      const attempt = Number(line.a) || 1;
      if (attempt !== lastAttempt && (lastAttempt !== null || attempt > 1)) frag.append(attemptEl(attempt));
      lastAttempt = attempt;
      frag.append(lineEl(line));
    }
    box.append(frag);
    let cut = truncated;
    while (box.querySelectorAll(".log-line").length > maxLines) {
      box.firstElementChild.remove();
      cut = true;
    }
    if (cut) panel.dataset.truncated = "1";
    const shown = box.querySelectorAll(".log-line").length;
    panel.dataset.lines = String(shown);
    const what = query ? `${shown} line${shown === 1 ? "" : "s"} matching “${query}”` : `${shown} line${shown === 1 ? "" : "s"}`;
    status.textContent = panel.dataset.truncated
      ? `The last ${what}; download the whole log for the rest.`
      : shown ? `${what[0].toUpperCase()}${what.slice(1)}.` : query ? "No line matches." : "No output yet.";
    if (stick) box.scrollTop = box.scrollHeight;
  }

  async function get(params) {
    const q = new URLSearchParams({ limit: String(maxLines), ...params });
    if (query) q.set("q", query);
    const answer = await fetch(`/ui-data/runs/${encodeURIComponent(runId)}/logs?` + q.toString(), {
      headers: { Accept: "application/json" }, credentials: "same-origin",
    });
    const body = await answer.json();
    if (!answer.ok) throw new Error(body.error ? body.error.message : answer.statusText);
    return body;
  }

  // The last lines (of the search, if any): the view starts over.
  async function reload() {
    const mine = (generation += 1);
    ready = false;
    try {
      const body = await get({});
      if (mine !== generation) return;
      box.replaceChildren();
      delete panel.dataset.truncated;
      lastAttempt = null;
      cursor = body.cursor;
      show(body.lines, body.truncated);
    } catch (err) {
      if (mine === generation) status.textContent = "Could not load the output: " + err.message;
    }
    if (mine !== generation) return;
    ready = true;
    if (again && !fetching) more();
  }

  // Lines stored since the cursor; one fetch at a time, and one more if chunks came meanwhile.
  async function more() {
    if (fetching || !ready) { again = true; return; }
    fetching = true;
    try {
      do {
        again = false;
        const mine = generation;
        const body = await get({ after: String(cursor) });
        if (mine !== generation || !ready) continue; // a new search started over
        cursor = body.cursor;
        show(body.lines, body.truncated);
        if (body.more) again = true;
      } while (again);
    } catch (err) {
      status.textContent = "Could not load new output: " + err.message;
    } finally {
      fetching = false;
    }
  }

  // -- attempts ------------------------------------------------------------------------
  function cell(content, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    if (content instanceof Node) td.append(content); else td.textContent = content;
    return td;
  }
  function when(ts) {
    if (!ts) return "—";
    const el = document.createElement("time");
    el.dataset.ts = String(ts);
    el.textContent = new Date(ts * 1000).toLocaleString();
    return el;
  }

  function drawAttempts(rows) {
    const body = document.querySelector('[data-role="attempt-rows"]');
    if (!body || !rows.length) return;
    body.replaceChildren(...rows.map((a) => {
      const tr = document.createElement("tr");
      tr.dataset.attempt = String(a.number);
      const where = (a.host || "") + (a.job_id ? ` · ${a.job_id}` : "");
      tr.append(
        cell(String(a.number), "n"), cell(when(a.started_at)), cell(when(a.ended_at)),
        cell(a.started_at && a.ended_at ? L.fmtDuration(a.ended_at - a.started_at) : "—", "n"),
        cell(a.status ? L.badge(a.status) : ""), cell(a.exit_code === null ? "—" : String(a.exit_code), "n"),
        cell(a.reason || "", "wrap"), cell(where, "wrap"),
      );
      return tr;
    }));
    // the charts draw each attempt's start (charts.js listens)
    document.dispatchEvent(new CustomEvent("lablink:attempts", { detail: rows }));
  }

  async function refreshAttempts() {
    try {
      const answer = await fetch(`/ui-data/runs/${encodeURIComponent(runId)}/attempts`, {
        headers: { Accept: "application/json" }, credentials: "same-origin",
      });
      if (answer.ok) drawAttempts((await answer.json()).attempts);
    } catch (err) {
      // the table keeps what it shows; the next change or a reload brings it
    }
  }

  // -- live ----------------------------------------------------------------------------
  function onArtifact(msg) {
    const name = msg.payload.name || "";
    if (msg.payload.kind === "log" && name.startsWith("logs/") && box) more();
    else if (name === "launch/job.json") refreshAttempts();
  }

  function onStatus(msg) {
    if (msg.payload.status === "running") return;
    if (box) more(); // the last chunk is stored before the run ends: this is the rest
    refreshAttempts();
    stream.stop();
    if (panel) panel.dataset.ended = "1";
  }

  let stream = null;

  document.addEventListener("DOMContentLoaded", () => {
    data = L.pageData();
    runId = data.runs[0].id;
    panel = document.querySelector('[data-role="log-panel"]');
    if (panel && data.logs) {
      box = panel.querySelector('[data-role="log"]');
      status = panel.querySelector('[data-role="log-status"]');
      maxLines = data.logs.lines;
      const form = panel.querySelector('[data-role="log-search"]');
      follow = form.elements.follow;
      form.addEventListener("submit", (e) => e.preventDefault());
      let timer = null;
      form.elements.q.addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          const next = form.elements.q.value.trim().toLowerCase();
          if (next === query) return;
          query = next;
          reload();
        }, SEARCH_DELAY);
      });
      follow.addEventListener("change", () => { if (follow.checked) box.scrollTop = box.scrollHeight; });
      status.textContent = "Loading…";
      reload();
    }
    if (data.live) {
      stream = L.follow({ run: runId, cursor: data.cursor }, { artifact: onArtifact, status: onStatus });
    }
  });
})();
