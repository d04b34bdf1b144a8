"""``/docs``: the API's Swagger UI, served entirely from this server.

FastAPI's built-in page loads Swagger UI from a CDN, so it is blank offline and needs an
inline script. This one links the ``swagger-ui-bundle`` package's files through
``/static`` and starts them from ``static/api-docs.js``.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import HTMLResponse

from lablink.ui.render import Renderer


def api_docs_router(renderer: Renderer, title: str, openapi_url: str) -> APIRouter:
    """``GET /docs``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs", response_class=HTMLResponse)
    def api_docs() -> HTMLResponse:
        return renderer.page("api_docs.html", {"title": title, "openapi_url": openapi_url})

    return router
