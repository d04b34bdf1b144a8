"""``lablink busfactor``: how many people the repository's knowledge hangs on.

The truck factor of Avelino et al. (2016) from the git history (``team/busfactor.py``),
per folder, over time, with the knowledge silos; and from the lablink store, the
datasets and projects that one person alone made or runs.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from lablink.cli import output
from lablink.cli.state import get_state
from lablink.errors import InvalidInput, LablinkError

SINCE = re.compile(r"^(\d+)\s*(y|mo|w|d)$")
DAYS = {"y": 365, "mo": 30, "w": 7, "d": 1}


def git_since(text: str | None) -> str | None:
    """``2y``, ``18mo``, ``6w``, ``90d`` or a date ``2025-01-31``, as git's ``--since``.

    Raises:
        InvalidInput: anything else.
    """
    if text is None:
        return None
    clean = text.strip().lower()
    match = SINCE.match(clean)
    if match:
        return f"{int(match.group(1)) * DAYS[match.group(2)]} days ago"
    try:
        return dt.date.fromisoformat(clean).isoformat()
    except ValueError:
        raise InvalidInput(
            f"--since {text!r} is not a span or a date",
            "write 2y, 18mo, 6w, 90d or a date like 2025-01-31",
        ) from None


def busfactor(
    ctx: typer.Context,
    path: str = typer.Option("", "--path", help="Only this folder of the repository."),
    since: str | None = typer.Option(
        None, "--since", help="Only knowledge from the last 2y, 18mo, 6w, 90d, or since a date."
    ),
    repo: Path = typer.Option(Path("."), "--repo", help="A folder in the git repository."),
    store: bool = typer.Option(
        True, "--store/--no-store", help="Add datasets and projects from the lablink store."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    html: Path | None = typer.Option(None, "--html", help="Also write an HTML report here."),
) -> None:
    """The bus (truck) factor: how many people leaving would orphan most of the code.

    Degree of authorship and greedy truck factor of Avelino et al. (2016), per folder and
    over time, with the folders and datasets that one person holds alone.
    """
    from lablink.team.busfactor import analyse

    try:
        report = analyse(repo, path, git_since(since))
        held = _holdings(ctx) if store else []
    except LablinkError as error:
        output.print_error(error)
        raise typer.Exit(1) from None
    data = report.to_dict()
    data["store"] = [_holding(h) for h in held]
    if html is not None:
        from lablink.team.report_html import render_html

        html.write_text(render_html(data), encoding="utf-8")
    if as_json:
        output.print_json(data)
        return
    _print(data)
    if html is not None:
        output.console().print(f"wrote {html}")


def _holdings(ctx: typer.Context) -> list[Any]:
    from lablink.sdk.team_facts import gather_holdings

    return gather_holdings(get_state(ctx).settings)


def _holding(h: Any) -> dict[str, Any]:
    return {
        "kind": h.kind,
        "name": h.name,
        "people": h.people,
        "silo": h.silo,
        "last_user": h.last_user,
        "baseline_owners": list(h.baseline_owners),
    }


def _print(data: dict[str, Any]) -> None:
    out = output.console()
    where = data["path"] or "the repository"
    out.print(
        f"[bold]truck factor {data['truck_factor']}[/] for {escape(where)} "
        f"({data['files']} files, {data['commits']} commits)"
    )
    for step in data["removed"]:
        out.print(f"  without {escape(step['person'])}: {step['files']} files lose their author")
    table = Table("folder", "truck factor", "files", "silo (one author)")
    for folder, tf in data["folders"].items():
        table.add_row(
            escape(folder),
            str(tf["truck_factor"]),
            str(tf["files"]),
            escape(data["silos"].get(folder, "")),
        )
    if data["folders"]:
        out.print(table)
    if data["timeline"]:
        points = ", ".join(f"{_date(p['at'])}: {p['factor']}" for p in data["timeline"])
        out.print(f"over time: {points}")
    for who, names in data["aliases"].items():
        out.print(f"[dim]merged {escape(', '.join(names))} into {escape(who)}[/]")
    silos = [h for h in data["store"] if h["silo"]]
    for h in silos:
        [person] = h["people"]
        out.print(f"[yellow]{h['kind']} {escape(h['name'])}[/] is held by {escape(person)} alone")


def _date(timestamp: int) -> str:
    from lablink.team.busfactor import when

    return when(timestamp)
