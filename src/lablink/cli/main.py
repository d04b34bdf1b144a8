"""The ``lablink`` command: a Typer app whose commands live one group per module.

Global flags (``--home``, ``--db``, ``--server``, ``--token``) become overrides; the
``Settings`` are resolved once, on first use, from those overrides, ``LABLINK_*``,
``lablink.toml`` and the user's config, then passed down. Every ``LablinkError`` a
command raises is printed as a message and a hint, in red, and exits 1 with no
traceback; a usage error exits 2 in the same style (``cli/usage.py``). Help text is
Markdown: docstring paragraphs are reflowed to the terminal. Imports stay light here
so ``lablink server`` starts fast.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from lablink.cli import db, demo, projects, runs, server, sync
from lablink.cli.busfactor import busfactor
from lablink.cli.data import app as data_app
from lablink.cli.docs import app as docs_app
from lablink.cli.docs import decision_app, init
from lablink.cli.eval import eval_command
from lablink.cli.gate import app as gate_app
from lablink.cli.incidents import app as incidents_app
from lablink.cli.launch import app as jobs_app
from lablink.cli.launch import launch
from lablink.cli.login import login
from lablink.cli.people import audit, tokens_app, users_app
from lablink.cli.schema import app as schema_app
from lablink.cli.schema import validate_command
from lablink.cli.state import State
from lablink.cli.usage import EXIT_ERROR, run_main
from lablink.errors import LablinkError


class LablinkGroup(TyperGroup):
    """The root group: lablink's errors exit 1, usage errors 2, both as ``error:``/``hint:``."""

    def invoke(self, ctx: Any) -> Any:  # click.Context; typer vendors its own click
        try:
            return super().invoke(ctx)
        except LablinkError as error:
            from lablink.cli.output import print_error

            print_error(error)
            raise typer.Exit(EXIT_ERROR) from None

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        return run_main(super().main, standalone_mode, *args, **kwargs)


def lablink_version() -> str:
    """The installed lablink's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lablink")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"lablink {lablink_version()}")
        raise typer.Exit()


app = typer.Typer(
    cls=LablinkGroup,
    name="lablink",
    help="lablink: the shared lab for ML teams. Track runs, query them, serve the web UI.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    home: str | None = typer.Option(
        None, "--home", help="Folder of the embedded store (env LABLINK_HOME)."
    ),
    db_url: str | None = typer.Option(
        None, "--db", help="Database URL of the store (env LABLINK_DB)."
    ),
    server_url: str | None = typer.Option(
        None, "--server", help="URL of a lablink server to talk to (env LABLINK_SERVER)."
    ),
    token: str | None = typer.Option(
        None, "--token", help="API token for the server (env LABLINK_TOKEN)."
    ),
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_print_version,
        is_eager=True,
        help="Print lablink's version and exit.",
    ),
) -> None:
    """lablink: the shared lab for ML teams spread over time zones."""
    ctx.obj = State({"home": home, "db": db_url, "server": server_url, "token": token})


app.add_typer(runs.app, name="runs")
app.add_typer(db.app, name="db")
app.add_typer(projects.app, name="projects")
app.command("server")(server.server)
app.command("demo")(demo.demo)
app.command("sync")(sync.sync)
app.add_typer(gate_app, name="gate")
app.command("eval")(eval_command)
app.add_typer(schema_app, name="schema")
app.command("validate")(validate_command)
app.add_typer(incidents_app, name="incidents")
app.add_typer(data_app, name="data")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.command("audit")(audit)
app.add_typer(docs_app, name="docs")
app.add_typer(decision_app, name="decision")
app.command("init")(init)
app.command("launch")(launch)
app.add_typer(jobs_app, name="jobs")
app.command("login")(login)
app.command("busfactor")(busfactor)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="lablink")


__all__ = ["State", "app", "main"]
