"""``lablink oncall``: rotations, who is on call now, the schedule, overrides, ICS export."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from lablink.cli import output
from lablink.cli.team_ops import split, team_ops

app = typer.Typer(
    help="On-call rotations: who is on call now and next, the schedule, overrides, calendars.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
rotation_app = typer.Typer(
    help="Create or remove rotations.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(rotation_app, name="rotation")

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


@rotation_app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The rotation's name, e.g. research."),
    members: list[str] = typer.Option(
        ..., "--members", help="Teammates in turn order: ana,kenji,lucia."
    ),
    handoff: str = typer.Option(
        "Mon 09:00",
        "--handoff",
        help="When a turn hands over: 'Mon 09:00', or '09:00' with --daily.",
    ),
    daily: bool = typer.Option(False, "--daily", help="Hand over every day, not every week."),
    follow_sun: bool = typer.Option(
        False,
        "--follow-the-sun",
        help="Each moment goes to a member whose working hours cover it.",
    ),
    escalate_after: str = typer.Option(
        "15m", "--escalate-after", help="Page the next person when unacknowledged this long."
    ),
    fallback: str | None = typer.Option(None, "--fallback", help="Who is paged last (a teammate)."),
    tz: str = typer.Option("UTC", "--tz", help="The time zone of the hand-off time."),
    project: list[str] = typer.Option(
        [], "--project", help="Only incidents of this project (repeatable; default: all)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a rotation, or replace the one of that name (its overrides stay)."""
    body = {
        "members": split(members),
        "handoff": handoff,
        "daily": daily,
        "follow_sun": follow_sun,
        "escalate_after": escalate_after,
        "fallback": fallback,
        "tz": tz,
        "projects": project,
    }
    with team_ops(ctx) as ops:
        found = ops.create_rotation(name, body)
    if as_json:
        output.print_json(found)
        return
    output.console().print(
        f"rotation [green]{name}[/]: {', '.join(found['members'])}, hand-off {found['handoff']} {found['tz']}"
    )


@rotation_app.command("rm")
def remove(ctx: typer.Context, name: str = typer.Argument(..., help="The rotation.")) -> None:
    """Remove a rotation and its overrides."""
    with team_ops(ctx) as ops:
        ops.remove_rotation(name)
    output.console().print(f"rotation {name} removed")


@rotation_app.command("ls")
def rotations(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List rotations."""
    with team_ops(ctx) as ops:
        found = ops.rotations()
    if as_json:
        output.print_json({"rotations": found})
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("name", "members", "hand-off", "follow-the-sun", "escalate", "fallback"):
        table.add_column(column)
    for r in found:
        table.add_row(
            r["name"],
            ",".join(r["members"]),
            f"{r['handoff']} {r['tz']}",
            "yes" if r["follow_the_sun"] else "no",
            f"{r['escalate_after'] / 60:g} min",
            r["fallback"] or "",
        )
    output.console().print(table)


@app.command("now")
def now(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Who is on call now in each rotation, until when, and who is next."""
    with team_ops(ctx) as ops:
        found = ops.now()
    if as_json:
        output.print_json({"rotations": found})
        return
    out = output.console()
    if not found:
        out.print("no rotations: lablink oncall rotation create NAME --members a,b")
        return
    for r in found:
        cur, nxt = r["now"], r["next"]
        line = f"[bold]{r['rotation']}[/]: [green]{cur['person']}[/] until {_when(cur['end'])}"
        if nxt:
            line += f", then {nxt['person']}"
        out.print(line + f"  [dim]({cur['why']})[/]")


@app.command("schedule")
def schedule(
    ctx: typer.Context,
    weeks: int = typer.Option(4, "--weeks", help="How many weeks ahead (1-52)."),
    rotation: str | None = typer.Option(None, "--rotation", help="Only this rotation."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The shifts from now on, one line per shift."""
    with team_ops(ctx) as ops:
        found = ops.schedule(weeks, rotation)
    if as_json:
        output.print_json({"shifts": found})
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("rotation", "from (UTC)", "to (UTC)", "who", "why"):
        table.add_column(column)
    for s in found:
        table.add_row(s["rotation"], _when(s["start"]), _when(s["end"]), s["person"], s["why"])
    output.console().print(table)


@app.command("override")
def override(
    ctx: typer.Context,
    person: str = typer.Argument(..., help="Who takes the shift."),
    start: str = typer.Option(
        ..., "--from", help="Start: 2026-12-01T09:00 (rotation's zone) or now."
    ),
    end: str = typer.Option(..., "--to", help="End: 2026-12-02T09:00."),
    rotation: str | None = typer.Option(
        None, "--rotation", help="The rotation (needed when there are several)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Put someone on call for a while; refused outside the schedule (the next year)."""
    body = {"person": person, "start": start, "end": end, "rotation": rotation}
    with team_ops(ctx) as ops:
        found = ops.override(body)
    if as_json:
        output.print_json(found)
        return
    output.console().print(
        f"{person} is on call in {found['rotation']} from {_when(found['start'])} to {_when(found['end'])}"
    )


@app.command("export")
def export(
    ctx: typer.Context,
    rotation: str = typer.Argument(..., help="The rotation."),
    ics: Path = typer.Option(..., "--ics", help="Write an iCalendar file here."),
    weeks: int = typer.Option(12, "--weeks", help="How many weeks ahead (1-52)."),
) -> None:
    """Write the rotation's shifts as an iCalendar file, one event per shift."""
    with team_ops(ctx) as ops:
        data = ops.ics(rotation, weeks)
    ics.write_bytes(data)
    output.console().print(f"wrote {ics} ({data.count(b'BEGIN:VEVENT')} shifts)")


def _when(at: Any) -> str:
    return f"{dt.datetime.fromtimestamp(float(at), dt.UTC):%a %Y-%m-%d %H:%M}"
