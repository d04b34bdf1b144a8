"""Helpers for the REST API tests (``tests/api`` is on ``sys.path`` for its modules)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from lablink.core.lab import Lab

API = "/api/v1"
JSON = {"Content-Type": "application/json"}


def series(steps: list[int], values: list[float], t0: float = 1.7e9) -> dict[str, list[Any]]:
    """One metric's part of a batch body."""
    return {"steps": steps, "times": [t0 + s for s in steps], "values": values}


def post_batch(api: httpx.Client, run_id: str, seq: int, metrics: dict[str, Any]) -> httpx.Response:
    """POST a batch with NaN/Infinity tokens as the Python SDK sends them."""
    body = json.dumps({"seq": seq, "metrics": metrics})
    return api.post(f"{API}/runs/{run_id}/batches", content=body, headers=JSON)


def state_of(lab: Lab) -> str:
    """Everything a request could change, as comparable text (NaN != NaN otherwise)."""
    runs, total = lab.tracking.search_runs(None, None, None, True, 10_000, 0)
    return json.dumps(
        {
            "runs": [run.to_dict() for run in runs],
            "total": total,
            "projects": [vars(p) for p in lab.tracking.list_projects()],
            "artifacts": {r.id: [vars(a) for a in lab.tracking.list_artifacts(r.id)] for r in runs},
            "histories": {
                r.id: {k: lab.tracking.history(r.id, k).to_dict() for k in r.metrics} for r in runs
            },
            "events": lab.store.last_event_id(),
        },
        sort_keys=True,
        default=str,
    )


def assert_envelope(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    """The response is ``status`` with the JSON error envelope; returns its ``error``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str), body
    assert error["message"], body
    assert set(error) <= {"code", "message", "hint", "details"}, body
    if code is not None:
        assert error["code"] == code, body
    return dict(error)


@dataclasses.dataclass(frozen=True)
class SseEvent:
    """One parsed Server-Sent Event."""

    id: int
    event: str
    data: dict[str, Any]


class SseReader:
    """Reads SSE messages from a streaming httpx response, line by line.

    Every read is bounded by the client's read timeout, so a missing event fails the
    test with ``httpx.ReadTimeout`` instead of hanging it.
    """

    def __init__(self, response: httpx.Response) -> None:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        self.lines = response.iter_lines()

    def _message(self) -> dict[str, str]:
        """The next blank-line-terminated block; a comment line is kept as ``comment``."""
        fields: dict[str, str] = {}
        for line in self.lines:
            if line == "":
                if fields:
                    return fields
                continue
            if line.startswith(":"):
                fields["comment"] = line[1:].strip()
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        raise AssertionError("the event stream ended")

    def wait_comment(self, text: str, limit: int = 100) -> None:
        """Read until the comment ``: text`` (e.g. ``ready``)."""
        for _ in range(limit):
            if self._message().get("comment") == text:
                return
        raise AssertionError(f"no ': {text}' comment in {limit} messages")

    def next_event(self, limit: int = 100) -> SseEvent:
        """The next event, skipping comments."""
        for _ in range(limit):
            fields = self._message()
            if "id" not in fields:
                continue  # a comment (ready, keepalive) or a retry hint
            return SseEvent(int(fields["id"]), fields["event"], json.loads(fields["data"]))
        raise AssertionError(f"no event in {limit} messages")


def assert_only_this_stream_ends(
    lab: Lab, ending: httpx.Response, kept: httpx.Response, end: Callable[[], object], says: str
) -> None:
    """Both open streams (of project ``audio``) get a new run's event; after ``end()``
    (the credential of ``ending`` stops working) ``ending`` closes with ``: says`` while
    ``kept`` still gets the next run's event."""
    stream, still = SseReader(ending), SseReader(kept)
    stream.wait_comment("ready")
    still.wait_comment("ready")
    first = lab.tracking.create_run("ana", "audio", "first")
    assert stream.next_event().data["run_id"] == first.id  # alive across many checks
    assert still.next_event().data["run_id"] == first.id
    end()
    stream.wait_comment(says)
    with pytest.raises(AssertionError, match="the event stream ended"):
        stream.next_event()
    second = lab.tracking.create_run("ana", "audio", "second")
    assert still.next_event().data["run_id"] == second.id


def served_spec() -> dict[str, Any]:
    """The app's ``/openapi.json``, built over a throwaway SQLite store (no server)."""
    import tempfile
    from pathlib import Path

    from helpers import make_settings
    from lablink.server.app import create_app

    with tempfile.TemporaryDirectory() as tmp, Lab(make_settings(Path(tmp))) as lab:
        return dict(create_app(lab).openapi())
