"""The datasets pages: list, versions, lineage both ways, files, profile and drift.

Data comes from real SDK calls (``lablink.sdk.data.add``, a run reading a version
through ``lablink.dataset``) on the module's store; pages are read over HTTP, and once
in Debian's headless Chromium.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import polars as pl
import pytest
from playwright.sync_api import Page, expect
from uiseed import XSS, project_name

import lablink
from lablink.core.lab import Lab
from lablink.sdk.data import add


def table(tmp: Path, rows: int, shift: float) -> Path:
    folder = tmp / f"t{rows}-{shift}"
    folder.mkdir()
    pl.DataFrame(
        {
            "amount": [float(i % 50) + shift for i in range(rows)],
            "country": [("DE", "FR", "US")[i % 3] for i in range(rows)],
        }
    ).write_csv(folder / "events.csv")
    (folder / "notes.txt").write_text("not a table\n")
    return folder


@pytest.fixture
def lineage(ui_lab: Lab, tmp_path: Path) -> dict[str, str]:
    """raw@v1 (not tabular) → clean@v1 → clean@v2 (shifted), read by a run."""
    raw_name, clean_name = project_name("raw"), project_name("clean")
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    (raw_dir / "dump.bin").write_bytes(b"\x01" * 64)
    settings = ui_lab.settings
    add(raw_dir, raw_name, message="first dump", settings=settings)
    add(table(tmp_path, 300, 0.0), clean_name, parents=[f"{raw_name}@v1"], settings=settings)
    add(table(tmp_path, 300, 30.0), clean_name, message=XSS, settings=settings)
    with lablink.init(project=project_name(), name="reader", settings=settings) as run:
        lablink.dataset(f"{clean_name}@v2")
        run_id = run.id
    return {"raw": raw_name, "clean": clean_name, "run": run_id}


def test_datasets_list_and_version_pages(http: httpx.Client, lineage: dict[str, str]) -> None:
    raw, clean = lineage["raw"], lineage["clean"]
    listing = http.get("/datasets")
    assert listing.status_code == 200
    assert (
        f'href="/datasets/{clean}"' in listing.text
        and f'href="/datasets/{raw}?v=1"' in listing.text
    )

    latest = http.get(f"/datasets/{clean}").text
    assert f"<title>{clean}@v2 · lablink</title>" in latest
    assert "&lt;script&gt;alert" in latest and XSS not in latest  # messages are escaped
    assert "300 rows, 2 columns" in latest
    assert 'aria-label="histogram of amount"' in latest
    assert "3 distinct: DE (100), FR (100), US (100)" in latest
    assert f'Drift from <a href="/datasets/{clean}?v=1">{clean}@v1</a>' in latest
    assert "1 of 2 columns drifted" in latest and "PSI=" in latest
    assert f'href="/r/{lineage["run"]}">reader</a>' in latest  # read by the run
    assert "notes.txt" in latest and "events.csv" in latest

    first = http.get(f"/datasets/{clean}", params={"v": 1}).text
    assert f'<a href="/datasets/{raw}?v=1">{raw}@v1</a>' in first  # made from
    assert "No earlier version with a profile" in first
    raw_page = http.get(f"/datasets/{raw}").text
    assert "No profile: this version holds no table files" in raw_page
    assert f'href="/datasets/{clean}?v=1">{clean}@v1</a>' in raw_page  # made into

    against = http.get(f"/datasets/{clean}", params={"v": 2, "against": 2}).text
    assert "no drift in 2 columns" in against


def test_dataset_page_errors_are_pages_not_500s(
    http: httpx.Client, lineage: dict[str, str]
) -> None:
    clean = lineage["clean"]
    assert http.get("/datasets/nosuch").status_code == 404
    missing = http.get(f"/datasets/{clean}", params={"v": 9})
    assert missing.status_code == 404 and f"{clean}@v9 does not exist" in missing.text
    assert http.get(f"/datasets/{clean}", params={"v": "x"}).status_code == 400
    assert http.get(f"/datasets/{clean}", params={"v": 0}).status_code == 400
    no_profile = http.get(f"/datasets/{lineage['raw']}", params={"v": 1, "against": 1})
    assert no_profile.status_code == 200


def test_drift_against_a_version_without_a_profile_says_so(
    ui_lab: Lab, http: httpx.Client, lineage: dict[str, str], tmp_path: Path
) -> None:
    clean = lineage["clean"]
    (tmp_path / "bins").mkdir()
    (tmp_path / "bins" / "b.bin").write_bytes(b"\x00" * 10)
    add(tmp_path / "bins", clean, settings=ui_lab.settings)  # clean@v3: no tables
    page = http.get(f"/datasets/{clean}", params={"v": 2, "against": 3})
    assert page.status_code == 200 and f"{clean}@v3 has no profile to compare with" in page.text
    gone = http.get(f"/datasets/{clean}", params={"v": 2, "against": 9})
    assert gone.status_code == 404 and f"{clean}@v9 does not exist" in gone.text
    latest = http.get(f"/datasets/{clean}").text  # v3: nothing to profile, no drift section
    assert "No profile: this version holds no table files" in latest and "Drift from" not in latest


def test_run_page_links_its_dataset_inputs(http: httpx.Client, lineage: dict[str, str]) -> None:
    run_page = http.get(f"/r/{lineage['run']}").text
    clean = lineage["clean"]
    assert f'<a href="/datasets/{clean}?v=2">{clean}@v2</a>' in run_page


@pytest.mark.browser
def test_from_the_run_page_to_a_dataset_and_its_parent(page: Page, lineage: dict[str, str]) -> None:
    clean, raw = lineage["clean"], lineage["raw"]
    page.goto(f"/r/{lineage['run']}")
    page.get_by_role("link", name=f"{clean}@v2").click()
    expect(page).to_have_url(re.compile(f"/datasets/{clean}\\?v=2$"))
    expect(page.get_by_role("heading", name="Drift from")).to_contain_text(f"{clean}@v1")
    expect(page.locator("tr.drifted")).to_have_count(1)
    expect(page.locator("tr.drifted")).to_contain_text("amount")
    versions = page.locator("table.versions")
    versions.get_by_role("link", name="v1", exact=True).click()
    expect(page).to_have_url(re.compile(f"/datasets/{clean}\\?v=1$"))
    page.get_by_role("link", name=f"{raw}@v1").first.click()
    expect(page.get_by_role("heading", name="Profile")).to_be_visible()
    expect(page.locator("main")).to_contain_text("No profile")
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="datasets").click()
    expect(page).to_have_url(re.compile("/datasets$"))
