"""With ``docs_url`` set, the run and dataset pages link to their generated lab docs."""

from __future__ import annotations

from pathlib import Path

import httpx

import lablink
from helpers import AppServer, make_settings
from lablink.core.lab import Lab
from lablink.docs.cards import datasheet_path, model_path
from lablink.sdk.data import add
from lablink.server.app import create_app

BASE = "https://git.example.org/team/repo/blob/main/docs/lab"


def test_run_and_dataset_pages_link_their_lab_docs(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home", docs_url=BASE + "/")
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.csv").write_text("a\n1\n")
    with Lab(settings) as lab:
        add(data, "images", settings=settings)
        weights = tmp_path / "model.pt"
        weights.write_bytes(b"weights")
        with lablink.init(project="Vision.Lab", name="r50", settings=settings) as run:
            run.log_artifact(str(weights), kind="model")
            run.log_artifact(str(weights), name="plain.bin")
            run_id = run.id
        server = AppServer(create_app(lab)).start()
        try:
            with httpx.Client(base_url=server.url, timeout=10) as http:
                page = http.get(f"/r/{run_id}").text
                sheet = http.get("/datasets/images").text
        finally:
            server.stop()
        record = lab.tracking.get_run(run_id)
        [model] = [a for a in lab.tracking.list_artifacts(run_id) if a.kind == "model"]
    assert f'href="{BASE}/experiments/vision.lab.md" data-role="docs-log"' in page
    assert f'href="{BASE}/{model_path(record, model)}" data-role="model-card"' in page
    assert page.count('data-role="model-card"') == 1  # only the model has a card
    assert f'href="{BASE}/{datasheet_path("images")}" data-role="datasheet"' in sheet


def test_without_docs_url_there_are_no_doc_links(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    with Lab(settings) as lab:
        with lablink.init(project="p", settings=settings) as run:
            run_id = run.id
        server = AppServer(create_app(lab)).start()
        try:
            page = httpx.get(f"{server.url}/r/{run_id}", timeout=10).text
        finally:
            server.stop()
    assert 'data-role="docs-log"' not in page
