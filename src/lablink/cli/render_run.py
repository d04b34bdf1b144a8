"""The human view of ``lablink runs show``: one run, section by section."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lablink.cli import output
from lablink.models import RunRecord


def render_run(out: Console, run: RunRecord) -> None:
    """Print a run: header, code version, config, summary, metrics, notes, failure."""
    title = Text.assemble(
        (run.id, "bold cyan"), "  ", (run.name, "bold"), "  ", output.status_text(run.status)
    )
    if run.outcome:
        title.append("  ")
        title.append_text(output.outcome_text(run.outcome))
    out.print(title)
    out.print(_facts(run))
    if run.config:
        out.print(_section("config"))
        out.print(_pairs(run.params))
    if run.summary:
        out.print(_section("summary"))
        out.print(_pairs(run.summary))
    if run.metrics:
        out.print(_section("metrics"))
        out.print(_metrics(run))
    if run.notes:
        out.print(_section("notes"))
        for note in run.notes:
            line = Text(f"{output.fmt_time(note.created_at)}  {note.author}  ", style="dim")
            if note.outcome:
                line.append_text(output.outcome_text(note.outcome))
                line.append("  ")
            line.append(note.text)
            out.print(line)
    if run.status_reason and run.status != "finished":
        out.print(_section(f"why it {run.status}"))
        out.print(Text(run.status_reason, style="red"))


def _section(name: str) -> Text:
    return Text("\n" + name, style="bold underline")


def _facts(run: RunRecord) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    git = run.git
    code = git.commit[:12] if git.commit else "not a git repository"
    if git.branch:
        code += f" on {git.branch}"
    if git.dirty:
        code += " [bold yellow](dirty: uncommitted changes)[/]"
    rows = [
        ("project", escape(run.project)),
        ("user", escape(run.user)),
        ("started", f"{output.fmt_time(run.created_at)} ({output.fmt_ago(run.created_at)})"),
        ("ended", output.fmt_time(run.ended_at) or "-"),
        ("duration", output.fmt_duration(run.elapsed(time.time()))),
        ("tags", escape(" ".join(run.tags)) or "-"),
        ("git", code),
        ("remote", escape(git.remote or "")),
        ("command", escape(" ".join(run.command))),
        ("host", escape(run.host or "")),
        ("python", escape(run.python_version or "")),
        ("gpus", escape(", ".join(run.gpus))),
    ]
    for inp in run.inputs:
        rows.append(("input", escape(f"{inp.get('kind', '')} {inp.get('ref', '')}")))
    for name, value in rows:
        if value:
            table.add_row(name, value)
    return table


def _pairs(values: Mapping[str, Any]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="cyan")
    table.add_column()
    for key, value in sorted(values.items()):
        table.add_row(escape(str(key)), escape(output.fmt_value(value)))
    return table


def _metrics(run: RunRecord) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("key", "summary", "last", "min", "max", "points", "last step"):
        table.add_column(column, justify="left" if column == "key" else "right")
    ordered = sorted(run.metrics.values(), key=lambda m: (m.key.startswith("sys/"), m.key))
    for m in ordered:
        table.add_row(
            escape(m.key),
            output.fmt_value(m.summary_value),
            output.fmt_value(m.last_value),
            output.fmt_value(m.min_value),
            output.fmt_value(m.max_value),
            str(m.count),
            "" if m.last_step is None else str(m.last_step),
        )
    return table
