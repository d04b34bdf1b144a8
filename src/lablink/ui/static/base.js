// lablink UI helpers shared by every page: local times, ticking ages, number format.
"use strict";
(function () {
  document.documentElement.classList.add("js");

  function fmtAge(ts) {
    const d = Math.max(0, Date.now() / 1000 - ts);
    if (d < 60) return Math.floor(d) + "s ago";
    if (d < 3600) return Math.floor(d / 60) + "m ago";
    if (d < 86400) return Math.floor(d / 3600) + "h ago";
    return Math.floor(d / 86400) + "d ago";
  }

  // Mirrors ui/render.py fmt_num so live updates look like server-rendered cells.
  function fmtNum(v) {
    if (v === null || v === undefined) return "—";
    if (typeof v === "string") v = Number(v);
    if (Number.isNaN(v)) return "NaN";
    if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
    if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
    const a = Math.abs(v);
    if (v !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3).replace(/e([+-])(\d)$/, "e$10$2");
    return String(Number(v.toPrecision(4)));
  }

  // Event payloads carry NaN and ±inf as the strings "nan", "inf", "-inf".
  function toNumber(v) {
    if (typeof v === "number") return Number.isFinite(v) ? v : null;
    return null;
  }

  // SSE data is JSON; should a non-finite number ever slip through as a bare NaN or
  // Infinity token (which JSON.parse rejects), read it as null instead of failing.
  function parseEvent(text) {
    try {
      return JSON.parse(text);
    } catch (err) {
      return JSON.parse(text.replace(/-?\bInfinity\b|\bNaN\b/g, "null"));
    }
  }

  function pageData() {
    const el = document.getElementById("page-data");
    return el ? JSON.parse(el.textContent) : {};
  }

  // Mirrors ui/render.py fmt_duration.
  function fmtDuration(seconds) {
    if (seconds < 60) return seconds.toFixed(1) + "s";
    const s = Math.floor(seconds);
    const pad = (n) => String(n).padStart(2, "0");
    const [d, h, m] = [Math.floor(s / 86400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60];
    if (d) return `${d}d ${pad(h)}h`;
    if (h) return `${h}h ${pad(m)}m`;
    return `${m}m ${pad(s % 60)}s`;
  }

  // Ages ("12s ago") and the running time of running runs tick once a second.
  function tickAges() {
    for (const el of document.querySelectorAll("[data-since]")) {
      el.textContent = fmtAge(Number(el.dataset.since));
    }
    for (const el of document.querySelectorAll("[data-started]")) {
      el.textContent = fmtDuration(Math.max(0, Date.now() / 1000 - Number(el.dataset.started)));
    }
  }

  // Times in the viewer's own time zone; the year only when it is not this year.
  function localTimes() {
    const short = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
    const thisYear = new Intl.DateTimeFormat(undefined, short);
    const otherYear = new Intl.DateTimeFormat(undefined, { ...short, year: "numeric" });
    const year = new Date().getFullYear();
    for (const el of document.querySelectorAll("time[data-ts]")) {
      const date = new Date(Number(el.dataset.ts) * 1000);
      el.title = date.toString();
      el.textContent = (date.getFullYear() === year ? thisYear : otherYear).format(date);
    }
  }

  // Keep the page's view state in the URL without reloading, so the address bar
  // is always a link that reopens exactly this view.
  function setQuery(changes) {
    const url = new URL(window.location.href);
    for (const [key, value] of Object.entries(changes)) {
      url.searchParams.delete(key);
      if (Array.isArray(value)) value.forEach((v) => url.searchParams.append(key, v));
      else if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
    }
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }

  function badge(status) {
    const span = document.createElement("span");
    span.className = "badge s-" + status;
    span.dataset.role = "badge";
    span.textContent = status.replace("_", " ");
    return span;
  }

  // Follow the server's event stream from ``params.cursor``. A hidden tab lets go of
  // its connection (browsers allow about six per server, and every open tab would hold
  // one) and resumes from the last event it saw when shown again: nothing is missed.
  function follow(params, handlers) {
    let cursor = Number(params.cursor) || 0;
    let source = null;
    let stopped = false;
    const open = () => {
      const q = new URLSearchParams({ ...params, cursor: String(cursor) });
      source = new EventSource("/ui-data/events?" + q.toString());
      for (const [kind, handle] of Object.entries(handlers)) {
        source.addEventListener(kind, (e) => {
          const msg = parseEvent(e.data);
          cursor = Math.max(cursor, Number(e.lastEventId || msg.id) || 0);
          handle(msg);
        });
      }
    };
    const close = () => { if (source) { source.close(); source = null; } };
    document.addEventListener("visibilitychange", () => {
      if (stopped) return;
      if (document.hidden) close(); else if (!source) open();
    });
    window.addEventListener("pagehide", close);
    if (window.EventSource) open();
    return { stop() { stopped = true; close(); } };
  }

  // With sign-in on, a page carries its session's CSRF token; every state-changing
  // request a script makes with the session cookie sends it as X-CSRF-Token.
  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // A JSON request to the API with the page's credentials (the cookie, same-origin only).
  function send(method, url, body) {
    const headers = { Accept: "application/json", "Content-Type": "application/json" };
    const token = csrfToken();
    if (token) headers["X-CSRF-Token"] = token;
    return fetch(url, { method, headers, credentials: "same-origin", body: JSON.stringify(body ?? {}) });
  }

  window.lablink = { fmtAge, fmtDuration, fmtNum, toNumber, parseEvent, pageData, setQuery, badge, tickAges, follow, csrfToken, send };
  document.addEventListener("DOMContentLoaded", () => {
    localTimes();
    tickAges();
    setInterval(tickAges, 1000);
  });
})();
