"""``lablink server``: the REST API and web UI over the configured store."""

from __future__ import annotations

import typer

from lablink.cli.state import get_state


def server(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8500, "--port", min=1, max=65535, help="TCP port to listen on."),
    db: str | None = typer.Option(None, "--db", help="Database URL (env LABLINK_DB)."),
    home: str | None = typer.Option(
        None, "--home", help="Folder of the embedded store (env LABLINK_HOME)."
    ),
    upstream: str | None = typer.Option(
        None,
        "--upstream",
        help="Run as an edge cache of dataset files for this origin server URL.",
    ),
    cache_size: str = typer.Option(
        "50GB", "--cache-size", help="Disk an edge cache may use, e.g. 50GB (with --upstream)."
    ),
) -> None:
    """Serve the REST API (/api/v1, OpenAPI docs at /docs) and the web UI.

    With --upstream URL it is an edge cache instead: it serves the dataset files it
    holds, fetches the others from URL once, and forwards everything else there.
    """
    state = get_state(ctx)
    state.override(db=db, home=home)
    settings = state.settings
    if upstream:
        from lablink.server.edge import serve_edge

        serve_edge(settings, host, port, upstream, cache_size)
        return
    # Imported here, not at the top: `lablink --help` and the SDK must not load FastAPI.
    from lablink.server.app import serve

    serve(settings, host, port)
