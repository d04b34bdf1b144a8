"""``lablink demo``: real demo runs in a ``demo`` project, then the server to look at them."""

from __future__ import annotations

import time

import typer
from rich.text import Text

from lablink.cli import output
from lablink.cli.state import get_state


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
    from lablink.demo.runner import PROJECT, DemoRun, existing_runs, populate

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
    out.print(
        f"try: lablink runs ls --project {PROJECT} --filter 'tags.baseline' --sort metrics.val/acc"
    )
    if settings.server:
        out.print(f"the runs are on the server at {settings.server}")
        return
    if not serve:
        out.print(f"start the web UI with: lablink --home {settings.home} server --port {port}")
        return
    out.print(
        f"[bold green]lablink is serving the demo at http://{host}:{port}/[/]  (Ctrl-C stops)"
    )
    from lablink.server.app import serve as serve_app

    serve_app(settings, host, port)
