"""The model registry pages (``/models``, ``/models/{name}``) and dataset aliases on the
dataset page, over HTTP and in Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from uiseed import XSS, project_name

from lablink.core.lab import Lab
from lablink.sdk.data import add


@pytest.fixture
def registered(ui_lab: Lab) -> dict[str, str]:
    """A model with two versions from a run's artifacts, an alias, stages and tags."""
    run = ui_lab.tracking.create_run("ana", project_name("reg"), "trainer")
    ui_lab.mlflow.put_artifact(run.id, "model/MLmodel", iter([b"flavors: {}\n"]))
    name = project_name("model")
    registry = ui_lab.registry
    registry.create("ana", name, {"team": "vision"}, XSS)
    registry.create_version("ana", name, f"runs:/{run.id}/model", tags={"k": "v"})
    registry.create_version("bo", name, f"runs:/{run.id}/model", description="second")
    registry.transition(name, "2", "Production", archive_others=False)
    registry.set_alias("ana", name, "champion", "2")
    return {"name": name, "run": run.id, "project": run.project}


def test_the_pages_show_versions_aliases_stages_and_runs(
    http: httpx.Client, registered: dict[str, str]
) -> None:
    name, run_id = registered["name"], registered["run"]
    listing = http.get("/models").text
    assert f'href="/models/{name}"' in listing and "@champion" in listing
    page = http.get(f"/models/{name}")
    assert page.status_code == 200
    html = page.text
    assert f"models:/{name}@champion" in html and "Production" in html
    assert f'href="/r/{run_id}"' in html and "model/" in html and "k=v" in html
    assert XSS not in html and "&lt;" in html  # the description is escaped
    run_page = http.get(f"/r/{run_id}").text
    assert f'href="/models/{name}">{name} v2</a>' in run_page  # the run links its versions
    missing = http.get("/models/no-such-model")
    assert missing.status_code == 404 and "No such model" in missing.text


@pytest.mark.browser
def test_models_in_a_browser(page: Page, registered: dict[str, str]) -> None:
    name = registered["name"]
    page.goto("/models")
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.locator("h1")).to_contain_text(name)
    row = page.locator("table.model-versions tbody tr").first
    expect(row.locator("[data-role=alias]")).to_have_text("@champion")
    expect(row.locator("[data-stage]")).to_have_text("Production")
    row.locator("[data-role=source-run]").click()
    expect(page).to_have_url(re.compile(f"/r/{registered['run']}$"))


@pytest.mark.browser
def test_dataset_aliases_on_the_dataset_page(page: Page, ui_lab: Lab, tmp_path: Path) -> None:
    name = project_name("aliased")
    folder = tmp_path / "d"
    folder.mkdir()
    for text in ("one", "two"):
        (folder / f"{text}.txt").write_text(text)
        add(folder, name, settings=ui_lab.settings)
    ui_lab.dataset_aliases.set("ana", f"{name}@v1", "prod")
    ui_lab.dataset_aliases.set("bo", f"{name}@v2", "prod")
    page.goto(f"/datasets/{name}")
    expect(page.locator("table.versions [data-role=alias]")).to_have_text("@prod")
    moves = page.locator("table.alias-moves tbody tr")
    expect(moves).to_have_count(2)
    expect(moves.first).to_contain_text("v1 → v2")
    expect(moves.first).to_contain_text("bo")
