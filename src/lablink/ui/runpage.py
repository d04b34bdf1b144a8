"""The run page, artifact downloads and the raw dirty diff of a run."""

from __future__ import annotations

import shlex
import time
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from lablink.checks.watch_policy import LAUNCHED_TAG
from lablink.core.lab import Lab
from lablink.docs.links import run_links
from lablink.errors import LablinkError, NotFound
from lablink.models import RunRecord
from lablink.server.access import access_of, model_readable
from lablink.server.file_stream import FileStream
from lablink.ui import charts, logs, summary
from lablink.ui.attempts import attempts_of
from lablink.ui.guard import check_run
from lablink.ui.render import Renderer

DIFF_INLINE_BYTES = 512 * 1024
DIFF_INLINE_LINES = 4000


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the RFC 5987 UTF-8 name."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def diff_lines(text: str) -> list[tuple[str, str]]:
    """Each line of a unified diff with a class for colouring: add, del, hunk, meta."""
    out: list[tuple[str, str]] = []
    for line in text.splitlines()[:DIFF_INLINE_LINES]:
        if line.startswith(("+++", "---", "diff ", "index ", "new file", "deleted file")):
            kind = "meta"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = ""
        out.append((kind, line))
    return out


def read_diff(lab: Lab, digest: str) -> dict[str, Any]:
    """The start of a run's dirty diff for the inline viewer, and whether it was cut."""
    try:
        with lab.blobs.open(digest) as fh:
            raw = fh.read(DIFF_INLINE_BYTES + 1)
    except (LablinkError, OSError, ValueError) as exc:
        return {"error": f"the diff blob {digest} cannot be read: {exc}"}
    text = raw[:DIFF_INLINE_BYTES].decode("utf-8", "replace")
    lines = diff_lines(text)
    cut = len(raw) > DIFF_INLINE_BYTES or len(lines) >= DIFF_INLINE_LINES
    return {
        "lines": lines,
        "truncated": cut,
        "files": sum(1 for _, line in lines if line.startswith("diff ")),
    }


def run_context(lab: Lab, run: RunRecord, request: Request, cursor: int) -> dict[str, Any]:
    """Everything run.html shows."""
    options = charts.ChartOptions.from_query(request.query_params)
    diff = read_diff(lab, run.git.diff_digest) if run.git.diff_digest else None
    artifacts = lab.tracking.list_artifacts(run.id)
    attempts = attempts_of(lab, artifacts)
    launched = LAUNCHED_TAG in run.tags
    chunks = {a.name for a in artifacts if a.kind == logs.KIND and a.name.startswith(logs.PREFIX)}
    has_logs = launched or bool(chunks)
    return {
        "run": run,
        "groups": charts.group_keys(summary.chart_keys(run)),
        "metric_rows": summary.metric_rows(run),
        "options": options,
        "page_data": {
            **charts.page_data([run], options, live=run.status == "running"),
            "cursor": cursor,
            "attempts": attempts,
            "logs": {"lines": logs.DEFAULT_LINES} if has_logs else None,
        },
        "attempts": attempts,
        "launched": launched,
        "has_logs": has_logs,
        "command": shlex.join(run.command) if run.command else "",
        "diff": diff,
        "summary": summary.other_summary(run),
        # a long job's output chunks are one row, not thousands: the output panel has them
        "artifacts": [a for a in artifacts if a.name not in chunks],
        "log_chunks": {
            "count": len(chunks),
            "size": sum(a.size for a in artifacts if a.name in chunks),
        },
        # a model keeps its own project's roles: list only those the viewer may read
        "registered": [
            (name, version)
            for name, version, project in lab.registry.sql.versions_of_run(run.id)
            if model_readable(access_of(request), project)
        ],
        "docs": run_links(lab.settings.docs_url, run, artifacts) if lab.settings.docs_url else None,
        "packages": sorted(run.packages.items(), key=lambda kv: kv[0].lower()),
        "now": time.time(),
        **review_context(lab, run),
    }


def review_context(lab: Lab, run: RunRecord) -> dict[str, Any]:
    """The review state of each dataset the run read: as recorded when it trained
    (its ``review`` inputs) and as it is now."""
    recorded = {
        str(i.get("ref")): str(i.get("digest")) for i in run.inputs if i.get("kind") == "review"
    }
    refs = [str(i.get("ref")) for i in run.inputs if i.get("kind") == "dataset"]
    now = {ref: review.state for ref, review in lab.reviews.states(refs).items()}
    return {"review_then": recorded, "review_now": now}


def run_router(lab: Lab, renderer: Renderer) -> APIRouter:
    """Routes under ``/r/{run_id}``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/r/{run_id}", response_class=HTMLResponse)
    def run_page(request: Request, run_id: str) -> HTMLResponse:
        try:
            # The cursor first: events after it are replayed to the live charts, so
            # nothing logged between this read and the browser connecting is lost.
            cursor = lab.store.last_event_id()
            check_run(request, run_id)
            run = lab.tracking.get_run(run_id)
            context = run_context(lab, run, request, cursor)
        except LablinkError as exc:
            return renderer.error(exc, "No such run")
        return renderer.page("run.html", context)

    @router.get("/r/{run_id}/artifacts/{name:path}")
    def artifact(request: Request, run_id: str, name: str) -> Response:
        try:
            check_run(request, run_id)
            rid = lab.store.resolve_run_id(run_id)
            found = [a for a in lab.tracking.list_artifacts(rid) if a.name == name]
            if not found:
                raise NotFound(f"run {rid} has no artifact {name!r}")
            fh = lab.blobs.open(found[0].digest)
        except LablinkError as exc:
            return renderer.error(exc, "No such artifact")
        headers = {
            "Content-Disposition": content_disposition(name.rsplit("/", 1)[-1]),
            "Content-Length": str(found[0].size),
            "X-Content-Type-Options": "nosniff",
        }
        return FileStream(fh, headers=headers)

    @router.get("/r/{run_id}/diff")
    def raw_diff(request: Request, run_id: str) -> Response:
        try:
            check_run(request, run_id)
            run = lab.tracking.get_run(run_id)
            if not run.git.diff_digest:
                raise NotFound(f"run {run.id} has no dirty diff")
            fh = lab.blobs.open(run.git.diff_digest)
        except LablinkError as exc:
            return renderer.error(exc, "No diff")
        return FileStream(
            fh,
            media_type="text/plain; charset=utf-8",
            headers={"X-Content-Type-Options": "nosniff"},
        )

    return router
