"""``lablink docs``, ``lablink decision`` and ``lablink init``: documentation as code.

``docs build`` renders the repository's lab docs (``docs/lab``) from the store;
``docs check`` fails when they are stale, for CI. Decisions are files in the
repository, so they are reviewed like code. ``init`` scaffolds a repository.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from lablink.cli.state import get_state
from lablink.docs import site
from lablink.docs.decisions import add_decision
from lablink.docs.scaffold import check_repo, find_repo, init_repo
from lablink.settings import default_user

app = typer.Typer(
    help="Lab docs in the repository: experiment logs, lineage, model cards, datasheets.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
decision_app = typer.Typer(
    help="Decisions kept as files in the repository (docs/lab/decisions).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

OUT_OPTION = typer.Option(
    "docs/lab", "--out", "-o", help="The docs folder, relative to the repository root."
)
PROJECT_OPTION = typer.Option(
    [], "--project", "-p", help="Only this project (repeatable). Default: every project."
)


def _out(out: str) -> Path:
    return find_repo(Path.cwd()) / out


def _pages(ctx: typer.Context, out: Path, projects: list[str]) -> dict[str, str]:
    from lablink.docs.templating import OVERRIDES, Templates
    from lablink.sdk.docs_facts import gather

    facts = gather(get_state(ctx).settings, projects or None, out)
    return site.render(facts, Templates(out / OVERRIDES))


@app.command("build")
def build(ctx: typer.Context, project: list[str] = PROJECT_OPTION, out: str = OUT_OPTION) -> None:
    """Write the lab docs from the store; pages that did not change are left alone."""
    folder = _out(out)
    written, removed = site.write(folder, _pages(ctx, folder, project))
    for path in written:
        typer.echo(f"wrote {out}/{path}")
    for path in removed:
        typer.echo(f"removed {out}/{path}")
    if not written and not removed:
        typer.echo(f"{out} is up to date")


@app.command("check")
def check(ctx: typer.Context, project: list[str] = PROJECT_OPTION, out: str = OUT_OPTION) -> None:
    """Exit 1 when the lab docs are stale against the store, naming the stale pages.

    Without `--project` it checks the projects the last build covered.
    """
    folder = _out(out)
    projects = project or site.built_projects(folder) or []
    stale = site.stale(folder, _pages(ctx, folder, projects))
    if not stale:
        typer.echo(f"{out} is up to date")
        return
    for path in stale:
        typer.echo(f"stale: {out}/{path}", err=True)
    typer.echo("run `lablink docs build` and commit the result", err=True)
    raise typer.Exit(1)


@decision_app.command("add")
def decision_add(
    title: str = typer.Argument(..., help="One line: what was decided."),
    why: str = typer.Option(..., "--why", "-w", help="Why: the evidence and the trade-off."),
    runs: str = typer.Option("", "--runs", "-r", help="Runs behind it, comma-separated."),
    supersedes: list[str] = typer.Option(
        [], "--supersedes", "-s", help="A decision this replaces, e.g. D3 (repeatable)."
    ),
    out: str = OUT_OPTION,
) -> None:
    """Record a decision as the next docs/lab/decisions/DNNNN.md."""
    root = find_repo(Path.cwd())
    decision, path = add_decision(
        root / out,
        title,
        why,
        date=datetime.now(UTC).strftime("%Y-%m-%d"),
        author=default_user(root),
        runs=runs.split(","),
        supersedes=supersedes,
    )
    typer.echo(f"{decision.id}: {decision.title} ({path.relative_to(root)})")


def init(
    force: bool = typer.Option(False, "--force", help="Replace files that already exist."),
    check: bool = typer.Option(
        False, "--check", help="Write nothing: list what the repository lacks (exit 1 if any)."
    ),
) -> None:
    """Scaffold this repository: lablink.toml, a dev container, CI with the gate, docs/lab."""
    root = find_repo(Path.cwd())
    if check:
        lacks = check_repo(root)
        for line in lacks:
            typer.echo(f"lacks: {line}", err=True)
        if lacks:
            raise typer.Exit(1)
        typer.echo(f"{root.name} has everything `lablink init` gives a repository")
        return
    written, kept = init_repo(root, force=force)
    for path in written:
        typer.echo(f"wrote {path}")
    for path in kept:
        typer.echo(f"kept {path} (exists; --force replaces it)")
    typer.echo("next: `lablink docs build`, then commit docs/lab")
