"""Rendering for ``lablink data profile`` and ``lablink data drift``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lablink.checks.profile_summary import drift_rows, profile_rows

if TYPE_CHECKING:
    from lablink.models import DatasetVersion

PROFILE_COLUMNS = ("column", "dtype", "count", "empty", "min", "mean", "max", "std", "top")
NUMERIC = ("count", "empty", "min", "mean", "max", "std")


def print_profile(out: Console, version: DatasetVersion, profile: dict[str, Any]) -> None:
    """The version's rows and columns, then one line of statistics per column."""
    checked = f"; tables passed {version.schema_ref}" if version.schema_ref else ""
    out.print(
        f"[bold cyan]{version.ref}[/]  {profile.get('rows', 0):,} rows, "
        f"{len(profile.get('columns', {}))} columns{checked}"
    )
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in PROFILE_COLUMNS:
        table.add_column(column, justify="right" if column in NUMERIC else "left")
    for row in profile_rows(profile):
        table.add_row(
            *(Text(row[c], style="cyan" if c == "column" else "") for c in PROFILE_COLUMNS)
        )
    out.print(table)


def print_drift(
    out: Console, old: DatasetVersion, new: DatasetVersion, report: dict[str, Any]
) -> None:
    """Each shared column with its tests and verdict; added and removed columns."""
    rows_a, rows_b = report["rows"]
    drifted = report["drifted"]
    verdict = (
        f"[bold red]{len(drifted)} of {len(report['columns'])} columns drifted[/]"
        if drifted
        else f"[green]no drift in {len(report['columns'])} columns[/]"
    )
    out.print(
        f"[bold cyan]{old.ref}[/] → [bold cyan]{new.ref}[/]  {rows_a:,} → {rows_b:,} rows; {verdict}"
    )
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("column", "kind", "test", "size", "verdict"):
        table.add_column(column)
    for row in drift_rows(report):
        mark = (
            Text("drifted: " + row["reasons"], style="red")
            if row["drifted"]
            else Text("ok", style="green")
        )
        table.add_row(
            Text(row["column"], style="cyan"), row["kind"], row["test"], row["size"], mark
        )
    out.print(table)
    for key, label in (("added", "new columns"), ("removed", "columns gone")):
        if report[key]:
            out.print(f"[yellow]{label}:[/] {', '.join(report[key])}")
