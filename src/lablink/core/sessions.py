"""Browser sessions: sign in with a password, stay signed in with a cookie, sign out.

A session's cookie holds 256 random bits; the store keeps only their sha256, so a
copy of the database signs nobody in. A session ends when its user signs out, after
``IDLE_SECONDS`` without use, ``MAX_SECONDS`` after sign-in whatever the use, or as soon
as its user is disabled. Its CSRF token is derived from the secret (``csrf_token``):
tied to the session, never stored, and useless for finding the secret again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from lablink.errors import Unauthorized
from lablink.identity import Identity, hash_secret
from lablink.store.sessions_sql import SessionRow, SessionsSql

if TYPE_CHECKING:
    from lablink.core.people import People

IDLE_SECONDS = 14 * 86400.0
MAX_SECONDS = 30 * 86400.0
# Like a token's last_used_at: written at most once a minute, so pages do not each write.
TOUCH_EVERY = 60.0
SECRET_BYTES = 32
MAX_SECRET = 100  # a cookie longer than any secret we make is not looked up


@dataclasses.dataclass(frozen=True)
class Session:
    """A live session: who it signs in and the CSRF token its forms must carry."""

    id: int
    identity: Identity
    csrf: str
    expires_at: float


def csrf_token(secret: str) -> str:
    """The CSRF token of the session whose cookie holds ``secret``."""
    return hashlib.sha256(b"lablink-csrf\0" + secret.encode()).hexdigest()


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented CSRF token with the expected one."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class Sessions:
    """Sessions over the people of one store (and their clock and audit log)."""

    def __init__(self, people: People) -> None:
        self.people = people
        self.sql = SessionsSql(people.sql.store)

    def sign_in(
        self, name: str, password: str, ip: str | None = None, agent: str | None = None
    ) -> tuple[str, Session]:
        """Check the password (audited by ``People.sign_in``) and start a session.

        Returns the cookie's secret, the only copy there is, and the session.

        Raises:
            Unauthorized: a wrong name or password, or a disabled user.
        """
        identity = self.people.sign_in(name, password, ip)
        return self.start(identity, ip, agent)

    def start(
        self, identity: Identity, ip: str | None = None, agent: str | None = None
    ) -> tuple[str, Session]:
        """A session for ``identity``, already checked (a password, a single sign-on).

        Returns the cookie's secret, the only copy there is, and the session.
        """
        now = self.people.clock()
        secret = secrets.token_urlsafe(SECRET_BYTES)
        row = self.sql.add(
            identity.user,
            {
                "secret_hash": hash_secret(secret),
                "created_at": now,
                "last_seen_at": now,
                "expires_at": now + MAX_SECONDS,
                "ip": ip,
                "user_agent": (agent or "")[:200] or None,
            },
        )
        return secret, Session(row.id, identity, csrf_token(secret), row.expires_at)

    def resume(self, secret: str) -> Session:
        """The live session whose cookie holds ``secret``.

        Raises:
            Unauthorized: unknown, signed out, idle too long, past its end, or its user
                is disabled.
        """
        if not isinstance(secret, str) or not 0 < len(secret) <= MAX_SECRET:
            raise Unauthorized("not a session cookie", _HINT)
        found = self.sql.by_hash(hash_secret(secret))
        if found is None:
            raise Unauthorized("unknown session", _HINT)
        row, user = found
        now = self.people.clock()
        state = session_state(row, now)
        if state != "active":
            raise Unauthorized(f"your session has {state}", _HINT)
        if user.disabled:
            raise Unauthorized(f"user {user.name} is disabled", "ask a lablink admin")
        if now - row.last_seen_at >= TOUCH_EVERY:
            self.sql.touch(row.id, now)
        identity = Identity(user.name, user.kind, user.is_admin)
        return Session(row.id, identity, csrf_token(secret), row.expires_at)

    def active(self, session_id: int) -> bool:
        """Whether session ``session_id`` is still live and its user enabled (read only:
        unlike ``resume`` it does not count as use)."""
        found = self.sql.by_id(session_id)
        if found is None:
            return False
        row, user = found
        return session_state(row, self.people.clock()) == "active" and not user.disabled

    def sign_out(self, session: Session, ip: str | None = None) -> None:
        """End ``session`` for good, with a ``signout`` entry in the audit log."""
        if self.sql.revoke(session.id, self.people.clock()):
            user = session.identity.user
            self.people.audit(user, "signout", f"user:{user}", {"session": session.id}, ip)

    def of_user(self, user: str) -> list[SessionRow]:
        """``user``'s sessions, newest first (every state)."""
        return self.sql.of_user(user)


def session_state(row: SessionRow, now: float) -> str:
    """``active``, or why it is not: ``ended`` (signed out), ``expired``, ``gone idle``."""
    if row.revoked_at is not None:
        return "ended"
    if row.expires_at <= now:
        return "expired"
    if now - row.last_seen_at >= IDLE_SECONDS:
        return "gone idle"
    return "active"


_HINT = "sign in again"
