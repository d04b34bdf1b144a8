"""Who is calling: ``--auth off|required|proxy`` and the middleware that decides it.

With auth on, every ``/api/`` request carries a credential the server checks itself:
``Authorization: Bearer ll_...`` (a personal or service token, ``core/people.py``), or,
in proxy mode, the user name a trusted reverse proxy puts in a header. The identity
found is left in the request's state for the routes (``server/access.py``); a
self-declared ``X-Lablink-User`` is refused, as it would let anyone write as anyone.

The same middleware decides who is looking at the web UI: a bearer token, the session
cookie a password sign-in leaves (``core/sessions.py``), or the trusted proxy's header.
A page asked for without any is redirected to ``/signin``; ``/ui-data/`` answers 401.
A state-changing request made with the cookie (or the proxy's identity, which a browser
also sends unasked) must carry its CSRF token, on the API as on the pages
(``server/browser.py``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import secrets

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from lablink.checks.routes import API_PREFIX
from lablink.core.oidc_config import OidcConfig
from lablink.core.people import People
from lablink.core.sessions import Session, Sessions, same_token
from lablink.errors import Forbidden, InvalidInput, LablinkError, NotFound, Unauthorized
from lablink.identity import Identity
from lablink.server import browser
from lablink.server.errors import error_response

MODES: tuple[str, ...] = ("off", "required", "proxy")
DEFAULT_PROXY_HEADER = "X-Forwarded-User"


@dataclasses.dataclass(frozen=True)
class AuthConfig:
    """How the server authenticates API calls.

    ``trusted`` holds the addresses (or networks) of the proxies whose ``header`` is
    believed in proxy mode; ``oidc`` the single sign-on provider of the sign-in page.
    """

    mode: str = "off"
    header: str = DEFAULT_PROXY_HEADER
    trusted: tuple[str, ...] = ()
    oidc: OidcConfig | None = None

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
        if self.oidc is not None and self.mode == "off":
            raise InvalidInput(
                "single sign-on (--oidc-issuer) needs --auth required or proxy",
                "with --auth off nobody signs in",
            )

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
    self-declared ``X-Lablink-User``); with ``ui``, of every page too (``_browse``)."""

    def __init__(
        self,
        app: ASGIApp,
        people: People,
        config: AuthConfig,
        sessions: Sessions | None = None,
        ui: bool = False,
    ) -> None:
        self.app = app
        self.people = people
        self.config = config
        self.header = config.header.lower()
        self.sessions = sessions
        self.ui = ui
        # Signs the CSRF tokens of proxy-identified browsers, which have no session to
        # derive one from; a restart makes open forms ask for a reload, nothing worse.
        self.csrf_key = secrets.token_bytes(32)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in browser.PUBLIC_API:  # no credential yet (``lablink login``)
            await self.app(scope, receive, send)
            return
        if not scope["path"].startswith("/api/"):
            if self.ui and (not browser.public(scope["path"]) or scope["path"] == "/signin"):
                await self._browse(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        try:
            identity = await self._identify(scope)
            self._check_api_csrf(scope)
        except LablinkError as err:
            extra = {"WWW-Authenticate": "Bearer"} if isinstance(err, Unauthorized) else {}
            if "retry_after" in err.details:  # 429: too many attempts (core/guard.py)
                extra["Retry-After"] = str(err.details["retry_after"])
            await error_response(err, extra or None, scope["path"])(scope, receive, send)
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
        session = await self._session(scope, headers)
        if session is not None:
            return session.identity
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

    # -- browsers: the session cookie, CSRF and the web UI's pages ------------------------
    async def _session(self, scope: Scope, headers: Headers) -> Session | None:
        """The live session of the request's cookie, left in its state; None without one.

        A cookie that names no live session is noted (``stale_session``) so the answer
        can clear it, and otherwise ignored: the caller is then anonymous.
        """
        secret = browser.cookie(headers, browser.SESSION_COOKIE)
        if secret is None or self.sessions is None:
            return None
        try:
            session = await run_in_threadpool(self.sessions.resume, secret)
        except Unauthorized:
            scope.setdefault("state", {})["stale_session"] = True
            return None
        scope.setdefault("state", {})["session"] = session
        return session

    def _check_api_csrf(self, scope: Scope) -> None:
        """A cookie-authenticated API write needs the session's ``X-CSRF-Token``.

        Raises:
            Forbidden: the header is missing or wrong.
        """
        session: Session | None = scope.get("state", {}).get("session")
        if session is None or scope["method"] in browser.SAFE_METHODS:
            return
        if scope["method"] == "POST" and scope["path"] in _READ_POSTS:
            return  # a question in a body changes nothing (an edge forwards the cookie)
        if not same_token(Headers(scope=scope).get(browser.CSRF_HEADER), session.csrf):
            raise Forbidden(_CSRF_MESSAGE, _CSRF_HINT)

    async def _browser_identity(self, scope: Scope, headers: Headers) -> Identity | None:
        """Who is looking at a page: a bearer token, the session cookie or the proxy.

        Raises:
            Unauthorized: a bearer token was sent and is refused.
        """
        client = (scope.get("client") or (None, 0))[0]
        given = headers.get("authorization")
        if given is not None and given.lower().startswith("bearer "):
            token = given[7:].strip()
            return await run_in_threadpool(self.people.authenticate_token, token, client)
        session = await self._session(scope, headers)
        if session is not None:
            return session.identity
        if self.config.mode == "proxy" and self.header in headers:
            try:
                return await run_in_threadpool(self._proxied, headers, client)
            except Unauthorized:
                return None
        return None

    def _expected_csrf(
        self, scope: Scope, headers: Headers, identity: Identity | None
    ) -> str | None:
        """The CSRF token this request must carry; None when it needs none (a token)."""
        if scope["path"] == "/signin":
            return browser.cookie(headers, browser.SIGNIN_COOKIE) or "-"
        session: Session | None = scope.get("state", {}).get("session")
        if session is not None:
            return session.csrf
        if identity is not None and identity.token_id is None:  # the proxy's header
            return self.proxy_csrf(identity.user)
        return None

    def proxy_csrf(self, user: str) -> str:
        """The CSRF token of ``user`` signed in by the trusted proxy."""
        return hmac.new(self.csrf_key, user.encode(), hashlib.sha256).hexdigest()

    async def _browse(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a page to a signed-in viewer, checking CSRF on what changes state."""
        headers = Headers(scope=scope)
        path = scope["path"]
        try:
            identity = await self._browser_identity(scope, headers)
        except LablinkError as err:
            await browser.refusal(scope, err)(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        stale = bool(state.get("stale_session"))
        if identity is None and path != "/signin":
            if path.startswith(_DATA_PATHS):  # a script's call: an answer, not a page
                signin = Unauthorized("sign in to see this", "open the page again and sign in")
                await browser.refusal(scope, signin, stale)(scope, receive, send)
            else:
                await browser.signin_redirect(scope, stale)(scope, receive, send)
            return
        csrf = self._expected_csrf(scope, headers, identity)
        if scope["method"] not in browser.SAFE_METHODS and csrf is not None:
            given, receive = await browser.csrf_given(scope, receive)
            if not browser.same_origin(headers) or not same_token(given, csrf):
                refused = Forbidden(_CSRF_MESSAGE, _CSRF_HINT)
                await browser.refusal(scope, refused)(scope, receive, send)
                return
        if identity is not None:
            state["identity"] = identity
        shown = None if path == "/signin" else csrf
        viewer = browser.Viewer(identity, shown) if identity is not None else None
        reset = browser.VIEWER.set(viewer)
        try:
            await self.app(scope, receive, send)
        finally:
            browser.VIEWER.reset(reset)


# Paths scripts call (the UI's data, the MLflow UI's API): refused with 401, not sent to
# the sign-in page.
_DATA_PATHS = ("/ui-data/", "/ajax-api/")
# Blob questions that change nothing: edge caches send them with a browser's cookie.
_READ_POSTS = frozenset(
    f"{API_PREFIX}{path}" for path in ("/data/access", "/data/fetch", "/data/missing")
)
_CSRF_MESSAGE = "this request lacks the page's CSRF token, or carries a wrong one"
_CSRF_HINT = (
    "reload the page and try again; scripts calling the API with the session cookie "
    "send the X-CSRF-Token header"
)
_HINT = (
    "send Authorization: Bearer ll_... (LABLINK_TOKEN or `lablink login` for the SDK "
    "and CLI; `lablink tokens create` makes one)"
)
