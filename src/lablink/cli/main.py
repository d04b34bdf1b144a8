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

import importlib
from collections.abc import Iterator, Mapping
from typing import Any, Literal, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup

from lablink.cli import coerce, rich_help
from lablink.cli.state import State
from lablink.cli.usage import EXIT_ERROR, run_main
from lablink.errors import LablinkError

RICH_MARKUP_MODE: Literal["markdown"] = "markdown"
coerce.install()  # plain option values convert without importing pydantic
rich_help.install()  # help pages render without markdown-it unless a text needs it


class Entry(NamedTuple):
    """A top-level command, imported only when it runs (or its help is shown)."""

    target: str  # "module:attribute": a Typer app (a group) or a command function
    summary: str  # the first paragraph of its help, for the root ``--help`` listing
    group: bool = False


# Commands first, then groups: the order Typer lists what ``add_typer``/``command`` add.
# A test checks each summary against the loaded command, so the listing cannot drift.
COMMANDS: dict[str, Entry] = {
    "server": Entry(
        "lablink.cli.server:server",
        "Serve the REST API (/api/v1, OpenAPI docs at /docs) and the web UI.",
    ),
    "demo": Entry(
        "lablink.cli.demo:demo",
        "Make demo runs with real SDK calls and training, then serve the web UI.",
    ),
    "sync": Entry(
        "lablink.cli.sync:sync",
        "Replay spooled updates of ended runs to the server now (lablink.init does it too).",
    ),
    "eval": Entry(
        "lablink.cli.eval:eval_command",
        "Evaluate a run's model artifact on a dataset version and log per-example "
        "predictions, for `lablink gate --per-example`.",
    ),
    "validate": Entry(
        "lablink.cli.schema:validate_command",
        "Validate files against a schema, streaming; exits 1 on any violation.",
    ),
    "audit": Entry(
        "lablink.cli.people:audit",
        "Show the audit log, newest first: who did what, to whom, from where.",
    ),
    "init": Entry(
        "lablink.cli.docs:init",
        "Scaffold this repository: lablink.toml, a dev container, CI with the gate, docs/lab.",
    ),
    "launch": Entry(
        "lablink.cli.launch:launch",
        "Run CMD as a tracked job: one run, its output stored, a hard timeout, restarts.",
    ),
    "sweep": Entry(
        "lablink.cli.sweep:sweep",
        "Run the trials of a sweep file, each a launched job with its own run.",
    ),
    "login": Entry(
        "lablink.cli.login:login",
        "Log in to a server and keep its URL and a personal token in the user config file.",
    ),
    "busfactor": Entry(
        "lablink.cli.busfactor:busfactor",
        "The bus (truck) factor: how many people leaving would orphan most of the code.",
    ),
    "import": Entry(
        "lablink.cli.imports:app",
        "Import runs from MLflow (a server or its store) or TensorBoard event files.",
        True,
    ),
    "runs": Entry(
        "lablink.cli.runs:app", "List, show, compare, tag and annotate runs.", group=True
    ),
    "db": Entry("lablink.cli.db:app", "Inspect and migrate the store's database schema.", True),
    "projects": Entry(
        "lablink.cli.projects:app",
        "List projects with their runs and last activity; `grant`, `grants` and `revoke` "
        "manage people's roles in them.",
        True,
    ),
    "gate": Entry(
        "lablink.cli.gate:app",
        "Compare candidate runs with baseline runs and fail only on a significant regression.",
        True,
    ),
    "schema": Entry(
        "lablink.cli.schema:app",
        "Versioned table schemas with compatibility rules (Frictionless Table Schema).",
        True,
    ),
    "incidents": Entry(
        "lablink.cli.incidents:app", "Watchdog incidents: list, show, acknowledge, resolve.", True
    ),
    "data": Entry(
        "lablink.cli.data:app",
        "Versioned datasets: add a folder as a version, pull it anywhere, diff versions.",
        True,
    ),
    "review": Entry(
        "lablink.cli.review:app",
        "Data review: an automated report and a second person's sign-off per version.",
        True,
    ),
    "users": Entry(
        "lablink.cli.people:users_app", "People and service accounts: add, list, disable.", True
    ),
    "tokens": Entry(
        "lablink.cli.people:tokens_app", "API tokens: create (shown once), list, revoke.", True
    ),
    "docs": Entry(
        "lablink.cli.docs:app",
        "Lab docs in the repository: experiment logs, lineage, model cards, datasheets.",
        True,
    ),
    "decision": Entry(
        "lablink.cli.docs:decision_app",
        "Decisions kept as files in the repository (docs/lab/decisions).",
        True,
    ),
    "jobs": Entry(
        "lablink.cli.launch:app", "Launched jobs: list, show, follow their output, stop them.", True
    ),
    "sweeps": Entry(
        "lablink.cli.sweep:app",
        "Parameter sweeps: list them, show their trials and the best one.",
        True,
    ),
    "team": Entry(
        "lablink.cli.team:app",
        "The team roster: time zones, working hours, focus blocks, core-hours overlap.",
        True,
    ),
    "oncall": Entry(
        "lablink.cli.oncall:app",
        "On-call rotations: who is on call now and next, the schedule, overrides, calendars.",
        True,
    ),
    "models": Entry(
        "lablink.cli.models:app",
        "Registered models (the MLflow model registry): list them, show versions and aliases.",
        True,
    ),
}

# Commands built so far, shared by every root group of this process.
_LOADED: dict[str, Any] = {}


def load_command(name: str) -> Any:
    """The Click command behind a top-level name, imported and built on first use.

    It is built through a throwaway Typer with the root's settings, so it comes out
    exactly as ``app.add_typer``/``app.command`` would have made it.
    """
    if name not in _LOADED:
        entry = COMMANDS[name]
        module, _, attribute = entry.target.partition(":")
        target = getattr(importlib.import_module(module), attribute)
        holder = typer.Typer(rich_markup_mode=RICH_MARKUP_MODE, pretty_exceptions_enable=False)
        holder.callback()(_no_op)
        if entry.group:
            holder.add_typer(target, name=name)
        else:
            holder.command(name)(target)
        _LOADED[name] = typer.main.get_group(holder).commands[name]
    return _LOADED[name]


def load_all() -> dict[str, Any]:
    """Every top-level command, loaded (for the CLI reference and tests)."""
    return {name: load_command(name) for name in COMMANDS}


def _no_op() -> None:
    """Stands in for the root callback while one command is built."""


class _LazyCommands(Mapping[str, Any]):
    """``group.commands`` as Click code expects it, building a command when it is read."""

    def __getitem__(self, name: str) -> Any:
        if name not in COMMANDS:
            raise KeyError(name)
        return load_command(name)

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


class LablinkGroup(TyperGroup):
    """The root group: lablink's errors exit 1, usage errors 2, both as ``error:``/``hint:``.

    Its commands load lazily, so ``lablink runs ls`` imports only what ``runs`` needs
    and ``lablink --help`` lists every command from ``COMMANDS`` without importing any.
    """

    _listing = False

    @property  # type: ignore[override]
    def commands(self) -> Mapping[str, Any]:
        return _LazyCommands()

    @commands.setter
    def commands(self, value: Any) -> None:
        """Typer hands over the commands it built itself: none, all are in ``COMMANDS``."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if self._listing and cmd_name not in _LOADED:
            return TyperCommand(name=cmd_name, help=COMMANDS[cmd_name].summary)
        return load_command(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

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
    rich_markup_mode=RICH_MARKUP_MODE,
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


def main() -> None:
    """Console-script entry point."""
    app(prog_name="lablink")


__all__ = ["State", "app", "main"]
