"""``lablink db``: the store's schema revision, and migrating it to this lablink's head."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from lablink.cli import output
from lablink.cli.state import get_state
from lablink.errors import InvalidInput
from lablink.homedir import make_dirs

if TYPE_CHECKING:
    import sqlalchemy as sa

app = typer.Typer(
    help="Inspect and migrate the store's database schema.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _sqlite_path(url: str) -> Path | None:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    return None if not path or path == ":memory:" else Path(path).expanduser()


def _engine(url: str) -> sa.Engine:
    """An engine on the configured database (no migration on open, unlike the store)."""
    if url.startswith("sqlite"):
        from lablink.store.sqlite import make_sqlite_engine

        path = _sqlite_path(url)
        if path is not None:
            make_dirs(path.parent)
        return make_sqlite_engine(url)
    if url.startswith("postgresql"):
        from lablink.store.postgres import make_postgres_engine

        return make_postgres_engine(url)
    raise InvalidInput(
        f"unsupported database URL {url!r}",
        "use sqlite:///path/to/lablink.db or postgresql+psycopg://host/db",
    )


def _safe_url(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


def _info(url: str) -> dict[str, Any]:
    from lablink.store.migrate import HEAD, current_revision

    path = _sqlite_path(url) if url.startswith("sqlite") else None
    info: dict[str, Any] = {"url": _safe_url(url), "head": HEAD}
    if path is not None and not path.exists():
        return {**info, "exists": False, "revision": None, "up_to_date": False}
    engine = _engine(url)
    try:
        info["dialect"] = engine.dialect.name
        revision = current_revision(engine)
    finally:
        engine.dispose()
    return {**info, "exists": True, "revision": revision, "up_to_date": revision == HEAD}


@app.command("info")
def info(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Show the database URL, its schema revision and the revision this lablink needs."""
    found = _info(get_state(ctx).settings.db)
    if as_json:
        output.print_json(found)
        return
    out = output.console()
    out.print(f"database  {found['url']}")
    if not found["exists"]:
        out.print("revision  [yellow]no database yet[/] (created on first use)")
    else:
        out.print(f"revision  {found['revision'] or '[yellow]empty[/]'}")
    out.print(f"head      {found['head']}")
    if found["up_to_date"]:
        out.print("[green]up to date[/]")
    elif found["exists"]:
        out.print("[yellow]out of date:[/] run `lablink db migrate` (back the database up first)")


@app.command("migrate")
def migrate(ctx: typer.Context) -> None:
    """Upgrade the database schema to this lablink's head revision."""
    from lablink.store.migrate import HEAD, current_revision, upgrade

    url = get_state(ctx).settings.db
    engine = _engine(url)
    try:
        before = current_revision(engine)
        if before != HEAD:
            upgrade(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    out = output.console()
    if before == after:
        out.print(f"{_safe_url(url)} is already at revision {after} (head)")
    else:
        out.print(f"migrated {_safe_url(url)} from {before or 'empty'} to {after}")
