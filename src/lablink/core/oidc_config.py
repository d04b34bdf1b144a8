"""Single sign-on settings: which OpenID provider, this server's registration with it,
and the flow a browser keeps while it is away there.

Kept apart from ``core/oidc.py`` (the client, with httpx, authlib and joserfc), so a
server without single sign-on never loads those.
"""

from __future__ import annotations

import dataclasses
import urllib.parse

from lablink.errors import InvalidInput
from lablink.settings import Settings

FLOW_SECONDS = 600.0  # a sign-in left at the provider longer than this starts again
METADATA_SECONDS = 3600.0  # discovery and keys are fetched again after an hour
LEEWAY_SECONDS = 60  # clock difference tolerated between the provider and this server
HTTP_TIMEOUT = 10.0
# Asymmetric algorithms only: "none" and HMAC (keyed with the client secret, which the
# browser's side never sees but a confused provider might use) are refused.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
SCOPES = "openid email profile"


@dataclasses.dataclass(frozen=True)
class OidcConfig:
    """One OpenID provider and this server's registration with it."""

    issuer: str
    client_id: str
    client_secret: str
    name: str
    create_users: bool = False
    new_user_projects: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.issuer)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(
                f"--oidc-issuer {self.issuer!r} is not an http(s) URL",
                "give the provider's issuer URL, e.g. https://login.lab.org/realms/lab",
            )
        if not self.client_id.strip():
            raise InvalidInput("--oidc-client-id is empty", "give the client id the provider gave")
        if not self.client_secret.strip():
            raise InvalidInput(
                "the OIDC client secret is empty",
                "put the secret the provider gave in the file --oidc-client-secret-file names",
            )

    @property
    def discovery_url(self) -> str:
        """Where the provider's discovery document is."""
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def load_config(
    issuer: str | None,
    client_id: str | None,
    secret_file: str | None,
    name: str | None = None,
    create_users: bool = False,
    new_user_projects: tuple[str, ...] = (),
) -> OidcConfig | None:
    """The OIDC configuration from the settings, or None when no issuer is set.

    Raises:
        InvalidInput: an issuer without a client id or secret file, or an unreadable file.
    """
    if not issuer:
        if client_id or secret_file:
            raise InvalidInput(
                "an OIDC client id or secret file is set but no issuer",
                "set --oidc-issuer (oidc_issuer in lablink.toml) too, or drop the others",
            )
        return None
    if not client_id or not secret_file:
        raise InvalidInput(
            "--oidc-issuer needs --oidc-client-id and --oidc-client-secret-file",
            "register lablink with the provider and pass the id and a file holding the secret",
        )
    try:
        with open(secret_file, encoding="utf-8") as fh:
            secret = fh.read().strip()
    except OSError as exc:
        raise InvalidInput(
            f"cannot read --oidc-client-secret-file {secret_file}: {exc.strerror or exc}",
            "give a readable file that holds only the client secret",
        ) from None
    shown = name or urllib.parse.urlsplit(issuer).hostname or issuer
    return OidcConfig(issuer, client_id, secret, shown, create_users, new_user_projects)


def from_settings(settings: Settings) -> OidcConfig | None:
    """``load_config`` over the ``oidc_*`` settings."""
    return load_config(
        settings.oidc_issuer,
        settings.oidc_client_id,
        settings.oidc_client_secret_file,
        settings.oidc_name,
        settings.oidc_create_users,
        settings.oidc_new_user_projects,
    )


@dataclasses.dataclass(frozen=True)
class Flow:
    """What a browser keeps while it is away at the provider."""

    state: str
    nonce: str
    verifier: str
    next: str
    at: float
