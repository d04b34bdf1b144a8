"""The device flow of ``lablink login`` without ``--token`` (RFC 8628, as ``gh auth login``).

Ask the server for a login, show its verification URL and short code (and open the URL
in a browser unless told not to), then poll, at the interval the server asks for, until
a signed-in person approves or denies it on that page or it expires. The loop is
bounded by the login's own lifetime; the server's error codes say what each poll got.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Callable
from typing import Any

from lablink.errors import Forbidden, LablinkError, from_dict

SLOW_DOWN_STEP = 5  # seconds added to the interval on slow_down (RFC 8628, 3.5)
MAX_POLLS = 1000  # a second bound, whatever the server says about its lifetime


def default_label() -> str:
    """This machine's host name, cut to what a client label may hold."""
    name = re.sub(r"[^A-Za-z0-9._ -]", "-", socket.gethostname())[:60].lstrip("._ -")
    return name or "cli"


def device_login(
    url: str,
    label: str,
    show: Callable[[str], None],
    open_browser: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[str, str]:
    """Run the device flow against ``url``; the token and the user it belongs to.

    Raises:
        Forbidden: the login was denied.
        LablinkError: it expired, the server refused it, or cannot be reached.
    """
    started = _post(url, "/api/v1/login/device", {"name": label}, 201)
    code, uri = str(started["user_code"]), str(started["verification_uri"])
    show(f"Open {uri} and enter the code {code}")
    show(f"  (or open {started['verification_uri_complete']})")
    if open_browser:
        _open(str(started["verification_uri_complete"]))
    show("Waiting for the approval...")
    interval = max(1.0, float(started.get("interval", 2)))
    deadline = time.monotonic() + float(started.get("expires_in", 600)) + interval
    for _ in range(MAX_POLLS):
        if time.monotonic() > deadline:
            break
        sleep(interval)
        try:
            answer = _post(
                url, "/api/v1/login/device/token", {"device_code": started["device_code"]}, 200
            )
        except LablinkError as error:
            if error.code == "authorization_pending":
                continue
            if error.code == "slow_down":
                interval += SLOW_DOWN_STEP
                continue
            if error.code == "access_denied":
                hint = "run `lablink login` again if that was wrong"
                raise Forbidden(error.message, hint) from None
            raise
        return str(answer["token"]), str(answer["user"])
    raise LablinkError(f"nobody approved code {code} in time", "run `lablink login` again")


def _post(url: str, path: str, body: dict[str, Any], expected: int) -> dict[str, Any]:
    import httpx

    try:
        answer = httpx.post(f"{url}{path}", json=body, timeout=10)
    except httpx.HTTPError as exc:
        raise LablinkError(f"cannot reach {url}: {exc}", "check --server") from None
    try:
        data = answer.json()
    except ValueError:
        data = {}
    if answer.status_code != expected or not isinstance(data, dict):
        raise from_dict(data if isinstance(data, dict) else {}, answer.status_code)
    return data


def _open(target: str) -> None:
    import webbrowser

    with contextlib.suppress(webbrowser.Error):  # the URL is printed: open it elsewhere
        webbrowser.open(target)
