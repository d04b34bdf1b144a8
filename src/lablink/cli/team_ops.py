"""The team operations ``lablink team`` and ``lablink oncall`` call, local or remote.

Without ``--server`` they open the store named by ``--db`` / ``LABLINK_DB`` and call
``core/team.py`` as the local user; with ``--server`` / ``LABLINK_SERVER`` they make the
same calls through ``/api/v1/team`` and ``/api/v1/oncall`` with the caller's token (the
server decides who acts). Both answer with the JSON the API returns, so one renderer
serves both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import quote

import typer

from lablink.cli.state import get_state


class TeamOps(Protocol):
    """What the commands need; ``LocalTeam`` and ``RemoteTeam`` both provide it."""

    def add(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]: ...
    def remove(self, name: str) -> None: ...
    def members(self) -> list[dict[str, Any]]: ...
    def member(self, name: str) -> dict[str, Any]: ...
    def overlap(self, week: str | None, k: int | None) -> dict[str, Any]: ...
    def sync(self, config: Mapping[str, Any]) -> dict[str, Any]: ...
    def create_rotation(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]: ...
    def remove_rotation(self, name: str) -> None: ...
    def rotations(self) -> list[dict[str, Any]]: ...
    def now(self) -> list[dict[str, Any]]: ...
    def schedule(self, weeks: int, rotation: str | None) -> list[dict[str, Any]]: ...
    def override(self, body: Mapping[str, Any]) -> dict[str, Any]: ...
    def ics(self, rotation: str, weeks: int) -> bytes: ...


class LocalTeam:
    """The team use cases on the local store, as ``actor``."""

    def __init__(self, team: Any, actor: str) -> None:
        from lablink.core.team import Team

        self.team: Team = team
        self.actor = actor

    def add(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.team.add(self.actor, name, **body).to_dict()

    def remove(self, name: str) -> None:
        self.team.remove(self.actor, name)

    def members(self) -> list[dict[str, Any]]:
        return [m.to_dict(self.team.clock()) for m in self.team.members()]

    def member(self, name: str) -> dict[str, Any]:
        return self.team.member(name).to_dict(self.team.clock())

    def overlap(self, week: str | None, k: int | None) -> dict[str, Any]:
        return self.team.overlap(week, k).to_dict()

    def sync(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return self.team.sync(self.actor, config)

    def create_rotation(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.team.create_rotation(self.actor, name, **body).to_dict()

    def remove_rotation(self, name: str) -> None:
        self.team.remove_rotation(self.actor, name)

    def rotations(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.team.rotations()]

    def now(self) -> list[dict[str, Any]]:
        return self.team.now()

    def schedule(self, weeks: int, rotation: str | None) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.team.schedule(weeks, rotation)]

    def override(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.team.override(self.actor, **body).to_dict()

    def ics(self, rotation: str, weeks: int) -> bytes:
        return self.team.ics(rotation, weeks)


class RemoteTeam:
    """The same operations over a server's API."""

    def __init__(self, settings: Any) -> None:
        import httpx

        from lablink.sdk.wire import auth_headers, ssl_context

        self.server = settings.server.rstrip("/")
        headers = {k.decode(): v.decode() for k, v in auth_headers(settings).items()}
        verify: Any = ssl_context() if self.server.startswith("https:") else True
        self.client = httpx.Client(
            base_url=self.server + "/api/v1", headers=headers, timeout=60, verify=verify
        )

    def close(self) -> None:
        self.client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        from lablink.sdk.wire import error_from_answer, unreachable

        try:
            answer = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise unreachable(self.server, exc) from exc
        if answer.status_code >= 400:
            raise error_from_answer(answer.status_code, answer.content)
        if answer.headers.get("content-type", "").startswith("text/calendar"):
            return answer.content
        return answer.json() if answer.content else None

    def add(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self._call("PUT", f"/team/{quote(name, safe='')}", json=dict(body)))

    def remove(self, name: str) -> None:
        self._call("DELETE", f"/team/{quote(name, safe='')}")

    def members(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/team")["members"])

    def member(self, name: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/team/{quote(name, safe='')}"))

    def overlap(self, week: str | None, k: int | None) -> dict[str, Any]:
        params = {k2: v for k2, v in (("week", week), ("min", k)) if v is not None}
        return dict(self._call("GET", "/team/overlap", params=params))

    def sync(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "/team/sync", json=dict(config)))

    def create_rotation(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self._call("PUT", f"/oncall/rotations/{quote(name, safe='')}", json=dict(body)))

    def remove_rotation(self, name: str) -> None:
        self._call("DELETE", f"/oncall/rotations/{quote(name, safe='')}")

    def rotations(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/oncall/rotations")["rotations"])

    def now(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/oncall/now")["rotations"])

    def schedule(self, weeks: int, rotation: str | None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"weeks": weeks}
        if rotation:
            params["rotation"] = rotation
        return list(self._call("GET", "/oncall/schedule", params=params)["shifts"])

    def override(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "/oncall/overrides", json=dict(body)))

    def ics(self, rotation: str, weeks: int) -> bytes:
        found = self._call(
            "GET", f"/oncall/rotations/{quote(rotation, safe='')}/ics", params={"weeks": weeks}
        )
        return bytes(found)


@contextlib.contextmanager
def team_ops(ctx: typer.Context) -> Iterator[TeamOps]:
    """The team operations for this invocation (remote with ``--server``)."""
    settings = get_state(ctx).settings
    if settings.server:
        remote = RemoteTeam(settings)
        try:
            yield remote
        finally:
            remote.close()
        return
    from lablink.core.team import Team
    from lablink.store import open_store

    store = open_store(settings.db, durability=settings.durability)
    try:
        yield LocalTeam(Team(store), settings.user)
    finally:
        store.close()


def split(values: Sequence[str]) -> list[str]:
    """``a,b`` and repeated options as one list."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]
