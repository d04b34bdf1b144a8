"""A small OpenID Connect provider for the tests, on authlib's server side, on 127.0.0.1.

It is a real provider over HTTP: a discovery document, a JWKS, an authorization endpoint
(the authorization-code flow, PKCE required) that approves its one configured user at
once, and a token endpoint (``client_secret_basic``) issuing RS256 ID tokens signed with
a key made at start. Tests make it misbehave through attributes: ``claims`` overrides
ID token claims (another ``aud``, an ``exp`` in the past, another ``nonce``), and
``signing_key`` signs with a key the JWKS does not hold.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import WSGIRequestHandler, make_server

CLIENT_ID = "lablink-test"
CLIENT_SECRET = "s3cret-of-the-test-client"
KID = "test-key-1"


@dataclasses.dataclass
class Person:
    """The one person who signs in at the provider."""

    sub: str
    email: str
    email_verified: bool = True
    name: str = "Test Person"

    def get_user_id(self) -> str:
        return self.sub


@dataclasses.dataclass
class Client:
    client_id: str
    client_secret: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        allowed = {"openid", "email", "profile"}
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri.startswith("http://127.0.0.1:")

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret == self.client_secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclasses.dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: Person
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class Provider:
    """The provider, serving on a free port of 127.0.0.1 once ``start`` returns."""

    def __init__(self, person: Person) -> None:
        self.person = person
        self.key = RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig"})
        self.signing_key: RSAKey = self.key
        self.claims: dict[str, Any] = {}
        self.codes: dict[str, Code] = {}
        self.client = Client(CLIENT_ID, CLIENT_SECRET)
        self.app = self._app()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Provider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def _app(self) -> Flask:
        app = Flask("oidc_provider")
        provider = self

        def query_client(client_id: str) -> Client | None:
            return provider.client if client_id == provider.client.client_id else None

        server = AuthorizationServer(app, query_client=query_client, save_token=lambda t, r: None)

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

            def save_authorization_code(self, code: str, request: Any) -> None:
                data = request.payload.data
                provider.codes[code] = Code(
                    code,
                    request.client.get_client_id(),
                    request.payload.redirect_uri,
                    request.scope,
                    request.user,
                    data.get("nonce"),
                    data.get("code_challenge"),
                    data.get("code_challenge_method"),
                    int(time.time()),
                )

            def query_authorization_code(self, code: str, client: Client) -> Code | None:
                found = provider.codes.get(code)
                return found if found and found.client_id == client.get_client_id() else None

            def delete_authorization_code(self, authorization_code: Code) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: Code) -> Person:
                return authorization_code.user

        class IdToken(OpenIDCode):
            def exists_nonce(self, nonce: str, request: Any) -> bool:
                return any(c.nonce == nonce for c in provider.codes.values())

            def resolve_client_private_key(self, client: Client) -> RSAKey:
                return provider.signing_key

            def get_client_algorithm(self, client: Client) -> str:
                return "RS256"

            def get_encode_header(self, client: Client) -> dict[str, str]:
                return {"alg": "RS256", "kid": KID}

            def get_client_claims(self, client: Client) -> dict[str, Any]:
                now = int(time.time())
                return {"iss": provider.url, "aud": [client.get_client_id()], "exp": now + 300}

            def generate_user_info(self, user: Person, scope: str) -> dict[str, Any]:
                info: dict[str, Any] = {"sub": user.sub, "name": user.name}
                if "email" in scope.split():
                    info.update(email=user.email, email_verified=user.email_verified)
                # The tests' misbehaviour: claims set here win over the right ones.
                return {**info, **provider.claims}

        server.register_grant(
            CodeGrant, [CodeChallenge(required=True), IdToken(require_nonce=True)]
        )

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify(
                issuer=provider.url,
                authorization_endpoint=provider.url + "/authorize",
                token_endpoint=provider.url + "/token",
                jwks_uri=provider.url + "/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                code_challenge_methods_supported=["S256"],
                token_endpoint_auth_methods_supported=["client_secret_basic"],
            )

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify(KeySet([provider.key]).as_dict(private=False))

        @app.get("/authorize")
        def authorize() -> Any:
            try:
                grant = server.get_consent_grant(end_user=provider.person)
            except OAuth2Error as error:
                return jsonify(error=error.error, error_description=error.description), 400
            return server.create_authorization_response(grant_user=provider.person, grant=grant)

        @app.post("/token")
        def token() -> Any:
            return server.create_token_response()

        return app
