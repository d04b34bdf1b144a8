"""The schema routes on a real server over loopback: shapes, status codes, 4xx for bad input."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from schema_strategies import EVENTS

from helpers import LoopbackServer
from lablink.core.lab import Lab


def client_of(server: LoopbackServer) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.url}/api/v1", headers={"X-Lablink-User": "ana@example.org"}
    )


@pytest.fixture
def http(server: LoopbackServer) -> Iterator[httpx.Client]:
    with client_of(server) as client:
        yield client


@pytest.fixture(scope="module")
def module_server(module_lab: Lab) -> Iterator[LoopbackServer]:
    """One server per module and backend, for refused requests that store nothing."""
    with LoopbackServer(module_lab).start() as server:
        yield server


@pytest.fixture
def module_http(module_server: LoopbackServer) -> Iterator[httpx.Client]:
    with client_of(module_server) as client:
        yield client


def test_register_get_list_check_and_diff(http: httpx.Client) -> None:
    first = http.post("/schemas/events/versions", json={"text": EVENTS, "description": "first"})
    assert first.status_code == 201 and first.json()["ref"] == "events@v1"
    assert first.json()["created_by"] == "ana@example.org"
    same = http.post("/schemas/events/versions", json={"text": EVENTS})
    assert same.status_code == 200 and same.json()["created"] is False
    wider = first.json()["schema"]
    wider["fields"][1]["constraints"]["maximum"] = 1000
    second = http.post("/schemas/events/versions", json={"schema": wider, "compat": "backward"})
    assert second.status_code == 201 and second.json()["version"] == 2
    assert http.get("/schemas").json()["subjects"][0]["latest"] == 2
    subject = http.get("/schemas/events").json()
    assert [v["version"] for v in subject["versions"]] == [1, 2] and subject["compat"] == "backward"
    assert http.get("/schemas/events/versions/latest").json()["version"] == 2
    assert http.get("/schemas/events/versions/1").json()["description"] == "first"
    narrow = dict(wider, fields=[dict(f) for f in wider["fields"]])
    narrow["fields"][1] = {**wider["fields"][1], "constraints": {"minimum": 0, "maximum": 5}}
    check = http.post("/schemas/events/check", json={"schema": narrow}).json()
    assert check["compatible"] is False and check["breaks"][0]["rule"] == "maximum"
    diff = http.get("/schemas/events/diff", params={"from": 1, "to": "events@v2"}).json()
    assert diff["changed"][0]["field"] == "amount"


def test_conflicts_are_409_with_the_breaks(http: httpx.Client) -> None:
    http.post("/schemas/events/versions", json={"text": EVENTS})
    narrow = EVENTS.replace("maximum: 100", "maximum: 5")
    refused = http.post("/schemas/events/versions", json={"text": narrow})
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "conflict" and error["details"]["breaks"][0]["field"] == "amount"
    clash = http.post("/schemas/events/versions", json={"text": narrow, "version": 1})
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "already_exists"
    assert http.get("/schemas/events").json()["latest"] == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/schemas/nope", None, 404),
        ("GET", "/schemas/nope/versions/1", None, 404),
        ("GET", "/schemas/events/versions/zero", None, 400),
        ("GET", "/schemas/events/versions/0", None, 400),
        ("GET", "/schemas/events/diff?from=1", None, 400),
        ("POST", "/schemas/events/versions", b"not json", 400),
        ("POST", "/schemas/events/versions", b"[1, 2]", 400),
        ("POST", "/schemas/events/versions", b"{}", 400),
        ("POST", "/schemas/events/versions", b'{"text": "x", "schema": {}}', 400),
        ("POST", "/schemas/events/versions", b'{"text": 5}', 400),
        ("POST", "/schemas/events/versions", b'{"text": "fields: [", "compat": "backward"}', 400),
        (
            "POST",
            "/schemas/events/versions",
            b'{"schema": {"fields": [{"name": "a", "type": "x"}]}}',
            400,
        ),
        (
            "POST",
            "/schemas/events/versions",
            b'{"schema": {"fields": [{"name": "a"}]}, "colour": 1}',
            400,
        ),
        (
            "POST",
            "/schemas/events/versions",
            b'{"schema": {"fields": [{"name": "a"}]}, "version": true}',
            400,
        ),
        (
            "POST",
            "/schemas/events/versions",
            b'{"schema": {"fields": [{"name": "a"}]}, "compat": "x"}',
            400,
        ),
        ("POST", "/schemas/bad%20name/versions", b'{"schema": {"fields": [{"name": "a"}]}}', 400),
        ("POST", "/schemas/nope/check", b'{"schema": {"fields": [{"name": "a"}]}}', 404),
    ],
)
def test_bad_input_is_a_4xx_json_envelope(
    module_http: httpx.Client, method: str, path: str, body: bytes | None, status: int
) -> None:
    # One server for all cases: registering the same text again changes nothing, and a
    # refused request stores nothing, so each case sees the store the first one made.
    http = module_http
    registered = http.post("/schemas/events/versions", json={"text": EVENTS})
    assert registered.status_code in (200, 201), registered.text
    response = http.request(
        method, path, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert set(response.json()["error"]) >= {"code", "message"}
