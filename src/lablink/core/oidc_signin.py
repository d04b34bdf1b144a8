"""Who a verified ID token signs in: the lablink user with its verified e-mail address.

The provider vouches for an e-mail address only when the token says
``email_verified: true``; an unverified one would let anyone who can register at the
provider with a colleague's address sign in as that colleague. One user must hold the
address (letter case aside). With ``create_users`` an unknown address becomes a new
user, a viewer of those of ``new_user_projects`` that exist; ``oidc`` is the actor the
audit log records for both. Every outcome is audited: ``signin`` with
``method: oidc``, or ``signin.failed`` with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lablink.core.oidc import OidcClient
from lablink.core.oidc_config import Flow
from lablink.core.people import People
from lablink.errors import (
    AlreadyExists,
    LablinkError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from lablink.identity import Identity, check_email

_NAME_CHARS = re.compile(r"[^A-Za-z0-9._@+-]")


def sign_in_oidc(
    people: People,
    client: OidcClient,
    cookie: str | None,
    params: Mapping[str, str],
    redirect_uri: str,
    ip: str | None = None,
) -> tuple[Identity, Flow]:
    """Finish a single sign-on: the identity it signs in, and the flow it ends.

    Raises:
        Unauthorized: anything in the answer, the ID token or the account is refused
            (audited as ``signin.failed``).
        ServiceUnavailable: the provider cannot be reached (audited too).
        TooManyRequests: the address failed or signed in too often lately, as with
            passwords (``core/guard.py``); nothing is checked then.
    """
    detail: dict[str, Any] = {"method": "oidc", "issuer": client.config.issuer}
    key = f"oidc:{ip}"  # the address's own lock: single sign-on has no user name to lock
    try:
        people.guard.check_signin(key, ip)
    except TooManyRequests as error:
        people.refused("signin.blocked", ip, {**detail, "reason": error.message})
        raise
    try:
        flow = client.unseal(cookie)
        claims = client.finish(flow, params, redirect_uri)
        detail.update(sub=str(claims.get("sub"))[:200], **_email(claims))
        identity = identity_of(people, client, claims)
    except (Unauthorized, ServiceUnavailable) as error:
        if isinstance(error, Unauthorized):
            people.guard.signin_failed(key, ip)
        people.refused("signin.failed", ip, {**detail, "reason": error.message})
        raise
    people.audit(identity.user, "signin", f"user:{identity.user}", detail, ip)
    return identity, flow


def identity_of(people: People, client: OidcClient, claims: Mapping[str, Any]) -> Identity:
    """The lablink user of verified ``claims``, made first when the settings allow it.

    Raises:
        Unauthorized: no verified e-mail, no (or more than one) user with it, or the
            user is disabled.
    """
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        raise Unauthorized(
            "the sign-in provider sent no e-mail address",
            "the provider must release the `email` scope to lablink",
        )
    if claims.get("email_verified") is not True:
        raise Unauthorized(
            f"the sign-in provider has not verified {email}",
            "verify the address at the provider, then sign in again",
        )
    found = people.users_by_email(email)
    if not found and client.config.create_users:
        found = [_create(people, client, email, claims)]
    if not found:
        raise Unauthorized(
            f"no lablink user has the e-mail address {email}",
            "a lablink admin adds you: lablink users add NAME --email " + email,
        )
    if len(found) > 1:
        names = ", ".join(u.name for u in found)
        raise Unauthorized(
            f"several lablink users have the e-mail address {email} ({names})",
            "a lablink admin gives each user their own address",
        )
    user = found[0]
    if user.disabled:
        raise Unauthorized(f"user {user.name} is disabled", "ask a lablink admin")
    if user.kind != "user":
        raise Unauthorized(f"{user.name} is a service account", "service accounts use tokens")
    return Identity(user.name, user.kind, user.is_admin)


def _create(people: People, client: OidcClient, email: str, claims: Mapping[str, Any]) -> Any:
    """A new user for ``email``, viewer of the configured projects (audited by each call)."""
    check_email(email)
    base = _NAME_CHARS.sub("", email.split("@")[0])[:80] or "user"
    name = base if base[0].isalnum() else "u" + base
    display = claims.get("name") if isinstance(claims.get("name"), str) else None
    actor = "oidc"
    for attempt in range(1, 100):
        candidate = name if attempt == 1 else f"{name}{attempt}"
        try:
            user = people.add_user(actor, candidate, email, (display or "")[:200] or None)
            break
        except AlreadyExists:
            continue
    else:  # pragma: no cover - a hundred taken names in a row
        raise Unauthorized(f"cannot find a free user name for {email}", "ask a lablink admin")
    for project in client.config.new_user_projects:
        try:
            people.grant(actor, project, user.name, "viewer")
        except LablinkError:
            continue  # the user exists either way; the refused grant is in the audit log
    return user


def _email(claims: Mapping[str, Any]) -> dict[str, str]:
    email = claims.get("email")
    return {"email": email[:320]} if isinstance(email, str) else {}
