"""``lablink users``, ``lablink tokens``, ``lablink projects grant`` and ``lablink audit``.

Administration of who may do what. Without ``--server`` these commands open the store
named by ``--db`` / ``LABLINK_DB`` / ``--home`` directly (run them where the server's
database is), call one ``core/people.py`` operation each and render the answer; each
change is written to the audit log with the local user (``LABLINK_USER``) as the actor.
With ``--server`` / ``LABLINK_SERVER`` they make the same calls through the server's
admin API (``cli/people_remote.py``) with the caller's token, who is then the actor.
"""

from __future__ import annotations

import contextlib
import enum
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table
from rich.text import Text

from lablink.cli import output
from lablink.cli.state import get_state
from lablink.errors import InvalidInput

if TYPE_CHECKING:
    from lablink.cli.people_remote import RemotePeople
    from lablink.core.people import People
    from lablink.identity import NewToken

HELP = {"help_option_names": ["-h", "--help"]}
JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")
STATE_STYLES = {"active": "green", "expired": "yellow", "revoked": "red"}

users_app = typer.Typer(
    help="People and service accounts: add, list, disable.",
    no_args_is_help=True,
    context_settings=HELP,
)
tokens_app = typer.Typer(
    help="API tokens: create (shown once), list, revoke.",
    no_args_is_help=True,
    context_settings=HELP,
)


class ServerRole(enum.StrEnum):
    """A user's role on the whole server."""

    user = "user"
    admin = "admin"


class ExportFormat(enum.StrEnum):
    """An audit export format."""

    jsonl = "jsonl"
    csv = "csv"


class Role(enum.StrEnum):
    """A role in a project."""

    viewer = "viewer"
    member = "member"
    admin = "admin"


@contextlib.contextmanager
def _people(ctx: typer.Context) -> Iterator[tuple[People | RemotePeople, str]]:
    """The people use cases (on the server with ``--server``, else on the local store),
    and who is acting."""
    from lablink.core.people import People
    from lablink.store import open_store

    settings = get_state(ctx).settings
    if settings.server:
        from lablink.cli.people_remote import RemotePeople

        remote = RemotePeople(settings)
        try:
            yield remote, settings.user
        finally:
            remote.close()
        return
    store = open_store(settings.db, durability=settings.durability)
    try:
        yield People(store), settings.user
    finally:
        store.close()


def _duration(value: str | None, option: str) -> float | None:
    """Seconds from ``90d``, ``12h``, ``2w``...; None for ``never``. Bad text is a usage error."""
    from lablink.checks.durations import parse_duration

    if value is None or value.strip().lower() == "never":
        return None
    try:
        return parse_duration(value, option)
    except InvalidInput:
        raise typer.BadParameter(
            f"cannot read {value!r} as a duration; write 90d, 12h, 2w or never",
            param_hint=option,
        ) from None


def _print_token(new: NewToken) -> None:
    out = output.console()
    token = new.token
    where = f"project {token.project}" if token.project else "every project"
    expires = output.fmt_time(token.expires_at) if token.expires_at else "never"
    out.print(f"token {token.id} ({token.name}) for {token.user}: {token.role} in {where}")
    out.print(f"expires {expires}. Copy it now, it is not shown again:")
    # Plain write: Rich could wrap or colour the one line people paste into CI secrets.
    typer.echo(new.secret)


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Their user name, such as ana."),
    email: str | None = typer.Option(None, "--email", help="Their e-mail (people need one)."),
    role: ServerRole = typer.Option(
        ServerRole.user, "--role", help="admin runs the server: every project, every user."
    ),
    service: bool = typer.Option(False, "--service", help="A service account, for CI."),
    expires: str = typer.Option(
        "90d", "--expires", help="When the initial token expires: 90d, 12h, 2w or never."
    ),
) -> None:
    """Add a person or service account, and print their initial token once."""
    lifetime = _duration(expires, "--expires")
    if not service and email is None:
        raise typer.BadParameter("people need an e-mail address", param_hint="--email")
    with _people(ctx) as (people, actor):
        admin = role is ServerRole.admin
        user, token = people.invite(actor, name, email, admin, service, lifetime)
    kind = "service account" if user.kind == "service" else "user"
    output.console().print(f"added {kind} {user.name}" + (" (server admin)" if admin else ""))
    _print_token(token)


@users_app.command("ls")
def users_ls(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List people and service accounts."""
    with _people(ctx) as (people, _):
        found = people.list_users()
    if as_json:
        output.print_json({"users": [u.to_dict() for u in found]})
        return
    out = output.console()
    if not found:
        out.print("no users yet; add one with `lablink users add NAME --email E`")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("name", "kind", "email", "role", "password", "state", "created"):
        table.add_column(column)
    for u in found:
        table.add_row(
            Text(u.name, style="cyan"),
            u.kind,
            u.email or "",
            "admin" if u.is_admin else "",
            "set" if u.has_password else "",
            Text("disabled", style="red") if u.disabled else Text("active", style="green"),
            output.fmt_time(u.created_at),
        )
    out.print(table)


@users_app.command("disable")
def users_disable(
    ctx: typer.Context, name: str = typer.Argument(..., help="The user to disable.")
) -> None:
    """Stop a user from signing in; their tokens stop working too."""
    with _people(ctx) as (people, actor):
        user = people.disable(actor, name)
    output.console().print(f"disabled {user.name}; their tokens are refused until re-enabled")


@users_app.command("enable")
def users_enable(
    ctx: typer.Context, name: str = typer.Argument(..., help="The user to enable.")
) -> None:
    """Let a disabled user back in."""
    with _people(ctx) as (people, actor):
        user = people.enable(actor, name)
    output.console().print(f"enabled {user.name}")


@users_app.command("passwd")
def users_passwd(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Whose password to set."),
    stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
) -> None:
    """Set a user's password (asked twice, not echoed). Only its argon2 hash is kept."""
    import sys

    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with _people(ctx) as (people, actor):
        user = people.set_password(actor, name, password)
    output.console().print(f"password set for {user.name}")


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    user: str = typer.Option(..., "--user", "-u", help="Whose token it is."),
    name: str = typer.Option(..., "--name", help="Where it is used: ci, laptop..."),
    project: str | None = typer.Option(
        None, "--project", "-p", help="Only this project (default: every project)."
    ),
    role: Role = typer.Option(Role.member, "--role", help="The most the token may do."),
    expires: str = typer.Option("90d", "--expires", help="90d, 12h, 2w or never."),
) -> None:
    """Create a token and print it once; only a hash of it is stored."""
    lifetime = _duration(expires, "--expires")
    with _people(ctx) as (people, actor):
        new = people.create_token(actor, user, name, project, role.value, lifetime)
    _print_token(new)


@tokens_app.command("ls")
def tokens_ls(
    ctx: typer.Context,
    user: str | None = typer.Option(None, "--user", "-u", help="Only this user's tokens."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List tokens, newest first, with their state and last use (never the secret)."""
    with _people(ctx) as (people, _):
        found = people.list_tokens(user)
    now = time.time()
    if as_json:
        output.print_json({"tokens": [k.to_dict(now) for k in found]})
        return
    out = output.console()
    if not found:
        out.print("no tokens")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("id", "token", "user", "name", "project", "role", "state", "expires", "used"):
        table.add_column(column, justify="right" if column == "id" else "left")
    for k in found:
        state = k.state(now)
        table.add_row(
            Text(str(k.id), style="cyan"),
            k.display,
            k.user,
            k.name,
            k.project or "*",
            k.role,
            Text(state, style=STATE_STYLES[state]),
            output.fmt_time(k.expires_at) if k.expires_at else "never",
            output.fmt_ago(k.last_used_at) if k.last_used_at else "never",
        )
    out.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context,
    token_id: int = typer.Argument(..., help="The token's id (see `lablink tokens ls`)."),
) -> None:
    """Revoke a token for good."""
    with _people(ctx) as (people, actor):
        token = people.revoke_token(actor, token_id)
    output.console().print(f"revoked token {token.id} ({token.name}) of {token.user}")


def grant(
    ctx: typer.Context,
    project: str = typer.Argument(..., help="The project."),
    user: str = typer.Argument(..., help="The user or service account."),
    role: Role = typer.Argument(
        ..., help="viewer reads; member writes runs and data; admin manages."
    ),
    create: bool = typer.Option(False, "--create", help="Make the project if it has no runs yet."),
) -> None:
    """Give a user a role in a project (replacing their earlier role there)."""
    with _people(ctx) as (people, actor):
        found = people.grant(actor, project, user, role.value, create)
    output.console().print(f"{found.user} is {found.role} in {found.project}")


def grants(
    ctx: typer.Context,
    project: str | None = typer.Argument(None, help="Only this project's grants."),
    user: str | None = typer.Option(None, "--user", "-u", help="Only this user's grants."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List who holds which role in which project."""
    with _people(ctx) as (people, _):
        found = people.grants(project, user)
    if as_json:
        output.print_json({"grants": [g.to_dict() for g in found]})
        return
    out = output.console()
    if not found:
        out.print("no grants")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("project", "user", "role", "granted by", "granted"):
        table.add_column(column)
    for g in found:
        table.add_row(g.project, g.user, g.role, g.granted_by, output.fmt_time(g.granted_at))
    out.print(table)


def revoke(
    ctx: typer.Context,
    project: str = typer.Argument(..., help="The project."),
    user: str = typer.Argument(..., help="Whose role there to take away."),
) -> None:
    """Take a user's role in a project away."""
    with _people(ctx) as (people, actor):
        found = people.revoke_grant(actor, project, user)
    output.console().print(f"{found.user} is no longer {found.role} in {found.project}")


def audit(
    ctx: typer.Context,
    since: str | None = typer.Option(None, "--since", help="Only the last 7d, 12h..."),
    user: str | None = typer.Option(
        None, "--user", "-u", help="Only what this user did or what was done to them."
    ),
    action: str | None = typer.Option(
        None, "--action", help="Only this action (token.create), or a family (token.)."
    ),
    limit: int = typer.Option(100, "--limit", "-n", help="Show at most this many."),
    as_json: bool = JSON_OPTION,
    fmt: ExportFormat | None = typer.Option(
        None,
        "--format",
        help="Export every matching entry (no --limit) as JSON lines or CSV, to stdout.",
    ),
    export: Path | None = typer.Option(
        None, "--export", help="Write the export to this file (format from --format, else jsonl)."
    ),
) -> None:
    """Show the audit log, newest first: who did what, to whom, from where."""
    window = _duration(since, "--since") if since is not None else None
    if not 1 <= limit <= 10_000:
        raise typer.BadParameter("between 1 and 10000", param_hint="--limit")
    after = None if window is None else time.time() - window
    if fmt is not None or export is not None:
        _export(ctx, (fmt or ExportFormat.jsonl).value, after, user, action, export)
        return
    with _people(ctx) as (people, _):
        found = people.audit_log(after, user, action, limit)
    if as_json:
        output.print_json({"entries": [e.to_dict() for e in found]})
        return
    out = output.console()
    if not found:
        out.print("no audit entries")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("id", "at", "actor", "action", "target", "detail", "ip"):
        table.add_column(column, justify="right" if column == "id" else "left")
    for e in found:
        table.add_row(
            str(e.id),
            output.fmt_time(e.at),
            e.actor,
            e.action,
            e.target or "",
            _detail(e.detail),
            e.ip or "",
        )
    out.print(table)


def _export(
    ctx: typer.Context,
    fmt: str,
    since: float | None,
    user: str | None,
    action: str | None,
    path: Path | None,
) -> None:
    """Stream the export to ``path`` (replaced only once complete) or to stdout."""
    import os
    import sys

    from lablink.cli.people_remote import RemotePeople
    from lablink.core.audit_export import export_lines

    target = path.with_name(path.name + ".part") if path is not None else None
    with _people(ctx) as (people, _):
        if isinstance(people, RemotePeople):
            chunks: Iterator[bytes] = people.export(fmt, since, user, action)
        else:
            entries = people.audit_export(since, user, action)
            chunks = (line.encode() for line in export_lines(entries, fmt))
        out = target.open("wb") if target is not None else sys.stdout.buffer
        try:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
        finally:
            if target is not None:
                out.close()
    if target is not None and path is not None:
        os.replace(target, path)
        output.err_console().print(f"audit log written to {path} ({fmt})")


def _detail(detail: Any) -> str:
    return " ".join(f"{k}={v}" for k, v in detail.items() if v is not None)
