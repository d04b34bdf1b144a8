"""``lablink launch`` of a local job, started before the rest of the CLI loads (at
most 0.5 s from ``lablink launch`` to the command's first line).

Typer, Click and Rich cost more to import than everything else the launcher does before
the command starts. ``lablink.cli.entry`` hands the command line here first: a plain
local launch (known options, ``--`` before the command, nothing to validate that
fails) is parsed by hand, its command started, and only then is the rest loaded. Any
other command line (``--help``, a flag spelt another way, ``--data``, another backend)
or anything that fails before the command starts goes to the Typer command, which
parses and checks it again as it always has, so its errors and messages stay the
same. ``cli/launch.py`` runs the job through ``run_job`` below either way.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lablink.launch.options import LaunchOptions
    from lablink.launch.placement import Placement
    from lablink.settings import Settings

# The root's options that take a value, and the keys the root callback gives them.
ROOT_OPTIONS = {"--home": "home", "--db": "db", "--server": "server", "--token": "token"}
# ``lablink launch``'s options that take a value (their parameter names), and its flags.
# A test checks these against the Typer command, so the two cannot drift; options the
# fast path leaves to Typer (``--data``: a dataset review first) are not here.
LAUNCH_OPTIONS = {
    "--name": "name",
    "--project": "project",
    "-p": "project",
    "--timeout": "timeout",
    "--grace": "grace",
    "--restarts": "restarts",
    "--backend": "backend",
    "--address": "address",
    "--partition": "partition",
    "--time": "time_limit",
    "--gpus": "gpus",
    "--cpus": "cpus",
    "--memory": "memory",
}
LAUNCH_FLAGS = {"--detach": "detach", "-d": "detach"}
INTEGERS = ("restarts", "gpus", "cpus")


def parse(argv: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any], list[str]] | None:
    """``(root overrides, launch options, command)`` of a plain ``lablink launch``
    command line (``argv`` without the program), or None for anything else."""
    args = list(argv)
    root: dict[str, Any] = {}
    while args and args[0] != "launch":
        name, value, args = _option(args, ROOT_OPTIONS)
        if name is None or name in root:
            return None
        root[name] = value
    if not args or "--" not in args:
        return None
    split = args.index("--")
    options, command, flags = args[1:split], args[split + 1 :], {}
    while options:
        if options[0] in LAUNCH_FLAGS:
            name, value, options = LAUNCH_FLAGS[options[0]], True, options[1:]
        else:
            name, value, options = _option(options, LAUNCH_OPTIONS)
        if name is None or name in flags:
            return None  # an unknown option, a stray argument, an option given twice
        if name in INTEGERS:
            if not (isinstance(value, str) and value.isascii() and value.isdigit()):
                return None
            value = int(value)
        flags[name] = value
    return (root, flags, command) if command else None


def _option(args: list[str], known: dict[str, str]) -> tuple[str | None, Any, list[str]]:
    """The option at the start of ``args`` (``-x v``, ``--x v`` or ``--x=v``), its value,
    the rest; None when it is none of ``known``."""
    head, equals, attached = args[0], "", ""
    if head.startswith("--"):  # Click takes "=" after long options only
        head, equals, attached = head.partition("=")
    if head not in known:
        return None, None, args
    if equals:
        return known[head], attached, args[1:]
    if len(args) < 2 or args[1] == "--" or args[1].startswith("-"):
        return None, None, args
    return known[head], args[1], args[2:]


def start(argv: Sequence[str]) -> int | None:
    """Run a plain local ``lablink launch`` to its end: its exit status; None (nothing
    started, nothing printed) when the Typer command must take the command line."""
    parsed = parse(argv)
    if parsed is None:
        return None
    root, flags, command = parsed
    from lablink.errors import LablinkError

    try:
        from lablink.launch.options import resolve
        from lablink.launch.placement import resolve_placement
        from lablink.settings import Settings

        settings = Settings.load(root)
        table = settings.project_config.get("launch") or {}
        options = resolve(table, **{k: flags.get(k) for k in ("timeout", "grace", "restarts")})
        placement = resolve_placement(
            table,
            **{k: flags.get(k) for k in ("backend", "address", "partition", "gpus", "cpus")},
            time=flags.get("time_limit"),
            memory=flags.get("memory"),
        )
    except LablinkError:
        return None  # Typer says what is wrong, as it would have
    if placement.backend != "local":
        return None
    project = flags.get("project") or str(table.get("project") or "default")
    try:
        return run_job(
            settings, placement, project, command, options, flags.get("name"), flags.get("detach")
        )
    except LablinkError as error:  # as the root group prints it: exit status 1
        from lablink.cli.output import print_error

        print_error(error)
        return 1
    except KeyboardInterrupt:  # before the job's own handlers are set, or after
        sys.stderr.write("aborted\n")
        return 1


def run_job(
    settings: Settings,
    placement: Placement,
    project: str,
    command: Sequence[str],
    options: LaunchOptions,
    name: str | None,
    detach: bool | None,
) -> int:
    """Run the job to its end and say how it ended; its exit status."""
    from lablink.launch.backend import make_job

    def opener() -> Any:
        # the store (SQLAlchemy, the schema) opens in the thread that creates the run,
        # while the command starts
        from lablink.sdk.connect import make_transport

        return make_transport(settings)

    job = make_job(
        placement, settings, opener, project, command, options, name=name, echo=not detach
    )
    try:
        code = job.run()
        run = job.transport.get_run(job.run_id)
    finally:
        job.close()
    why = f" ({run.status_reason})" if run.status_reason else ""
    sys.stderr.write(f"lablink: job {run.id} {run.status}{why}\n")
    return code
