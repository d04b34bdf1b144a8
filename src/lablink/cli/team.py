"""``lablink team``: the roster (time zones, hours, focus blocks, away, contacts) and core
hours. Each command makes one call (``cli/team_ops.py``) and renders the answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from lablink.cli import output
from lablink.cli.team_ops import team_ops
from lablink.team.hours import week_text

app = typer.Typer(
    help="The team roster: time zones, working hours, focus blocks, core-hours overlap.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")
STATE_STYLES = {"working": "green", "focus": "magenta", "off": "dim", "away": "yellow"}


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Their user name (the user is created with --email)."),
    tz: str = typer.Option(..., "--tz", help="IANA time zone, e.g. Europe/London."),
    hours: list[str] = typer.Option(
        ...,
        "--hours",
        help="Working hours: '09:00-17:30' (Mon-Fri), or 'Mon-Thu 08:00-16:00' for those "
        "days (repeatable).",
    ),
    focus: list[str] = typer.Option(
        [], "--focus", help="A focus block, e.g. 'Tue,Thu 13:00-16:00' (repeatable)."
    ),
    away: list[str] = typer.Option(
        [], "--away", help="Away, e.g. 2026-12-24..2027-01-02 (both days included; repeatable)."
    ),
    contact: list[str] = typer.Option(
        [], "--contact", help="An apprise URL to reach them: slack://, mailto://... (repeatable)."
    ),
    email: str | None = typer.Option(
        None, "--email", help="Their e-mail: creates their user if there is none yet."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a teammate, or replace their entry. Nothing is saved if any field is wrong."""
    body = {
        "tz": tz,
        "hours": hours,
        "focus": focus,
        "away": away,
        "contacts": contact,
        "email": email,
    }
    with team_ops(ctx) as ops:
        member = ops.add(name, body)
    if as_json:
        output.print_json(member)
        return
    output.console().print(f"[green]{name}[/] is on the team ({member['tz']}).")


@app.command("ls")
def ls(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List the team with each person's local time and whether they are working now."""
    with team_ops(ctx) as ops:
        members = ops.members()
    if as_json:
        output.print_json({"members": members})
        return
    out = output.console()
    if not members:
        out.print("nobody on the team yet: lablink team add NAME --tz ... --hours ...")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("name", "tz", "local time", "now", "hours", "focus", "away"):
        table.add_column(column)
    for m in members:
        table.add_row(
            Text(m["name"], style="cyan"),
            m["tz"],
            m["local_time"],
            Text(m["state"], style=STATE_STYLES.get(m["state"], "")),
            week_text(m["hours"]),
            week_text(m["focus"]),
            ", ".join(m["away"]),
        )
    out.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The teammate."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one teammate: hours per weekday, focus blocks, away periods, contacts (masked)."""
    with team_ops(ctx) as ops:
        m = ops.member(name)
    if as_json:
        output.print_json(m)
        return
    out = output.console()
    out.print(
        f"[bold]{m['name']}[/] {m.get('email') or ''} · {m['tz']} · {m['local_time']} ({m['state']})"
    )
    for day, spans in m["hours"].items():
        blocks = m["focus"].get(day, [])
        extra = f"  focus {', '.join(blocks)}" if blocks else ""
        out.print(f"  {day}  {', '.join(spans)}{extra}")
    if m["away"]:
        out.print(f"  away: {', '.join(m['away'])}")
    for contact in m["contacts"]:
        out.print(f"  contact: {contact}")


@app.command("rm")
def rm(ctx: typer.Context, name: str = typer.Argument(..., help="The teammate.")) -> None:
    """Take someone off the team (their user and history stay)."""
    with team_ops(ctx) as ops:
        ops.remove(name)
    output.console().print(f"{name} is off the team.")


@app.command("overlap")
def overlap(
    ctx: typer.Context,
    week: str | None = typer.Option(
        None, "--week", help="An ISO week, e.g. 2026-W50 (default: this one)."
    ),
    k: int | None = typer.Option(None, "--min", help="At least this many people (default: all)."),
    html: Path | None = typer.Option(None, "--html", help="Also write the week's heat-map here."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Core hours: when everyone (or at least --min people) is working and not in focus,
    in each person's local time, with the best slot of each day."""
    with team_ops(ctx) as ops:
        found = ops.overlap(week, k)
    if html is not None:
        from lablink.team.overlap_html import render_page

        html.write_text(render_page(found), encoding="utf-8")
    if as_json:
        output.print_json(found)
        return
    _print_overlap(found)
    if html is not None:
        output.console().print(f"wrote {html}")


def _print_overlap(found: dict[str, Any]) -> None:
    out = output.console()
    names = [m["name"] for m in found["members"]]
    out.print(f"[bold]{found['week']}[/]: {found['min']} of {len(names)} people free together")
    if not found["slots"]:
        out.print("[yellow]no overlap this week[/]; try --min with fewer people")
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("UTC", "min", "who", *names):
        table.add_column(column)
    best = {(b["start"], b["end"]) for b in found["best"] if b}
    for slot in found["slots"]:
        star = "★ " if (slot["start"], slot["end"]) in best else "  "
        table.add_row(
            star + slot["utc"],
            str(slot["minutes"]),
            ",".join(slot["people"]),
            *(slot["local"][n] for n in names),
        )
    if found["slots"]:
        out.print(table)
        out.print("★ the best slot of its day")


@app.command("sync")
def sync(
    ctx: typer.Context,
    file: Path | None = typer.Option(
        None, "--file", help="A lablink.toml (default: this repository's)."
    ),
) -> None:
    """Load `[team]` and `[oncall]` from lablink.toml: the file becomes the roster's truth
    for the entries it names; entries of earlier syncs that it dropped are removed."""
    from lablink.cli.state import get_state

    if file is not None:
        import tomllib

        try:
            config: Any = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            from lablink.errors import InvalidInput

            raise InvalidInput(f"cannot read {file}: {exc}", "give a readable TOML file") from None
    else:
        config = get_state(ctx).settings.project_config
    with team_ops(ctx) as ops:
        done = ops.sync({"team": config.get("team", {}), "oncall": config.get("oncall", {})})
    output.console().print(f"synced {done['people']} people and {done['rotations']} rotations")
