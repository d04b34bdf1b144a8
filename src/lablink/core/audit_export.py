"""The audit log as a file: JSON lines or CSV, written a line at a time (no I/O here).

Both keep every field of an entry; CSV adds the time in ISO 8601 (UTC) beside the
epoch seconds, and holds ``detail`` as a JSON object in one cell. A cell that a
spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) is written with
a leading ``'``: the log names things attackers choose.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import Iterable, Iterator

from lablink.errors import InvalidInput
from lablink.identity import AuditEntry

FORMATS: dict[str, str] = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
CSV_COLUMNS = ("id", "time", "at", "actor", "action", "target", "ip", "detail")


def check_format(fmt: str) -> str:
    """``jsonl`` or ``csv``. Raises ``InvalidInput``."""
    if fmt not in FORMATS:
        raise InvalidInput(f"export format {fmt!r} is not one of {', '.join(FORMATS)}")
    return fmt


def export_lines(entries: Iterable[AuditEntry], fmt: str) -> Iterator[str]:
    """``entries`` as lines of ``fmt`` (each ends with a newline; CSV starts with a header)."""
    check_format(fmt)
    if fmt == "jsonl":
        for entry in entries:
            yield json.dumps(entry.to_dict(), sort_keys=True, default=str) + "\n"
        return
    yield _csv_row(CSV_COLUMNS)
    for e in entries:
        time = datetime.datetime.fromtimestamp(e.at, datetime.UTC).isoformat()
        detail = json.dumps(dict(e.detail), sort_keys=True, default=str)
        yield _csv_row(
            (str(e.id), time, repr(e.at), e.actor, e.action, e.target or "", e.ip or "", detail)
        )


def _csv_row(cells: Iterable[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([_defuse(c) for c in cells])
    return out.getvalue()


def _defuse(cell: str) -> str:
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell
