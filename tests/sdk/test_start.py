"""``lablink.init`` off the caller's path, and many runs at once (issue 18).

init checks a run's fields and returns; the run's sender thread captures where it
comes from and creates it on the server before anything else of it is sent.
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from sdk_support import Flaky, Sdk

import lablink
from lablink.errors import AlreadyExists, Forbidden, InvalidInput, NotFound
from lablink.models import NewRun
from lablink.sdk.transport import Transport
from lablink.sdk.wire import ssl_context
from lablink.settings import default_user


class HeldCreate:
    """A transport whose ``create_run`` waits until the test releases it."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.release = threading.Event()
        self.asked = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def create_run(self, *args: Any, **kwargs: Any) -> Any:
        self.asked.set()
        assert self.release.wait(30), "the test never released the create"
        return self.inner.create_run(*args, **kwargs)


def test_init_and_log_return_before_the_server_has_answered(sdk: Sdk) -> None:
    held = HeldCreate(sdk.transport())
    run = lablink.init(project="held", config={"lr": 0.1}, settings=sdk.settings, transport=held)  # type: ignore[arg-type]
    run.log({"x": 1.0}, step=0)
    assert held.asked.wait(30)  # the sender is waiting on the server, the caller is not
    with pytest.raises(NotFound, match="no run"):
        sdk.client.run(run.id)
    held.release.set()
    run.finish()
    stored = sdk.client.run(run.id)
    assert (stored.status, stored.config, stored.user) == (
        "finished",
        {"lr": 0.1},
        sdk.settings.user,
    )
    assert sdk.points(run.id, "x") == [0]
    # what the background thread captured reached the run
    assert stored.host and stored.python_version and stored.packages and stored.command


def test_sync_waits_for_the_run_to_exist(sdk: Sdk) -> None:
    with sdk.init(tags=["first"]) as run:
        assert run.sync()
        assert sdk.client.run(run.id).tags == ["first"]


def test_a_run_the_server_refuses_keeps_every_update_and_says_so(
    sdk: Sdk, caplog: pytest.LogCaptureFixture
) -> None:
    flaky = Flaky(sdk.transport())
    flaky.refuse["create_run"] = Forbidden("test: not a member of project refused", "ask")
    caplog.set_level(logging.ERROR, logger="lablink.sdk")
    with lablink.init(project="refused", settings=sdk.settings, transport=flaky) as run:  # type: ignore[arg-type]
        run.log({"x": 1.0}, step=0)
        run.note("kept")
    kept = Path(sdk.settings.spool_dir) / "failed" / f"{run.id}.jsonl"
    ops = [json.loads(line) for line in kept.read_text().splitlines()]
    kinds = [op["op"] for op in ops]
    assert kinds[0] == "create" and kinds[-1] == "finish"
    assert {"batch", "note"} <= set(kinds)
    assert all("not a member" in op["error"] for op in ops)
    assert "refused to create run" in caplog.text and str(kept) in caplog.text
    assert flaky.calls.count("create_run") == 1  # nothing else was sent for the run
    assert not {"log_batch", "note", "finish_run"} & set(flaky.calls)
    with pytest.raises(NotFound, match="no run"):
        sdk.client.run(run.id)


def test_create_runs_stores_each_run_as_one_create_would(sdk: Sdk) -> None:
    wanted = [
        {"project": "many", "name": f"r{i}", "config": {"lr": i / 10}, "tags": ["sweep"]}
        for i in range(1200)  # two requests
    ]
    ids = sdk.client.create_runs([*wanted, NewRun("many", capture={"host": "node7"})])
    assert len(set(ids)) == 1201
    _, total = sdk.client.search("many", limit=1)
    assert total == 1201
    one = sdk.client.run(ids[7])
    assert (one.name, one.config, one.params, one.tags) == (
        "r7",
        {"lr": 0.7},
        {"lr": 0.7},
        ["sweep"],
    )
    assert (one.status, one.user) == ("running", sdk.settings.user)
    assert sdk.client.run(ids[-1]).host == "node7"


def test_create_runs_stores_all_or_none(sdk: Sdk) -> None:
    taken = sdk.client.create_runs([{"project": "whole", "id": "taken-run"}])
    assert taken == ["taken-run"]
    with pytest.raises(InvalidInput, match=r"runs\W+1\W.*project"):
        sdk.client.create_runs([{"project": "whole"}, {"project": "no spaces"}])
    with pytest.raises(AlreadyExists, match=r"runs\[1\]: run taken-run already exists"):
        sdk.client.create_runs([{"project": "whole"}, {"project": "whole", "id": "taken-run"}])
    with pytest.raises(InvalidInput, match=r"runs\[0\] and runs\[2\] have the same id"):
        sdk.client.create_runs([{"project": "whole", "id": f"twice-{i % 2}"} for i in range(3)])
    assert sdk.client.search("whole", limit=1)[1] == 1


def test_the_default_user_follows_the_repositorys_git_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "first@lab.org")
    assert default_user(tmp_path) == default_user(tmp_path) == "first@lab.org"
    git("config", "user.email", "second-person@lab.org")  # the config file changes
    assert default_user(tmp_path) == "second-person@lab.org"
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "user.email")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "from-env@lab.org")
    assert default_user(tmp_path) == "from-env@lab.org"


def test_one_ssl_context_serves_until_the_certificates_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import certifi

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    first = ssl_context()
    assert ssl_context() is first
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    mine = ssl_context()
    assert mine is not first and ssl_context() is mine
    bundle.write_text("not a certificate")  # changed in place: read again, and refused
    with pytest.raises(InvalidInput, match="cannot load the certificates"):
        ssl_context()


def test_a_capture_serves_only_runs_started_before_it_began(tmp_path: Path) -> None:
    import time

    from lablink.sdk.opening import shared_capture

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "train.py").write_text("lr = 1\n")
    git("add", ".")
    git("-c", "user.email=a@b.c", "-c", "user.name=a", "commit", "-qm", "first")
    (tmp_path / "train.py").write_text("lr = 2\n")
    before = time.monotonic()
    first = shared_capture(tmp_path, [], [], before)
    again = shared_capture(tmp_path, [], [], before)  # asked before the first began
    assert again.diff is first.diff and first.diff is not None and b"lr = 2" in first.diff
    again.fields["watch"] = {"heartbeat": "1m"}  # each run's own copy of the fields
    assert "watch" not in first.fields
    (tmp_path / "train.py").write_text("lr = 3\n")
    later = shared_capture(tmp_path, [], [], time.monotonic())  # a run started after it
    assert later.diff is not None and b"lr = 3" in later.diff
