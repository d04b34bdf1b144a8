"""The web UI: server-rendered pages over ``core/``, served by the same server as the API.

Pages (all state in the query string, so any view is a link to paste in chat):

    /                     projects: run counts, active runs, last activity
    /p/{project}          runs table: filter, sort, columns, pages, live status, compare
    /r/{run_id}           run page: config, git and diff, environment, artifacts, charts;
                          a launched job's attempts and its output (``/r/{run_id}/logs``)
    /p/{project}/params   params against a metric: parallel coordinates and a scatter
    /compare?run=a&run=b  overlaid charts and a params table that highlights differences
    /incidents            watchdog incidents, their evidence and notification attempts
    /sweeps/{sweep_id}    a sweep's trials, the best so far, params against its metric
    /datasets             datasets; /datasets/{name}?v=3: versions, lineage, profile, drift
    /team                 roster with local times, core-hours heat-map, who is on call
    /team/busfactor       the bus factor of the server's configured repository
    /datasets/{name}/v/{version}/review   a version's data review: report, diff, sign-off
    /docs                 the API's Swagger UI, from /static (works offline)
    /signin, /me          with auth on: the sign-in form; who you are, your roles and tokens
    /login/device         approve (or deny) a `lablink login` started in a terminal
    /signin/oidc          single sign-on with the OpenID Connect provider (and /callback)
    /admin/users          server admins: users; /admin/projects grants; /admin/audit the log

Scripts get chart data from ``/ui-data/history`` (downsampled on the server) and live
updates from ``/ui-data/events``, the API's SSE stream served beside the pages (so an
API token, which guards ``/api/``, does not cut the pages' live updates). Static files, plotly.js included,
come from ``/static`` pre-compressed and cached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from lablink.core.lab import Lab


def mount_ui(app: FastAPI, lab: Lab) -> None:
    """Add the UI's HTML routes, its chart-data endpoint and ``/static`` to ``app``."""
    from lablink.server.api.events import ui_events_router
    from lablink.ui.admin import admin_router
    from lablink.ui.apidocs import api_docs_router
    from lablink.ui.assets import Assets, static_router
    from lablink.ui.attempts import attempts_router
    from lablink.ui.charts import data_router
    from lablink.ui.datasets import datasets_router
    from lablink.ui.device import device_router
    from lablink.ui.incidents import incidents_router
    from lablink.ui.logs import logs_router
    from lablink.ui.models import models_router
    from lablink.ui.oidc import oidc_router
    from lablink.ui.pages import pages_router
    from lablink.ui.params_view import params_router
    from lablink.ui.profile import profile_router
    from lablink.ui.render import Renderer
    from lablink.ui.reviews import reviews_router
    from lablink.ui.runpage import run_router
    from lablink.ui.signin import signin_router
    from lablink.ui.sweep_view import sweep_router
    from lablink.ui.team import team_router

    assets = Assets()
    renderer = Renderer(assets)
    app.include_router(static_router(assets))
    app.include_router(api_docs_router(renderer, app.title, app.openapi_url or "/openapi.json"))
    app.include_router(data_router(lab))
    app.include_router(ui_events_router())
    app.include_router(pages_router(lab, renderer))
    app.include_router(run_router(lab, renderer))
    app.include_router(logs_router(lab, renderer))  # a launched job's output
    app.include_router(attempts_router(lab))
    app.include_router(params_router(lab, renderer))
    app.include_router(incidents_router(lab, renderer))
    app.include_router(datasets_router(lab, renderer))  # with their schemas
    app.include_router(reviews_router(lab, renderer))
    app.include_router(sweep_router(lab, renderer))
    app.include_router(team_router(lab, renderer))
    app.include_router(models_router(lab, renderer))
    app.include_router(signin_router(renderer))
    app.include_router(oidc_router(renderer))
    app.include_router(profile_router(lab, renderer))
    app.include_router(device_router(renderer))  # approves `lablink login`
    app.include_router(admin_router(lab, renderer))


__all__ = ["mount_ui"]
