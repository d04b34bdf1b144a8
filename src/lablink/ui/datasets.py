"""The datasets pages: every dataset, and one dataset's versions.

``/datasets`` lists datasets with their latest version. ``/datasets/{name}`` shows the
versions, then one of them (``?v=3``, the latest by default): its lineage both ways
(parents, the run or command that made it, the runs that read it, versions made from
it), its files, the profile of its tables and the drift from the version before it
that has a profile (``?against=2`` picks another), all read through the same
``Datasets`` use cases as the JSON API. The run page links its dataset inputs here.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse

from lablink.checks.profile_summary import drift_rows, profile_rows
from lablink.checks.wire_numbers import MAX_VERSION
from lablink.core.datasets.refs import parse_ref
from lablink.core.lab import Lab
from lablink.docs.links import datasheet_link
from lablink.errors import InvalidInput, LablinkError, NotFound
from lablink.models import DatasetVersion
from lablink.store.dataset_aliases_sql import AliasRow
from lablink.ui.guard import check_anywhere
from lablink.ui.render import Renderer

SHOWN_FILES = 50
SHOWN_REVIEWS = 200  # review states looked up for the newest versions only
BAR_WIDTH, BAR_HEIGHT = 120.0, 24.0


def dataset_url(ref: str) -> str | None:
    """The dataset page of a ``name@vN`` reference; None for other references."""
    try:
        parsed = parse_ref(ref)
    except InvalidInput:
        return None
    if parsed.name is None or parsed.version is None:
        return None
    return f"/datasets/{quote(parsed.name)}?v={parsed.version}"


def histogram_bars(column: dict[str, Any]) -> list[dict[str, float]]:
    """SVG rectangles for a numeric column's stored histogram (empty for other kinds)."""
    counts = (column.get("histogram") or {}).get("counts") or []
    top = max(counts, default=0)
    if not top:
        return []
    width = BAR_WIDTH / len(counts)
    return [
        {
            "x": round(i * width, 2),
            "w": round(max(width - 1, 0.5), 2),
            "h": round(BAR_HEIGHT * n / top, 2),
            "y": round(BAR_HEIGHT - BAR_HEIGHT * n / top, 2),
        }
        for i, n in enumerate(counts)
    ]


def datasets_router(lab: Lab, renderer: Renderer) -> APIRouter:
    """Routes for ``/datasets`` and ``/datasets/{name}``; registers ``dataset_url``."""
    router = APIRouter(include_in_schema=False)
    use = lab.datasets
    renderer.env.globals["dataset_url"] = dataset_url

    @router.get("/datasets", response_class=HTMLResponse)
    def datasets_page(request: Request) -> HTMLResponse:
        try:
            check_anywhere(request)
        except LablinkError as exc:
            return renderer.error(exc, "No datasets to show")
        return renderer.page("datasets.html", {"datasets": use.list_datasets(), "now": time.time()})

    @router.get("/datasets/{name}", response_class=HTMLResponse)
    def dataset_page(
        request: Request,
        name: str,
        v: int | None = Query(None, ge=1, le=MAX_VERSION),
        against: int | None = Query(None, ge=1, le=MAX_VERSION),
    ) -> HTMLResponse:
        try:
            check_anywhere(request)
            versions = use.log(name)
            chosen = _pick(versions, v, name)
            context = _version_context(lab, versions, chosen, against)
            aliases = lab.dataset_aliases.of(name)
            moves = lab.dataset_aliases.moves(name)
        except LablinkError as exc:
            return renderer.error(exc, "No such dataset or version")
        return renderer.page(
            "dataset.html",
            {
                "name": name,
                "versions": versions,
                "chosen": chosen,
                "aliases": aliases,
                "alias_moves": moves,
                "version_aliases": _by_version(aliases),
                "now": time.time(),
                "datasheet": datasheet_link(docs, name)
                if (docs := lab.settings.docs_url)
                else None,
                "reviews": lab.reviews.states([v.ref for v in versions[:SHOWN_REVIEWS]]),
                **context,
            },
        )

    return router


def _by_version(aliases: list[AliasRow]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for a in aliases:
        out.setdefault(a.version, []).append(a.alias)
    return out


def _pick(versions: list[DatasetVersion], number: int | None, name: str) -> DatasetVersion:
    if number is None:
        return versions[0]
    for version in versions:
        if version.version == number:
            return version
    raise NotFound(f"{name}@v{number} does not exist", "pick a version from the list")


def _version_context(
    lab: Lab, versions: list[DatasetVersion], chosen: DatasetVersion, against: int | None
) -> dict[str, Any]:
    use = lab.datasets
    manifest = use.read_manifest(chosen.digest)
    context: dict[str, Any] = {
        "files": manifest.files[:SHOWN_FILES],
        "file_count": len(manifest.files),
        "used_by": use.used_by(chosen.ref),
        "profile": None,
        "columns": [],
        "drift": None,
        "drift_error": None,
        "baseline": None,
    }
    if chosen.profile_digest is None:
        return context
    profile = use.read_profile(chosen.profile_digest)
    bars = {name: histogram_bars(col) for name, col in profile["columns"].items()}
    context["profile"] = profile
    context["columns"] = [{**row, "bars": bars[row["column"]]} for row in profile_rows(profile)]
    older = [v for v in versions if v.version < chosen.version and v.profile_digest]
    if against is not None:
        baseline = _pick(versions, against, chosen.dataset)
        if baseline.profile_digest is None:
            context["drift_error"] = f"{baseline.ref} has no profile to compare with"
            return context
    elif older:
        baseline = older[0]
    else:
        return context
    from lablink.checks.drift import DriftThresholds, compare_profiles

    try:
        thresholds = DriftThresholds.from_config(lab.settings.project_config.get("drift"))
    except InvalidInput as exc:
        context["drift_error"] = str(exc)
        return context
    assert baseline.profile_digest is not None
    report = compare_profiles(
        use.read_profile(baseline.profile_digest), profile, thresholds
    ).to_dict()
    context["baseline"] = baseline
    context["drift"] = {**report, "rows_detail": drift_rows(report)}
    return context
