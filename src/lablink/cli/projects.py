"""``lablink projects``: every project with its run counts and last activity.

``lablink projects grant`` (people's roles in a project) lives in ``cli/people.py``.
"""

from __future__ import annotations

import dataclasses

import typer
from rich.table import Table

from lablink.cli import output
from lablink.cli.people import grant, grants, revoke
from lablink.cli.state import get_state

app = typer.Typer(
    help="List projects with their runs and last activity; `grant`, `grants` and `revoke` "
    "manage people's roles in them.",
    invoke_without_command=True,
    subcommand_metavar="[grant|grants|revoke ...]",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("grant")(grant)
app.command("grants")(grants)
app.command("revoke")(revoke)


@app.callback(invoke_without_command=True)
def projects(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List projects with their number of runs, active runs and last activity."""
    if ctx.invoked_subcommand is not None:
        return
    with get_state(ctx).client() as client:
        found = client.projects()
    if as_json:
        output.print_json([dataclasses.asdict(p) for p in found])
        return
    out = output.console()
    if not found:
        out.print("no projects yet; start a run with lablink.init(project=...) or `lablink demo`")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("project", "runs", "running", "last activity", "created"):
        table.add_column(column, justify="right" if column in ("runs", "running") else "left")
    for project in found:
        table.add_row(
            project.name,
            str(project.run_count),
            str(project.active_runs) if project.active_runs else "",
            output.fmt_ago(project.last_activity),
            output.fmt_time(project.created_at),
        )
    out.print(table)
