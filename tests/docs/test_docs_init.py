"""``lablink init``: a scaffold in a real git repository that never overwrites by default."""

from __future__ import annotations

import json
import shlex
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


# The properties of devcontainer.json that lablink writes, with their JSON types, from the
# Dev Container specification's reference.
DEVCONTAINER_PROPERTIES = {
    "name": str,
    "build": dict,
    "postCreateCommand": str,
    "containerEnv": dict,
    "forwardPorts": list,
    "customizations": dict,
}


def test_init_writes_a_dev_container_and_gitlab_ci(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(git_repo)
    Cli()("init")
    container = json.loads((git_repo / ".devcontainer/devcontainer.json").read_text())
    assert set(container) <= set(DEVCONTAINER_PROPERTIES)
    for key, value in container.items():
        assert isinstance(value, DEVCONTAINER_PROPERTIES[key]), key
    assert container["build"]["dockerfile"] == "Dockerfile"
    assert (git_repo / ".devcontainer" / container["build"]["dockerfile"]).is_file()
    assert "pip install lablink" in container["postCreateCommand"]
    dockerfile = (git_repo / ".devcontainer/Dockerfile").read_text()
    assert any(line.startswith("FROM python:3.") for line in dockerfile.splitlines())

    gitlab = yaml.safe_load((git_repo / ".gitlab-ci.yml").read_text())
    script = gitlab["lablink"]["script"]
    assert any(c.startswith("lablink gate") and "$CI_COMMIT_SHA" in c for c in script)
    assert "lablink docs check" in script
    assert "merge_requests/$CI_MERGE_REQUEST_IID/notes" in gitlab["lablink"]["after_script"][0]

    github = yaml.safe_load((git_repo / ".github/workflows/lablink.yml").read_text())
    steps = {step["name"]: step for step in github["jobs"]["lablink"]["steps"] if "name" in step}
    assert "gh pr comment" in steps["Post the gate report"]["run"]
    assert github["permissions"]["pull-requests"] == "write"


def test_the_scaffolded_gate_command_parses(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The candidate filter CI passes is valid filter syntax once the SHA is filled in."""
    from lablink.checks.filters import parse_filter

    monkeypatch.chdir(git_repo)
    Cli()("init")
    gitlab = yaml.safe_load((git_repo / ".gitlab-ci.yml").read_text())
    gate = next(c for c in gitlab["lablink"]["script"] if c.startswith("lablink gate"))
    candidate = shlex.split(gate.replace("$CI_COMMIT_SHA", "0123abcd"))[-1]
    assert parse_filter(candidate) is not None


def test_init_check_lists_what_a_repository_lacks(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(git_repo)
    lacks = Cli()("init", "--check", code=1).stderr
    assert "no lablink.toml" in lacks
    assert "no .devcontainer/devcontainer.json" in lacks
    assert "no CI file runs the gate" in lacks
    assert not (git_repo / "lablink.toml").exists()  # --check writes nothing

    Cli()("init")
    lacks = Cli()("init", "--check", code=1).stderr
    assert "the gate is not configured: no baseline selector" in lacks
    assert "docs/lab has not been built" in lacks
    assert "devcontainer" not in lacks

    toml = (git_repo / "lablink.toml").read_text()
    toml = toml.replace('# baseline = "tags.main"', 'baseline = "tags.main"')
    toml = toml.replace('# metrics = ["val/acc:max"]', 'metrics = ["val/acc:max"]')
    (git_repo / "lablink.toml").write_text(toml)
    (git_repo / ".gitlab-ci.yml").unlink()  # one forge's file is enough
    Cli()("docs", "build")
    assert "has everything" in Cli()("init", "--check").stdout

    workflow = git_repo / ".github/workflows/lablink.yml"
    workflow.write_text(workflow.read_text().replace("lablink docs check", "true"))
    lacks = Cli()("init", "--check", code=1).stderr
    assert "does not run `lablink docs check`" in lacks
