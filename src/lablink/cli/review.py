"""``lablink review``: request, show, comment on, approve, reject and revoke data reviews.

Each command makes one call (embedded, or the server with ``--server`` /
``LABLINK_SERVER``, see ``sdk/reviews.py``) and renders the answer; ``--json`` prints
it as the REST API does. On a server, who approves is whom your token proves.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lablink.cli import output
from lablink.cli.state import get_state
from lablink.core.review_options import parse_splits

app = typer.Typer(
    help="Data review: an automated report and a second person's sign-off per version.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of text.")
REF = typer.Argument(..., help="The dataset version, e.g. images@v7.")
STATUS_STYLES = {"pass": "green", "warn": "yellow", "fail": "bold red"}
STATE_STYLES = {
    "pending": "yellow",
    "approved": "green",
    "rejected": "bold red",
    "revoked": "red",
}


def _client(ctx: typer.Context) -> Any:
    from lablink.sdk.reviews import open_reviews

    return open_reviews(get_state(ctx).settings)


@app.command("request")
def request(
    ctx: typer.Context,
    ref: str = REF,
    reviewer: list[str] = typer.Option(
        [], "--reviewer", "-r", help="Who should review it (repeatable); default [data] reviewers."
    ),
    splits: str | None = typer.Option(
        None, "--splits", help="Splits as NAME=PATH prefixes: train=train/,val=val/."
    ),
    key: str | None = typer.Option(None, "--key", help="Group column (patient_id) for leakage."),
    label: str | None = typer.Option(None, "--label", help="Label column for balance checks."),
    groups: str | None = typer.Option(
        None, "--groups", help="Subgroup columns, comma-separated: sex,site."
    ),
    approvals: int | None = typer.Option(
        None, "--approvals", help="Approvals needed (at least [data] approvals)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Compute the automated report of a version and ask reviewers to sign it off."""
    options = {
        "splits": parse_splits(splits),
        "key": key,
        "label": label,
        "groups": [g.strip() for g in (groups or "").split(",") if g.strip()],
    }
    settings = get_state(ctx).settings
    if approvals is None:
        from lablink.checks.review_policy import ReviewPolicy

        approvals = ReviewPolicy.from_config(settings.project_config).approvals
    with _client(ctx) as client:
        found = client.request(ref, options, reviewer, approvals)
    if as_json:
        output.print_json(found)
        return
    out = output.console()
    asked = ", ".join(found["reviewers"]) or "any member"
    out.print(f"review of [bold]{found['ref']}[/] requested from {escape(asked)}")
    _summary(found)
    _told(found)


def _told(found: dict[str, Any]) -> None:
    """One line per notification queued: to whom, through what, now or held until when."""
    out = output.console()
    for told in found.get("notified", []):
        state = told["state"]
        when = {
            "queued": "[green]now[/]",
            "held": f"[yellow]held until {output.fmt_time(told['at'])}[/]",
        }.get(state, "[red]not reached[/]")
        out.print(
            f"  [dim]telling[/] {escape(told['to'])} via {escape(told['channel'])} {when}: "
            f"[dim]{escape(told['reason'] or '')}[/]"
        )


@app.command("show")
def show(ctx: typer.Context, ref: str = REF, as_json: bool = JSON_OPTION) -> None:
    """The report's summary, its checks with pass/warn/fail, and the discussion."""
    with _client(ctx) as client:
        found = client.show(ref)
    if as_json:
        output.print_json(found)
        return
    out = output.console()
    _summary(found)
    report = found.get("report", {})
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("check", "status", "finding"):
        table.add_column(column, no_wrap=column != "finding")
    for check in report.get("checks", []):
        status = str(check.get("status", "?"))
        table.add_row(
            str(check.get("name")),
            Text(status, style=STATUS_STYLES.get(status, "")),
            str(check.get("message", "")),
        )
    if report.get("checks"):
        out.print(table)
    flagged = report.get("flagged", [])
    for item in flagged[:20]:
        row = f" row {item['row']}" if item.get("row") is not None else ""
        out.print(f"  [dim]flagged[/] {escape(str(item.get('path')))}{row}: {item.get('reason')}")
    if len(flagged) > 20:
        out.print(f"  [dim]... {len(flagged) - 20} more flagged (--json lists them)[/]")
    out.print("[bold]discussion[/]")
    for event in found.get("events", []):
        proof = "" if event["verified"] else " [dim](unverified)[/]"
        note = f": {escape(event['note'])}" if event.get("note") else ""
        out.print(
            f"  {output.fmt_time(event['at'])} {escape(event['actor'])}{proof} "
            f"[bold]{event['action']}[/]{note}"
        )
    if found.get("deliveries"):
        out.print("[bold]notifications[/]")
    for row in found.get("deliveries", []):
        when = (
            f"sent {output.fmt_time(row['sent_at'])}"
            if row["state"] == "sent"
            else f"held until {output.fmt_time(row['held_until'])}"
            if row["state"] == "pending" and row.get("held_until")
            else row["state"]
        )
        out.print(
            f"  {row['event']} to {escape(row['recipient'] or '?')} via "
            f"{escape(row['channel'])}: {when} [dim]({escape(row['reason'] or '')})[/]"
        )


def _summary(found: dict[str, Any]) -> None:
    out = output.console()
    state, status = found["state"], found.get("report_status", "?")
    approvers = ", ".join(found.get("approvers", [])) or "none yet"
    out.print(
        f"[bold]{found['ref']}[/] [{STATE_STYLES.get(state, '')}]{state}[/] "
        f"(approvals {len(found.get('approvers', []))}/{found['approvals_needed']}: "
        f"{escape(approvers)}; made by {escape(found['author'])})"
    )
    out.print(
        f"report [{STATUS_STYLES.get(status, '')}]{status}[/]: {escape(found.get('summary', ''))}"
    )


def _act(ctx: typer.Context, ref: str, action: str, note: str | None, done: str) -> None:
    with _client(ctx) as client:
        found = client.act(ref, action, note)
    out = output.console()
    out.print(f"{found['ref']}: {done}; the review is [bold]{found['state']}[/]")
    _told(found)
    if found.get("warning"):
        output.err_console().print(f"[yellow]warning:[/] {escape(found['warning'])}")


@app.command("comment")
def comment(
    ctx: typer.Context,
    ref: str = REF,
    text: str = typer.Argument(..., help="The remark, e.g. 'val/0413.png is a blank frame'."),
) -> None:
    """Add a remark to a review's discussion."""
    _act(ctx, ref, "comment", text, "comment added")


@app.command("approve")
def approve(
    ctx: typer.Context,
    ref: str = REF,
    note: str | None = typer.Option(None, "--note", "-m", help="What you checked."),
) -> None:
    """Approve a version for training (refused for its author on a team server)."""
    _act(ctx, ref, "approve", note, "approved")


@app.command("reject")
def reject(
    ctx: typer.Context,
    ref: str = REF,
    note: str = typer.Option(..., "--note", "-m", help="Why (required)."),
) -> None:
    """Reject a version, saying why."""
    _act(ctx, ref, "reject", note, "rejected")


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    ref: str = REF,
    note: str | None = typer.Option(None, "--note", "-m", help="Why the approval no longer holds."),
) -> None:
    """Withdraw your approval (recorded like every other step)."""
    _act(ctx, ref, "revoke", note, "approval revoked")


@app.command("ls")
def ls(
    ctx: typer.Context,
    pending: bool = typer.Option(False, "--pending", help="Only reviews awaiting a decision."),
    mine: bool = typer.Option(
        False, "--mine", help="Only those you requested, review or authored."
    ),
    limit: int = typer.Option(100, "--limit", "-n", help="Show at most this many."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List reviews, newest first."""
    with _client(ctx) as client:
        found = client.ls(pending, mine, limit)
    if as_json:
        output.print_json({"reviews": found})
        return
    out = output.console()
    if not found:
        out.print("no pending reviews" if pending else "no reviews")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("version", "state", "report", "approvals", "reviewers", "requested"):
        table.add_column(column, no_wrap=True)
    for r in found:
        table.add_row(
            Text(r["ref"], style="cyan"),
            Text(r["state"], style=STATE_STYLES.get(r["state"], "")),
            Text(r["report_status"], style=STATUS_STYLES.get(r["report_status"], "")),
            f"{len(r['approvers'])}/{r['approvals_needed']}",
            ", ".join(r["reviewers"]) or "-",
            f"{output.fmt_ago(r['requested_at'])} by {r['requested_by']}",
        )
    out.print(table)
