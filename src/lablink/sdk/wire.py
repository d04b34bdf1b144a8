"""The tracking transport's HTTP client: requests over one ``httpcore`` connection pool.

Training code pays for every module the SDK imports. ``httpx`` costs about 20 MB of
resident memory here, mostly its command-line module, which loads click, rich and
pygments whenever they are installed (lablink's CLI needs them); ``httpcore``, the
connection layer under it, costs half that. The SDK's transport needs no more than
this: keep-alive connections, timeouts, streamed bodies both ways, and errors that
say which server could not be reached.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import ssl
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import httpcore

from lablink import errors

# Connecting fails fast when the server is down; a slow answer gets longer (big batches).
TIMEOUTS = {"connect": 5.0, "read": 60.0, "write": 60.0, "pool": 60.0}
Params = Mapping[str, Any] | Sequence[tuple[str, Any]]
# Statuses a proxy may answer without our JSON envelope, mapped to the same classes.
_BY_STATUS: dict[int, type[errors.LablinkError]] = {
    400: errors.InvalidInput,
    401: errors.Unauthorized,
    403: errors.Unauthorized,
    404: errors.NotFound,
    409: errors.Conflict,
    413: errors.PayloadTooLarge,
}
TRANSPORT_ERRORS = (
    httpcore.NetworkError,
    httpcore.TimeoutException,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
)


def auth_headers(settings: Any) -> dict[bytes, bytes]:
    """The user and token headers every request carries (UTF-8 bytes on the wire).

    A personal or service token (``ll_...``) says who the caller is, and a server with
    auth on refuses a self-declared user beside it; only a shared token (or none) goes
    with ``X-Lablink-User``.
    """
    headers = {b"User-Agent": b"lablink-sdk"}
    if not (settings.token or "").startswith("ll_"):
        headers[b"X-Lablink-User"] = settings.user.encode()
    if settings.token:
        headers[b"Authorization"] = f"Bearer {settings.token}".encode()
    return headers


def check_server_url(url: str) -> str:
    """``url`` if it names a server: ``http(s)://host[:port]``.

    Raises:
        InvalidInput: anything else, named, with the value to write instead. Without
            this a missing scheme reads as an outage that could never end.
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # a port that is not a number, an unbalanced [
        parts, host = urlsplit(""), None
    if parts.scheme in ("http", "https") and host:
        return url
    bare = url.split("://", 1)[-1]
    raise errors.InvalidInput(
        f"the server URL {url!r} is not an http:// or https:// URL with a host",
        f"set LABLINK_SERVER (or --server, or server in lablink.toml) to e.g. http://{bare}",
    )


def unreachable(server: str, exc: BaseException) -> errors.ServiceUnavailable:
    """The error for a server that cannot be reached or broke the connection."""
    return errors.ServiceUnavailable(
        f"cannot reach the lablink server at {server}: {exc or type(exc).__name__}",
        "is `lablink server` running there? Check LABLINK_SERVER",
    )


@dataclasses.dataclass
class Answer:
    """A response: its status, headers (names in lower case) and body."""

    status: int
    headers: dict[str, str]
    content: bytes = b""

    @property
    def text(self) -> str:
        """The body as text (UTF-8, undecodable bytes replaced)."""
        return self.content.decode("utf-8", "replace")


class Wire:
    """Requests to ``server`` + ``prefix`` + path, with ``headers`` on every request."""

    def __init__(
        self,
        server: str,
        prefix: str,
        headers: Mapping[bytes, bytes],
        timeouts: Mapping[str, float] = TIMEOUTS,
    ) -> None:
        self.server = server.rstrip("/")
        self.timeouts = dict(timeouts)
        self.base_url = self.server + prefix
        self.headers = list(headers.items())
        self._lease = _POOLS.acquire(self.server)
        self.pool = self._lease.pool

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        content: bytes | Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send one request and read the whole answer.

        Raises:
            ServiceUnavailable: the server cannot be reached, or broke the connection.
        """
        with self._errors():
            response = self.pool.request(
                method,
                self.url(path, params),
                headers=self._headers(headers),
                content=content,
                extensions={"timeout": self.timeouts},
            )
        return Answer(response.status, _lower(response.headers), response.content)

    @contextlib.contextmanager
    def stream(self, method: str, path: str) -> Iterator[tuple[Answer, Iterator[bytes]]]:
        """An answer whose body is read piece by piece (large downloads).

        Raises:
            ServiceUnavailable: the server cannot be reached, or broke the connection.
        """
        with (
            self._errors(),
            self.pool.stream(
                method,
                self.url(path),
                headers=self._headers(None),
                extensions={"timeout": self.timeouts},
            ) as response,
        ):
            answer = Answer(response.status, _lower(response.headers))
            yield answer, self._pieces(response.iter_stream())

    def url(self, path: str, params: Params | None = None) -> str:
        """The full URL of ``path`` with ``params`` (None values left out)."""
        if not params:
            return self.base_url + path
        items = params.items() if isinstance(params, Mapping) else params
        query = urlencode([(k, v) for k, v in items if v is not None], doseq=True)
        return f"{self.base_url}{path}?{query}"

    def close(self) -> None:
        """Close every connection (the last user of a shared pool closes it)."""
        _POOLS.release(self._lease)

    def _headers(self, extra: Mapping[str, str] | None) -> list[tuple[bytes, bytes]]:
        if not extra:
            return self.headers
        return self.headers + [(k.encode(), v.encode()) for k, v in extra.items()]

    def _pieces(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        with self._errors():
            yield from chunks

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except TRANSPORT_ERRORS as exc:
            raise unreachable(self.server, exc) from exc


def _lower(headers: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}


def error_from_answer(status: int, content: bytes) -> errors.LablinkError:
    """The typed error of an answer with lablink's JSON envelope (else one by status)."""
    try:
        body = json.loads(content) if content else {}
    except ValueError:
        body = {}
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return errors.from_dict(body, status)
    text = content[:200].decode("utf-8", "replace").strip() if content else ""
    message = f"server answered HTTP {status}" + (f": {text}" if text else "")
    if status >= 500:
        return errors.ServiceUnavailable(message)
    return _BY_STATUS.get(status, errors.InvalidInput)(message)


@dataclasses.dataclass
class _Lease:
    key: tuple[object, ...]
    pool: httpcore.ConnectionPool | httpcore.HTTPProxy
    users: int = 0
    released: bool = False


class _SharedPools:
    """One connection pool per server for the transports of a process.

    Many runs started back to back each hold a transport: sharing a pool keeps their
    requests on a few kept-alive connections instead of a new connection (and TLS
    handshake) each, which a burst of runs could also exhaust the server with. The
    pool closes when its last user closes; a forked child never reuses its parent's.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shared: dict[tuple[object, ...], _Lease] = {}

    def acquire(self, server: str) -> _Lease:
        certs = [os.environ.get(v) for v in ("SSL_CERT_FILE", "SSL_CERT_DIR")]
        key = (os.getpid(), server, sorted(proxies().items()), *certs, *map(_stamp, certs))
        key = tuple(str(part) for part in key)
        with self._lock:
            shared = self._shared.get(key)
            if shared is None:
                shared = self._shared[key] = _Lease(key, connection_pool(server))
            shared.users += 1
            return _Lease(key, shared.pool)

    def release(self, lease: _Lease) -> None:
        with self._lock:
            if lease.released:
                return
            lease.released = True
            shared = self._shared.get(lease.key)
            if shared is None or shared.pool is not lease.pool:
                lease.pool.close()
                return
            shared.users -= 1
            if shared.users > 0:
                return
            del self._shared[lease.key]
        shared.pool.close()


_POOLS = _SharedPools()


def connection_pool(server: str) -> httpcore.ConnectionPool | httpcore.HTTPProxy:
    """Connections to ``server``, through the proxy the environment names for it.

    ``HTTP_PROXY``/``HTTPS_PROXY`` and ``NO_PROXY`` are honoured as httpx (and curl)
    honour them, so training code behind a proxy reaches the server like the CLI does.
    """
    from urllib.parse import urlsplit

    url = urlsplit(server)
    context = ssl_context() if url.scheme == "https" else None
    proxy = proxies().get(url.scheme)
    if proxy and not _bypass(url.hostname or ""):
        return httpcore.HTTPProxy(proxy_url=proxy, max_connections=16, ssl_context=context)
    return httpcore.ConnectionPool(max_connections=16, ssl_context=context)


def proxies() -> dict[str, str]:
    """``urllib.request.getproxies()``: the proxy of each scheme the environment names.

    On Linux with no ``*_proxy`` variable set the answer is empty, known without
    importing ``urllib.request`` (and ``http.client`` and the email parser under it),
    which costs a command such as ``lablink data add`` tens of milliseconds of CPU.
    macOS and Windows also read the system's settings, so they always ask urllib.
    """
    if sys.platform.startswith("linux") and not any(
        name.lower().endswith("_proxy") for name in os.environ
    ):
        return {}
    from urllib.request import getproxies

    return dict(getproxies())


def _bypass(host: str) -> bool:
    from urllib.request import proxy_bypass

    return bool(proxy_bypass(host))


def ssl_context() -> ssl.SSLContext:
    """Certificates an https server may show: the system's, certifi's, and the ones in
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` (a server with a self-signed or private CA).

    The two variables are OpenSSL's, and httpx (the CLI's client) honours them too;
    they are read here, not left to OpenSSL, so every platform's Python honours them.
    Loading certificates takes tens of milliseconds, so one context is shared by the
    transports of a process until a variable or the file it names changes.
    """
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    key = (cafile, capath, _stamp(cafile), _stamp(capath))
    context = _contexts.get(key)
    if context is None:
        context = _load_context(cafile, capath)
        _contexts.clear()
        _contexts[key] = context
    return context


_contexts: dict[tuple[object, ...], ssl.SSLContext] = {}


def _stamp(path: str | None) -> tuple[int, int] | None:
    try:
        stat = os.stat(path) if path else None
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size) if stat else None


def _load_context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    import certifi

    context = ssl.create_default_context()
    context.load_verify_locations(certifi.where())
    if cafile or capath:
        try:
            context.load_verify_locations(cafile=cafile or None, capath=capath or None)
        except (OSError, ssl.SSLError) as exc:
            raise errors.InvalidInput(
                f"cannot load the certificates in SSL_CERT_FILE={cafile!r} / "
                f"SSL_CERT_DIR={capath!r}: {exc}",
                "point SSL_CERT_FILE at a PEM file of the server's certificate (or its CA)",
            ) from None
    return context
