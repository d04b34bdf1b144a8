"""People use cases: users and service accounts, passwords, tokens, grants, the audit log.

A token acts as its user with two limits of its own: at most its role, and only in its
project when it has one. A user's role in a project is their grant there; a server
admin is admin everywhere; a disabled user has no role and no working token. Every
change is written with its audit entry in one transaction (``store/people_sql.py``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from lablink.core.guard import Guard, Limits, token_key
from lablink.errors import InvalidInput, NotFound, TooManyRequests, Unauthorized
from lablink.identity import (
    AuditEntry,
    Grant,
    Identity,
    NewToken,
    Token,
    User,
    check_email,
    check_name,
    check_password,
    check_role,
    check_token_name,
    format_token,
    hash_secret,
    lower_role,
    new_token_parts,
    parse_token,
    secret_matches,
)
from lablink.store.people_sql import PeopleSql
from lablink.store.sql import SqlStore

MAX_AUDIT = 10_000
EXPORT_PAGE = 1000
# last_used_at is a hint for people, not a counter: writing it at most once a minute
# keeps token checks from turning every API call into a write.
TOUCH_EVERY = 60.0
INITIAL_TOKEN_DAYS = 90
WRONG_PASSWORD = "wrong user name or password"


@functools.cache
def _hasher() -> Any:
    from pwdlib import PasswordHash

    return PasswordHash.recommended()  # argon2id with the library's current parameters


@functools.cache
def _dummy_hash() -> str:
    # Checked against for unknown users, so a wrong name costs what a wrong password does.
    return str(_hasher().hash("lablink-no-such-user"))


class People:
    """Identities, credentials and permissions over one store."""

    def __init__(
        self,
        store: SqlStore,
        clock: Callable[[], float] = time.time,
        limits: Limits | None = None,
    ) -> None:
        self.sql = PeopleSql(store)
        self.clock = clock
        # Counters and caches of this process; read the clock late, tests swap it.
        self.guard = Guard(limits or Limits(), lambda: self.clock())

    # -- users ------------------------------------------------------------------------
    def add_user(
        self,
        actor: str,
        name: str,
        email: str | None = None,
        display_name: str | None = None,
        admin: bool = False,
        service: bool = False,
    ) -> User:
        """Add a person (who needs an e-mail address) or a service account.

        Raises:
            InvalidInput: a bad name or e-mail, or a person without an e-mail.
            AlreadyExists: the name is taken.
        """
        check_name(name)
        if email is not None or not service:
            if email is None:
                raise InvalidInput(f"{name} needs an e-mail address", "pass --email ana@lab.org")
            check_email(email)
        if display_name is not None and not 0 < len(display_name) <= 200:
            raise InvalidInput("a display name has 1 to 200 characters")
        kind = "service" if service else "user"
        values = {
            "name": name,
            "kind": kind,
            "email": email,
            "display_name": display_name,
            "is_admin": admin,
            "disabled": False,
            "created_at": self.clock(),
        }
        detail = {"kind": kind, "admin": admin, "email": email}
        return self.sql.add_user(values, self._entry(actor, "user.add", f"user:{name}", detail))

    def invite(
        self,
        actor: str,
        name: str,
        email: str | None = None,
        admin: bool = False,
        service: bool = False,
        expires_in: float | None = INITIAL_TOKEN_DAYS * 86400.0,
    ) -> tuple[User, NewToken]:
        """Add a user with a first token, so they can sign in before setting a password.

        The token is unscoped; its role is admin for a server admin, else member.
        """
        user = self.add_user(actor, name, email, admin=admin, service=service)
        role = "admin" if admin else "member"
        return user, self.create_token(actor, name, "initial", None, role, expires_in)

    def get_user(self, name: str) -> User:
        """One user. Raises ``NotFound``."""
        return self.sql.get_user(name)

    def list_users(self) -> list[User]:
        """Every user and service account, by name."""
        return self.sql.list_users()

    def disable(self, actor: str, name: str) -> User:
        """Stop a user from signing in; their tokens stop working too, at once in this
        process and within ``Limits.cache_seconds`` in others. Raises ``NotFound``."""
        try:
            return self._set(actor, name, "user.disable", disabled=True)
        finally:
            self.guard.invalidate()

    def enable(self, actor: str, name: str) -> User:
        """Let a disabled user back in (their tokens work again unless revoked)."""
        try:
            return self._set(actor, name, "user.enable", disabled=False)
        finally:
            self.guard.invalidate()

    def set_admin(self, actor: str, name: str, admin: bool) -> User:
        """Make ``name`` a server admin, or no longer one. Raises ``NotFound``."""
        try:
            return self._set(actor, name, "user.admin" if admin else "user.unadmin", is_admin=admin)
        finally:
            self.guard.invalidate()

    def users_by_email(self, email: str) -> list[User]:
        """The users whose e-mail address is ``email``, whatever its letter case."""
        wanted = email.strip().lower()
        return [u for u in self.sql.list_users() if u.email and u.email.lower() == wanted]

    def set_password(self, actor: str, name: str, password: str) -> User:
        """Store an argon2 hash of ``password``; the password itself is never kept.

        Raises:
            InvalidInput: a password shorter than 8 or longer than 1024 characters.
            NotFound: no such user.
        """
        hashed = _hasher().hash(check_password(password))
        return self._set(actor, name, "user.password", password_hash=hashed)

    def verify_password(self, name: str, password: str) -> Identity:
        """The identity whose password this is.

        Raises:
            Unauthorized: unknown user, no password set, wrong password, or disabled.
        """
        if not isinstance(password, str) or len(password) > 1024:
            raise Unauthorized(WRONG_PASSWORD)
        found = self.sql.credentials(name) if isinstance(name, str) else None
        hashed = found[1] if found is not None else None
        if not _hasher().verify(password, hashed or _dummy_hash()) or found is None or not hashed:
            raise Unauthorized(WRONG_PASSWORD)
        user = found[0]
        if user.disabled:
            raise Unauthorized(f"user {user.name} is disabled", "ask a lablink admin")
        return Identity(user.name, user.kind, user.is_admin)

    def check_password(self, name: str, password: str, client: str | None = None) -> Identity:
        """Sign in with a password: the one call a sign-in page makes.

        Args:
            name: the user name typed.
            password: the password typed.
            client: the caller's IP address, for the per-address limits and the log.

        Returns:
            The identity signed in (no token limits).

        Raises:
            Unauthorized: unknown user, no password set, wrong password, or disabled
                (the message never says which of the first three).
            TooManyRequests: the name or the address is locked after repeated failures,
                or the address signs in too often; ``details["retry_after"]`` holds the
                seconds to wait. The password is not checked then.

        Every outcome is audited (``signin``, ``signin.failed``, ``signin.blocked``);
        refusals at most ``Limits.audit_burst`` a minute per address, the rest counted.
        """
        key = name[:100] if isinstance(name, str) else "?"
        try:
            self.guard.check_signin(key, client)
        except TooManyRequests as error:
            self._refusal("signin.blocked", client, {"user": key, "reason": error.message})
            raise
        try:
            identity = self.verify_password(name, password)
        except Unauthorized as error:
            locked = self.guard.signin_failed(key, client)
            # A failed attempt names the account only when it exists: people type
            # passwords into the name field, and the log must not keep them.
            known = isinstance(name, str) and self.sql.credentials(name) is not None
            actor, target = (name, f"user:{name}") if known else ("anonymous", None)
            detail = {"reason": error.message, "locked_for": locked or None}
            self._refusal("signin.failed", client, detail, actor, target)
            raise
        self.guard.signin_succeeded(key)
        self.audit(identity.user, "signin", f"user:{identity.user}", {"method": "password"}, client)
        return identity

    def sign_in(self, name: str, password: str, ip: str | None = None) -> Identity:
        """``check_password`` (the earlier name)."""
        return self.check_password(name, password, ip)

    # -- tokens -----------------------------------------------------------------------
    def create_token(
        self,
        actor: str,
        user: str,
        name: str,
        project: str | None = None,
        role: str = "member",
        expires_in: float | None = None,
    ) -> NewToken:
        """A new token for ``user``; the returned secret is the only copy there will be.

        Raises:
            InvalidInput: a bad name, role or lifetime.
            NotFound: no such user or project.
        """
        check_token_name(name)
        check_role(role)
        if expires_in is not None and not 0 < expires_in <= 10 * 365 * 86400:
            raise InvalidInput(
                "a token lives between a second and ten years", "or never: omit --expires"
            )
        now = self.clock()
        prefix, secret = new_token_parts()
        values = {
            "name": name,
            "prefix": prefix,
            "secret_hash": hash_secret(secret),
            "role": role,
            "created_at": now,
            "expires_at": None if expires_in is None else now + expires_in,
        }
        detail = {"user": user, "name": name, "project": project, "role": role, "prefix": prefix}
        token = self.sql.add_token(
            user, project, values, self._entry(actor, "token.create", None, detail)
        )
        return NewToken(token, format_token(prefix, secret))

    def authenticate_token(self, text: str, ip: str | None = None) -> Identity:
        """Who presents this token, with the token's limits; refusals go to the audit log.

        A token verified in the last ``Limits.cache_seconds`` is answered from memory,
        without reading the database; a revoke, disable or grant change made through
        this ``People`` clears that memory at once.

        Raises:
            Unauthorized: malformed, unknown, expired or revoked, or its user is disabled.
            TooManyRequests: the token makes calls too fast, or ``ip`` sent too many bad
                tokens lately and this one is not among those recently verified.
        """
        key = token_key(text) if isinstance(text, str) else ""
        cached = self.guard.tokens.get(key)
        if cached is not None and (cached[1] is None or cached[1] > self.clock()):
            identity: Identity = cached[0]
        else:
            generation = self.guard.generation
            try:
                self.guard.check_token_address(ip)
                identity, expires_at = self._authenticate(text)
            except TooManyRequests as error:
                self._refusal("token.blocked", ip, {"reason": error.message})
                raise
            except Unauthorized as error:
                self.guard.token_failed(ip)
                prefix = text[3:11] if isinstance(text, str) and text.startswith("ll_") else None
                self._refusal("token.refused", ip, {"reason": error.message, "prefix": prefix})
                raise
            if generation == self.guard.generation:
                self.guard.tokens.put(key, (identity, expires_at))
        try:
            self.guard.check_token_rate(identity.token_id)
        except TooManyRequests as error:
            self._refusal("token.blocked", ip, {"reason": error.message}, identity.user)
            raise
        return identity

    def _authenticate(self, text: str) -> tuple[Identity, float | None]:
        prefix, secret = parse_token(text)
        found = self.sql.token_by_prefix(prefix)
        if found is None or not secret_matches(secret, found[1]):
            raise Unauthorized("unknown token", "create one with `lablink tokens create`")
        token, _, user = found
        now = self.clock()
        state = token.state(now)
        if state != "active":
            raise Unauthorized(f"token {token.id} ({token.name}) is {state}", "create a new one")
        if user.disabled:
            raise Unauthorized(f"user {user.name} is disabled", "ask a lablink admin")
        if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
            self.sql.touch_token(token.id, now)
        admin = user.is_admin and token.project is None and token.role == "admin"
        identity = Identity(user.name, user.kind, admin, token.id, token.role, token.project)
        return identity, token.expires_at

    def token_active(self, token_id: int) -> bool:
        """Whether token ``token_id`` still works: not revoked nor expired, its user
        enabled. Read from the store, not the memory of ``authenticate_token``, so a
        revoke made by another process shows at once; not counted as a use."""
        found = self.sql.token_by_id(token_id)
        if found is None:
            return False
        token, user = found
        return token.state(self.clock()) == "active" and not user.disabled

    def list_tokens(self, user: str | None = None) -> list[Token]:
        """Tokens newest first (every state), only ``user``'s when given."""
        return self.sql.list_tokens(user)

    def revoke_token(self, actor: str, token_id: int, owner: str | None = None) -> Token:
        """Revoke a token (only one of ``owner``'s when given); it stops working at once in
        this process, within ``Limits.cache_seconds`` in others.

        Raises:
            NotFound: no such token (of ``owner``).
            Conflict: it is already revoked.
        """
        if isinstance(token_id, bool) or not isinstance(token_id, int) or token_id < 1:
            raise InvalidInput(f"a token id is a positive integer, not {token_id!r}")
        if owner is not None and token_id not in {k.id for k in self.sql.list_tokens(owner)}:
            raise NotFound(f"{owner} has no token {token_id}", "`lablink tokens ls` lists them")
        entry = self._entry(actor, "token.revoke", f"token:{token_id}", {})
        try:
            return self.sql.revoke_token(token_id, self.clock(), entry)
        finally:
            self.guard.invalidate()

    # -- permissions ------------------------------------------------------------------
    def grant(self, actor: str, project: str, user: str, role: str, create: bool = False) -> Grant:
        """Give ``user`` ``role`` in ``project`` (replacing an earlier grant).

        Raises:
            InvalidInput: a role other than viewer, member, admin.
            NotFound: no such user, or no such project without ``create``.
        """
        check_role(role)
        values = {"granted_by": actor, "granted_at": self.clock()}
        detail = {"project": project, "role": role}
        entry = self._entry(actor, "grant.set", f"user:{user}", detail)
        try:
            return self.sql.grant(project, user, role, create, values, entry)
        except NotFound as error:
            # Nothing changed; the attempt is kept (a typo, or someone probing names).
            self.audit(actor, "grant.refused", f"user:{user}", {**detail, "reason": error.message})
            raise
        finally:
            self.guard.invalidate()

    def revoke_grant(self, actor: str, project: str, user: str) -> Grant:
        """Take ``user``'s role in ``project`` away; returns the grant that was.

        Raises:
            NotFound: no such user or project, or no grant of theirs there.
        """
        entry = self._entry(actor, "grant.revoke", f"user:{user}", {"project": project})
        try:
            return self.sql.revoke_grant(project, user, entry)
        finally:
            self.guard.invalidate()

    def grants(self, project: str | None = None, user: str | None = None) -> list[Grant]:
        """Grants by project then user."""
        return self.sql.grants(project, user)

    def role_for(self, user: str, project: str) -> str | None:
        """``user``'s role in ``project``: admin for a server admin, else their grant.

        None for an unknown or disabled user, or one without a grant there.
        """
        cached = self.guard.roles.get((user, project))
        if cached is not None:
            return cached[0]
        generation = self.guard.generation
        found = self.sql.credentials(user)
        if found is None or found[0].disabled:
            role = None
        elif found[0].is_admin:
            role = "admin"
        else:
            role = self.sql.project_role(user, project)
        if generation == self.guard.generation:
            self.guard.roles.put((user, project), (role,))
        return role

    def role_of(self, identity: Identity, project: str) -> str | None:
        """What a credential may do in ``project``: its user's role within its limits."""
        if identity.project is not None and identity.project != project:
            return None
        role = self.role_for(identity.user, project)
        return role if identity.role is None else lower_role(role, identity.role)

    # -- audit ------------------------------------------------------------------------
    def audit(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        detail: Mapping[str, Any] | None = None,
        ip: str | None = None,
    ) -> int:
        """Append an entry that goes with no other change (a sign-in, a refusal)."""
        return self.sql.append_audit(self._entry(actor, action, target, detail or {}, ip))

    def audit_log(
        self,
        since: float | None = None,
        user: str | None = None,
        action: str | None = None,
        limit: int = 100,
        before: int | None = None,
    ) -> list[AuditEntry]:
        """Entries newest first; ``user`` matches who acted or whom it was about.

        ``before`` pages: pass the last id of a page to get the next, older one.

        Raises:
            InvalidInput: a limit outside 1..10,000.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_AUDIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_AUDIT}, not {limit!r}")
        return self.sql.audit(since, user, action, limit, before)

    def audit_export(
        self, since: float | None = None, user: str | None = None, action: str | None = None
    ) -> Iterator[AuditEntry]:
        """Every matching entry, newest first, read a page at a time (for export)."""
        before = None
        while True:
            page = self.sql.audit(since, user, action, EXPORT_PAGE, before)
            yield from page
            if len(page) < EXPORT_PAGE:
                return
            before = page[-1].id

    def refused(
        self, action: str, client: str | None, detail: Mapping[str, Any], actor: str = "anonymous"
    ) -> None:
        """Audit a refused attempt (a single sign-on), within the per-address budget."""
        self._refusal(action, client, detail, actor)

    def _refusal(
        self,
        action: str,
        client: str | None,
        detail: Mapping[str, Any],
        actor: str = "anonymous",
        target: str | None = None,
    ) -> None:
        """Audit a refused attempt within the per-address budget (``Guard.audit_budget``)."""
        skipped = self.guard.audit_budget(action, client)
        if skipped is None:
            return
        extra = {"suppressed": skipped} if skipped else {}
        self.audit(actor, action, target, {**detail, **extra}, client)

    def _set(self, actor: str, name: str, action: str, **values: Any) -> User:
        return self.sql.update_user(name, values, self._entry(actor, action, f"user:{name}", {}))

    def _entry(
        self,
        actor: str,
        action: str,
        target: str | None,
        detail: Mapping[str, Any],
        ip: str | None = None,
    ) -> dict[str, Any]:
        return {
            "at": self.clock(),
            "actor": actor,
            "action": action,
            "target": target,
            "detail": dict(detail),
            "ip": ip,
        }
