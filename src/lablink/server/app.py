"""The application factory and the ``lablink server`` entry point.

``create_app(lab)`` builds a FastAPI app over one ``Lab`` and holds no module state, so
tests can run several apps over several stores in one process. The app's lifespan
starts and stops its live-event hub. ``serve`` is the application edge: it configures
logging, opens the store and runs uvicorn.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import Depends, FastAPI
from sqlalchemy.engine import make_url
from starlette.concurrency import run_in_threadpool

from lablink.checks.limits import MAX_SMALL_BODY_BYTES
from lablink.core.device_login import DeviceLogins
from lablink.core.lab import Lab
from lablink.core.oidc_config import OidcConfig
from lablink.core.sessions import Sessions
from lablink.errors import Conflict, InvalidInput
from lablink.server.access import authorize
from lablink.server.api import PREFIX, ROUTERS
from lablink.server.api.blobs import upload_path
from lablink.server.api.login import router as login_router
from lablink.server.api.projects import health_router, version
from lablink.server.auth import AuthConfig, Authenticate, default_mode
from lablink.server.errors import install_error_handlers
from lablink.server.guards import BrowserGuard
from lablink.server.ingest_path import IngestPath, IngestThreads
from lablink.server.jsonio import JSONResponse
from lablink.server.listen import Tls, http_options
from lablink.server.live import EventHub
from lablink.server.middleware import RequestGuard, RequestLog, TokenAuth
from lablink.server.mlflow import mount as mount_mlflow
from lablink.server.mlflow.direct import MlflowDirect
from lablink.server.openapi import install_openapi
from lablink.settings import Settings

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
GRACEFUL_SHUTDOWN_SECONDS = 10


# FastAPI's OpenTelemetry support (newer releases) asks the global providers on every
# request whether one is configured: a tenth of a small batch's server time. lablink
# configures none and exports no traces, so it is switched off where FastAPI has it.
_NO_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)


def create_app(
    lab: Lab, *, keepalive_seconds: float = 15.0, ui: bool = True, auth: AuthConfig | None = None
) -> FastAPI:
    """The lablink ASGI app over ``lab``: REST API, live events and (optionally) the UI.

    Args:
        lab: the store, blob store and use cases to serve.
        keepalive_seconds: interval of SSE keepalive comments.
        ui: also serve the web UI.
        auth: how API calls are authenticated (``server/auth.py``); None is ``off``,
            where ``LABLINK_TOKEN``, when set, guards ``/api/`` as one shared token.
    """
    auth = auth or AuthConfig()
    hub = EventHub(lab.store, keepalive_seconds)
    watchdog = lab.watchdog  # built here: a bad [watch] or [notify] table fails before serving
    ingest_threads = IngestThreads()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await hub.start()
        watchdog.start()  # timer rules and alert delivery
        try:
            yield
        finally:
            # joins the watchdog's threads (seconds): not on the loop, which still
            # serves the streams being closed
            await run_in_threadpool(watchdog.stop)
            await hub.stop()
            ingest_threads.close()  # the requests are answered: their threads may go
            # here, not only on close: uvicorn re-raises SIGTERM once this returns
            await run_in_threadpool(lab.store.checkpoint)

    app = FastAPI(
        title="lablink",
        version=version(),
        summary="Experiment tracking for ML teams spread over time zones.",
        description="The REST API of lablink. Errors are JSON: "
        '`{"error": {"code", "message", "hint"}}`. See docs/api.md.',
        lifespan=lifespan,
        default_response_class=JSONResponse,
        docs_url=None if ui else "/docs",  # the UI serves its own, offline (ui/apidocs.py)
        redoc_url=None,
        **_NO_TELEMETRY,
    )
    app.state.lab = lab
    app.state.live = hub
    app.state.auth = auth
    app.state.run_projects = {}
    app.state.sessions = sessions = Sessions(lab.people)
    app.state.device_logins = DeviceLogins(lab.people)
    app.state.oidc = None
    if auth.oidc is not None:  # the client's libraries load only for single sign-on
        from lablink.core.oidc import OidcClient

        app.state.oidc = OidcClient(auth.oidc)
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(health_router)
    app.include_router(login_router, prefix=PREFIX)  # no credential yet: see browser.PUBLIC_API
    for router in ROUTERS:
        app.include_router(router, prefix=PREFIX, dependencies=[Depends(authorize)])
    mount_mlflow(app)
    if ui:
        from lablink.ui import mount_ui

        mount_ui(app, lab)
    # Added innermost first: the request log sees every answer, the guard and the token
    # check run before any route, the ingestion path and MLflow's hot calls included.
    app.add_middleware(MlflowDirect)
    app.add_middleware(IngestPath, lab=lab, threads=ingest_threads)
    if auth.on:
        app.add_middleware(Authenticate, people=lab.people, config=auth, sessions=sessions, ui=ui)
    elif lab.settings.token:
        app.add_middleware(TokenAuth, token=lab.settings.token)
    app.add_middleware(
        RequestGuard,
        max_bytes=lab.settings.max_request_bytes,
        unlimited=lambda scope: scope["method"] == "PUT" and upload_path(scope["path"]),
        small_bytes=MAX_SMALL_BODY_BYTES,
        bulk=lambda scope: bulk_path(scope["path"]),
    )
    app.add_middleware(BrowserGuard, routes=app.router.routes)
    app.add_middleware(RequestLog)
    return app


# Writes that carry bulk data and may use the whole LABLINK_MAX_REQUEST_BYTES: metric
# batches, blob and pack transfers, dataset manifests, schemas.
_BULK = re.compile(r"/api/v1/(runs/[^/]+/batches|blobs/|data/|datasets/|schemas/)")


def bulk_path(path: str) -> bool:
    """Whether ``path`` takes bulk bodies (the others are held to 1 MiB)."""
    return _BULK.match(path) is not None or path == "/api/2.0/mlflow/runs/log-batch"


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr: one line per request from ``lablink.server.access``."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # start-up noise


def serve(
    settings: Settings,
    host: str,
    port: int,
    tls: Tls | None = None,
    auth: AuthConfig | None = None,
    oidc: OidcConfig | None = None,
) -> None:
    """Open the store for ``settings`` and serve it on ``host:port`` until stopped.

    With ``tls`` (``server/listen.py``) it serves HTTPS, through uvicorn's own TLS.
    ``auth`` None picks the default: off while nobody has been added, else required
    (``server/auth.py``), with ``oidc`` as its single sign-on.
    """
    configure_logging()
    check_address(host, port)  # before the store is opened (and perhaps migrated)
    with Lab(settings) as lab:
        if auth is None:
            mode = default_mode(bool(lab.people.list_users()))
            auth = AuthConfig(mode, oidc=oidc)
        check_auth(lab, auth)
        app = create_app(lab, auth=auth)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,  # logging is configured above, once
            access_log=False,  # RequestLog writes the one line per request
            **http_options(),
            lifespan="on",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            ssl_certfile=tls.cert if tls else None,
            ssl_keyfile=tls.key if tls else None,
        )
        server = _uvicorn_server(config, hub=app.state.live)
        store = make_url(settings.db).render_as_string(hide_password=True)
        scheme = "https" if tls else "http"
        logger.info("lablink %s serving %s on %s://%s:%d", version(), store, scheme, host, port)
        logger.info("API authentication: %s", auth.mode)
        if auth.oidc is not None:
            logger.info("single sign-on: %s (%s)", auth.oidc.name, auth.oidc.issuer)
        server.run()


def check_auth(lab: Lab, auth: AuthConfig) -> None:
    """Refuse to start with auth on and nobody who could sign in.

    Raises:
        Conflict: no user exists yet.
    """
    if auth.on and not lab.people.list_users():
        raise Conflict(
            f"--auth {auth.mode} but this store has no users: nobody could sign in",
            "add one first: lablink users add ana --email ana@lab.org --role admin "
            "(or serve with --auth off)",
        )


def check_address(host: str, port: int) -> None:
    """Fail early, with a clear message, when ``host:port`` cannot be listened on.

    A probe binds the first address ``host`` resolves to, then lets it go; uvicorn
    binds every address itself (handing it a socket of our own halved ingestion
    throughput). Should the port be taken in between, uvicorn's own error remains.

    Raises:
        InvalidInput: the port is not a TCP port number.
        Conflict: the address is taken (another server runs there) or cannot be used.
    """
    if not 0 < port < 65536:
        raise InvalidInput(f"port {port} is not a TCP port", "give --port between 1 and 65535")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise Conflict(f"cannot listen on {host}:{port}: {exc}", "check --host") from None
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise Conflict(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                "is another server running there? Stop it, or pick another port with --port",
            ) from None


def _uvicorn_server(config: uvicorn.Config, hub: EventHub) -> uvicorn.Server:
    """uvicorn's server, ending live streams first when it shuts down.

    uvicorn waits for open responses before the lifespan shutdown, and an SSE stream
    never ends by itself; closing the streams first keeps Ctrl-C prompt.
    """

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            hub.close_streams()
            await super().shutdown(sockets)

    return Server(config)
