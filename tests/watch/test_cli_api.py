"""Incidents from the REST API and the command line, embedded and over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from typer.testing import CliRunner

from helpers import LoopbackServer
from lablink.checks.watch_rules import Finding
from lablink.cli.main import app
from lablink.core.lab import Lab

API = "/api/v1/incidents"
NAN = Finding("nan", "loss", "high", "stop", "reopen", "train/loss is NaN at step 3", {"step": 3})


def seeded(lab: Lab) -> tuple[str, int]:
    run = lab.tracking.create_run("ana", "vision", "resnet")
    return run.id, lab.watchdog.incidents.raise_finding(run.id, NAN).incident.id


def test_rest_api_lifecycle(
    make_lab: Callable[..., Lab], serve: Callable[[Lab], LoopbackServer]
) -> None:
    lab = make_lab()
    run_id, incident_id = seeded(lab)
    other = lab.tracking.create_run("ana", "vision")
    with httpx.Client(base_url=serve(lab).url, headers={"X-Lablink-User": "bo@example.org"}) as api:
        listed = api.get(API, params={"open": "true", "run": run_id}).json()["incidents"]
        assert [i["id"] for i in listed] == [incident_id] and listed[0]["kind"] == "nan"
        assert api.get(API, params={"run": other.id}).json() == {"incidents": []}
        shown = api.get(f"{API}/{incident_id}").json()
        assert shown["title"] == NAN.message and shown["deliveries"] == []
        acked = api.post(f"{API}/{incident_id}/ack", json={})
        assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "bo@example.org"
        done = api.post(f"{API}/{incident_id}/resolve", json={"note": "lr 3e-4 → 1e-4"})
        assert (
            done.json()["state"] == "resolved"
            and done.json()["resolution_note"] == "lr 3e-4 → 1e-4"
        )
        assert api.get(API, params={"open": "true"}).json() == {"incidents": []}
        again = api.post(f"{API}/{incident_id}/resolve", json={})
        assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


@pytest.fixture(scope="module")
def module_seeded_url(module_lab: Lab) -> Iterator[str]:
    """A server over ``seeded(module_lab)``, one per module and backend: the bad-input
    cases share it, as a refused request changes nothing (incident 1 stays open)."""
    seeded(module_lab)
    with LoopbackServer(module_lab).start() as server:
        yield server.url


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", f"{API}/abc", None, 400),
        ("GET", f"{API}/0", None, 400),
        ("GET", f"{API}/424242", None, 404),
        ("POST", f"{API}/424242/ack", None, 404),
        ("GET", API + "?limit=0", None, 400),
        ("GET", API + "?run=nosuchrun", None, 404),
        ("GET", API + "?open=maybe", None, 400),
        ("POST", f"{API}/1/resolve", {"note": 5}, 400),
        ("POST", f"{API}/1/resolve", {"nope": "x"}, 400),
        ("POST", f"{API}/1/resolve", "{", 400),
    ],
)
def test_bad_input_gets_a_4xx_envelope(
    module_seeded_url: str, method: str, path: str, body: object, status: int
) -> None:
    with httpx.Client(base_url=module_seeded_url) as api:
        content = (
            body if isinstance(body, str) else (json.dumps(body) if body is not None else None)
        )
        answer = api.request(
            method, path, content=content, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == status, answer.text
    assert set(answer.json()["error"]) >= {"code", "message"}


@pytest.mark.parametrize("over", ["embedded", "http"])
def test_cli_ls_ack_resolve(
    make_lab: Callable[..., Lab], serve: Callable[[Lab], LoopbackServer], over: str
) -> None:
    lab = make_lab()
    run_id, incident_id = seeded(lab)
    target = ["--server", serve(lab).url] if over == "http" else ["--db", lab.settings.db]
    runner = CliRunner()

    def cli(*args: str) -> tuple[int, str]:
        result = runner.invoke(
            app, [*target, "incidents", *args], env={"COLUMNS": "200"}, catch_exceptions=False
        )
        return result.exit_code, result.stdout + (result.stderr or "")

    code, out = cli("ls", "--json")
    assert code == 0
    [found] = json.loads(out)["incidents"]
    assert (found["id"], found["run_id"], found["kind"], found["state"]) == (
        incident_id,
        run_id,
        "nan",
        "open",
    )
    code, out = cli("ls")
    assert code == 0 and "nan" in out and "resnet" in out and "NaN at step 3" in out
    assert cli("ack", str(incident_id)) == (
        0,
        f"incident {incident_id} acknowledged by tester@example.org\n",
    )
    code, out = cli("show", str(incident_id))
    assert code == 0 and "acknowledged" in out
    code, out = cli("resolve", str(incident_id), "--note", "restarted with a lower lr")
    assert code == 0 and "resolved" in out
    code, out = cli("ls", "--open")
    assert code == 0 and "no open incidents" in out
    code, out = cli("show", str(incident_id), "--json")
    assert json.loads(out)["resolution_note"] == "restarted with a lower lr"
    code, out = cli("resolve", str(incident_id))
    assert code == 1 and "already resolved" in out and "Traceback" not in out
    code, out = cli("ack", "99999")
    assert code == 1 and "no incident with id 99999" in out
