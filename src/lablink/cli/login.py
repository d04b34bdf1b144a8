"""``lablink login``: keep a server's URL and a personal token in the user's config file.

With ``--token`` the token is given; without it one is approved in a browser
(``cli/login_device.py``).

The token is checked against the server before it is kept, and the file is written
readable by its owner only (0600), as it holds a credential. The SDK and CLI then send
the token as ``Authorization: Bearer`` on every call (``sdk/wire.py``).
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

import typer

from lablink.errors import InvalidInput, LablinkError


def login(
    server: str | None = typer.Option(
        None,
        "--server",
        help="The server's URL, e.g. https://lab:8500 (default: the configured one).",
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        help="A personal token (ll_...); '-' reads it from stdin. Without it: approve in a browser.",
    ),
    no_browser: bool = typer.Option(
        False, "--no-browser", help="Only print the URL to open; do not open a browser."
    ),
    name: str | None = typer.Option(
        None, "--name", help="This client's label on the approval page (default: host name)."
    ),
) -> None:
    """Log in to a server and keep its URL and a personal token in the user config file.

    Without --token, prints a URL and a code: a signed-in person approves it in a browser
    and this command receives a new personal token of theirs (90 days).
    """
    from lablink.cli import output
    from lablink.cli.login_device import default_label, device_login
    from lablink.identity import parse_token
    from lablink.sdk.wire import check_server_url

    url = check_server_url(_server(server).rstrip("/"))
    console = output.console()
    if token is None:
        secret, user = device_login(
            url, name or default_label(), _show, open_browser=not no_browser
        )
        check_token(url, secret)
        path = user_config_path(os.environ)
        save_login(path, url, secret)
        console.print(f"logged in to {url} as {user}; token kept in {path} (0600)")
        return
    secret = sys.stdin.readline().strip() if token == "-" else token.strip()
    parse_token(secret)
    check_token(url, secret)
    path = user_config_path(os.environ)
    save_login(path, url, secret)
    console.print(f"{url} accepts the token; kept in {path} (0600)")


def _server(given: str | None) -> str:
    if given is not None:
        return given
    from lablink.settings import Settings

    configured = Settings.load().server
    if configured is None:
        raise InvalidInput("no server to log in to", "pass --server https://lab:8500")
    return configured


def _show(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()  # at once: the person reads the code while this waits


def check_token(url: str, token: str) -> None:
    """Make one authenticated call (list projects) to see the server accept the token.

    Raises:
        Unauthorized: the server refuses the token.
        LablinkError: the server cannot be reached, or answers something else.
    """
    import httpx

    from lablink.errors import from_dict

    try:
        answer = httpx.get(
            f"{url}/api/v1/projects", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
    except httpx.HTTPError as exc:
        raise LablinkError(f"cannot reach {url}: {exc}", "check --server") from None
    if answer.status_code != 200:
        try:
            body = answer.json()
        except ValueError:
            body = {}
        raise from_dict(body, answer.status_code)


def user_config_path(environ: Any) -> Path:
    """The user config file the settings read (``LABLINK_CONFIG`` or the default)."""
    return Path(environ.get("LABLINK_CONFIG", Path.home() / ".config/lablink/config.toml"))


def save_login(path: Path, server: str, token: str) -> None:
    """Set ``server`` and ``token`` in ``path``'s ``[lablink]`` table, keeping the rest;
    the file is replaced atomically and left readable by its owner only.

    Raises:
        InvalidInput: the existing file is not TOML this writer can keep.
    """
    config: dict[str, Any] = {}
    if path.is_file():
        try:
            config = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"{path} is not valid TOML: {exc}", "fix or remove it") from None
    if "lablink" not in config and any(not isinstance(v, dict) for v in config.values()):
        # settings read a file without a [lablink] table as the table itself
        config = {"lablink": {k: v for k, v in config.items() if not isinstance(v, dict)}} | {
            k: v for k, v in config.items() if isinstance(v, dict)
        }
    table = config.setdefault("lablink", {})
    table["server"], table["token"] = server, token
    text = dump_toml(config, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(partial, 0o600)  # an older .partial may have had wider bits
    os.replace(partial, path)


def dump_toml(config: dict[str, Any], path: Path, prefix: str = "") -> str:
    """TOML for tables of strings, numbers, booleans and lists of them.

    Raises:
        InvalidInput: a value of another kind (dates, arrays of tables).
    """
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in config.items():
        name = json.dumps(key, ensure_ascii=False)
        if isinstance(value, dict):
            tables.append((f"{prefix}{name}", value))
        else:
            lines.append(f"{name} = {_value(value, path)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for name, table in tables:
        out += f"\n[{name}]\n" + dump_toml(table, path, f"{name}.").lstrip("\n")
    return out


def _value(value: Any, path: Path) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v, path) for v in value) + "]"
    raise InvalidInput(
        f"{path} holds a value lablink login cannot rewrite ({type(value).__name__})",
        "add server and token to its [lablink] table by hand",
    )
