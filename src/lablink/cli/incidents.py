"""``lablink incidents``: list, show, acknowledge and resolve watchdog incidents.

Each command makes one transport call (embedded, or the server with ``--server`` /
``LABLINK_SERVER``) and renders the answer; ``--json`` prints it as the REST API does.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lablink.cli import output
from lablink.cli.state import get_state

app = typer.Typer(
    help="Watchdog incidents: list, show, acknowledge, resolve.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")
SEVERITY_STYLES = {"critical": "bold red", "high": "red", "warning": "yellow", "info": "dim"}
STATE_STYLES = {"open": "bold red", "acknowledged": "yellow", "resolved": "green"}


@app.command("ls")
def ls(
    ctx: typer.Context,
    open_only: bool = typer.Option(
        False, "--open", help="Only open and acknowledged incidents (not resolved)."
    ),
    run: str | None = typer.Option(None, "--run", "-r", help="Only this run's incidents."),
    limit: int = typer.Option(100, "--limit", "-n", help="Show at most this many."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List incidents, newest first."""
    with get_state(ctx).client() as client:
        found = client._transport.list_incidents(open_only, run, limit)
    if as_json:
        output.print_json({"incidents": [i.to_dict() for i in found]})
        return
    out = output.console()
    if not found:
        out.print("no open incidents" if open_only else "no incidents")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("id", "state", "severity", "kind", "rule", "run", "opened", "seen", "what"):
        fixed = column in ("id", "state", "severity", "seen")
        table.add_column(column, no_wrap=fixed, justify="right" if column == "seen" else "left")
    for i in found:
        table.add_row(
            Text(str(i.id), style="cyan"),
            Text(i.state, style=STATE_STYLES.get(i.state, "")),
            Text(i.severity, style=SEVERITY_STYLES.get(i.severity, "")),
            i.kind,
            i.rule,
            f"{i.project}/{i.run_name} ({i.run_id})",
            output.fmt_ago(i.opened_at),
            f"{i.count}x",
            i.title,
        )
    out.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., help="The incident's number."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show an incident: evidence, lifecycle, and every notification attempt."""
    with get_state(ctx).client() as client:
        found = client._transport.get_incident(incident_id)
    if as_json:
        output.print_json(found)
        return
    out = output.console()
    out.print(
        f"[bold]incident {found['id']}[/] [{STATE_STYLES.get(found['state'], '')}]{found['state']}[/]"
    )
    out.print(Text(found["title"]))
    rows: list[tuple[str, Any]] = [
        ("run", f"{found['project']}/{found['run_name']} ({found['run_id']})"),
        ("rule", f"{found['rule']} ({found['kind']}), severity {found['severity']}"),
        ("opened", f"{output.fmt_time(found['opened_at'])} by {found['opened_by']}"),
        ("seen", f"{found['count']} time(s), last {output.fmt_time(found['last_seen_at'])}"),
    ]
    if found.get("acknowledged_at"):
        rows.append(
            (
                "acknowledged",
                f"{output.fmt_time(found['acknowledged_at'])} by {found['acknowledged_by']}",
            )
        )
    if found.get("resolved_at"):
        note = f": {found['resolution_note']}" if found.get("resolution_note") else ""
        rows.append(
            ("resolved", f"{output.fmt_time(found['resolved_at'])} by {found['resolved_by']}{note}")
        )
    for name, value in rows:
        out.print(f"  [dim]{name:<13}[/] {value}")
    evidence = {k: v for k, v in found["evidence"].items() if k != "window"}
    out.print(f"  [dim]{'evidence':<13}[/] {output.fmt_value(evidence)}")
    for d in found.get("deliveries", []):
        out.print(f"  [dim]{'alert':<13}[/] {escape(_delivery(d))}")


def _delivery(d: dict[str, Any]) -> str:
    """One notification: to whom, through what, its state and when, and why that person."""
    step = d.get("step") or 0
    who = d.get("recipient")
    to = (f"escalation {step} to {who}" if step else f"to {who}") + " via " if who else ""
    when = ""
    if d["state"] == "sent" and d.get("sent_at"):
        when = f" {output.fmt_time(d['sent_at'])}"
    elif d["state"] == "pending":
        when = f", due {output.fmt_time(d['next_at'])}"
    text = f"{to}{d['channel']}: {d['state']}{when} after {d['attempts']} attempt(s)"
    if d.get("held_until"):
        text += f"; held until {output.fmt_time(d['held_until'])}"
    if d.get("reason"):
        text += f"; why: {d['reason']}"
    if d.get("last_error") and d["state"] != "sent":
        text += f" ({d['last_error']})"
    return text


@app.command("ack")
def ack(
    ctx: typer.Context, incident_id: int = typer.Argument(..., help="The incident's number.")
) -> None:
    """Acknowledge an incident: you are on it."""
    with get_state(ctx).client() as client:
        found = client._transport.ack_incident(incident_id)
    output.console().print(f"incident {found.id} acknowledged by {found.acknowledged_by}")


@app.command("resolve")
def resolve(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., help="The incident's number."),
    note: str | None = typer.Option(None, "--note", "-m", help="What was done about it."),
) -> None:
    """Resolve an incident, with a note on what was done."""
    with get_state(ctx).client() as client:
        found = client._transport.resolve_incident(incident_id, note)
    output.console().print(f"incident {found.id} resolved by {found.resolved_by}")
