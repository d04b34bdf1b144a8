"""init redacts secrets in what it captures, and leaves out the paths a project excludes."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from sdk_support import Sdk

from lablink.sdk import capture
from lablink.sdk.capture import REDACTED_TAG
from lablink.sdk.redact import REDACTED
from lablink.settings import Settings

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0" + "p9O8n7M6l5K4j3I2"
KEY_LINE = "MIIEowIBAAKCAQEAuNIGHTLYsecretBODYline"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def stored_diff(sdk: Sdk, run_id: str, dest: Path) -> str:
    digest = sdk.client.run(run_id).git.diff_digest
    assert digest is not None
    return sdk.client._transport.download_blob(digest, dest).read_text()


def test_secrets_in_the_diff_argv_and_config_are_redacted(
    sdk: Sdk, git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (git_repo / "train.py").write_text(f"print('train')\nclient = S3('{AWS_KEY}')\n")
    (git_repo / "deploy.pem").write_text(
        f"-----BEGIN RSA PRIVATE KEY-----\n{KEY_LINE}\n-----END RSA PRIVATE KEY-----\n"
    )
    git(git_repo, "add", "deploy.pem")  # staged: its content is in `git diff HEAD`
    monkeypatch.chdir(git_repo)
    monkeypatch.setattr(sys, "orig_argv", ["python", "train.py", "--token", GITHUB, "--lr", "1"])
    config = {"lr": 1, "db": {"password": "hunter22"}}
    with sdk.init(config=config, tags=["night"]) as run:
        pass
    stored = sdk.client.run(run.id)
    diff = stored_diff(sdk, run.id, tmp_path / "diff")
    assert AWS_KEY not in diff and KEY_LINE not in diff
    assert f"+client = S3('{REDACTED}')" in diff
    assert f"+-----BEGIN RSA PRIVATE KEY-----\n+{REDACTED}\n" in diff
    assert list(stored.command) == ["python", "train.py", "--token", REDACTED, "--lr", "1"]
    assert stored.config["db"] == {"password": REDACTED} and stored.config["lr"] == 1
    assert config["db"] == {"password": "hunter22"}  # the caller's dict is left alone
    assert set(stored.tags) == {"night", REDACTED_TAG}
    notes = [n.text for n in stored.notes]
    assert len(notes) == 1
    for kind in ("AWS Access Key", "Private Key", "GitHub Token", "Secret Keyword"):
        assert kind in notes[0]
    for secret in (AWS_KEY, KEY_LINE, GITHUB, "hunter22"):
        assert secret not in notes[0]


def test_nothing_to_redact_adds_no_tag_or_note(
    sdk: Sdk, git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (git_repo / "train.py").write_text("print('train')\nlr = 0.3\n")
    monkeypatch.chdir(git_repo)
    monkeypatch.setattr(sys, "orig_argv", ["python", "train.py", "--lr", "0.3"])
    with sdk.init(config={"lr": 0.3}) as run:
        pass
    stored = sdk.client.run(run.id)
    assert REDACTED_TAG not in stored.tags and not stored.notes
    assert list(stored.command) == ["python", "train.py", "--lr", "0.3"]


def test_excluded_paths_are_left_out_of_the_diff(
    sdk: Sdk, git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (git_repo / "secrets").mkdir()
    (git_repo / "secrets" / "creds.txt").write_text("the vault combination is 1-2-3\n")
    (git_repo / "conf").mkdir()
    (git_repo / "conf" / "prod.env").write_text("MODE=production-only-text\n")
    (git_repo / "train.py").write_text("print('train')\nlr = 0.3\n")
    monkeypatch.chdir(git_repo / "conf")  # patterns count from the root, not from here
    settings = dataclasses.replace(sdk.settings, capture_exclude=("secrets/*", "*.env"))
    with Sdk(sdk.kind, settings, sdk.lab, sdk.client).init() as run:
        pass
    stored = sdk.client.run(run.id)
    assert stored.git.dirty is True
    diff = stored_diff(sdk, run.id, tmp_path / "diff")
    assert "+lr = 0.3" in diff
    assert "vault combination" not in diff and "production-only-text" not in diff
    kept, left_out = diff.split("# changed, left out by [capture] exclude:\n", 1)
    assert "# secrets/creds.txt\n" in left_out and "# conf/prod.env\n" in left_out
    assert "creds.txt" not in kept and "prod.env" not in kept  # not listed as untracked


def test_only_excluded_changes_still_make_the_tree_dirty(git_repo: Path) -> None:
    (git_repo / "secrets").mkdir()
    (git_repo / "secrets" / "a.key").write_text("x\n")
    fields, diff = capture.git_state(git_repo, exclude=["secrets"])
    assert fields["git_dirty"] is True
    assert diff is not None and b"# secrets/a.key" in diff and b"\n+x" not in diff


def test_exclude_comes_from_lablink_toml(git_repo: Path) -> None:
    (git_repo / "lablink.toml").write_text('[capture]\nexclude = ["secrets/*", "*.pem"]\n')
    settings = Settings.load(environ={}, cwd=git_repo)
    assert settings.capture_exclude == ("secrets/*", "*.pem")
    env = Settings.load(environ={"LABLINK_CAPTURE_EXCLUDE": "a/*, b"}, cwd=git_repo)
    assert env.capture_exclude == ("a/*", "b")


def test_a_bad_exclude_is_a_clear_error(git_repo: Path) -> None:
    import lablink

    (git_repo / "lablink.toml").write_text('[capture]\nexclude = "secrets/*"\n')
    assert Settings.load(environ={}, cwd=git_repo).capture_exclude == ("secrets/*",)
    (git_repo / "lablink.toml").write_text("[capture]\nexclude = [1, 2]\n")
    with pytest.raises(lablink.InvalidInput, match="exclude must be a list of path patterns"):
        Settings.load(environ={}, cwd=git_repo)


def test_a_diff_that_cannot_be_scanned_is_left_out(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from lablink.sdk import redact

    def broken(diff: bytes) -> tuple[bytes, set[str]]:
        raise RuntimeError("scanner broke")

    monkeypatch.setattr(redact, "redact_diff", broken)
    (git_repo / "train.py").write_text(f"key = '{AWS_KEY}'\n")
    found = capture.capture(git_repo)
    assert found.diff is None and "git_diff_digest" not in found.fields
    assert found.fields["git_dirty"] is True
    assert any("leaving it out" in r.getMessage() for r in caplog.records)
