"""``lablink import mlflow|tensorboard``: bring runs other tools recorded into lablink.

Both write through ``importers/``: into the embedded store, or to the server that
``--server`` / ``LABLINK_SERVER`` names. Each shows a progress bar over the runs and
ends with a table of what was imported, completed, skipped and what failed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lablink.cli import output
from lablink.cli.state import get_state
from lablink.importers.connect import open_sink
from lablink.importers.engine import Progress as Progress_
from lablink.importers.engine import import_runs
from lablink.importers.model import Summary
from lablink.settings import format_size

app = typer.Typer(
    help="Import runs from MLflow (a server or its store) or TensorBoard event files.",
    no_args_is_help=True,
)


@app.command("mlflow")
def mlflow_command(
    ctx: typer.Context,
    source: str = typer.Option(
        ...,
        "--from",
        help="An MLflow server URL, a sqlite:///path.db store or an mlruns folder.",
    ),
    experiments: list[str] = typer.Option(
        [], "--experiment", help="Import only this experiment (repeat for several)."
    ),
    prefix: str = typer.Option(
        "", "--project-prefix", help="Put before each experiment's name to make its project's."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Import MLflow experiments, runs, params, tags, metric histories and artifacts.

    Each experiment becomes a lablink project; each run keeps its name, status, times,
    user and commit, its params as strings and typed, its tags, every metric point and
    every artifact. Run it again to finish an interrupted import: what is already here
    is skipped (each run carries the tag `import.mlflow.run_id`).
    """
    from lablink.importers.mlflow_source import LINK_TAGS, ORIGIN_TAG, MlflowSource

    reader = MlflowSource(source)
    chosen = reader.experiments(experiments)
    total = reader.count([eid for eid, _ in chosen])
    with open_sink(get_state(ctx).settings) as sink, _bar(total, as_json) as advance:
        summary = import_runs(
            sink,
            reader.runs(chosen),
            ORIGIN_TAG,
            lambda name: prefix + name,
            progress=advance,
            experiments={name: reader.tags[name] for _, name in chosen},
            links=LINK_TAGS,
        )
    _report(summary, f"from {source} into {sink.label}", as_json)


@app.command("tensorboard")
def tensorboard_command(
    ctx: typer.Context,
    logdir: Path = typer.Argument(..., help="The folder TensorBoard's --logdir would read."),
    project: str = typer.Option(..., "--project", "-p", help="The project the runs go into."),
    name_from: str = typer.Option(
        "dir",
        "--run-name-from",
        help="A run's name: its folder's path under LOGDIR (dir) or the folder's name (leaf).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Import TensorBoard event files: each folder of them becomes a run.

    Scalars become metric points (step and wall time), HParams become params, and text
    summaries a Markdown artifact per tag. A truncated event file is imported up to
    the damage, and named. Run it again to finish an interrupted import; runs already
    here are skipped (each carries the tag `import.tensorboard.run`).
    """
    from lablink.importers.tensorboard_source import ORIGIN_TAG, TensorboardSource

    reader = TensorboardSource(logdir, project, name_from)
    with open_sink(get_state(ctx).settings) as sink, _bar(len(reader.folders), as_json) as advance:
        summary = import_runs(
            sink, reader.runs(), ORIGIN_TAG, str, progress=advance, experiments={project: {}}
        )
    _report(summary, f"from {logdir} into {sink.label}", as_json)


@contextlib.contextmanager
def _bar(total: int, quiet: bool) -> Iterator[Progress_]:
    """A progress bar over the runs on stderr; yields the function that advances it."""
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=output.err_console(),
        disable=quiet,
    )
    task = bars.add_task("importing runs", total=total)

    def advance(project: str, origin: str, outcome: str) -> None:
        bars.update(task, advance=1, description=f"importing {escape(project)[:40]}")

    with bars:
        yield advance


def _report(summary: Summary, where: str, as_json: bool) -> None:
    failed = sum(t.failed for t in summary.tallies.values())
    if as_json:
        output.print_json(summary.as_dict())
    else:
        out = output.console()
        table = Table(box=None, header_style="bold", title=f"import {escape(where)}")
        columns = ("project", "imported", "completed", "skipped", "failed")
        for column in (*columns, "params", "tags", "points", "artifacts", "size"):
            table.add_column(column, justify="left" if column == "project" else "right")
        for t in summary.tallies.values():
            table.add_row(
                escape(t.project),
                str(t.imported),
                str(t.completed),
                str(t.skipped),
                f"[red]{t.failed}[/]" if t.failed else "0",
                f"{t.params:,}",
                f"{t.tags:,}",
                f"{t.points:,}",
                f"{t.artifacts:,}",
                format_size(t.bytes),
            )
        out.print(table)
        for problem in summary.problems:
            output.err_console().print(f"[yellow]warning:[/] {escape(problem)}")
    if failed:
        output.err_console().print(
            f"[bold red]error:[/] [red]{failed} runs failed to import[/]; "
            "fix what the warnings name and run the same command again"
        )
        raise typer.Exit(1)
