"""A launched job's output on the run page: the last lines, new ones, a search, all of it.

``GET /ui-data/runs/{run_id}/logs?after=&limit=&q=`` answers lines of the run's
``logs/NNNNNN.jsonl`` chunks (``launch/logs.py`` writes them) as
``{lines: [{t, s, a, l}], cursor, truncated, more}``:

- without ``after``: the last ``limit`` lines (matching ``q``), read from the newest
  chunk backwards, at most ``SCAN_CHUNKS`` of them, so a huge log costs a bounded read;
- with ``after`` (a chunk number, the previous answer's ``cursor``): the lines of the
  chunks stored since, at most ``READ_CHUNKS`` at a time (``more`` says to ask again).

``truncated`` says that older lines exist than those answered (the page then links to
the whole log). ``q`` keeps the lines that contain it, ignoring case. The page follows
a running job with the ``artifact`` events of ``/ui-data/events``: each stored chunk
is one, and the script asks for the lines after its cursor.

``GET /r/{run_id}/logs`` downloads the whole log as text, one line per output line:
``time (UTC, ISO 8601)  attempt  stream  text``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from lablink.core.lab import Lab
from lablink.errors import InvalidInput, LablinkError
from lablink.models import Artifact
from lablink.ui.charts import json_response
from lablink.ui.guard import check_run
from lablink.ui.render import Renderer

KIND = "log"  # as ``lablink.launch.logs.KIND``; not imported: it would load the launcher
DEFAULT_LINES = 500
MAX_LINES = 5000
MAX_QUERY = 200
SCAN_CHUNKS = 32  # newest chunks (about 1 MB each) searched for the last lines
READ_CHUNKS = 16  # chunks read per answer when following
DOWNLOAD_PAGE = 500  # chunk names read at a time while the whole log streams
PREFIX = "logs/"
Chunk = tuple[int, str]  # (chunk number, blob digest)


def log_chunks(artifacts: list[Artifact]) -> list[Chunk]:
    """``(chunk number, digest)`` of a run's log chunks, oldest first."""
    chunks = []
    for a in artifacts:
        if a.kind != KIND or not a.name.startswith(PREFIX) or not a.name.endswith(".jsonl"):
            continue
        try:
            chunks.append((int(a.name[5:-6]), a.digest))
        except ValueError:
            continue  # a stray artifact of kind log, not one of the launcher's chunks
    return sorted(chunks)


def _lines(lab: Lab, digest: str, query: str) -> list[dict[str, Any]]:
    # Most lines of a search miss: the raw JSON line holds the text, so a query JSON
    # writes as itself (ASCII, no quote or backslash) skips them before parsing.
    plain = query.isascii() and query.isprintable() and not set(query) & {'"', "\\"}
    raw = query if plain else ""
    out = []
    for text in lab.blobs.read_bytes(digest).decode("utf-8", "replace").splitlines():
        if not text or (raw and raw not in text.lower()):
            continue
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if not query or query in str(line.get("l", "")).lower():
            out.append(line)
    return out


def _page(lab: Lab, run_id: str, after: int | None, limit: int, newest: bool) -> list[Chunk]:
    """Up to ``limit`` log chunks (after chunk ``after``; the newest when ``newest``),
    oldest first, read a page at a time: a long job has thousands."""
    name = None if after is None else f"{PREFIX}{after:06d}.jsonl"
    return log_chunks(lab.tracking.artifact_page(run_id, PREFIX, name, limit, newest))


def tail(lab: Lab, run_id: str, limit: int, query: str) -> dict[str, Any]:
    """The last ``limit`` lines (matching ``query``) and the cursor to follow from."""
    newest = _page(lab, run_id, None, SCAN_CHUNKS + 1, newest=True)
    older = len(newest) > SCAN_CHUNKS  # chunks beyond those searched
    chunks = newest[-SCAN_CHUNKS:]
    cursor = chunks[-1][0] if chunks else 0
    found: list[dict[str, Any]] = []
    scanned = 0
    for _, digest in reversed(chunks):
        if len(found) >= limit:
            break
        found = _lines(lab, digest, query) + found
        scanned += 1
    truncated = len(found) > limit or scanned < len(chunks) or older
    return {"lines": found[-limit:], "cursor": cursor, "truncated": truncated, "more": False}


def since(lab: Lab, run_id: str, after: int, limit: int, query: str) -> dict[str, Any]:
    """Lines of the chunks after ``after`` (at most ``READ_CHUNKS`` of them)."""
    chunks = _page(lab, run_id, after, READ_CHUNKS + 1, newest=False)
    found: list[dict[str, Any]] = []
    for _, digest in chunks[:READ_CHUNKS]:
        found += _lines(lab, digest, query)
    cursor = chunks[:READ_CHUNKS][-1][0] if chunks else after
    return {
        "lines": found[-limit:],
        "cursor": cursor,
        "truncated": len(found) > limit,
        "more": len(chunks) > READ_CHUNKS,
    }


def _text(lab: Lab, run_id: str) -> Iterator[bytes]:
    after: int | None = None
    while chunks := _page(lab, run_id, after, DOWNLOAD_PAGE, newest=False):
        after = chunks[-1][0]
        yield from _chunk_text(lab, chunks)


def _chunk_text(lab: Lab, chunks: list[Chunk]) -> Iterator[bytes]:
    for _, digest in chunks:
        out = []
        for line in _lines(lab, digest, ""):
            when = dt.datetime.fromtimestamp(float(line.get("t", 0)), dt.UTC)
            stamp = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            out.append(f"{stamp} {line.get('a', 1)} {line.get('s', 'out')} {line.get('l', '')}\n")
        yield "".join(out).encode("utf-8")


def _safe(run_id: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in run_id)


def _number(name: str, raw: str | None, default: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 12 or int(raw) > high:
        raise InvalidInput(f"{name} must be a whole number from 0 to {high}, not {raw[:40]!r}")
    return int(raw)


def logs_router(lab: Lab, renderer: Renderer) -> APIRouter:
    """``GET /ui-data/runs/{run_id}/logs`` and ``GET /r/{run_id}/logs``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/ui-data/runs/{run_id}/logs")
    def lines(
        request: Request,
        run_id: str,
        after: str | None = None,
        limit: str | None = None,
        q: str = "",
    ) -> Response:
        try:
            check_run(request, run_id)
            count = _number("limit", limit, DEFAULT_LINES, MAX_LINES)
            if count < 1:
                raise InvalidInput("limit must be at least 1")
            if len(q) > MAX_QUERY:
                raise InvalidInput(f"q is longer than {MAX_QUERY} characters", "search less")
            rid = lab.store.resolve_run_id(run_id)
            query = q.strip().lower()
            if after is None or after == "":
                body = tail(lab, rid, count, query)
            else:
                body = since(lab, rid, _number("after", after, 0, 10**12), count, query)
        except LablinkError as exc:
            return json_response(request, exc.to_dict(), exc.status)
        return json_response(request, body)

    @router.get("/r/{run_id}/logs")
    def download(request: Request, run_id: str) -> Response:
        try:
            check_run(request, run_id)
            rid = lab.store.resolve_run_id(run_id)
        except LablinkError as exc:
            return renderer.error(exc, "No such run")
        headers = {
            "Content-Disposition": f'attachment; filename="{_safe(rid)}-output.log"',
            "X-Content-Type-Options": "nosniff",
        }
        return StreamingResponse(
            _text(lab, rid), media_type="text/plain; charset=utf-8", headers=headers
        )

    return router
