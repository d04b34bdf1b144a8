"""Single sign-on with OpenID Connect: the authorization-code flow with PKCE, as a client.

``OidcClient.begin`` sends a browser to the provider with a fresh ``state``, ``nonce``
and PKCE verifier; the browser keeps them in a cookie (``Flow``, signed with a key
derived from the client secret, so every server process of a deployment reads it).
``OidcClient.finish`` checks the provider's answer against that cookie, trades the code
for tokens, verifies the ID token (signature against the provider's JWKS from its
discovery document; issuer, audience, expiry, nonce, through authlib's ``CodeIDToken``
claims) and hands its claims on. ``core/oidc_signin.py`` turns the claims into a user.
The ID token is trusted only for what it says, never for who the browser claims to be.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from lablink.core.oidc_config import (
    ALGORITHMS,
    FLOW_SECONDS,
    HTTP_TIMEOUT,
    LEEWAY_SECONDS,
    METADATA_SECONDS,
    SCOPES,
    Flow,
    OidcConfig,
)
from lablink.errors import ServiceUnavailable, Unauthorized


class OidcClient:
    """The relying party: starts sign-ins and checks what comes back.

    Args:
        config: the provider and the client registration.
        clock: the time, for flow and ID token expiry (tests swap it).
        transport: an httpx transport to reach the provider (default: the network).
    """

    def __init__(
        self,
        config: OidcConfig,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self._transport = transport
        self._key = hashlib.sha256(b"lablink-oidc-flow\0" + config.client_secret.encode()).digest()
        self._lock = threading.Lock()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, KeySet] | None = None

    # -- the provider's documents ---------------------------------------------------------
    def _get(self, url: str) -> dict[str, Any]:
        try:
            with httpx.Client(timeout=HTTP_TIMEOUT, transport=self._transport) as http:
                response = http.get(url, headers={"Accept": "application/json"})
                response.raise_for_status()
                body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ServiceUnavailable(
                f"the sign-in provider did not answer at {url}: {exc}",
                "try again later; an admin checks --oidc-issuer and that the provider is up",
            ) from None
        if not isinstance(body, dict):
            raise ServiceUnavailable(f"the sign-in provider sent no JSON object from {url}")
        return body

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, fetched at most once an hour.

        Raises:
            ServiceUnavailable: the provider cannot be reached, or its document names
                another issuer or lacks an endpoint.
        """
        with self._lock:
            if self._metadata and self.clock() - self._metadata[0] < METADATA_SECONDS:
                return self._metadata[1]
        found = self._get(self.config.discovery_url)
        if found.get("issuer") != self.config.issuer:
            raise ServiceUnavailable(
                f"the provider's discovery document names issuer {found.get('issuer')!r}, "
                f"not {self.config.issuer!r}",
                "set --oidc-issuer to exactly the issuer the provider names",
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(found.get(key), str):
                raise ServiceUnavailable(f"the provider's discovery document has no {key}")
        with self._lock:
            self._metadata = (self.clock(), found)
        return found

    def keys(self, refresh: bool = False) -> KeySet:
        """The provider's signing keys (its JWKS), fetched again when ``refresh``."""
        with self._lock:
            if not refresh and self._keys and self.clock() - self._keys[0] < METADATA_SECONDS:
                return self._keys[1]
        try:
            found = KeySet.import_key_set(self._get(self.metadata()["jwks_uri"]))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError) as exc:
            raise ServiceUnavailable(f"the provider's signing keys do not parse: {exc}") from None
        with self._lock:
            self._keys = (self.clock(), found)
        return found

    # -- leaving for the provider -------------------------------------------------------------
    def begin(self, redirect_uri: str, next: str) -> tuple[str, str]:
        """Where to send the browser, and the flow cookie it keeps until it comes back.

        Raises:
            ServiceUnavailable: the provider's discovery document cannot be read.
        """
        flow = Flow(generate_token(32), generate_token(32), generate_token(64), next, self.clock())
        params = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPES,
            "state": flow.state,
            "nonce": flow.nonce,
            "code_challenge": create_s256_code_challenge(flow.verifier),
            "code_challenge_method": "S256",
        }
        endpoint = self.metadata()["authorization_endpoint"]
        joiner = "&" if "?" in endpoint else "?"
        return endpoint + joiner + urllib.parse.urlencode(params), self.seal(flow)

    def seal(self, flow: Flow) -> str:
        """``flow`` as a cookie value: its JSON and an HMAC, both base64url."""
        body = base64.urlsafe_b64encode(json.dumps(dataclasses.asdict(flow)).encode())
        mac = base64.urlsafe_b64encode(hmac.new(self._key, body, hashlib.sha256).digest())
        return (body + b"." + mac).decode().replace("=", "")

    def unseal(self, cookie: str | None) -> Flow:
        """The flow a cookie holds.

        Raises:
            Unauthorized: no cookie, a forged or damaged one, or a flow older than
                ``FLOW_SECONDS``.
        """
        if not cookie or len(cookie) > 4000 or "." not in cookie:
            raise Unauthorized("this browser started no single sign-on here", _AGAIN)
        body, _, mac = cookie.partition(".")
        expected = base64.urlsafe_b64encode(
            hmac.new(self._key, _pad(body).encode(), hashlib.sha256).digest()
        )
        if not hmac.compare_digest(_pad(mac).encode(), expected):
            raise Unauthorized("the sign-in cookie was not made by this server", _AGAIN)
        try:
            flow = Flow(**json.loads(base64.urlsafe_b64decode(_pad(body))))
        except (ValueError, TypeError):
            raise Unauthorized("the sign-in cookie does not parse", _AGAIN) from None
        if not 0 <= self.clock() - flow.at <= FLOW_SECONDS:
            raise Unauthorized("the single sign-on took too long", _AGAIN)
        return flow

    # -- coming back -----------------------------------------------------------------------------
    def finish(self, flow: Flow, params: Mapping[str, str], redirect_uri: str) -> dict[str, Any]:
        """The verified claims of the ID token the provider's answer leads to.

        Args:
            flow: what the browser kept (``unseal``).
            params: the query of the callback (``code`` and ``state``, or ``error``).
            redirect_uri: the callback URL, exactly as sent in ``begin``.

        Raises:
            Unauthorized: the provider refused, the state differs, the code is refused,
                or the ID token does not verify (``validate``).
            ServiceUnavailable: the provider cannot be reached.
        """
        if "error" in params:
            said = params.get("error_description") or params["error"]
            raise Unauthorized(f"the sign-in provider refused: {said[:200]}", _AGAIN)
        if not hmac.compare_digest(params.get("state", "").encode(), flow.state.encode()):
            raise Unauthorized("the sign-in answer is not for this browser (state differs)", _AGAIN)
        code = params.get("code", "")
        if not code:
            raise Unauthorized("the sign-in provider sent no code", _AGAIN)
        tokens = self._redeem(code, flow.verifier, redirect_uri)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise Unauthorized("the sign-in provider sent no ID token", _AGAIN)
        access = tokens.get("access_token")
        return self.validate(id_token, flow.nonce, access if isinstance(access, str) else None)

    def _redeem(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        auth = (self.config.client_id, self.config.client_secret)  # client_secret_basic
        endpoint = self.metadata()["token_endpoint"]
        try:
            with httpx.Client(timeout=HTTP_TIMEOUT, transport=self._transport) as http:
                response = http.post(endpoint, data=data, auth=auth)
                body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ServiceUnavailable(
                f"the sign-in provider's token endpoint did not answer: {exc}",
                "try again later",
            ) from None
        if response.status_code != 200 or not isinstance(body, dict):
            said = (
                body.get("error_description") or body.get("error") if isinstance(body, dict) else ""
            )
            raise Unauthorized(
                f"the sign-in provider refused the code ({response.status_code} {str(said)[:200]})",
                _AGAIN,
            )
        return body

    def validate(
        self, id_token: str, nonce: str, access_token: str | None = None
    ) -> dict[str, Any]:
        """The claims of ``id_token`` once its signature and claims check out.

        The signature must verify against the provider's keys (fetched once more when
        the token names a key not yet seen: providers rotate them); ``iss`` must be the
        issuer, ``aud`` hold the client id (``azp`` too when it holds others), ``exp``
        lie ahead and ``iat`` not far ahead, allowing ``LEEWAY_SECONDS``; ``nonce`` must
        be the one this browser's flow sent.

        Raises:
            Unauthorized: naming the first check that failed.
        """
        try:
            header = json.loads(base64.urlsafe_b64decode(_pad(id_token.split(".")[0])))
        except (ValueError, IndexError):
            raise Unauthorized("the ID token does not parse", _AGAIN) from None
        if not isinstance(header, dict) or header.get("alg") not in ALGORITHMS:
            alg = header.get("alg") if isinstance(header, dict) else None
            raise Unauthorized(f"the ID token is signed with {alg!r}, not a key pair", _AGAIN)
        token = self._verify(id_token, header)
        claims = CodeIDToken(
            token.claims,
            token.header,
            options={
                "iss": {"essential": True, "value": self.config.issuer},
                "aud": {"essential": True, "value": self.config.client_id},
                "sub": {"essential": True},
                "nonce": {"essential": True, "value": nonce},
            },
            params={
                "nonce": nonce,
                "client_id": self.config.client_id,
                "access_token": access_token,
            },
        )
        try:
            claims.validate(now=int(self.clock()), leeway=LEEWAY_SECONDS)
        except JoseError as exc:
            raise Unauthorized(f"the ID token is refused: {_claim_error(exc)}", _AGAIN) from None
        return dict(claims)

    def _verify(self, id_token: str, header: Mapping[str, Any]) -> jwt.Token:
        keys = self.keys()
        kid = header.get("kid")
        if kid is not None and all(k.kid != kid for k in keys.keys):
            keys = self.keys(refresh=True)
        try:
            return jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
        except JoseError as exc:
            raise Unauthorized(
                f"the ID token's signature does not verify with the provider's keys ({exc.error})",
                _AGAIN,
            ) from None
        except ValueError as exc:
            raise Unauthorized(f"the ID token does not parse: {exc}", _AGAIN) from None


def _pad(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def _claim_error(exc: JoseError) -> str:
    claim = getattr(exc, "claim", None)
    names = {
        "iss": "issued by another provider (iss)",
        "aud": "meant for another client (aud)",
        "exp": "expired (exp)",
        "iat": "issued in the future (iat)",
        "nonce": "not the answer to this sign-in (nonce)",
        "azp": "meant for another client (azp)",
        "at_hash": "its access token hash does not match (at_hash)",
    }
    if exc.error == "expired_token":
        return names["exp"]
    if claim in names:
        return names[claim]
    return f"{exc.error}: {exc.description or claim or ''}".strip()


_AGAIN = "go back to the sign-in page and try again"
