"""A launched job on the run page (issue 16): its output panel, live and searchable, its
attempts table and the attempts drawn on its charts. Real ``lablink launch`` processes
against the module's loopback server; a real Chromium for the live panel."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from uiseed import project_name

from helpers import LoopbackServer, wait_for
from lablink.core.lab import Lab

SRC = str(Path(__file__).resolve().parents[2] / "src")
LIMIT = 60  # seconds a launch may take before the test fails
LIVE_WAIT_MS = 15_000

# Prints, then waits for the test's cue files (bounded: it gives up after a minute).
LIVE_JOB = """
import sys, time
from pathlib import Path

def wait(name):
    deadline = time.monotonic() + 60
    while not Path(name).exists() and time.monotonic() < deadline:
        time.sleep(0.05)

for i in range(1, 6):
    print(f"line {i}", flush=True)
print("warning: disk almost full", file=sys.stderr, flush=True)
wait("go")
print("after go", flush=True)
print("needle in the haystack", flush=True)
wait("end")
print("bye", flush=True)
"""

# Attempt 1 logs steps 0-4 and crashes; attempt 2 logs steps 5-9 and finishes.
RESTARTED_JOB = """
import os, sys, lablink
run = lablink.init(project=os.environ["JOB_PROJECT"])
attempt = int(os.environ["LABLINK_ATTEMPT"])
first = 0 if attempt == 1 else 5
for step in range(first, first + 5):
    run.log({"loss": 1.0 / (step + 1)}, step=step)
print(f"attempt {attempt} logged", flush=True)
run.finish()
sys.exit(3 if attempt == 1 else 0)
"""


def _env(server: LoopbackServer, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLINK_")}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["LABLINK_USER"] = "tester@example.org"
    env["LABLINK_CONFIG"] = os.environ["LABLINK_CONFIG"]
    env["LABLINK_SERVER"] = server.url
    env.update(extra)
    return env


def _launch(folder: Path, server: LoopbackServer, project: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "lablink.cli", "launch", "-p", project, "-d", *args]


def _run_id(lab: Lab, project: str) -> str:
    found: list[str] = []

    def made() -> bool:
        if project not in {p.name for p in lab.tracking.list_projects()}:
            return False
        runs, _ = lab.tracking.search_runs(project, None, None, False, 5, 0)
        found[:] = [r.id for r in runs]
        return bool(found)

    wait_for(made, LIMIT, "the job's run")
    return found[0]


def _chunks(lab: Lab, run_id: str) -> int:
    return sum(1 for a in lab.tracking.list_artifacts(run_id) if a.name.startswith("logs/"))


@pytest.fixture
def finished_job(ui_lab: Lab, ui_server: LoopbackServer, tmp_path: Path) -> str:
    """A launched job that printed 30 lines, and one to stderr, and finished."""
    project = project_name("job")
    script = "for i in $(seq 1 30); do echo line-$i; done; echo oops >&2"
    done = subprocess.run(
        [*_launch(tmp_path, ui_server, project), "--", "bash", "-c", script],
        cwd=tmp_path,
        env=_env(ui_server),
        capture_output=True,
        text=True,
        timeout=LIMIT,
    )
    assert done.returncode == 0, done.stderr
    return _run_id(ui_lab, project)


def test_the_logs_route_answers_the_tail_a_search_and_what_follows(
    http: httpx.Client, finished_job: str
) -> None:
    url = f"/ui-data/runs/{finished_job}/logs"
    whole = http.get(url).json()
    texts = [line["l"] for line in whole["lines"]]
    # stdout and stderr are read by two threads: in order within a stream, interleaved
    assert [t for t in texts if t != "oops"] == [f"line-{i}" for i in range(1, 31)]
    assert [line["s"] for line in whole["lines"] if line["l"] == "oops"] == ["err"]
    assert all(line["a"] == 1 and line["t"] > 0 for line in whole["lines"])
    assert whole["truncated"] is False and whole["cursor"] >= 1
    last = http.get(url, params={"limit": 5}).json()
    assert last["lines"] == whole["lines"][-5:] and last["truncated"] is True
    found = http.get(url, params={"q": "LINE-2"}).json()
    assert [line["l"] for line in found["lines"]] == [
        "line-2",
        *(f"line-{i}" for i in range(20, 30)),
    ]
    after = http.get(url, params={"after": whole["cursor"]}).json()
    assert after["lines"] == [] and after["cursor"] == whole["cursor"]
    again = http.get(url, params={"after": 0}).json()
    assert again["lines"] == whole["lines"] and again["more"] is False


def test_the_whole_log_downloads_as_text(http: httpx.Client, finished_job: str) -> None:
    answer = http.get(f"/r/{finished_job}/logs")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert (
        answer.headers["content-disposition"] == f'attachment; filename="{finished_job}-output.log"'
    )
    lines = answer.text.splitlines()
    assert len(lines) == 31
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert all(re.fullmatch(stamp + r" 1 (out line-\d+|err oops)", line) for line in lines)
    assert lines.count(next(line for line in lines if line.endswith("err oops"))) == 1


def test_the_run_page_shows_the_attempts_and_the_output_panel(
    http: httpx.Client, finished_job: str
) -> None:
    attempts = http.get(f"/ui-data/runs/{finished_job}/attempts").json()["attempts"]
    assert [(a["number"], a["status"], a["exit_code"]) for a in attempts] == [(1, "finished", 0)]
    page = http.get(f"/r/{finished_job}").text
    assert 'data-role="log-panel"' in page and 'data-role="attempt-rows"' in page
    assert f'href="/r/{finished_job}/logs"' in page
    assert "/static/job.js" in page
    # the output chunks are one row of the artifacts table, not one row each
    assert 'data-role="log-chunks"' in page and "logs/000001.jsonl" not in page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "many"}, "limit must be a whole number"),
        ({"limit": "0"}, "limit must be at least 1"),
        ({"limit": "5001"}, "limit must be a whole number from 0 to 5000"),
        ({"after": "-1"}, "after must be a whole number"),
        ({"after": "1e3"}, "after must be a whole number"),
        ({"q": "x" * 201}, "q is longer than 200 characters"),
    ],
)
def test_bad_log_queries_are_400_with_a_message(
    http: httpx.Client, finished_job: str, params: dict[str, str], message: str
) -> None:
    answer = http.get(f"/ui-data/runs/{finished_job}/logs", params=params)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "bad_request" and message in error["message"]


def test_unknown_runs_are_404(http: httpx.Client) -> None:
    for path in ("/ui-data/runs/nope0000/logs", "/ui-data/runs/nope0000/attempts"):
        answer = http.get(path)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert http.get("/r/nope0000/logs").status_code == 404


@pytest.mark.browser
def test_the_log_panel_follows_a_live_job_and_searches(
    ui_lab: Lab, ui_server: LoopbackServer, page: Page, tmp_path: Path
) -> None:
    project = project_name("live")
    (tmp_path / "job.py").write_text(LIVE_JOB)
    proc = subprocess.Popen(
        [*_launch(tmp_path, ui_server, project), "--", sys.executable, "job.py"],
        cwd=tmp_path,
        env=_env(ui_server),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        run_id = _run_id(ui_lab, project)
        wait_for(lambda: _chunks(ui_lab, run_id) > 0, LIMIT, "the first output")
        page.goto(f"/r/{run_id}")
        panel = page.locator('[data-role="log-panel"]')
        lines = panel.locator(".log-line")
        expect(lines).to_have_count(6)
        # stdout and stderr are two pipes: in order within each, interleaved as read
        expect(panel.locator(".log-line.out").first).to_contain_text("line 1")
        err = panel.locator(".log-line.err")
        expect(err).to_have_count(1)
        expect(err.locator(".stream")).to_have_text("err")
        expect(err.locator("time")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d\.\d\d\d$"))
        expect(page.locator('[data-role="attempt-rows"] tr')).to_have_count(1)
        expect(page.locator('[data-role="attempt-rows"]')).to_contain_text("running")

        (tmp_path / "go").touch()  # the job prints two more lines: they arrive live
        expect(lines.last).to_contain_text("needle in the haystack", timeout=LIVE_WAIT_MS)
        expect(lines).to_have_count(8)

        search = panel.get_by_role("searchbox")
        search.fill("NEEDLE")
        expect(lines).to_have_count(1)
        expect(panel.locator("mark")).to_have_text("needle")
        expect(panel.locator('[data-role="log-status"]')).to_contain_text("matching")
        search.fill("")
        expect(lines).to_have_count(8)

        (tmp_path / "end").touch()
        expect(page.locator('[data-role="status"]')).to_contain_text(
            "finished", timeout=LIVE_WAIT_MS
        )
        expect(lines.last).to_contain_text("bye")
        expect(page.locator('[data-role="attempt-rows"]')).to_contain_text("finished")
        expect(panel.locator('[data-role="log-download"]')).to_have_attribute(
            "href", f"/r/{run_id}/logs"
        )
    finally:
        (tmp_path / "go").touch()
        (tmp_path / "end").touch()
        proc.wait(LIMIT)
    assert proc.returncode == 0


@pytest.mark.browser
def test_attempts_are_drawn_on_the_charts(
    ui_lab: Lab, ui_server: LoopbackServer, page: Page, tmp_path: Path
) -> None:
    project = project_name("restart")
    (tmp_path / "job.py").write_text(RESTARTED_JOB)
    (tmp_path / "lablink.toml").write_text('[launch]\nbackoff = "0.1s"\n')
    done = subprocess.run(
        [*_launch(tmp_path, ui_server, project), "--restarts", "1", "--", sys.executable, "job.py"],
        cwd=tmp_path,
        env=_env(ui_server, JOB_PROJECT=project),
        capture_output=True,
        text=True,
        timeout=LIMIT,
    )
    assert done.returncode == 0, done.stderr
    run_id = _run_id(ui_lab, project)
    page.goto(f"/r/{run_id}")
    rows = page.locator('[data-role="attempt-rows"] tr')
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("exit status 3")
    expect(rows.last).to_contain_text("finished")
    figure = page.locator('figure.chart[data-key="loss"]')
    expect(figure).to_have_attribute("data-points", "10")
    expect(figure).to_have_attribute("data-attempts", "1")
    expect(figure.locator(".annotation-text")).to_have_text("#2")
    panel = page.locator('[data-role="log-panel"]')
    expect(panel.locator(".log-attempt")).to_have_text("attempt 2")
    page.locator("select[name=x]").select_option("time")
    expect(figure.locator(".annotation-text")).to_have_text("#2")


def test_a_long_log_is_read_a_page_of_chunks_at_a_time(ui_lab: Lab) -> None:
    from lablink.ui import logs

    t = ui_lab.tracking
    run = t.create_run("tester@example.org", project_name("long"), "long")
    for n in range(1, 41):
        line = f'{{"t": {n}.0, "s": "out", "a": 1, "l": "chunk {n}"}}\n'.encode()
        t.add_artifact(run.id, f"logs/{n:06d}.jsonl", "log", t.put_blob(iter([line])))
    last = logs.tail(ui_lab, run.id, 500, "")
    assert [line["l"] for line in last["lines"]] == [f"chunk {n}" for n in range(9, 41)]
    assert last["cursor"] == 40 and last["truncated"] is True  # older chunks were not read
    first = logs.since(ui_lab, run.id, 0, 500, "")
    assert len(first["lines"]) == logs.READ_CHUNKS and first["more"] is True
    rest = logs.since(ui_lab, run.id, first["cursor"], 500, "")
    assert rest["cursor"] == 2 * logs.READ_CHUNKS and rest["more"] is True
    assert logs.since(ui_lab, run.id, 40, 500, "")["lines"] == []
