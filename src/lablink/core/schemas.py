"""Schema registry use cases: register, check, show, diff, list, validate.

A subject (``events``) holds immutable versions ``events@v1``, ``events@v2``... Each new
version is checked against the earlier ones with the subject's compatibility mode
(``checks/compat.py``) inside the write transaction, so a break is refused with every
reason named and nothing stored. The server routes, the CLI and ``lablink.validate``
all call ``Schemas``; ``lablink.validate`` and ``lablink data add --schema`` reach it
through ``lablink.sdk.tables``, embedded or over HTTP.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lablink.checks import compat
from lablink.checks.names import check_name
from lablink.checks.schema_format import parse_schema, schema_from_dict, to_json_dict
from lablink.checks.schema_model import Schema
from lablink.checks.validation_report import ValidationReport
from lablink.checks.wire_numbers import MAX_VERSION
from lablink.errors import Conflict, InvalidInput
from lablink.store.schemas_sql import SchemaSql, SchemaSubject, SchemaVersion
from lablink.store.sql import SqlStore

_REF = re.compile(r"(?P<subject>[^@]+?)(?:@(?:v?(?P<version>[0-9]+)|(?P<latest>latest)))?")

__all__ = [
    "CheckResult",
    "SchemaSubject",
    "SchemaVersion",
    "Schemas",
    "check_subject",
    "parse_ref",
]


def check_subject(name: str) -> str:
    """Subject names follow the name rule of ``checks/names.py``."""
    return check_name(name, "schema subject", "events")


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``events`` / ``events@latest`` → (events, None); ``events@v2`` or ``events@2`` → (events, 2).

    Raises:
        InvalidInput: not a subject reference.
    """
    match = _REF.fullmatch(ref.strip(" ")) if isinstance(ref, str) else None
    if match is None:
        raise InvalidInput(
            f"invalid schema reference {ref!r}", "write SUBJECT or SUBJECT@vN, e.g. events@v2"
        )
    version = match.group("version")
    # Length first: int() of thousands of digits raises, and SQLite cannot hold 2**64.
    if version is not None and (len(version) > 18 or not 1 <= int(version) <= MAX_VERSION):
        raise InvalidInput(
            f"invalid schema version in {ref[:60]!r}", f"versions run from v1 to v{MAX_VERSION}"
        )
    return check_subject(match.group("subject")), int(version) if version else None


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The outcome of checking a candidate schema against a subject."""

    subject: str
    mode: str
    compatible: bool
    against: list[int]
    breaks: list[compat.Break]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "subject": self.subject,
            "mode": self.mode,
            "compatible": self.compatible,
            "against": self.against,
            "breaks": [b.to_dict() for b in self.breaks],
        }


def _as_schema(schema: Schema | str | dict[str, Any], source: str = "<schema>") -> Schema:
    if isinstance(schema, Schema):
        return schema
    if isinstance(schema, dict):
        return schema_from_dict(schema, source)
    return parse_schema(schema, source)


def _check_mode(mode: str | None) -> str | None:
    if mode is not None and mode not in compat.MODES:
        raise InvalidInput(
            f"unknown compatibility mode {mode!r}", f"choose one of {', '.join(compat.MODES)}"
        )
    return mode


def _break_error(subject: str, mode: str, breaks: list[compat.Break]) -> Conflict:
    lines = [f"v{b.against} {b.direction}: {b.message}" for b in breaks]
    return Conflict(
        f"schema is not {mode} compatible with {subject}: " + "; ".join(lines),
        f"fix the breaks, or register under another mode with --compat (now {mode})",
        breaks=[b.to_dict() for b in breaks],
    )


class Schemas:
    """The schema registry over a store."""

    def __init__(self, store: SqlStore) -> None:
        self.sql = SchemaSql(store)

    def register(
        self,
        subject: str,
        schema: Schema | str | dict[str, Any],
        actor: str,
        *,
        compat_mode: str | None = None,
        description: str | None = None,
        version: int | None = None,
    ) -> tuple[SchemaVersion, bool]:
        """Register ``schema`` as the next version of ``subject``.

        Returns the version and whether it is new (the same schema as the latest
        version returns that version). ``compat_mode`` sets the subject's mode
        (default ``backward`` for a new subject).

        Raises:
            InvalidInput: bad subject, mode or schema.
            Conflict: incompatible under the mode (``details["breaks"]`` lists each),
                or ``version`` is not the next number.
            AlreadyExists: ``version`` is already registered.
        """
        check_subject(subject)
        parsed = _as_schema(schema, subject)
        body = to_json_dict(parsed)

        def check(previous: list[SchemaVersion], mode: str) -> None:
            breaks = compat.check(parsed, [self._parse(p) for p in previous], mode)
            if breaks:
                raise _break_error(subject, mode, breaks)

        return self.sql.register(
            subject,
            body,
            parsed.fingerprint(),
            _check_mode(compat_mode),
            actor,
            description=description,
            version=version,
            check=check,
        )

    def check(
        self, subject: str, schema: Schema | str | dict[str, Any], compat_mode: str | None = None
    ) -> CheckResult:
        """Would ``schema`` register? Every break against the versions the mode looks at.

        Raises:
            NotFound: no such subject.
        """
        mode = _check_mode(compat_mode)
        versions = self.sql.versions(check_subject(subject))
        mode = mode or self.subject(subject).compat
        parsed = _as_schema(schema, subject)
        breaks = compat.check(parsed, [self._parse(v) for v in versions], mode)
        if mode == "none":
            against: list[int] = []
        elif mode.endswith("_transitive"):
            against = [v.version for v in versions]
        else:
            against = [versions[-1].version]
        return CheckResult(subject, mode, not breaks, against, breaks)

    def get(self, ref: str) -> SchemaVersion:
        """A stored version from ``events@v2`` or ``events`` (the latest).

        Raises:
            InvalidInput: a malformed reference. NotFound: no such subject or version.
        """
        subject, version = parse_ref(ref)
        return self.sql.get(subject, version)

    def schema(self, ref: str) -> Schema:
        """The parsed schema of a stored version."""
        return self._parse(self.get(ref))

    def subject(self, name: str) -> SchemaSubject:
        """One subject's summary.

        Raises:
            NotFound: no such subject.
        """
        self.sql.versions(check_subject(name))  # raises NotFound for unknown subjects
        return next(s for s in self.sql.subjects() if s.name == name)

    def subjects(self) -> list[SchemaSubject]:
        """Every subject, by name."""
        return self.sql.subjects()

    def versions(self, subject: str) -> list[SchemaVersion]:
        """Every version of ``subject``, oldest first."""
        return self.sql.versions(check_subject(subject))

    def diff(self, ref_a: str, ref_b: str) -> dict[str, Any]:
        """Field and rule changes between two stored versions, and the breaks each way."""
        a, b = self.get(ref_a), self.get(ref_b)
        return {"from": a.ref, "to": b.ref, **compat.diff_schemas(self._parse(a), self._parse(b))}

    def validate_files(
        self,
        paths: Sequence[str | Path],
        ref: str,
        batch_rows: int | None = None,
        fmt: str | None = None,
    ) -> ValidationReport:
        """Validate table files or folders against a stored version (streamed).

        This is what ``lablink data add --schema`` calls before storing a version;
        ``fmt`` reads suffix-less files (cached blobs) as ``parquet``, ``csv`` or ``jsonl``.
        """
        from lablink.checks.tablefiles import DEFAULT_BATCH_ROWS
        from lablink.checks.validate import validate_files

        version = self.get(ref)
        rows = batch_rows or DEFAULT_BATCH_ROWS
        return validate_files(paths, self._parse(version), version.ref, rows, fmt)

    def validate(self, data: Any, ref: str) -> ValidationReport:
        """Validate a pandas, polars or pyarrow table against a stored version."""
        from lablink.checks.validate import validate_frame

        version = self.get(ref)
        return validate_frame(data, self._parse(version), version.ref)

    @staticmethod
    def _parse(version: SchemaVersion) -> Schema:
        return schema_from_dict(version.body, version.ref)


def version_to_dict(version: SchemaVersion) -> dict[str, Any]:
    """A stored version as the API and ``--json`` show it."""
    return {
        "subject": version.subject,
        "version": version.version,
        "ref": version.ref,
        "compat": version.compat,
        "fingerprint": version.fingerprint,
        "description": version.description,
        "created_by": version.created_by,
        "created_at": version.created_at,
        "schema": version.body,
    }
