"""lablink's own files (database, blobs, spool, cache) never make a user's run dirty."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
from sdk_support import FAST

import lablink
from lablink.homedir import make_dirs, own_paths
from lablink.sdk.capture import git_state
from lablink.settings import Settings


def git_status(repo: Path) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def repo_settings(repo: Path) -> Settings:
    """Settings as a new user gets them in a repository: the home is .lablink/ at its root."""
    loaded = Settings.load(environ={"LABLINK_CONFIG": str(repo / "none.toml")}, cwd=repo)
    return dataclasses.replace(loaded, **FAST)


def test_runs_in_a_clean_repository_are_clean(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(git_repo)
    settings = repo_settings(git_repo)
    assert settings.home == git_repo / ".lablink"
    ids = []
    for _ in range(2):  # the second run finds the database, blobs and spool in place
        with lablink.init(project="p", settings=settings) as run:
            run.log({"loss": 1.0})
        ids.append(run.id)
    with lablink.Client(settings=settings) as client:
        states = [client.run(i).git for i in ids]
    assert [(s.dirty, s.diff_digest) for s in states] == [(False, None), (False, None)]
    assert (git_repo / ".lablink" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert git_status(git_repo) == ""  # the user sees a clean tree too


def test_an_existing_home_without_gitignore_is_left_out_of_the_diff(git_repo: Path) -> None:
    # a home made before lablink wrote .gitignore files, and a spool folder set apart
    for name in (".lablink/lablink.db", ".lablink/blobs/ab/cd", "spool/r1.jsonl"):
        (git_repo / name).parent.mkdir(parents=True, exist_ok=True)
        (git_repo / name).write_text("x")
    (git_repo / "train.py").write_text("print('changed')\n")
    own = own_paths(git_repo / ".lablink", git_repo / "spool", "s3://bucket/blobs")
    fields, diff = git_state(git_repo, own)
    assert fields["git_dirty"] is True
    assert diff is not None
    assert b"+print('changed')" in diff
    assert b".lablink" not in diff
    assert b"spool" not in diff
    (git_repo / "train.py").write_text("print('train')\n")
    fields, diff = git_state(git_repo, own)
    assert (fields["git_dirty"], diff) == (False, None)


def test_make_dirs_writes_gitignore_only_into_a_home_it_creates(tmp_path: Path) -> None:
    make_dirs(tmp_path / ".lablink" / "cache" / "tmp")
    assert (tmp_path / ".lablink" / ".gitignore").is_file()
    assert not (tmp_path / ".lablink" / "cache" / ".gitignore").exists()
    mine = tmp_path / "other" / ".lablink"
    mine.mkdir(parents=True)
    (mine / ".gitignore").write_text("lablink.db\n")
    make_dirs(mine / "blobs")
    assert (mine / ".gitignore").read_text() == "lablink.db\n"  # the user's file stays
    make_dirs(tmp_path / "plain")
    assert not (tmp_path / "plain" / ".gitignore").exists()


def test_own_paths_keeps_local_paths_only(tmp_path: Path) -> None:
    db = tmp_path / "h" / "lablink.db"
    found = own_paths(
        tmp_path / "h", f"sqlite:///{db}", "sqlite:///:memory:", "postgresql+psycopg://x/y", None
    )
    assert found == [(tmp_path / "h").resolve(), db.resolve()]
