"""The projects page, a project's runs table and the compare page.

Each view parses the query string, calls one ``Tracking`` use case (the same ones the
JSON API calls) and renders a template. Only the page's runs are loaded, so the runs
table costs the same at 10,000 runs as at 100.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse

from lablink.core.lab import Lab
from lablink.errors import FilterSyntaxError, InvalidInput, LablinkError, NotFound
from lablink.models import RunRecord
from lablink.ui import charts
from lablink.ui import grouping as grouping_mod
from lablink.ui.guard import check_project, check_run, readable
from lablink.ui.render import Renderer
from lablink.ui.table import (
    FIXED_COLUMNS,
    LEAD_COLUMNS,
    PAGE_SIZES,
    TABLE_FIELDS,
    TRAILING_COLUMNS,
    TableState,
    auto_columns,
    available_columns,
    cell,
    pages,
    short_user,
)

MAX_COMPARE = 20


def filter_error(exc: LablinkError) -> dict[str, Any]:
    """What the runs table shows inline for a filter or sort it cannot use."""
    return {
        "message": exc.message,
        "hint": exc.hint,
        "pointer": exc.details.get("pointer"),
        "kind": "filter" if isinstance(exc, FilterSyntaxError) else "query",
    }


def pages_router(lab: Lab, renderer: Renderer) -> APIRouter:
    """Routes for ``/``, ``/p/{project}`` and ``/compare``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    def projects(request: Request) -> HTMLResponse:
        shown = readable(request)
        found = [p for p in lab.tracking.list_projects() if shown(p.name)]
        return renderer.page("projects.html", {"projects": found, "now": time.time()})

    @router.get("/p/{project}", response_class=HTMLResponse)
    def runs_table(request: Request, project: str) -> HTMLResponse:
        params = request.query_params
        state = TableState.from_query(
            params, {"col": params.getlist("col"), "sel": params.getlist("sel")}
        )
        # The cursor is read before the runs, so the live stream replays anything
        # that happens between this render and the browser connecting to it.
        cursor = lab.store.last_event_id()
        runs: list[RunRecord] = []
        total = 0
        error = None
        try:
            check_project(request, project)
            runs, total = lab.tracking.search_runs(
                project,
                state.filter or None,
                state.sort,
                state.descending,
                state.limit,
                state.offset,
                TABLE_FIELDS,
            )
        except NotFound as exc:
            return renderer.error(exc, "No such project")
        except InvalidInput as exc:
            error = filter_error(exc)
        # Metrics before params, each in the order chosen: what runs are compared on first.
        columns = tuple(
            sorted(state.columns or auto_columns(runs), key=lambda c: not c.startswith("metrics."))
        )
        context = {
            "project": project,
            "state": state,
            "rows": [
                {
                    "run": r,
                    "cells": [cell(r, c) for c in columns],
                    "checked": r.id in state.selected,
                }
                for r in runs
            ],
            "columns": columns,
            "auto": not state.columns,
            "offpage": [s for s in state.selected if s not in {r.id for r in runs}],
            "available": available_columns(runs, columns),
            "lead": LEAD_COLUMNS,
            "fixed": FIXED_COLUMNS,
            "trailing": TRAILING_COLUMNS,
            "page": pages(total, state.limit, state.offset),
            "page_sizes": PAGE_SIZES,
            "error": error,
            "cursor": cursor,
            "short_user": short_user,
            "now": time.time(),
        }
        return renderer.page("runs.html", context)

    @router.get("/compare", response_class=HTMLResponse)
    def compare(request: Request, run: list[str] = Query(default=[])) -> HTMLResponse:
        refs = list(dict.fromkeys(r.strip() for r in run if r.strip()))
        if len(refs) < 2:
            return renderer.error(
                InvalidInput("compare needs at least two runs", "tick two or more runs"),
                "Pick runs to compare",
            )
        if len(refs) > MAX_COMPARE:
            return renderer.error(
                InvalidInput(f"compare shows at most {MAX_COMPARE} runs, not {len(refs)}"),
                "Too many runs",
            )
        try:
            for ref in refs:
                check_run(request, ref)
            runs = [lab.tracking.get_run(r) for r in refs]
            table = lab.tracking.compare([r.id for r in runs])
        except LablinkError as exc:
            return renderer.error(exc, "Cannot compare")
        options = charts.ChartOptions.from_query(request.query_params)
        grouping = request.query_params.get("group", "")
        grouping = grouping if grouping in grouping_mod.GROUPINGS else ""
        band = request.query_params.get("band", "std")
        band = band if band in grouping_mod.BANDS else "std"
        run_groups = grouping_mod.group_runs(runs, charts.PALETTE) if grouping else []
        data = charts.page_data(runs, options, live=False)
        if run_groups:
            data["groups"] = run_groups
            data["band"] = band
        keys = metric_union(runs)
        return renderer.page(
            "compare.html",
            {
                "runs": runs,
                "table": table,
                "groups": charts.group_keys(keys),
                "options": options,
                "page_data": data,
                "grouping": grouping,
                "band": band,
                "groupings": grouping_mod.GROUPINGS,
                "bands": grouping_mod.BANDS,
                "run_groups": run_groups,
                "group_rows": grouping_mod.group_table(runs, run_groups, keys, band),
                "now": time.time(),
            },
        )

    return router


def metric_union(runs: Sequence[RunRecord]) -> list[str]:
    """Every metric key any of ``runs`` has, in first-seen order."""
    return list(dict.fromkeys(k for r in runs for k in r.metrics))
