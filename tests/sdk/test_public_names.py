"""The names an SDK user reaches: ``lablink.run``, ``Client.runs`` paging, old names warning."""

from __future__ import annotations

import pytest
from sdk_support import Sdk

import lablink
from lablink.models import RunRecord
from lablink.sdk import client as client_module
from lablink.sdk.transport import Transport
from lablink.settings import Settings


def test_lablink_run_is_the_open_run(sdk: Sdk) -> None:
    assert lablink.run is None
    with sdk.init(name="outer") as outer:
        assert lablink.run is outer
        with sdk.init(name="inner") as inner:
            assert lablink.run is inner
        assert lablink.run is outer
    assert lablink.run is None


def test_client_runs_returns_records_and_pages_past_one_request(
    sdk: Sdk, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = []
    for i in range(7):
        with sdk.init(project="paged", name=f"r{i}") as run:
            ids.append(run.id)
    monkeypatch.setattr(client_module, "PAGE_SIZE", 3)  # three requests, the last short
    found = sdk.client.runs("paged")
    assert sorted(r.id for r in found) == sorted(ids)
    assert all(isinstance(r, RunRecord) for r in found)
    assert len(sdk.client.runs("paged", limit=5)) == 5
    assert [r.id for r in sdk.client.runs("paged", offset=5)] == [r.id for r in found[5:]]
    assert sdk.client.runs("paged", filter="tags.none") == []


def test_client_transport_is_private_with_a_warning(settings: Settings) -> None:
    with lablink.Client(settings=settings) as client:
        with pytest.warns(DeprecationWarning, match=r"Client\.transport.*Client\._transport"):
            transport = client.transport
        assert transport is client._transport
        assert isinstance(transport, Transport)


def test_run_settings_and_transport_are_private_with_a_warning(sdk: Sdk) -> None:
    with sdk.init() as run:
        with pytest.warns(DeprecationWarning, match=r"Run\.settings"):
            assert run.settings is run._settings
        with pytest.warns(DeprecationWarning, match=r"Run\.transport"):
            assert run.transport is run._transport


def test_run_stopped_is_a_conflict(sdk: Sdk) -> None:
    assert issubclass(lablink.RunStopped, lablink.Conflict)
    error = lablink.RunStopped("run x was asked to stop: watchdog")
    assert error.to_dict()["error"]["code"] == "run_stopped"
    assert error.status == 409


def test_gate_takes_a_client(sdk: Sdk) -> None:
    for tag, values in (("main", [0.90, 0.91, 0.89]), ("pr", [0.90, 0.905, 0.895])):
        for value in values:
            with sdk.init(project="gated", tags=[tag]) as run:
                run.summary["val/acc"] = value
    options = lablink.gate.GateOptions(
        baseline="tags.main",
        candidate="tags.pr",
        metrics=(lablink.gate.MetricSpec("val/acc", "max", 0.05),),
        project="gated",
    )
    result = lablink.gate.run_gate(sdk.client, options)
    assert [len(m.baseline) for m in result.metrics] == [3]
    assert "lablink gate" in lablink.gate.render_markdown(result)
