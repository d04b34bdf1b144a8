"""``lablink server``: the REST API and web UI over the configured store."""

from __future__ import annotations

import typer

from lablink.cli.state import get_state
from lablink.errors import InvalidInput


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
    tls_cert: str | None = typer.Option(
        None, "--tls-cert", help="Serve HTTPS with this PEM certificate (chain) file."
    ),
    tls_key: str | None = typer.Option(
        None, "--tls-key", help="The PEM private key of --tls-cert (unencrypted)."
    ),
    auth: str | None = typer.Option(
        None,
        "--auth",
        help="off, required (a personal or service token on every API call) or proxy "
        "(a trusted reverse proxy names the user). Default: off on 127.0.0.1 while no "
        "users exist, else required.",
    ),
    auth_header: str = typer.Option(
        "X-Forwarded-User", "--auth-header", help="The header a proxy names the user in."
    ),
    trusted_proxy: list[str] = typer.Option(
        [], "--trusted-proxy", help="A proxy address or network whose header is believed."
    ),
    oidc_issuer: str | None = typer.Option(
        None,
        "--oidc-issuer",
        help="Offer single sign-on through this OpenID Connect provider (its issuer URL; "
        "env LABLINK_OIDC_ISSUER).",
    ),
    oidc_client_id: str | None = typer.Option(
        None, "--oidc-client-id", help="lablink's client id at the provider."
    ),
    oidc_client_secret_file: str | None = typer.Option(
        None, "--oidc-client-secret-file", help="A file holding only the client secret."
    ),
    oidc_name: str | None = typer.Option(
        None, "--oidc-name", help="The provider's name on the sign-in button."
    ),
) -> None:
    """Serve the REST API (/api/v1, OpenAPI docs at /docs) and the web UI.

    With --upstream URL it is an edge cache instead: it serves the dataset files it
    holds, fetches the others from URL once, and forwards everything else there.
    With --tls-cert and --tls-key it serves HTTPS (or put it behind a reverse proxy:
    docs/server.md). With --auth required every API call needs a token of a lablink
    user (docs/people.md); --oidc-issuer adds single sign-on to the sign-in page. Listening beyond this machine without auth or an API token
    (LABLINK_TOKEN) prints a warning.
    """
    from lablink.core.oidc_config import from_settings
    from lablink.server.auth import AuthConfig
    from lablink.server.listen import check_tls, exposure_warning

    state = get_state(ctx)
    state.override(
        db=db,
        home=home,
        oidc_issuer=oidc_issuer,
        oidc_client_id=oidc_client_id,
        oidc_client_secret_file=oidc_client_secret_file,
        oidc_name=oidc_name,
    )
    settings = state.settings
    tls = check_tls(tls_cert, tls_key)
    oidc = from_settings(settings)
    config = None
    if auth is not None:
        config = AuthConfig(auth.strip().lower(), auth_header, tuple(trusted_proxy), oidc)
    guarded = bool(settings.token) or (config is not None and config.on)
    warning = exposure_warning(host, port, auth=guarded)
    if warning:
        print_warning(warning)
    if upstream:
        from lablink.server.edge import serve_edge

        size = edge_cache_size(cache_size)
        serve_edge(settings, host, port, check_upstream(upstream), size, tls)
        return
    # Imported here, not at the top: `lablink --help` and the SDK must not load FastAPI.
    from lablink.server.app import serve

    serve(settings, host, port, tls, config, oidc)


def print_warning(text: str) -> None:
    """A warning that stands out in a terminal and in a service's log: red, on stderr."""
    from rich.markup import escape

    from lablink.cli.output import err_console

    out = err_console()
    out.rule("[bold red]WARNING[/]", style="red")
    out.print(f"[bold red]{escape(text)}[/]")
    out.rule(style="red")


def check_upstream(url: str) -> str:
    """An upstream server URL: http(s), with a host.

    Raises:
        InvalidInput: anything else, named.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            f"--upstream {url!r} is not a server URL",
            "give the origin's URL, e.g. http://origin:8500",
        )
    return url


def edge_cache_size(text: str) -> int:
    """``--cache-size`` in bytes.

    Raises:
        InvalidInput: not a size.
    """
    from lablink.settings import parse_size

    try:
        size = parse_size(text)
    except ValueError:
        size = -1
    if size <= 0:
        raise InvalidInput(f"--cache-size {text!r} is not a size", "sizes look like 50GB or 512MiB")
    return size
