"""The bus factor as one self-contained HTML page: tables and an SVG chart over time."""

from __future__ import annotations

from typing import Any

import jinja2

from lablink.team.busfactor import when

WIDTH, HEIGHT, PAD = 640, 220, 36

PAGE = jinja2.Template(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bus factor: {{ where }}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;max-width:60em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em}
th{background:#f4f4f4;text-align:left}.silo{color:#a33}svg text{font-size:11px}
</style></head><body>
<h1>Truck factor {{ data.truck_factor }} <small>for {{ where }}</small></h1>
<p>{{ data.files }} files, {{ data.commits }} commits. Degree of authorship and greedy
truck factor of Avelino et al. (2016).</p>
<h2>Whose leaving orphans the most files</h2>
<table><tr><th>without</th><th>files they author</th><th>files still covered before</th></tr>
{% for step in data.removed %}<tr><td>{{ step.person }}</td><td>{{ step.files }}</td>
<td>{{ "%.0f"|format(100 * data.coverage[loop.index0]) }} %</td></tr>{% endfor %}</table>
{% if points %}<h2>Over time</h2>
<svg width="{{ W }}" height="{{ H }}" role="img" aria-label="truck factor over time">
<line x1="{{ P }}" y1="{{ H - P }}" x2="{{ W - P }}" y2="{{ H - P }}" stroke="#999"/>
<line x1="{{ P }}" y1="{{ P }}" x2="{{ P }}" y2="{{ H - P }}" stroke="#999"/>
<polyline fill="none" stroke="#2a6fdb" stroke-width="2" points="{{ polyline }}"/>
{% for p in points %}<circle cx="{{ p.x }}" cy="{{ p.y }}" r="3" fill="#2a6fdb"/>
<text x="{{ p.x }}" y="{{ p.y - 6 }}" text-anchor="middle">{{ p.factor }}</text>
<text x="{{ p.x }}" y="{{ H - P + 14 }}" text-anchor="middle">{{ p.date }}</text>{% endfor %}
</svg>{% endif %}
<h2>Folders</h2>
<table><tr><th>folder</th><th>truck factor</th><th>files</th><th>held alone by</th></tr>
{% for folder, tf in data.folders.items() %}<tr><td>{{ folder }}</td>
<td>{{ tf.truck_factor }}</td><td>{{ tf.files }}</td>
<td class="silo">{{ data.silos.get(folder, "") }}</td></tr>{% endfor %}</table>
{% if data.store %}<h2>Datasets and projects</h2>
<table><tr><th>kind</th><th>name</th><th>people</th><th>last used by</th><th>baselines</th></tr>
{% for h in data.store %}<tr{% if h.silo %} class="silo"{% endif %}><td>{{ h.kind }}</td>
<td>{{ h.name }}</td><td>{{ h.people|dictsort|map("join", ": ")|join(", ") }}</td>
<td>{{ h.last_user or "" }}</td><td>{{ h.baseline_owners|join(", ") }}</td></tr>{% endfor %}
</table>{% endif %}
{% if data.aliases %}<h2>Aliases merged</h2><ul>
{% for who, names in data.aliases.items() %}<li>{{ who }}: {{ names|join(", ") }}</li>{% endfor %}
</ul>{% endif %}
</body></html>
""",
    autoescape=True,
)


def render_html(data: dict[str, Any]) -> str:
    """The report of ``Report.to_dict()`` (plus ``store``) as an HTML page."""
    points = chart_points(data["timeline"])
    return str(
        PAGE.render(
            data=data,
            where=data["path"] or data["root"],
            points=points,
            polyline=" ".join(f"{p['x']},{p['y']}" for p in points),
            W=WIDTH,
            H=HEIGHT,
            P=PAD,
        )
    )


def chart_points(timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The truck factor over time as SVG points (also drawn by the web UI's page)."""
    points = []
    if timeline:
        top = max(max(p["factor"] for p in timeline), 1)
        step = (WIDTH - 2 * PAD) / max(len(timeline) - 1, 1)
        for i, p in enumerate(timeline):
            x = PAD + i * step
            y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * p["factor"] / top
            points.append(
                {"x": round(x, 1), "y": round(y, 1), "factor": p["factor"], "date": when(p["at"])}
            )
    return points
