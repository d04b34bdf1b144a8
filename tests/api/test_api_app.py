"""The app as a whole: error envelope shape, tokens and actors, light imports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apitools import API, assert_envelope

from helpers import LoopbackServer, make_settings
from lablink.core.lab import Lab
from lablink.server.app import create_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def asgi(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A fast in-process client of the app on SQLite (no lifespan: no live events)."""
    with Lab(make_settings(tmp_path / "home", user="tester@example.org")) as lab:
        transport = httpx.ASGITransport(app=create_app(lab, ui=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://lablink") as client:
            yield client


@pytest.mark.anyio
async def test_error_envelope_shape_is_pinned(asgi: httpx.AsyncClient) -> None:
    """The JSON every error has; the HTTP transport and users' scripts rely on it."""
    not_found = await asgi.get(f"{API}/runs/nosuchrun")
    assert not_found.status_code == 404
    assert not_found.json() == {
        "error": {
            "code": "not_found",
            "message": "no run with id 'nosuchrun'",
            "hint": "list runs with `lablink runs ls`",
        }
    }
    bad_filter = (await asgi.get(f"{API}/runs", params={"filter": "metrics.acc >"})).json()
    assert bad_filter == {
        "error": {
            "code": "bad_filter",
            "message": "unexpected end of filter at position 13",
            "hint": "filters look like: metrics.val/acc > 0.9 and params.lr <= 1e-3 "
            "and tags.baseline",
            "details": {"position": 13, "pointer": "metrics.acc >\n             ^"},
        }
    }
    invalid = await asgi.post(f"{API}/runs", json={"project": 5})
    assert invalid.status_code == 400
    assert invalid.json()["error"]["code"] == "bad_request"
    assert invalid.json()["error"]["details"]["errors"] == [
        {"loc": "body.project", "message": "body.project: Input should be a valid string"}
    ]


@pytest.mark.anyio
async def test_the_http_transport_rebuilds_the_typed_error(asgi: httpx.AsyncClient) -> None:
    from lablink.errors import FilterSyntaxError, from_dict

    answer = await asgi.get(f"{API}/runs", params={"filter": "tags."})
    error = from_dict(answer.json(), answer.status_code)
    assert isinstance(error, FilterSyntaxError) and error.details["position"] == 0


@pytest.mark.anyio
async def test_unknown_routes_and_methods_are_json(asgi: httpx.AsyncClient) -> None:
    assert_envelope(await asgi.get("/no/such/page"), 404, "not_found")
    assert_envelope(await asgi.put(f"{API}/projects"), 405, "method_not_allowed")


@pytest.mark.anyio
async def test_live_events_need_the_lifespan(asgi: httpx.AsyncClient) -> None:
    assert_envelope(await asgi.get(f"{API}/events"), 503, "unavailable")


def test_the_actor_is_the_requesting_user(
    api: httpx.Client, new_run: Callable[..., dict[str, Any]]
) -> None:
    assert new_run()["user"] == "tester@example.org"  # the server's user by default
    ana = {"X-Lablink-User": "ana@lab.org"}
    run = api.post(f"{API}/runs", json={"project": "vision"}, headers=ana).json()
    assert run["user"] == "ana@lab.org"
    noted = api.post(f"{API}/runs/{run['id']}/notes", json={"text": "ok"}, headers=ana)
    assert noted.json()["notes"][0]["author"] == "ana@lab.org"
    bo = {"X-Lablink-User": "bo@lab.org"}
    stopped = api.post(f"{API}/runs/{run['id']}/stop", json={"reason": "cost"}, headers=bo)
    assert stopped.json()["stop_requested"] == "cost (by bo@lab.org)"


@pytest.fixture
def token_server(tmp_path: Path) -> Iterator[str]:
    settings = make_settings(tmp_path / "home", token="s3cret", user="server@lab.org")
    with Lab(settings) as lab:
        server = LoopbackServer(lab).start()
        try:
            yield server.url
        finally:
            server.stop()


def test_a_server_with_a_token_requires_it_on_the_api(token_server: str) -> None:
    with httpx.Client(base_url=token_server, timeout=10) as client:
        assert client.get("/healthz").status_code == 200  # open: load balancers probe it
        assert client.get("/docs").status_code == 200
        missing = client.get(f"{API}/projects")
        assert_envelope(missing, 401, "unauthorized")
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = client.get(f"{API}/projects", headers={"Authorization": "Bearer nope"})
        assert_envelope(wrong, 401, "unauthorized")
        assert_envelope(client.get(f"{API}/nowhere"), 401, "unauthorized")
        good = {"Authorization": "Bearer s3cret", "X-Lablink-User": "ana@lab.org"}
        created = client.post(f"{API}/runs", json={"project": "p"}, headers=good)
        assert created.status_code == 201 and created.json()["user"] == "ana@lab.org"
        # the web UI's copy of the event stream follows the pages' rule, not the API's
        with client.stream("GET", "/ui-data/events", params={"cursor": 0}) as live:
            assert live.status_code == 200
            assert live.headers["content-type"].startswith("text/event-stream")
            first = next(line for line in live.iter_lines() if line.startswith("event:"))
            assert first == "event: run_created"
        assert_envelope(client.get(f"{API}/events"), 401, "unauthorized")
        del good["X-Lablink-User"]
        assert client.post(f"{API}/runs", json={"project": "p"}, headers=good).json()["user"] == (
            "server@lab.org"
        )


def test_lablink_without_the_server_does_not_load_web_frameworks() -> None:
    code = (
        "import sys, json; import lablink, lablink.sdk.client, lablink.core.lab; "
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('fastapi', 'starlette', 'uvicorn'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_a_server_loads_data_review_and_single_sign_on_libraries_only_when_used(
    tmp_path: Path,
) -> None:
    """A server's idle memory: polars (data reviews) and the OIDC client's libraries
    (httpx, authlib, joserfc) stay out until a review runs or single sign-on is set."""
    code = (
        "import sys, json; from lablink.core.lab import Lab; "
        "from lablink.server.app import create_app; from lablink.settings import Settings; "
        f"lab = Lab(Settings.load({{'home': {str(tmp_path / 'home')!r}}}, {{}})); "
        "create_app(lab); "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} "
        "& {'polars', 'httpx', 'authlib', 'joserfc'})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


TRACKING_TAGS = {"health", "projects", "runs", "metrics", "blobs", "events"}


def test_every_tracking_route_is_in_docs_api_md(tmp_path: Path) -> None:
    """docs/api.md covers the tracking API (other capabilities document their own)."""
    docs = Path(__file__).parents[2] / "docs" / "api.md"
    text = re.sub(r"\{[^}]*\}", "{}", docs.read_text())
    with Lab(make_settings(tmp_path / "home")) as lab:
        paths = create_app(lab, ui=False).openapi()["paths"]
    ours = [
        path
        for path, operations in paths.items()
        if any(set(op.get("tags", ())) & TRACKING_TAGS for op in operations.values())
    ]
    undocumented = [p for p in ours if re.sub(r"\{[^}]*\}", "{}", p.removeprefix(API)) not in text]
    assert len(ours) > 15 and not undocumented


def test_every_response_carries_the_security_headers(api: httpx.Client) -> None:
    for path in ("/healthz", "/api/v1/projects", "/api/v1/nothing", "/", "/docs"):
        response = api.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["x-frame-options"] == "DENY", path
        assert "referrer-policy" in response.headers, path
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, path
        if path != "/docs":  # Swagger's page still bootstraps with an inline script
            assert "script-src 'self'" in csp, path
