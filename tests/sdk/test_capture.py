"""What init records without being asked, in real git repositories."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest
from sdk_support import Sdk

from lablink.sdk import capture


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_clean_repository(sdk: Sdk, git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git(git_repo, "remote", "add", "origin", "https://bob:s3cret@example.org/lab/repo.git")
    monkeypatch.chdir(git_repo)
    with sdk.init() as run:
        pass
    stored = sdk.client.run(run.id).git
    assert stored.commit == git(git_repo, "rev-parse", "HEAD")
    assert stored.branch == "main"
    assert stored.remote == "https://example.org/lab/repo.git"  # credentials never stored
    assert stored.dirty is False
    assert stored.diff_digest is None


def test_dirty_repository_stores_the_diff_as_a_blob(
    sdk: Sdk, git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (git_repo / "train.py").write_text("print('train')\nlr = 0.3  # tried at night\n")
    (git_repo / "scratch.py").write_text("untracked\n")
    (git_repo / "sub").mkdir()
    monkeypatch.chdir(git_repo / "sub")  # anywhere inside the repository
    with sdk.init() as run:
        pass
    stored = sdk.client.run(run.id).git
    assert stored.dirty is True
    assert stored.commit == git(git_repo, "rev-parse", "HEAD")
    diff = sdk.client._transport.download_blob(stored.diff_digest, tmp_path / "diff").read_text()
    assert "+lr = 0.3  # tried at night" in diff
    assert "scratch.py" in diff


def test_detached_head_and_repository_without_commits(
    sdk: Sdk, git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(git_repo, "checkout", "-q", "--detach")
    monkeypatch.chdir(git_repo)
    with sdk.init() as detached:
        pass
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    (empty / "a.py").write_text("x = 1\n")
    monkeypatch.chdir(empty)
    with sdk.init() as fresh:
        pass
    first = sdk.client.run(detached.id).git
    assert first.commit == git(git_repo, "rev-parse", "HEAD") and first.branch is None
    second = sdk.client.run(fresh.id).git
    assert second.commit is None and second.dirty is True


def test_capture_outside_a_repository(tmp_path: Path) -> None:
    found = capture.capture(tmp_path)
    assert not any(key.startswith("git_") for key in found.fields)
    assert found.diff is None
    assert {"command", "host", "python_version", "packages", "gpus"} <= set(found.fields)
    assert found.fields["packages"]["httpx"]


def test_a_failing_part_is_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> dict[str, str]:
        raise RuntimeError("metadata is broken")

    monkeypatch.setattr(capture, "installed_packages", broken)
    monkeypatch.setenv("PATH", str(tmp_path))  # and no git on PATH
    found = capture.capture(tmp_path)
    assert "packages" not in found.fields
    assert "host" in found.fields
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("metadata is broken" in m for m in messages)
    assert any("git state" in m for m in messages)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://u:p@host.org/x.git", "https://host.org/x.git"),
        ("https://token@host.org:8443/x.git", "https://host.org:8443/x.git"),
        ("https://host.org/x.git", "https://host.org/x.git"),
        ("git@github.com:lab/x.git", "git@github.com:lab/x.git"),
    ],
)
def test_strip_credentials(url: str, expected: str) -> None:
    assert capture.strip_credentials(url) == expected


def test_large_diffs_are_cut(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capture, "MAX_DIFF_BYTES", 1000)
    (git_repo / "train.py").write_text("x = 1\n" * 5000)
    fields, diff = capture.git_state(git_repo)
    assert fields["git_dirty"] is True
    assert diff is not None and diff.endswith(b"cut at 1000 bytes\n")
