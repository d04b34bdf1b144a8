"""The people operations of ``core/people.py`` over a server's admin API.

``lablink users|tokens|projects grant|audit`` use this with ``--server`` /
``LABLINK_SERVER``: each method makes the call of ``server/api/admin.py`` that does
what the same method of ``People`` does, with the caller's token, and rebuilds the same
records. The server decides who acts (the token's user) and what they may do; the
``actor`` arguments are only there to match ``People``. A caller who is not a server
admin is sent to their own ``/me/tokens`` where that is what they asked for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from lablink.errors import Forbidden
from lablink.identity import AuditEntry, Grant, NewToken, Token, User
from lablink.sdk.wire import auth_headers, error_from_answer, ssl_context, unreachable
from lablink.settings import Settings

API = "/api/v1"
_TOKEN_FIELDS = {f.name for f in dataclasses.fields(Token)}


class RemotePeople:
    """People use cases on the server ``settings.server``, as ``settings.token``'s user."""

    def __init__(self, settings: Settings) -> None:
        assert settings.server is not None
        self.server = settings.server.rstrip("/")
        headers = {k.decode(): v.decode() for k, v in auth_headers(settings).items()}
        verify: Any = ssl_context() if self.server.startswith("https:") else True
        self.client = httpx.Client(
            base_url=self.server + API, headers=headers, timeout=60, verify=verify
        )

    def close(self) -> None:
        """Close the connections."""
        self.client.close()

    # -- plumbing ---------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            answer = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise unreachable(self.server, exc) from exc
        if answer.status_code >= 400:
            raise error_from_answer(answer.status_code, answer.content)
        return answer.json()

    def _me(self) -> str:
        return str(self._call("GET", "/me")["user"])

    # -- users ------------------------------------------------------------------------
    def invite(
        self,
        actor: str,
        name: str,
        email: str | None = None,
        admin: bool = False,
        service: bool = False,
        expires_in: float | None = None,
    ) -> tuple[User, NewToken]:
        """``People.invite``: a user and their first token."""
        body = {
            "name": name,
            "email": email,
            "admin": admin,
            "service": service,
            "expires_in": expires_in,
        }
        found = self._call("POST", "/admin/users", json=body)
        return User(**found["user"]), _new_token(found["token"])

    def list_users(self) -> list[User]:
        """``People.list_users``."""
        return [User(**u) for u in self._call("GET", "/admin/users")["users"]]

    def disable(self, actor: str, name: str) -> User:
        """``People.disable``."""
        return User(**self._call("POST", f"/admin/users/{_seg(name)}/disable", json={}))

    def enable(self, actor: str, name: str) -> User:
        """``People.enable``."""
        return User(**self._call("POST", f"/admin/users/{_seg(name)}/enable", json={}))

    def set_password(self, actor: str, name: str, password: str) -> User:
        """``People.set_password``."""
        body = {"password": password}
        return User(**self._call("PUT", f"/admin/users/{_seg(name)}/password", json=body))

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
        """``People.create_token``; a caller's own token through ``/me`` if not an admin."""
        body = {"name": name, "project": project, "role": role, "expires_in": expires_in}
        try:
            return _new_token(self._call("POST", "/admin/tokens", json={**body, "user": user}))
        except Forbidden:
            if user != self._me():
                raise
        return _new_token(self._call("POST", "/me/tokens", json=body))

    def list_tokens(self, user: str | None = None) -> list[Token]:
        """``People.list_tokens``; the caller's own if they are not an admin."""
        try:
            found = self._call("GET", "/admin/tokens", params={"user": user} if user else None)
        except Forbidden:
            if user is not None and user != self._me():
                raise
            found = self._call("GET", "/me/tokens")
        return [_token(k) for k in found["tokens"]]

    def revoke_token(self, actor: str, token_id: int) -> Token:
        """``People.revoke_token``; one of the caller's own if they are not an admin."""
        try:
            return _token(self._call("DELETE", f"/admin/tokens/{token_id}"))
        except Forbidden:
            return _token(self._call("DELETE", f"/me/tokens/{token_id}"))

    # -- grants -----------------------------------------------------------------------
    def grant(self, actor: str, project: str, user: str, role: str, create: bool = False) -> Grant:
        """``People.grant`` (a project's admins may too)."""
        path = f"/admin/projects/{_seg(project)}/grants/{_seg(user)}"
        return Grant(**self._call("PUT", path, json={"role": role, "create": create}))

    def revoke_grant(self, actor: str, project: str, user: str) -> Grant:
        """``People.revoke_grant`` (a project's admins may too)."""
        path = f"/admin/projects/{_seg(project)}/grants/{_seg(user)}"
        return Grant(**self._call("DELETE", path))

    def grants(self, project: str | None = None, user: str | None = None) -> list[Grant]:
        """``People.grants``: one project's through the route its admins may call."""
        if project is not None and user is None:
            found = self._call("GET", f"/admin/projects/{_seg(project)}/grants")
        else:
            found = self._call("GET", "/admin/grants", params=_params(project=project, user=user))
        return [Grant(**g) for g in found["grants"]]

    # -- audit ------------------------------------------------------------------------
    def audit_log(
        self,
        since: float | None = None,
        user: str | None = None,
        action: str | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """``People.audit_log``."""
        params = _params(since=since, user=user, action=action, limit=limit)
        found = self._call("GET", "/admin/audit", params=params)
        return [AuditEntry(**e) for e in found["entries"]]

    def export(
        self, fmt: str, since: float | None, user: str | None, action: str | None
    ) -> Iterator[bytes]:
        """The server's audit export in ``fmt``, as it streams in."""
        params = _params(format=fmt, since=since, user=user, action=action)
        try:
            with self.client.stream("GET", "/admin/audit/export", params=params) as answer:
                if answer.status_code >= 400:
                    raise error_from_answer(answer.status_code, answer.read())
                yield from answer.iter_bytes()
        except httpx.HTTPError as exc:
            raise unreachable(self.server, exc) from exc


def _seg(text: str) -> str:
    return quote(text, safe="")


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _token(found: dict[str, Any]) -> Token:
    return Token(**{k: v for k, v in found.items() if k in _TOKEN_FIELDS})


def _new_token(found: dict[str, Any]) -> NewToken:
    return NewToken(_token(found), str(found["secret"]))
