"""Static files of the web UI: our hand-written CSS and JS, plotly.js from ``plotly`` and
Swagger UI (for ``/docs``) from ``swagger-ui-bundle``.

The chart library is the ``plotly.min.js`` bundle shipped inside the ``plotly`` Python
package, so there is no npm step and no CDN. It is ~4.8 MB, so every file is served
pre-compressed (gzip, computed once and kept in memory), with a strong ``ETag`` and,
when the URL carries the content hash (``/static/plotly.min.js?v=<hash>``, which is what
the templates link to), ``Cache-Control: immutable`` for a year. A second page load
transfers nothing for these files.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import importlib.util
import threading
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import Response

from lablink.errors import NotFound

STATIC = Path(__file__).parent / "static"
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=0, must-revalidate"


def swagger_ui_files() -> dict[str, Path]:
    """The Swagger UI script and stylesheet of the ``swagger-ui-bundle`` package."""
    import swagger_ui_bundle

    folder = Path(swagger_ui_bundle.swagger_ui_path)
    return {name: folder / name for name in ("swagger-ui-bundle.js", "swagger-ui.css")}


def plotly_bundle() -> Path:
    """The plotly.js bundle inside the installed ``plotly`` package (not imported)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the plotly package is not installed; reinstall lablink")
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise RuntimeError(f"plotly.js bundle not found at {path}")
    return path


@dataclasses.dataclass(frozen=True)
class Asset:
    """One static file: its bytes, their gzip form and the content hash."""

    body: bytes
    gzipped: bytes
    etag: str
    media_type: str


class Assets:
    """Loads each static file once, lazily, and serves it with caching headers."""

    def __init__(self) -> None:
        self._paths = {p.name: p for p in STATIC.iterdir() if p.is_file()}
        self._paths["plotly.min.js"] = plotly_bundle()
        self._paths.update(swagger_ui_files())  # /docs works with no network
        self._cache: dict[str, Asset] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Asset:
        """The asset called ``name``. Raises NotFound."""
        asset = self._cache.get(name)
        if asset is not None:
            return asset
        path = self._paths.get(name)
        if path is None:
            raise NotFound(f"no static file {name!r}")
        with self._lock:
            if name not in self._cache:
                body = path.read_bytes()
                self._cache[name] = Asset(
                    body,
                    gzip.compress(body, compresslevel=6, mtime=0),
                    hashlib.sha256(body).hexdigest()[:16],
                    MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
                )
        return self._cache[name]

    def url(self, name: str) -> str:
        """The cache-busting URL templates link to."""
        return f"/static/{name}?v={self.get(name).etag}"

    def response(self, request: Request, name: str) -> Response:
        """Serve ``name``: 304 on a matching ``If-None-Match``, gzip when accepted."""
        try:
            asset = self.get(name)
        except NotFound:
            return Response("not found", status_code=404, media_type="text/plain")
        etag = f'"{asset.etag}"'
        versioned = request.query_params.get("v") == asset.etag
        headers = {
            "ETag": etag,
            "Cache-Control": IMMUTABLE if versioned else REVALIDATE,
            "Vary": "Accept-Encoding",
        }
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        body = asset.body
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = asset.gzipped
            headers["Content-Encoding"] = "gzip"
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(body))
            return Response(status_code=200, headers=headers, media_type=asset.media_type)
        return Response(body, headers=headers, media_type=asset.media_type)


def static_router(assets: Assets) -> APIRouter:
    """``GET /static/{name}`` over ``assets``, and ``/favicon.ico``."""
    router = APIRouter(include_in_schema=False)

    @router.api_route("/static/{name}", methods=["GET", "HEAD"])
    def static_file(request: Request, name: str) -> Response:
        return assets.response(request, name)

    # Browsers ask for /favicon.ico on any page that links none (the API docs, JSON
    # answers opened in a tab); the SVG icon answers it rather than a 404.
    @router.api_route("/favicon.ico", methods=["GET", "HEAD"])
    def favicon(request: Request) -> Response:
        return assets.response(request, "favicon.svg")

    return router
