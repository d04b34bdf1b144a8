"""Rendering for ``lablink data``: progress bars, version tables, diffs, summaries."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from lablink.cli import output
from lablink.settings import format_size

if TYPE_CHECKING:
    from lablink.core.datasets.manifest import Manifest
    from lablink.models import DatasetVersion
    from lablink.sdk.transfer import PullResult, PushResult

SHOWN_FILES = 20
REFRESH_SECONDS = 0.2


class BarProgress:
    """Rich progress bars on stderr, one per stage; safe to advance from several threads."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bars = Progress(
            TextColumn("{task.description:<14}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=output.err_console(),
            disable=not enabled,
            # Redrawn from advance(), at most REFRESH_SECONDS apart: Rich's own refresh
            # thread took the GIL often enough to slow a 2 GB pull by a third.
            auto_refresh=False,
        )
        self._last = 0.0

    def __enter__(self) -> BarProgress:
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bars.refresh()
        self._bars.stop()

    def stage(self, label: str, total: int) -> Callable[[int], None]:
        """A bar of ``total`` bytes; returns the function that advances it.

        A stage with nothing to do (no bytes to upload or download) draws no bar.
        """
        if total <= 0:
            return lambda n: None
        task = self._bars.add_task(label, total=total)

        def advance(n: int) -> None:
            self._bars.advance(task, n)
            now = time.monotonic()
            if now - self._last >= REFRESH_SECONDS:
                self._last = now
                self._bars.refresh()

        return advance


def version_table(
    versions: Sequence[DatasetVersion], aliases: Mapping[int, Sequence[str]] | None = None
) -> Table:
    """Versions newest first: number, aliases, files, size, when, who, message, lineage,
    schema."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    columns = (
        "version",
        "aliases",
        "files",
        "size",
        "created",
        "by",
        "message",
        "from",
        "schema",
        "digest",
    )
    for column in columns:
        table.add_column(column, justify="right" if column in ("files", "size") else "left")
    for v in versions:
        table.add_row(
            Text(v.ref, style="cyan"),
            ", ".join(f"@{a}" for a in (aliases or {}).get(v.version, ())),
            str(v.files),
            format_size(v.size),
            output.fmt_ago(v.created_at),
            v.created_by,
            v.message or "",
            ", ".join(v.parents),
            v.schema_ref or "",
            Text(v.digest.split(":", 1)[1][:12], style="dim"),
        )
    return table


def print_version(
    out: Console,
    version: DatasetVersion,
    manifest: Manifest,
    list_files: bool,
    aliases: Sequence[str] = (),
) -> None:
    """One version in full; its files when asked (else the first few)."""
    rows: list[tuple[str, Any]] = [
        ("version", Text(version.ref, style="bold cyan")),
        ("aliases", ", ".join(aliases)),
        ("files", f"{version.files} ({format_size(version.size)})"),
        ("digest", version.digest),
        ("hashes", version.algorithm),
        ("created", f"{output.fmt_time(version.created_at)} by {version.created_by}"),
        ("message", version.message or ""),
        ("from", ", ".join(version.parents)),
        ("made by run", version.source_run or ""),
        ("command", version.source_command or ""),
        ("schema", f"tables passed {version.schema_ref}" if version.schema_ref else ""),
        ("profile", f"lablink data profile {version.ref}" if version.profile_digest else ""),
    ]
    for key, value in rows:
        if value:
            out.print(Text.assemble((f"{key:<12}", "bold"), value))
    files = manifest.files if list_files else manifest.files[:SHOWN_FILES]
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("path")
    table.add_column("size", justify="right")
    for f in files:
        table.add_row(f.path, f"-> {f.link}" if f.link is not None else format_size(f.size))
    out.print(table)
    if len(files) < len(manifest.files):
        out.print(f"[dim]{len(files)} of {len(manifest.files)} files shown; use --files[/]")


def print_diff(out: Console, changes: dict[str, Any]) -> None:
    """Added (+), removed (-) and changed (~) files, then the counts."""
    for kind, mark, style in (("added", "+", "green"), ("removed", "-", "red")):
        for entry in changes[kind]:
            out.print(Text(f"{mark} {entry['path']}", style=style))
    for entry in changes["changed"]:
        sizes = f"{format_size(entry['old']['size'])} → {format_size(entry['new']['size'])}"
        out.print(Text.assemble(("~ " + entry["path"], "yellow"), (f"  {sizes}", "dim")))
    counts = {k: len(changes[k]) for k in ("added", "removed", "changed")}
    out.print(
        f"{changes['old']} → {changes['new']}: {counts['added']} added, "
        f"{counts['removed']} removed, {counts['changed']} changed"
    )


def print_push(out: Console, result: PushResult, asked: Sequence[str] = ()) -> None:
    """What ``data add`` did; ``asked`` names the flags given (not recorded when unchanged)."""
    v = result.version
    for rel, real in result.outside_symlinks:
        out.print(
            f"[yellow]warning:[/] {rel} is a symlink to {real}, outside the folder: its "
            "content was added (--no-follow-symlinks stores links as links)"
        )
    if not result.created:
        out.print(
            f"[bold cyan]{v.ref}[/] unchanged: the files are the same as the latest version, "
            "so nothing was added"
        )
        if asked:
            out.print(
                f"[dim]{', '.join(asked)} not recorded: versions never change; "
                "change a file to make a new version[/]"
            )
        return
    out.print(
        f"[bold cyan]{v.ref}[/]  {v.files} files, {format_size(v.size)}; uploaded "
        f"{result.uploaded_blobs} new blobs ({format_size(result.uploaded_bytes)}) "
        f"in {output.fmt_duration(result.seconds)}"
    )
    tables = result.tables
    if tables is not None and tables.tables:
        passed = f"; passed {tables.schema_ref}" if tables.schema_ref else ""
        stored = "; profile stored" if v.profile_digest else ""
        out.print(f"{len(tables.tables)} table files{passed}{stored}")
    if tables is not None and tables.warning:
        out.print(f"[yellow]warning:[/] {tables.warning}")
    out.print(f"[dim]anyone can now run: lablink data pull {v.ref}[/]")


def print_pull(out: Console, result: PullResult) -> None:
    """What ``data pull`` did, with any endpoint that failed or sent corrupt bytes."""
    m, f = result.materialised, result.fetch
    how = f"{m.linked} linked, {m.copied} copied, {m.unchanged} already in place"
    out.print(
        f"[bold cyan]{result.version.ref}[/] → {result.dest}: {result.files} files ({how}); "
        f"fetched {f.blobs} blobs ({format_size(f.bytes)}) in {output.fmt_duration(result.seconds)}"
    )
    for url, digest in f.corrupt:
        out.print(f"[yellow]warning:[/] {url} sent a corrupt copy of {digest}; refetched")
    for url, reason in f.failovers:
        out.print(f"[yellow]warning:[/] {url} failed ({reason}); used another endpoint")
