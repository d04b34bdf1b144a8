"""The Jinja environment of the web UI and the filters its templates use.

Autoescaping is on for every template, whatever its file name: run names, tags, notes
and config values are user text and may contain HTML. Values that scripts need travel
in ``<script type="application/json">`` blocks written with ``|tojson``, which escapes
``<``, ``>``, ``&`` and ``'`` as well.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Mapping
from typing import Any

import jinja2
from starlette.responses import HTMLResponse

from lablink.errors import LablinkError
from lablink.server.browser import current_viewer
from lablink.settings import format_size
from lablink.ui.assets import Assets

STATUS_LABELS = {
    "running": "running",
    "finished": "finished",
    "failed": "failed",
    "crashed": "crashed",
    "killed": "killed",
    "timed_out": "timed out",
    "preempted": "preempted",
}


def fmt_num(value: Any) -> str:
    """Numbers for tables: four significant digits, exponents only when needed."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "∞" if value > 0 else "\u2212∞"
        if value == int(value) and abs(value) < 1e6:
            return str(int(value))
        if value != 0 and not 1e-3 <= abs(value) < 1e5:
            return f"{value:.3e}"
        return f"{value:.4g}"
    return str(value)


def fmt_value(value: Any) -> str:
    """A param or config value: numbers as ``fmt_num``, lists and dicts compactly."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return fmt_num(value)
    if isinstance(value, list | tuple | dict):
        import json

        return json.dumps(value, default=str, allow_nan=True)
    if value is None:
        return "—"
    return str(value)


CELL_CHARS = 200


def fmt_cell(value: Any, width: int = CELL_CHARS) -> str:
    """A value in a table or compare cell: ``fmt_value`` cut to ``width`` characters.

    A config may hold a long list; the run's own page shows it whole, while a page of
    many runs shows the start of each, so its size stays bounded.
    """
    text = fmt_value(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def fmt_duration(seconds: float | None) -> str:
    """``3h 05m``, ``4m 12s``, ``9.2s``."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def fmt_age(ts: float | None, now: float | None = None) -> str:
    """How long ago: ``12s ago``, ``4m ago``, ``2d ago``."""
    if ts is None:
        return "—"
    delta = max(0.0, (now or time.time()) - ts)
    if delta < 60:
        return f"{int(delta)}s ago"
    if delta < 3600:
        return f"{int(delta // 60)}m ago"
    if delta < 86400:
        return f"{int(delta // 3600)}h ago"
    return f"{int(delta // 86400)}d ago"


def fmt_time(ts: float | None) -> str:
    """UTC time, to the minute; the browser rewrites it in the viewer's time zone."""
    if ts is None:
        return "—"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def fmt_iso(ts: float | None) -> str:
    """ISO 8601 for ``<time datetime=...>``."""
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def fmt_bytes(size: int | None) -> str:
    """``1.2 MB``; a dash when unknown."""
    return "—" if size is None else format_size(size)


class Renderer:
    """Renders the UI's templates to HTML responses."""

    def __init__(self, assets: Assets) -> None:
        self.assets = assets
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("lablink.ui", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            num=fmt_num,
            value=fmt_value,
            cell=fmt_cell,
            duration=fmt_duration,
            age=fmt_age,
            time=fmt_time,
            iso=fmt_iso,
            bytes=fmt_bytes,
        )
        self.env.globals.update(
            static=assets.url, status_labels=STATUS_LABELS, viewer=current_viewer
        )

    def page(
        self,
        template: str,
        context: Mapping[str, Any],
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """An HTML response from ``template`` rendered with ``context``."""
        html = self.env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status, headers=dict(headers or {}))

    def error(self, exc: LablinkError, title: str = "Not found") -> HTMLResponse:
        """An HTML error page carrying the error's HTTP status, message and hint."""
        return self.page(
            "error.html",
            {"title": title, "message": exc.message, "hint": exc.hint, "code": exc.code},
            status=exc.status,
        )
