"""``lablink demo``: real demo runs in a ``demo`` project, then the server to look at them."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.text import Text

from lablink.cli import output
from lablink.cli.state import get_state

if TYPE_CHECKING:
    from lablink.demo.runner import DemoRun


def demo(
    ctx: typer.Context,
    home: str | None = typer.Option(
        None, "--home", help="Folder of the embedded store (env LABLINK_HOME)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface the server listens on."),
    port: int = typer.Option(8500, "--port", min=1, max=65535, help="Port the server listens on."),
    serve: bool = typer.Option(
        True, "--serve/--no-serve", help="Start the server once the runs are made."
    ),
    force: bool = typer.Option(
        False, "--force", help="Add another set of runs even if the demo project has some."
    ),
) -> None:
    """Make demo runs with real SDK calls and training, then serve the web UI.

    Trains softmax regression on the bundled Iris data set, tracked by the SDK: 11 runs in
    the project "demo", a sweep of 3 learning rates by 3 seeds, a negative result with a
    note, and one run that diverges and fails.
    """
    from lablink.demo.runner import PROJECT, existing_runs, populate

    state = get_state(ctx)
    state.override(home=home)
    settings = state.settings
    out = output.console()
    where = settings.server or settings.db
    count = existing_runs(settings)
    if count and not force:
        out.print(f"the {PROJECT} project already has {count} runs in {where}; --force adds more")
    else:
        out.print(f"training demo runs into project [bold]{PROJECT}[/] at {where}")
        started = time.monotonic()

        def report(item: DemoRun) -> None:
            line = Text("  ")
            line.append(item.id, style="cyan")
            line.append(f"  {item.name:<22} ")
            line.append_text(output.status_text(item.status))
            if item.val_acc is not None:
                line.append(f"  val/acc {item.val_acc:.3f}")
            if item.note:
                line.append(f"  {item.note}", style="dim")
            out.print(line)

        made = populate(settings, report)
        out.print(f"made {len(made)} runs in {time.monotonic() - started:.1f}s")
        for line in made_lines(made):
            out.print(line)
    # a home given here (flag or LABLINK_HOME) is not what a new shell would find
    chosen = home or os.environ.get("LABLINK_HOME")
    lablink = command_name() + (f" --home {shlex.quote(str(settings.home))}" if chosen else "")
    if settings.server:
        out.print(f"the runs are on the server at {settings.server}")
    elif not serve:
        out.print(f"start the web UI with: {lablink} server --port {port}")
    else:
        out.print(
            f"[bold green]lablink is serving the demo at http://{host}:{port}/[/]  (Ctrl-C stops)"
        )
    out.print(f"next, in another shell: [bold]{escape(next_command(lablink))}[/]")
    if "/" in lablink.split()[0]:
        out.print(
            f"[dim](lablink is not on your PATH: run `source {Path(lablink.split()[0]).parent}"
            "/activate` to type plain `lablink`)[/]"
        )
    if settings.server or not serve:
        return
    from lablink.server.app import serve as serve_app

    serve_app(settings, host, port)


def made_lines(made: Sequence[DemoRun]) -> list[str]:
    """What the demo made, one line per kind of thing, for the closing summary."""
    from lablink.demo.runner import DATASET, PROJECT

    name = DATASET.split("@")[0]
    failed = [r for r in made if r.status == "failed"]
    negative = [r for r in made if r.note == "negative result"]
    sweep = len(made) - len(failed) - len(negative)
    return [
        f"  runs:     {len(made)} in project {PROJECT}: a sweep of {sweep}, "
        f"{len(negative)} negative result, {len(failed)} that diverged and failed",
        f"  datasets: {name}@v1 (checked by schema {name}) and {name}@v2, "
        f"which drifted: lengths in mm",
        "  incident: the watchdog's NaN alert on the diverged run (see `incidents ls`)",
    ]


def command_name() -> str:
    """How to call lablink from a new shell: ``lablink`` if it is on PATH, else its path."""
    script = Path(sys.executable).with_name("lablink")
    found = shutil.which("lablink")
    if found and script.exists() and Path(found).resolve() == script.resolve():
        return "lablink"
    if not script.exists():
        return f"{shlex.quote(sys.executable)} -m lablink.cli"
    try:  # .venv/bin/lablink reads better than an absolute path
        return shlex.quote(str(script.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(script))


def next_command(lablink: str) -> str:
    """The first command to try once the demo exists (it works as printed)."""
    from lablink.demo.runner import PROJECT

    return f"{lablink} runs ls --project {PROJECT} --sort metrics.val/acc"
