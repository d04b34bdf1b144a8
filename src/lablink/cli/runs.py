"""``lablink runs``: list, show, compare, tag, annotate and read the history of runs.

Each command parses its flags, makes one ``Client`` call and renders the answer, so
the commands behave the same embedded and against a server (``--server``).
"""

from __future__ import annotations

import enum
import time
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from lablink.cli import output
from lablink.cli.render_run import render_run
from lablink.cli.run_artifacts import artifacts, download
from lablink.cli.state import get_state

app = typer.Typer(
    help="List, show, compare, tag and annotate runs.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

NAME_MIN_WIDTH = 16
# What the runs table shows (`ls_table`), so a listing without --json reads no params,
# notes, inputs, configs or package lists (checks/run_view.py names the fields).
TABLE_FIELDS = ("user", "ended_at", "heartbeat_at", "duration", "tags", "summary", "metrics")


class Outcome(enum.StrEnum):
    """What a note says about the run's result."""

    positive = "positive"
    negative = "negative"
    inconclusive = "inconclusive"


JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")

app.command("artifacts")(artifacts)
app.command("download")(download)


@app.command("ls")
def ls(
    ctx: typer.Context,
    project: str | None = typer.Option(None, "--project", "-p", help="Only this project."),
    filter: str | None = typer.Option(
        None,
        "--filter",
        "-f",
        help="Filter expression, e.g. 'metrics.val/acc > 0.9 and params.lr <= 1e-3 and "
        'tags.baseline and status = "finished"\'.',
    ),
    sort: str | None = typer.Option(
        None,
        "--sort",
        "-s",
        help="Sort key: created_at (default), name, status, user, duration, "
        "metrics.KEY or params.KEY.",
    ),
    asc: bool = typer.Option(False, "--asc", help="Sort ascending (default: descending)."),
    limit: int = typer.Option(50, "--limit", "-n", help="Show at most this many runs."),
    metric: list[str] = typer.Option(
        [], "--metric", "-m", help="Metric column to show (repeatable); default: the common ones."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """List runs, newest first, optionally filtered and sorted."""
    fields = None if as_json else TABLE_FIELDS
    with get_state(ctx).client() as client:
        found, total = client.search(
            project, filter, sort=sort, descending=not asc, limit=limit, fields=fields
        )
    if as_json:
        output.print_json({"total": total, "runs": [run.to_dict() for run in found]})
        return
    out = output.console()
    if not found:
        out.print("no runs match" if filter else "no runs yet")
        return
    out.print(ls_table(found, metric, time.time()))
    if total > len(found):
        out.print(f"[dim]{len(found)} of {total} runs shown; use --limit to see more[/]")


def ls_table(found: list[Any], metric: list[str], now: float) -> Table:
    """The runs table of ``lablink runs ls``: it reads only ``TABLE_FIELDS`` of a run."""
    keys = output.pick_metric_keys(found, metric)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("id", "name", "status", "user", "started", "duration", "tags"):
        table.add_column(
            column,
            no_wrap=column in ("id", "status", "started", "duration"),
            # a run is found by its name: keep it readable in an 80-column terminal
            min_width=NAME_MIN_WIDTH if column == "name" else None,
        )
    for key in keys:
        table.add_column(key, justify="right")
    for run in found:
        cells: list[Any] = [
            Text(run.id, style="cyan"),
            run.name,
            output.status_text(run.status),
            run.user,
            output.fmt_ago(run.created_at, now),
            output.fmt_duration(run.elapsed(now)),
            " ".join(run.tags),
        ]
        for key in keys:
            cells.append(output.fmt_value(_metric_value(run, key)))
        table.add_row(*cells)
    return table


def _metric_value(run: Any, key: str) -> Any:
    if key in run.summary:
        return run.summary[key]
    summary = run.metrics.get(key)
    return None if summary is None else summary.value


@app.command("show")
def show(
    ctx: typer.Context,
    run: str = typer.Argument(..., help="Run id (or a unique prefix of one)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show everything recorded about one run: code version, config, metrics, notes."""
    with get_state(ctx).client() as client:
        found = client.run(run)
    if as_json:
        output.print_json(found.to_dict())
        return
    render_run(output.console(), found)


@app.command("compare")
def compare(
    ctx: typer.Context,
    runs: list[str] = typer.Argument(..., help="Two or more run ids."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Compare runs: params that differ, final and best metrics side by side."""
    with get_state(ctx).client() as client:
        result = client.compare(*runs)
    if as_json:
        output.print_json(result)
        return
    out = output.console()
    headers = [f"{r['id']}\n{r['name']}" for r in result["runs"]]
    params = Table(title="params that differ", box=None, header_style="bold", title_justify="left")
    params.add_column("param")
    for header in headers:
        params.add_column(header)
    for key, values in result["params_differing"].items():
        params.add_row(key, *(Text(output.fmt_value(v), style="bold yellow") for v in values))
    if result["params_differing"]:
        out.print(params)
    else:
        out.print("[dim]no params differ[/]")
    if result["params_same"]:
        out.print(f"[dim]{len(result['params_same'])} params are the same in every run[/]")
    out.print()
    metrics = Table(
        title="metrics: final (best)", box=None, header_style="bold", title_justify="left"
    )
    metrics.add_column("metric")
    for header in headers:
        metrics.add_column(header, justify="right")
    for key, cells in result["metrics"].items():
        if key.startswith("sys/"):
            continue
        metrics.add_row(key, *(_compare_cell(key, cell, cells) for cell in cells))
    out.print(metrics)


def _compare_cell(key: str, cell: dict[str, Any] | None, row: list[Any]) -> Text:
    """``final (best)``; the best final value of the row is bold green."""
    if cell is None:
        return Text("-", style="dim")
    text = Text(output.fmt_value(cell.get("final")))
    best = output.best_of(key, cell)
    if best is not None and best != cell.get("final"):
        text.append(f" ({output.fmt_value(best)})", style="dim")
    finals = [c["final"] for c in row if c and isinstance(c.get("final"), int | float)]
    finals = [f for f in finals if f == f]  # drop NaN
    if len(finals) > 1 and cell.get("final") in finals:
        winner = min(finals) if output.lower_is_better(key) else max(finals)
        if cell["final"] == winner:
            text.stylize("bold green", 0, len(output.fmt_value(cell["final"])))
    return text


@app.command("tag")
def tag(
    ctx: typer.Context,
    run: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    tags: list[str] = typer.Argument(..., help="One or more tags."),
    remove: bool = typer.Option(False, "--remove", "-r", help="Remove the tags instead."),
) -> None:
    """Add tags to a run (or remove them with --remove)."""
    with get_state(ctx).client() as client:
        add, drop = ((), tuple(tags)) if remove else (tuple(tags), ())
        updated = client.tag(run, *add, remove=drop)
    shown = " ".join(updated.tags) or "(none)"
    output.console().print(f"run [cyan]{updated.id}[/] tags: {shown}")


@app.command("note")
def note(
    ctx: typer.Context,
    run: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    text: str = typer.Argument(..., help="The note, e.g. what you learned from the run."),
    outcome: Outcome | None = typer.Option(
        None, "--outcome", "-o", help="Mark the result; negative results go in the experiment log."
    ),
) -> None:
    """Add a note to a run, optionally marking its outcome."""
    with get_state(ctx).client() as client:
        updated = client.note(run, text, outcome.value if outcome else None)
    marked = f" ({outcome.value})" if outcome else ""
    output.console().print(
        f"noted on run [cyan]{updated.id}[/]{marked}; it has {len(updated.notes)} note(s)"
    )


@app.command("history")
def history(
    ctx: typer.Context,
    run: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    key: str = typer.Argument(..., help="Metric key, e.g. train/loss."),
    max_points: int | None = typer.Option(
        None,
        "--max-points",
        help="Downsample on the server to N points (at least 2; keeps the ends and extremes); all of them when there are N or fewer. Default: all.",
    ),
    step_min: int | None = typer.Option(None, "--step-min", help="First step to read."),
    step_max: int | None = typer.Option(None, "--step-max", help="Last step to read."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Print a metric's history: step, value and wall time of every point."""
    with get_state(ctx).client() as client:
        found = client.history(run, key, max_points, step_min=step_min, step_max=step_max)
    if as_json:
        output.print_json(found.to_dict())
        return
    out = output.console()
    table = Table(box=None, header_style="bold")
    table.add_column("step", justify="right")
    table.add_column(key, justify="right")
    table.add_column("time")
    for step, value, when in zip(found.steps, found.values, found.times, strict=True):
        table.add_row(str(step), output.fmt_value(value), output.fmt_time(when))
    out.print(table)
    note_text = f"{len(found)} points"
    if found.downsampled:
        note_text += f", downsampled from {found.total}"
    out.print(f"[dim]{note_text}[/]")
