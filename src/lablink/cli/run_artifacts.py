"""``lablink runs artifacts`` and ``lablink runs download``: a run's files.

Both go through ``Client``, so they work embedded and against a server. A download
is verified against the artifact's content hash by the transport.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from lablink.cli import output
from lablink.cli.state import get_state
from lablink.errors import InvalidInput, NotFound
from lablink.settings import format_size


def artifacts(
    ctx: typer.Context,
    run: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List a run's artifacts: name, kind, size and content hash."""
    with get_state(ctx).client() as client:
        found = client.artifacts(run)
    if as_json:
        output.print_json({"artifacts": [dataclasses.asdict(a) for a in found]})
        return
    out = output.console()
    if not found:
        out.print(f"run {escape(run)} has no artifacts")
        return
    table = Table(box=None, header_style="bold")
    for column in ("name", "kind", "size", "created", "digest"):
        table.add_column(column, justify="right" if column == "size" else "left")
    for a in found:
        table.add_row(
            escape(a.name), a.kind, format_size(a.size), output.fmt_ago(a.created_at), a.digest[:19]
        )
    out.print(table)
    out.print(f"[dim]download with: lablink runs download {escape(run)} NAME -o DIR[/]")


def download(
    ctx: typer.Context,
    run: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    name: str | None = typer.Argument(None, help="Artifact name; default: all of them."),
    out_dir: Path = typer.Option(
        Path("."), "--output", "-o", help="Folder to write into (created if missing)."
    ),
) -> None:
    """Download one artifact of a run, or all of them, into a folder (default: here)."""
    with get_state(ctx).client() as client:
        found = client.artifacts(run)
        if name is not None:
            found = [a for a in found if a.name == name]
            if not found:
                raise NotFound(
                    f"run {run} has no artifact {name!r}",
                    f"list them with `lablink runs artifacts {run}`",
                )
        elif not found:
            raise NotFound(f"run {run} has no artifacts")
        written = []
        for artifact in found:
            dest = out_dir / artifact.name
            # names may hold folders (checkpoints/best.pt); never write outside out_dir
            if ".." in Path(artifact.name).parts or Path(artifact.name).is_absolute():
                raise InvalidInput(f"artifact name {artifact.name!r} is not a relative path")
            dest.parent.mkdir(parents=True, exist_ok=True)
            written.append(client._transport.download_blob(artifact.digest, dest))
    out = output.console()
    for path, artifact in zip(written, found, strict=True):
        out.print(f"{escape(str(path))}  {format_size(artifact.size)}")
