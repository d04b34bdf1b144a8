"""Who is calling: ``--auth off|required|proxy`` and the middleware that decides it.

With auth on, every ``/api/`` request carries a credential the server checks itself:
``Authorization: Bearer ll_...`` (a personal or service token, ``core/people.py``), or,
in proxy mode, the user name a trusted reverse proxy puts in a header. The identity
found is left in the request's state for the routes (``server/access.py``); a
self-declared ``X-Lablink-User`` is refused, as it would let anyone write as anyone.
The web UI is not covered yet: it is served as with auth off (docs/people.md).
"""

from __future__ import annotations

import dataclasses
import ipaddress

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from lablink.core.people import People
from lablink.errors import InvalidInput, LablinkError, NotFound, Unauthorized
from lablink.identity import Identity
from lablink.server.errors import error_response

MODES: tuple[str, ...] = ("off", "required", "proxy")
DEFAULT_PROXY_HEADER = "X-Forwarded-User"


@dataclasses.dataclass(frozen=True)
class AuthConfig:
    """How the server authenticates API calls.

    ``trusted`` holds the addresses (or networks) of the proxies whose ``header`` is
    believed in proxy mode.
    """

    mode: str = "off"
    header: str = DEFAULT_PROXY_HEADER
    trusted: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InvalidInput(f"--auth {self.mode!r} is not one of {', '.join(MODES)}")
        if self.mode == "proxy" and not self.trusted:
            raise InvalidInput(
                "--auth proxy needs the proxy's address",
                "pass --trusted-proxy 127.0.0.1 (repeat it for several proxies)",
            )
        if not self.header.strip() or not self.header.isascii() or ":" in self.header:
            raise InvalidInput(f"--auth-header {self.header!r} is not a header name")
        for address in self.trusted:
            _network(address)

    @property
    def on(self) -> bool:
        """Whether API calls must carry a credential."""
        return self.mode != "off"

    def trusts(self, client: str | None) -> bool:
        """Whether a request from ``client`` came through an allowed proxy."""
        if client is None:
            return False
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        return any(address in _network(net) for net in self.trusted)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidInput(
            f"--trusted-proxy {text!r} is not an IP address or network",
            "give the proxy's address, like 127.0.0.1 or 10.0.0.0/24",
        ) from None


def default_mode(has_users: bool) -> str:
    """``required`` once anyone has been added; ``off`` before, when nobody could sign in.

    A server bound beyond loopback with auth off prints the exposure warning
    (``server/listen.py``), as it always has; a shared ``LABLINK_TOKEN`` keeps working.
    """
    return "required" if has_users else "off"


class Authenticate:
    """Resolve the caller of every ``/api/`` request, or answer 401 (400 for a
    self-declared ``X-Lablink-User``)."""

    def __init__(self, app: ASGIApp, people: People, config: AuthConfig) -> None:
        self.app = app
        self.people = people
        self.config = config
        self.header = config.header.lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        try:
            identity = await self._identify(scope)
        except LablinkError as err:
            extra = {"WWW-Authenticate": "Bearer"} if isinstance(err, Unauthorized) else None
            await error_response(err, extra, scope["path"])(scope, receive, send)
            return
        scope.setdefault("state", {})["identity"] = identity
        await self.app(scope, receive, send)

    async def _identify(self, scope: Scope) -> Identity:
        headers = Headers(scope=scope)
        if "x-lablink-user" in headers:
            raise InvalidInput(
                "X-Lablink-User is not accepted: this server takes who you are from your token",
                "drop the header (unset LABLINK_USER for the SDK); writes are recorded "
                "under the token's user",
            )
        client = (scope.get("client") or (None, 0))[0]
        given = headers.get("authorization")
        if given is not None:
            scheme, _, token = given.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("the Authorization header is not a bearer token", _HINT)
            return await run_in_threadpool(self.people.authenticate_token, token.strip(), client)
        if self.config.mode == "proxy":
            return await run_in_threadpool(self._proxied, headers, client)
        raise Unauthorized("this server requires a token", _HINT)

    def _proxied(self, headers: Headers, client: str | None) -> Identity:
        name = headers.get(self.header)
        if not self.config.trusts(client):
            raise Unauthorized(
                f"requests from {client} do not come through a trusted proxy",
                "sign in through the proxy, or send a personal token: " + _HINT,
            )
        if name is None or not name.strip():
            raise Unauthorized(f"the proxy sent no {self.config.header} header", _HINT)
        try:
            user = self.people.get_user(name.strip())
        except (NotFound, InvalidInput):
            self.people.audit("anonymous", "proxy.refused", None, {"user": name[:100]}, client)
            raise Unauthorized(
                f"the proxy signed in {name[:100]!r}, who is not a lablink user",
                "an admin adds them with `lablink users add`",
            ) from None
        if user.disabled:
            raise Unauthorized(f"user {user.name} is disabled", "ask a lablink admin")
        return Identity(user.name, user.kind, user.is_admin)


_HINT = (
    "send Authorization: Bearer ll_... (LABLINK_TOKEN or `lablink login` for the SDK "
    "and CLI; `lablink tokens create` makes one)"
)
