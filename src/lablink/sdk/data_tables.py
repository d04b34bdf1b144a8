"""The table files of a dataset version: validated and profiled at ``data add``.

``check_tables`` runs once a push has hashed the files and before it uploads any:
with a schema, every Parquet, CSV and JSON Lines file of the tree is validated (streamed) and a failing version is
refused with the report; then the tables are profiled (per-column statistics) so the
profile can be stored beside the version and drift between versions never re-reads
their data. ``validate_tables`` checks a materialised version again at load.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lablink.errors import InvalidInput, ValidationFailed

if TYPE_CHECKING:
    from lablink.checks.validation_report import ValidationReport


@dataclasses.dataclass
class TableCheck:
    """What ``check_tables`` found: the tables, their profile, the schema they passed."""

    tables: list[Path]
    profile: dict[str, Any] | None = None
    schema_ref: str | None = None
    report: ValidationReport | None = None
    warning: str | None = None  # why no profile was made, when that was not asked for


def table_files(root: Path) -> list[Path]:
    """The Parquet, CSV and JSON Lines files at or under ``root``, sorted.

    Names are matched before anything is stat'ed: a tree of 20,000 images costs one
    directory walk, not 20,000 stat calls.

    Raises:
        InvalidInput: ``root`` does not exist.
    """
    from lablink.checks.tablefiles import table_format

    if not root.exists():
        raise InvalidInput(f"{root} does not exist")
    if root.is_file():
        return [root] if table_format(root) else []
    found = [
        Path(folder, name)
        for folder, _dirs, names in os.walk(root)
        for name in names
        if table_format(Path(name))
    ]
    return sorted(found)


def check_tables(
    tables: list[Path],
    schema: str | None,
    settings: Any,
    *,
    profile: bool = True,
    where: Path | str = "the data",
    batch_rows: int | None = None,
) -> TableCheck:
    """Validate ``tables`` against ``schema`` (a registered one, if given), then profile them.

    Raises:
        ValidationFailed: a table breaks the schema (``.report`` says where); nothing
            was stored.
        InvalidInput: ``schema`` is given but there are no table files, or it is a
            file rather than a registered schema; a table does not parse.
        NotFound: no such schema.
    """
    found = TableCheck(tables)
    if schema is not None:
        found.report = validate_tables(tables, schema, settings, batch_rows, where, storing=True)
        found.schema_ref = found.report.schema
    if profile and tables:
        from lablink.checks.profile import profile_files
        from lablink.checks.tablefiles import DEFAULT_BATCH_ROWS

        try:
            found.profile = profile_files(tables, batch_rows or DEFAULT_BATCH_ROWS)
        except InvalidInput as exc:
            if schema is not None:
                raise
            found.warning = f"no profile stored: {exc.message}"
    return found


def validate_tables(
    tables: list[Path],
    schema: str,
    settings: Any,
    batch_rows: int | None = None,
    where: Path | str = "the data",
    *,
    storing: bool = False,
) -> ValidationReport:
    """Validate table files against a registered schema; refuse them if they fail.

    Raises:
        ValidationFailed: some rows break the schema. InvalidInput: no tables, a
            schema file instead of a registered reference. NotFound: no such schema.
    """
    from lablink.checks.tablefiles import DEFAULT_BATCH_ROWS
    from lablink.checks.validate import validate_files
    from lablink.sdk.tables import SCHEMA_SUFFIXES, resolve_schema

    if Path(schema).suffix.lower() in SCHEMA_SUFFIXES:
        raise InvalidInput(
            f"{schema} is a schema file; datasets are checked against registered schemas",
            f"register it first: lablink schema register NAME {schema}",
        )
    if not tables:
        raise InvalidInput(
            f"{where} holds no table files to check against {schema}",
            "schemas check .parquet, .csv, .tsv, .jsonl and .ndjson files",
        )
    parsed, ref = resolve_schema(schema, settings)
    report = validate_files(tables, parsed, ref, batch_rows or DEFAULT_BATCH_ROWS)
    if not report.ok:
        raise ValidationFailed(
            f"{where} breaks {ref}: {report.tally()} of {report.rows:,}"
            + ("; nothing was stored" if storing else ""),
            "fix the rows the report lists, or register a schema version that allows them",
            report=report,
        )
    return report
