"""Stream table files (Parquet, CSV, JSON Lines) as polars frames of bounded size.

The one place in ``checks/`` that reads files: validation and profiling consume the
chunks this yields and never hold a whole file, so memory stays flat whatever the
file's size. Columns the schema declares with a non-text type are read from CSV as
text, so that a cell that does not parse becomes a reported ``type`` violation with
its row instead of an exception that stops the whole file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lablink.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl

    from lablink.checks.schema_model import Schema

FORMATS: dict[str, str] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
DEFAULT_BATCH_ROWS = 1_000_000
_BLOCK_BYTES = 16 * 1024**2


@dataclasses.dataclass(frozen=True)
class Chunk:
    """Consecutive rows of one file: ``frame`` starts at row ``file_row`` of ``file``."""

    frame: pl.DataFrame
    file: str | None
    file_row: int
    format: str | None


def line_of(fmt: str | None, file_row: int) -> int | None:
    """The 1-based text line of a file's row (CSV after its header; one record per line)."""
    if fmt == "csv":
        return file_row + 2
    if fmt == "jsonl":
        return file_row + 1
    return None


def table_format(path: Path) -> str | None:
    """``parquet``, ``csv`` or ``jsonl`` from a file's suffix; None for other files."""
    return FORMATS.get(path.suffix.lower())


def expand(paths: Iterable[str | Path], fmt: str | None = None) -> list[Path]:
    """Files to read: given files as they are, folders searched for table files.

    With ``fmt`` every given file is read in that format whatever its name (blobs in
    a content-addressed cache have no suffix).

    Raises:
        InvalidInput: a path does not exist, a file is not a table, or nothing was found.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and table_format(p))
        elif path.is_file():
            if fmt is None and table_format(path) is None:
                raise InvalidInput(
                    f"{path}: not a table file",
                    "lablink reads .parquet, .csv, .tsv, .jsonl and .ndjson",
                )
            found.append(path)
        else:
            raise InvalidInput(f"{path}: no such file or folder")
    if not found:
        raise InvalidInput(
            "no table files found", "give .parquet, .csv or .jsonl files or a folder"
        )
    return found


def iter_chunks(
    paths: Sequence[str | Path],
    schema: Schema | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    fmt: str | None = None,
    text: bool = False,
) -> Iterator[Chunk]:
    """Chunks of at most ``batch_rows`` rows from every file in turn.

    ``fmt`` (``parquet``, ``csv`` or ``jsonl``) overrides the format the suffix says.
    ``text`` reads every CSV column as text, only empty cells as null (for inference,
    which parses the cells itself).

    Raises:
        InvalidInput: a file does not parse or is not UTF-8; the message names the file.
    """
    import polars as pl
    import pyarrow as pa

    if fmt is not None and fmt not in FORMATS.values():
        raise InvalidInput(f"unknown table format {fmt!r}", "use parquet, csv or jsonl")
    for path in expand(paths, fmt):
        kind = fmt or table_format(path)
        row = 0
        try:
            for batch in _batches(path, kind, schema, batch_rows, text):
                frame = pl.from_arrow(batch)
                assert isinstance(frame, pl.DataFrame)
                yield Chunk(frame, str(path), row, kind)
                row += frame.height
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, UnicodeDecodeError) as exc:
            raise _read_error(path, kind, exc) from None


def _batches(
    path: Path, fmt: str | None, schema: Schema | None, batch_rows: int, text: bool = False
) -> Iterator[Any]:
    """Record batches of one file; a file with columns but no rows gives one empty batch
    (so its columns are still profiled, inferred and checked)."""
    import pyarrow as pa

    if fmt == "parquet":
        import pyarrow.parquet as pq

        # pre_buffer would cache every requested row group's bytes until the file is
        # closed: memory would grow with the file instead of staying at one batch.
        with pq.ParquetFile(path, pre_buffer=False) as pf:
            available = set(pf.schema_arrow.names)
            columns = None if schema is None else [n for n in schema.names if n in available]
            empty = True
            for batch in pf.iter_batches(batch_size=batch_rows, columns=columns):
                empty = False
                yield batch
            if empty:
                arrow = pf.schema_arrow
                fields = [arrow.field(n) for n in (columns or arrow.names)]
                yield pa.RecordBatch.from_pylist([], schema=pa.schema(fields))
        return
    reader = _csv_reader(path, schema, text) if fmt == "csv" else _json_reader(path)
    empty = True
    for batch in reader:
        empty = False
        yield batch
    if empty:
        yield pa.RecordBatch.from_pylist([], schema=reader.schema)


def _json_reader(path: Path) -> Any:
    import pyarrow.json as pj

    return pj.open_json(path, read_options=pj.ReadOptions(block_size=_BLOCK_BYTES))


def _csv_reader(path: Path, schema: Schema | None, text: bool = False) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pc

    missing = list(schema.missing_values) if schema is not None else [""]
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    text_columns: dict[str, Any] = {}
    if schema is not None:
        # Read declared columns as text: the validator parses them and reports each bad cell.
        text_columns = {f.name: pa.string() for f in schema.fields}
    elif text:
        text_columns = dict.fromkeys(_header(path, delimiter), pa.string())
    convert = pc.ConvertOptions(
        column_types=text_columns,
        null_values=missing,
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    parse = pc.ParseOptions(delimiter=delimiter)
    return pc.open_csv(
        path,
        read_options=pc.ReadOptions(block_size=_BLOCK_BYTES),
        parse_options=parse,
        convert_options=convert,
    )


def _header(path: Path, delimiter: str) -> list[str]:
    """A CSV file's column names (its first record)."""
    import csv

    with open(path, encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle, delimiter=delimiter), [])


def _read_error(path: Path, kind: str | None, exc: BaseException) -> InvalidInput:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "utf8" in text.lower().replace("-", "") or isinstance(exc, UnicodeDecodeError):
        return InvalidInput(
            f"{path}: not valid UTF-8 text ({text})",
            "re-encode the file, e.g. iconv -f latin1 -t utf-8 in.csv > out.csv",
            file=str(path),
        )
    return InvalidInput(
        f"{path}: does not parse as {kind}: {text}",
        "check the file is complete and in the format its suffix says",
        file=str(path),
    )
