"""``lablink.validate``: check a table or files against a schema from training code.

Registered schemas (``events@v2``) are read from the embedded store, or from the server
``LABLINK_SERVER`` names through the REST API; a schema file or a ``Schema`` is used as
it is. The validation engine (polars, pyarrow) loads on the first call, not on import.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lablink.errors import InvalidInput

SCHEMA_SUFFIXES = (".yaml", ".yml", ".json")  # schema files, as opposed to "events@v2"

if TYPE_CHECKING:
    from lablink.checks.schema_model import Schema
    from lablink.checks.validation_report import ValidationReport
    from lablink.store.schemas_sql import SchemaVersion


def validate(
    data: Any,
    schema: Schema | str | Path,
    *,
    settings: Any = None,
    batch_rows: int | None = None,
) -> ValidationReport:
    """Validate a table or files against a schema: ``lablink.validate(df, "events@v2")``.

    Args:
        data: a pandas, polars or pyarrow table; or a path, or a list of paths, to
            Parquet, CSV or JSON Lines files or folders (streamed in batches).
        schema: a ``Schema``; a registered reference (``events@v2``, ``events``); or
            the path of a ``.yaml``/``.yml``/``.json`` schema file.
        settings: where registered schemas live; default ``Settings.load()`` (the
            embedded store, or the server in ``LABLINK_SERVER``).
        batch_rows: rows per batch when reading files.

    Returns:
        The report: ``report.ok``, ``report.failures`` (rule, column, count, share,
        examples with row numbers), ``report.to_markdown()``.

    Raises:
        InvalidInput: bad schema or data. NotFound: unknown schema reference.
    """
    from lablink.checks.tablefiles import DEFAULT_BATCH_ROWS
    from lablink.checks.validate import validate_files, validate_frame

    parsed, ref = resolve_schema(schema, settings)
    if isinstance(data, str | Path) or (
        isinstance(data, list | tuple) and data and all(isinstance(p, str | Path) for p in data)
    ):
        paths = [data] if isinstance(data, str | Path) else list(data)
        return validate_files(paths, parsed, ref, batch_rows or DEFAULT_BATCH_ROWS)
    return validate_frame(data, parsed, ref)


def resolve_schema(schema: Schema | str | Path, settings: Any) -> tuple[Schema, str | None]:
    """A schema and its reference (``events@v2``, or the file's path) from what a user gave.

    Raises:
        InvalidInput: an unreadable or malformed schema file. NotFound: unknown reference.
    """
    from lablink.checks.schema_format import parse_schema, schema_from_dict
    from lablink.checks.schema_model import Schema

    if isinstance(schema, Schema):
        return schema, schema.name
    text = str(schema)
    path = Path(text)
    if isinstance(schema, Path) or path.suffix.lower() in SCHEMA_SUFFIXES:
        try:
            return parse_schema(path.read_text(encoding="utf-8"), str(path)), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read schema file {path}: {exc}") from None
    if settings is None:
        from lablink.settings import Settings

        settings = Settings.load()
    version = fetch_schema(settings, text)
    return schema_from_dict(version.body, version.ref), version.ref


def fetch_schema(settings: Any, ref: str) -> SchemaVersion:
    """A registered version, from the embedded store or the server in ``settings``.

    Raises:
        InvalidInput: a malformed reference. NotFound: no such subject or version.
        ServiceUnavailable: the server cannot be reached.
    """
    from lablink.core.schemas import parse_ref

    if not settings.server:
        from lablink.core.schemas import Schemas
        from lablink.store import open_store

        store = open_store(settings.db, durability=settings.durability)
        try:
            return Schemas(store).get(ref)
        finally:
            store.close()
    from lablink.sdk.api import ApiClient
    from lablink.store.schemas_sql import SchemaVersion

    subject, number = parse_ref(ref)
    with ApiClient(settings) as api:
        body = api.json("GET", f"/schemas/{subject}/versions/{number or 'latest'}")
    return SchemaVersion(
        subject=body["subject"],
        version=int(body["version"]),
        body=body["schema"],
        fingerprint=body["fingerprint"],
        compat=body["compat"],
        created_by=body["created_by"],
        created_at=float(body["created_at"]),
        description=body.get("description"),
    )
