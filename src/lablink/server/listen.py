"""How ``lablink server`` listens: its TLS files, checked, and the exposure warning.

TLS is uvicorn's own (``ssl_certfile``/``ssl_keyfile``). The files are checked here,
before the store is opened, so a wrong path or a key that does not match the
certificate is one clear error rather than a traceback from inside uvicorn.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import ssl
from pathlib import Path
from typing import Any

from lablink.errors import InvalidInput

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

# The longest request head (request line and headers) a server reads. The API's own
# bounds allow URLs of over 120 KiB (a 10,000-character filter, percent-encoded, takes
# up to 12 bytes a character). h11's default, 16 KiB, is checked only while a head is
# still arriving, so such a URL was read or refused as the network happened to split it.
MAX_REQUEST_HEAD_BYTES = 256 * 1024


def http_options() -> dict[str, Any]:
    """The HTTP options every lablink server gives uvicorn.

    h11 even where httptools is installed: httptools answers some malformed requests
    itself, in plain text, outside the API's error envelope.
    """
    return {"http": "h11", "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES}


@dataclasses.dataclass(frozen=True)
class Tls:
    """A checked certificate and key, passed to uvicorn as ``ssl_certfile``/``ssl_keyfile``."""

    cert: str
    key: str


def check_tls(cert: str | None, key: str | None) -> Tls | None:
    """The TLS files of ``--tls-cert``/``--tls-key``, checked; None when neither is given.

    Raises:
        InvalidInput: only one of the two is given, a file cannot be read, or the
            pair is not a PEM certificate (chain) with its unencrypted private key.
    """
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        given, missing = ("--tls-cert", "--tls-key") if cert else ("--tls-key", "--tls-cert")
        raise InvalidInput(
            f"{given} needs {missing} too",
            "give both: the certificate (PEM, chain included) and its private key",
        )
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        try:
            with Path(path).open("rb") as fh:
                fh.read(1)
        except OSError as exc:
            raise InvalidInput(
                f"{flag} {path!r} cannot be read: {exc.strerror or exc}",
                "give the path of a PEM file this user can read",
            ) from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        # a password callback, so an encrypted key fails here instead of prompting
        context.load_cert_chain(cert, key, password=lambda: b"")
    except (ssl.SSLError, ValueError) as exc:
        raise InvalidInput(
            f"--tls-cert {cert!r} and --tls-key {key!r} are not a usable pair: {exc}",
            "give a PEM certificate and the unencrypted private key it was made for",
        ) from None
    return Tls(cert, key)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (``127.0.0.1``, ``::1``, localhost).

    ``0.0.0.0`` and ``::`` listen on every interface; a name counts as loopback only
    when every address it resolves to is.
    """
    name = host.strip("[]").lower()
    if name in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]).is_loopback for info in infos
    )


def exposure_warning(host: str, port: int, auth: bool) -> str | None:
    """The warning for serving ``host:port`` to the network without a token; else None.

    Args:
        host: the address the server binds.
        port: its port.
        auth: whether the server requires an API token (``LABLINK_TOKEN``).
    """
    if auth or is_loopback(host):
        return None
    return (
        f"lablink is listening on {host}:{port}, reachable from other machines, and "
        "requires NO API token: anyone who can reach this port can read, change and "
        "delete every run, dataset and artifact. Set LABLINK_TOKEN (or `lablink --token`) to "
        "require one, bind --host 127.0.0.1 behind a reverse proxy, or use a firewall "
        "(see docs/server.md)."
    )
