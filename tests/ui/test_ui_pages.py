"""Server-rendered pages over plain HTTP: content, escaping, filters, sorting, paging."""

from __future__ import annotations

import re

import httpx
import pytest
from uiseed import USER, XSS, make_run, project_name

from lablink.core.lab import Lab


def rows(html: str) -> list[str]:
    """Run ids of the runs table's rows, in order."""
    return re.findall(r'<tr data-run="([^"]+)"', html)


def test_projects_page_lists_projects_with_counts(ui_lab: Lab, http: httpx.Client) -> None:
    project = project_name()
    make_run(ui_lab, project, "a")
    make_run(ui_lab, project, "b", status=None)
    html = http.get("/").text
    row = html[html.index(f'href="/p/{project}"') :].split("</tr>", 1)[0]
    assert '<td class="n">2</td>' in row
    assert "1 running" in row


def test_user_text_is_escaped_everywhere(ui_lab: Lab, http: httpx.Client) -> None:
    project = project_name()
    run = make_run(ui_lab, project, XSS, config={"act": "<b>relu</b>", "<k>": 1}, tags=["<i>t</i>"])
    other = make_run(ui_lab, project, "plain", config={"act": "gelu"})
    ui_lab.tracking.note(USER, run.id, "<img src=x onerror=alert(1)>", outcome="negative")
    pages = [
        http.get(f"/p/{project}").text,
        http.get(f"/r/{run.id}").text,
        http.get(f"/compare?run={run.id}&run={other.id}").text,
    ]
    for html in pages:
        for raw in (XSS, "<b>relu</b>", "<i>t</i>", "<img src=x", "<k>"):
            assert raw not in html
        assert "&lt;script&gt;alert(" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[1]
    assert "&lt;b&gt;relu&lt;/b&gt;" in pages[1]


def test_runs_table_filters_sorts_and_pages(ui_lab: Lab, http: httpx.Client) -> None:
    project = project_name()
    runs = [
        make_run(ui_lab, project, f"lr-{i}", config={"lr": lr}, scale=scale, tags=tags)
        for i, (lr, scale, tags) in enumerate(
            [(0.1, 3.0, ["baseline"]), (0.01, 1.0, []), (0.001, 2.0, ["baseline"])]
        )
    ]
    ids = [r.id for r in runs]
    html = http.get(f"/p/{project}", params={"sort": "params.lr", "order": "asc"}).text
    assert rows(html) == [ids[2], ids[1], ids[0]]
    html = http.get(f"/p/{project}", params={"sort": "metrics.train/loss"}).text
    assert rows(html) == [ids[0], ids[2], ids[1]]  # descending by last loss
    html = http.get(f"/p/{project}", params={"filter": "tags.baseline and params.lr < 0.05"}).text
    assert rows(html) == [ids[2]]
    assert "1 run matches" in html
    page2 = http.get(f"/p/{project}", params={"limit": 2, "offset": 2, "sort": "name"}).text
    assert rows(page2) == [ids[0]]  # names descending: lr-2, lr-1 | lr-0
    assert "3\u20133 of 3" in page2  # an en dash


def test_bad_filter_is_shown_inline_with_a_pointer(ui_lab: Lab, http: httpx.Client) -> None:
    project = project_name()
    make_run(ui_lab, project, "one")
    answer = http.get(f"/p/{project}", params={"filter": "metrics.loss >> 3"})
    assert answer.status_code == 200
    assert 'role="alert"' in answer.text
    assert "Filter error" in answer.text
    assert re.search(r'<pre class="pointer">metrics.loss &gt;&gt; 3\n\s+\^</pre>', answer.text)
    assert 'value="metrics.loss &gt;&gt; 3"' in answer.text  # the box keeps what was typed
    bad_sort = http.get(f"/p/{project}", params={"sort": "nonsense"})
    assert bad_sort.status_code == 200
    assert "cannot sort by" in bad_sort.text


def test_chosen_columns_and_selection_live_in_the_url(ui_lab: Lab, http: httpx.Client) -> None:
    project = project_name()
    a = make_run(ui_lab, project, "a", config={"lr": 0.5, "opt": "adam"})
    html = http.get(
        f"/p/{project}", params=[("col", "params.opt"), ("col", "metrics.val/acc"), ("sel", a.id)]
    ).text
    headers = re.findall(r'<th scope="col"[^>]*>\s*<a href="[^"]*" title="Sort by ([^"]+)"', html)
    # Chosen metrics first, right after the name; then params; then who and when.
    assert headers == ["status", "name", "metrics.val/acc", "params.opt", "user",
                       "created_at", "duration", "outcome"]  # fmt: skip
    assert f'value="{a.id}" form="compare" aria-label="Select a" checked' in html
    assert "sel=" + a.id in html  # paging and sorting links keep the selection


def test_unknown_project_and_run_are_404_pages(http: httpx.Client) -> None:
    for path in ("/p/no-such-project", "/r/zzzzzzzzzzzz", "/r/zzzzzzzzzzzz/diff"):
        answer = http.get(path)
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")


def test_run_page_shows_what_was_recorded(ui_lab: Lab, http: httpx.Client) -> None:
    diff = "diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-print(1)\n+print('<b>2</b>')\n"
    digest = ui_lab.tracking.put_blob(iter([diff.encode()]))
    capture = {
        "git_commit": "a" * 40,
        "git_branch": "main",
        "git_remote": "git@example.org:lab/vision.git",
        "git_dirty": True,
        "git_diff_digest": digest,
        "command": ["python", "train.py", "--lr", "0.1"],
        "host": "gpu-box-7",
        "python_version": "3.12.1",
        "packages": {"numpy": "2.0.0", "torch": "2.3.0"},
        "gpus": ["NVIDIA H100"],
    }
    run = make_run(
        ui_lab,
        project_name(),
        "full",
        config={"model": {"depth": 50, "act": "relu"}, "lr": 0.1},
        capture=capture,
        status="failed",
    )
    blob = ui_lab.tracking.put_blob(iter([b"weights" * 100]))
    ui_lab.tracking.add_artifact(run.id, "ckpt/model final.pt", "model", blob)
    html = http.get(f"/r/{run.id}").text
    for text in ("a" * 40, "main", "gpu-box-7", "3.12.1", "NVIDIA H100", "2 packages",
                 "python train.py --lr 0.1", "depth", "train/loss", "val/acc", "failed"):  # fmt: skip
        assert text in html, text
    assert '<span class="add">+print(&#39;&lt;b&gt;2&lt;/b&gt;&#39;)</span>' in html
    assert 'data-group="train"' in html and 'data-group="val"' in html
    download = http.get(f"/r/{run.id}/artifacts/ckpt/model%20final.pt")
    assert download.status_code == 200
    assert download.content == b"weights" * 100
    assert download.headers["content-disposition"].startswith(
        'attachment; filename="model final.pt"'
    )
    assert http.get(f"/r/{run.id}/artifacts/nope.pt").status_code == 404
    assert http.get(f"/r/{run.id}/diff").text == diff


def test_compare_highlights_params_that_differ(ui_lab: Lab, http: httpx.Client) -> None:
    project = project_name()
    a = make_run(ui_lab, project, "a", config={"lr": 0.1, "depth": 50})
    b = make_run(ui_lab, project, "b", config={"lr": 0.2, "depth": 50})
    html = http.get("/compare", params=[("run", a.id), ("run", b.id)]).text
    differs = re.findall(r'<tr class="differs"><th scope="row">(\w+)', html)
    assert differs == ["lr"]
    assert "1 params the same" in html
    one = http.get("/compare", params={"run": a.id})
    assert one.status_code == 400
    assert "at least two runs" in one.text


def test_pages_load_nothing_from_other_hosts(ui_lab: Lab, http: httpx.Client) -> None:
    # Scripts and styles come from our own /static: no CDN, no npm-built bundle.
    run = make_run(ui_lab, project_name(), "r")
    for path in ("/", f"/p/{run.project}", f"/r/{run.id}"):
        html = http.get(path).text
        assert re.findall(r'(?:src|href)="(?:https?:)?//', html) == []
        assert re.findall(r'<script src="/static/[\w.]+\?v=[0-9a-f]{16}"', html)


@pytest.mark.parametrize("path", ["/", "/compare"])
def test_pages_are_html_with_a_doctype(http: httpx.Client, path: str) -> None:
    answer = http.get(path)
    assert answer.text.startswith("<!doctype html>")
