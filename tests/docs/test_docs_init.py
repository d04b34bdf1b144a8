"""``lablink init``: a scaffold in a real git repository that never overwrites by default."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import yaml
from doctools import Cli

from lablink.docs.scaffold import FILES
from lablink.settings import Settings


def test_init_scaffolds_a_repository(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(git_repo / ".")
    out = Cli()("init")
    for path in FILES:
        assert f"wrote {path}" in out.stdout
        assert (git_repo / path).is_file()
    workflow = yaml.safe_load((git_repo / ".github/workflows/lablink.yml").read_text())
    steps = workflow["jobs"]["lablink"]["steps"]
    commands = [step.get("run", "") for step in steps]
    assert any(c.startswith("lablink gate") for c in commands)
    assert "lablink docs check" in commands
    assert tomllib.loads((git_repo / "lablink.toml").read_text()) == {
        "lablink": {},
        "gate": {},
        "capture": {},
    }
    Settings.load({})  # the commented defaults still load
    json.dumps(workflow)  # plain data, no YAML-only types


def test_init_keeps_what_exists_unless_forced(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (git_repo / "sub").mkdir()
    monkeypatch.chdir(git_repo / "sub")  # finds the repository's root from below
    (git_repo / "lablink.toml").write_text("[lablink]\nserver = 'http://mine'\n")
    out = Cli()("init")
    assert "kept lablink.toml" in out.stdout
    assert "mine" in (git_repo / "lablink.toml").read_text()
    assert "wrote lablink.toml" in Cli()("init", "--force").stdout
    assert "mine" not in (git_repo / "lablink.toml").read_text()


def test_init_refuses_a_conflicting_folder(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(git_repo)
    (git_repo / "lablink.toml").mkdir()
    out = Cli()("init", code=1)
    assert "cannot write lablink.toml" in out.stderr
    assert not (git_repo / ".github").exists()  # nothing half-written


def test_init_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert "not inside a git repository" in Cli()("init", code=1).stderr
