"""The core-hours week as an inline SVG heat-map and a self-contained HTML page.

``heat_svg`` is shared by ``lablink team overlap --html`` and the web UI's Team page:
7 rows (Monday first) by 24 UTC hours, each cell shaded by how many people are free
on average in that hour, with a ``<title>`` tooltip. No script, no external assets.
"""

from __future__ import annotations

from html import escape
from typing import Any

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CELL, LEFT, TOP = 22, 40, 20


def heat_svg(found: dict[str, Any]) -> str:
    """The heat-map of an overlap answer (``Overlap.to_dict()``) as an ``<svg>`` element."""
    n = max(1, len(found["members"]))
    width, height = LEFT + 24 * CELL + 4, TOP + 7 * CELL + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="heat" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-label="people free together per UTC hour, week {escape(found["week"])}">'
    ]
    for hour in range(0, 24, 3):
        x = LEFT + hour * CELL + 2
        parts.append(f'<text x="{x}" y="{TOP - 6}" font-size="10">{hour:02d}</text>')
    for d, row in enumerate(found["heat"]):
        y = TOP + d * CELL
        parts.append(f'<text x="2" y="{y + 15}" font-size="11">{DAYS[d]}</text>')
        for hour, value in enumerate(row):
            share = min(1.0, value / n)
            full = value >= found["min"] - 1e-9
            colour = f"rgba(37,99,235,{0.08 + 0.85 * share:.2f})"
            stroke = ' stroke="#111" stroke-width="1.5"' if full and value > 0 else ""
            parts.append(
                f'<rect x="{LEFT + hour * CELL}" y="{y}" width="{CELL - 2}" height="{CELL - 2}" '
                f'fill="{colour}"{stroke}><title>{DAYS[d]} {hour:02d}:00 UTC: '
                f"{value:g} of {n} free</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def render_page(found: dict[str, Any]) -> str:
    """A whole HTML page: the heat-map, the overlaps in local times, each day's best slot."""
    names = [m["name"] for m in found["members"]]
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    rows = []
    for slot in found["slots"]:
        cells = "".join(f"<td>{escape(slot['local'][n])}</td>" for n in names)
        rows.append(f"<tr><td>{escape(slot['utc'])}</td><td>{slot['minutes']}</td>{cells}</tr>")
    best = [
        f"<li>{escape(b['utc'])} ({b['minutes']} min, {escape(', '.join(b['people']))})</li>"
        for b in found["best"]
        if b
    ]
    zones = ", ".join(f"{escape(m['name'])} ({escape(m['tz'])})" for m in found["members"])
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Core hours {escape(found['week'])}</title>"
        "<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}</style></head><body>"
        f"<h1>Core hours, {escape(found['week'])}</h1><p>{zones}; at least {found['min']} "
        f"free together. Darker: more people free; outlined: enough people.</p>"
        f"{heat_svg(found)}<h2>Best slot per day</h2><ul>{''.join(best) or '<li>none</li>'}</ul>"
        f"<h2>Overlaps</h2><table><tr><th>UTC</th><th>min</th>{head}</tr>{''.join(rows)}</table>"
        "</body></html>\n"
    )
