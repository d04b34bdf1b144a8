"""``lablink decision add``: numbered files in the repository, with what they supersede."""

from __future__ import annotations

from pathlib import Path

import pytest
from doctools import Cli, LabRepo

from lablink.docs.decisions import read_decisions


def test_decisions_are_numbered_files_and_supersede(lab_repo: LabRepo) -> None:
    cli = Cli()
    out = cli("decision", "add", "Use SGD", "--why", "the baseline recipe", "--runs", "a1,b2")
    assert "D0001: Use SGD (docs/lab/decisions/D0001.md)" in out.stdout
    cli("decision", "add", "Switch to AdamW: faster", "--why", "converges 2x\nfaster", "-s", "D1")
    first, second = read_decisions(lab_repo.docs)
    assert (first.id, first.runs, first.supersedes) == ("D0001", ("a1", "b2"), ())
    assert (second.id, second.title, second.supersedes) == (
        "D0002",
        "Switch to AdamW: faster",
        ("D0001",),
    )
    assert second.why == "converges 2x\nfaster" and second.author == "dev@example.org"
    text = (lab_repo.docs / "decisions/D0002.md").read_text()
    assert text.startswith("---\nid: D0002\ntitle: Switch to AdamW: faster\n")

    cli("docs", "build")
    history = (lab_repo.docs / "HISTORY.md").read_text()
    assert "### D0001: Use SGD (superseded)" in history and "Superseded by D0002." in history
    assert "### D0002: Switch to AdamW: faster" in history and "Supersedes D0001." in history
    assert history.index("D0001: Use SGD") < history.index("D0002: Switch")
    cli("docs", "check")
    cli("decision", "add", "Longer schedule", "--why", "plateau at 90 epochs")
    assert "stale: docs/lab/HISTORY.md" in cli("docs", "check", code=1).stderr


def test_bad_decisions_are_refused_and_write_nothing(lab_repo: LabRepo) -> None:
    cli = Cli()
    out = cli("decision", "add", "X", "--why", "y", "--supersedes", "D7", code=1)
    assert "no decision D0007 to supersede" in out.stderr
    assert (
        "not a decision id" in cli("decision", "add", "X", "--why", "y", "-s", "7x", code=1).stderr
    )
    assert "needs a why" in cli("decision", "add", "X", "--why", " ", code=1).stderr
    assert not (lab_repo.docs / "decisions").exists() or not list(
        (lab_repo.docs / "decisions").iterdir()
    )


def test_decision_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = Cli()("decision", "add", "X", "--why", "y", code=1)
    assert "not inside a git repository" in out.stderr
