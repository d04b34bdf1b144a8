"""People as records, and the pure rules about them: names, roles, token strings. No I/O.

A token reads ``ll_<prefix>_<secret>``: the fixed ``ll_`` start lets secret scanners
find leaked tokens, the prefix (8 lowercase letters and digits) finds the row and is
safe to show, and only a sha256 of the secret is stored. Roles per project are ordered
viewer < member < admin; a server admin holds every project's admin role.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Mapping
from typing import Any

from lablink.errors import InvalidInput, Unauthorized

ROLES: tuple[str, ...] = ("viewer", "member", "admin")
KINDS: tuple[str, ...] = ("user", "service")
TOKEN_START = "ll_"
PREFIX_LENGTH = 8
SECRET_BYTES = 32
MAX_PASSWORD = 1024  # argon2 hashes anything; a bound keeps one request from costing seconds
MIN_PASSWORD = 8

USER_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}"
_NAME = re.compile(USER_NAME_PATTERN)
TOKEN_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._ -]{0,99}"
_TOKEN_NAME = re.compile(TOKEN_NAME_PATTERN)
_PREFIX_CHARS = string.ascii_lowercase + string.digits
_PREFIX = re.compile(rf"[a-z0-9]{{{PREFIX_LENGTH}}}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{20,200}")


@dataclasses.dataclass(frozen=True)
class User:
    """A person or a service account. The password hash never leaves the store."""

    name: str
    kind: str
    email: str | None
    display_name: str | None
    is_admin: bool
    disabled: bool
    has_password: bool
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Token:
    """A personal or service token as listed: the secret is not kept, only its hash."""

    id: int
    user: str
    name: str
    prefix: str
    project: str | None
    role: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None

    @property
    def display(self) -> str:
        """What identifies the token on screen without revealing it."""
        return f"{TOKEN_START}{self.prefix}_…"

    def state(self, now: float) -> str:
        """``revoked``, ``expired`` or ``active``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def to_dict(self, now: float) -> dict[str, Any]:
        """A JSON-ready dict with the token's state at ``now``."""
        return {**dataclasses.asdict(self), "display": self.display, "state": self.state(now)}


@dataclasses.dataclass(frozen=True)
class NewToken:
    """A token just created: ``secret`` is the full token string, shown this once."""

    token: Token
    secret: str


@dataclasses.dataclass(frozen=True)
class Grant:
    """A user's role in one project."""

    project: str
    user: str
    role: str
    granted_by: str
    granted_at: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class AuditEntry:
    """One row of the append-only audit log."""

    id: int
    at: float
    actor: str
    action: str
    target: str | None
    detail: Mapping[str, Any]
    ip: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {**dataclasses.asdict(self), "detail": dict(self.detail)}


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who a request acts as, and what its credential allows.

    ``role`` and ``project`` are a token's limits: at most that role, only in that
    project. A password sign-in has neither. ``is_admin`` is the server admin role, which
    a token carries only when it is unscoped with role admin.
    """

    user: str
    kind: str
    is_admin: bool
    token_id: int | None = None
    role: str | None = None
    project: str | None = None


def check_name(name: Any, what: str = "user name") -> str:
    """A user or service account name: letters, digits and ``._@+-``, at most 100.

    Raises:
        InvalidInput: anything else.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"{what} {name!r} is not valid",
            "use letters, digits and . _ @ + - (at most 100, starting with a letter or digit)",
        )
    return name


def check_token_name(name: Any) -> str:
    """A token's label, such as ``ci`` or ``laptop``. Raises ``InvalidInput``."""
    if not isinstance(name, str) or not _TOKEN_NAME.fullmatch(name):
        raise InvalidInput(
            f"token name {name!r} is not valid",
            "name tokens for where they are used, like ci or laptop (at most 100 characters)",
        )
    return name


def check_email(email: Any) -> str:
    """A plausible e-mail address (one ``@``, no spaces). Raises ``InvalidInput``."""
    if (
        not isinstance(email, str)
        or len(email) > 320
        or email.count("@") != 1
        or any(c.isspace() for c in email)
        or email.startswith("@")
        or email.endswith("@")
    ):
        raise InvalidInput(f"{email!r} is not an e-mail address", "write it like ana@lab.org")
    return email


def check_role(role: Any) -> str:
    """One of viewer, member, admin. Raises ``InvalidInput``."""
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} is not one of {', '.join(ROLES)}")
    return str(role)


def check_password(password: Any) -> str:
    """A password of 8 to 1024 characters. Raises ``InvalidInput``."""
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters",
            "a passphrase of a few words is long enough and easy to type",
        )
    return password


def rank(role: str | None) -> int:
    """0 for no role, then 1, 2, 3 for viewer, member, admin."""
    return ROLES.index(role) + 1 if role in ROLES else 0


def lower_role(a: str | None, b: str | None) -> str | None:
    """The weaker of two roles (None is weaker than any)."""
    return a if rank(a) <= rank(b) else b


def allows(role: str | None, needed: str) -> bool:
    """Whether ``role`` is at least ``needed``."""
    return rank(role) >= rank(check_role(needed))


def new_token_parts() -> tuple[str, str]:
    """A fresh (prefix, secret) pair."""
    prefix = "".join(secrets.choice(_PREFIX_CHARS) for _ in range(PREFIX_LENGTH))
    return prefix, secrets.token_urlsafe(SECRET_BYTES)


def format_token(prefix: str, secret: str) -> str:
    """The token string a person copies: ``ll_<prefix>_<secret>``."""
    return f"{TOKEN_START}{prefix}_{secret}"


def parse_token(text: Any) -> tuple[str, str]:
    """(prefix, secret) of a token string.

    Raises:
        Unauthorized: it does not have the shape of a lablink token.
    """
    if isinstance(text, str) and text.startswith(TOKEN_START):
        prefix, _, secret = text[len(TOKEN_START) :].partition("_")
        if _PREFIX.fullmatch(prefix) and _SECRET.fullmatch(secret):
            return prefix, secret
    raise Unauthorized(
        "malformed token",
        "lablink tokens look like ll_<8 letters or digits>_<secret>; copy the whole token",
    )


def hash_secret(secret: str) -> str:
    """What is stored for a token secret. A fast hash suffices: the secret is 256 random bits."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored)
