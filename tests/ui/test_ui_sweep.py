"""The sweep page in a real browser: trials, states, the best, parallel coordinates."""

from __future__ import annotations

import json
import re
import uuid

import httpx
from playwright.sync_api import Page, expect
from uiseed import USER, log, project_name

from lablink.core.lab import Lab


def _sweep(lab: Lab, project: str) -> str:
    """Four trials as ``lablink sweep`` stores them: one pruned, one still running."""
    sweep_id = f"ui-{uuid.uuid4().hex[:6]}"
    spec = {
        "name": "ui",
        "project": project,
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "space": {
            "lr": {"distribution": "choice", "values": [0.1, 0.3]},
            "opt": {"distribution": "choice", "values": ["sgd", "adam"]},
        },
        "budget": {"trials": None, "time": None},
    }
    digest = lab.tracking.put_blob([json.dumps(spec).encode()])
    trials = [
        (0.1, "sgd", 0.5, "finished"),
        (0.3, "sgd", 0.2, "finished"),
        (0.3, "adam", float("nan"), "killed"),
        (0.1, "adam", 0.4, None),
    ]
    for n, (lr, opt, loss, status) in enumerate(trials):
        tags = ["sweep", f"sweep:{sweep_id}", f"trial:{n}", "launched"]
        tags += ["pruned"] if status == "killed" else []
        run = lab.tracking.create_run(USER, project, f"ui-{n}", {"lr": lr, "opt": opt}, tags)
        lab.tracking.add_artifact(run.id, "sweep/spec.json", "sweep", digest)
        log(lab, run.id, {"loss": ([0, 1], [1.0, loss])})
        if status is not None:
            lab.tracking.finish_run(USER, run.id, status)
    return sweep_id


def test_sweep_page_shows_trials_best_and_parallel_coordinates(ui_lab: Lab, page: Page) -> None:
    project = project_name()
    sweep_id = _sweep(ui_lab, project)
    page.goto(f"/sweeps/{sweep_id}")
    expect(page.locator("#sweep-status")).to_have_text("running")
    expect(page.locator("#sweep-best")).to_contain_text("trial 1")
    expect(page.locator("#sweep-best")).to_contain_text("0.2")
    states = page.locator("#trials tbody tr").evaluate_all("rows => rows.map(r => r.dataset.state)")
    assert states == ["complete", "complete", "pruned", "running"]
    expect(page.locator("#parcoords .main-svg").first).to_be_visible()
    dims = page.evaluate(
        "() => document.getElementById('parcoords').data[0].dimensions.map(d => d.label)"
    )
    assert dims == ["lr", "opt", "loss"]
    # a trial's run links back to its sweep
    page.locator("#trials tbody tr").first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/r/"))
    page.get_by_role("link", name=f"sweep:{sweep_id}").click()
    expect(page).to_have_url(re.compile(f"/sweeps/{sweep_id}$"))


def test_unknown_sweep_is_a_404_page(http: httpx.Client) -> None:
    answer = http.get("/sweeps/no-such-sweep")
    assert answer.status_code == 404
    assert "no sweep" in answer.text
