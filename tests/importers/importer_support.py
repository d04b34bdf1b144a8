"""A real ``mlflow server`` (SQLite) on loopback, and MLflow runs to import from it."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from typer.testing import CliRunner, Result

from lablink.cli.main import app
from mlflow import MlflowClient

START_MS = 1_700_000_000_000
COMMIT = "c0ffee" + "0" * 34


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MlflowServer:
    """``mlflow server`` on 127.0.0.1 over an SQLite store, as a child process."""

    work: Path
    url: str = ""
    artifacts: Path = field(init=False)
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.artifacts = self.work / "artifacts"

    def start(self) -> MlflowServer:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        exe = Path(sys.executable).with_name("mlflow")
        env = {
            **os.environ,
            # the job runner needs huey, which mlflow-skinny leaves out; tracking does not
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        }
        self.log = (self.work / "mlflow.log").open("wb")
        self.proc = subprocess.Popen(
            [
                str(exe),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{self.work / 'mlflow.db'}",
                "--artifacts-destination",
                str(self.artifacts),
            ],
            stdout=self.log,
            stderr=self.log,
            env=env,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError(
            "mlflow server did not start: " + (self.work / "mlflow.log").read_text()[-2000:]
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.log.close()


def history(n: int, key_offset: float = 0.0) -> list[tuple[int, int, float]]:
    """(step, ms, value) points, with a repeated step, NaN and infinities among them."""
    points = [(s, START_MS + 1000 * s, key_offset + 1.0 / (s + 1)) for s in range(n)]
    points.append((n - 1, START_MS + 1000 * n, key_offset))  # the same step logged again
    points += [
        (n, START_MS + 1000 * (n + 1), math.nan),
        (n + 1, START_MS + 1000 * (n + 2), math.inf),
    ]
    return points


def populate(client: MlflowClient, tmp: Path, prefix: str = "", big: int = 0) -> dict[str, Any]:
    """Experiments and runs with params, tags, histories and nested artifacts.

    Answers what was written, by run id, to compare an import with.
    """
    written: dict[str, Any] = {}
    vision = client.create_experiment(f"{prefix}vision", tags={"team": "cv"})
    nlp = client.create_experiment(f"{prefix}nlp text")
    client.create_experiment(f"{prefix}empty", tags={"note": "no runs yet"})
    files = tmp / "files"
    (files / "model" / "weights").mkdir(parents=True, exist_ok=True)
    (files / "model" / "MLmodel").write_text("flavors: {}\n")
    blob = os.urandom(big) if big else b"\x00\x01" * 2048
    (files / "model" / "weights" / "w.bin").write_bytes(blob)
    (files / "notes.txt").write_text("ok\n")
    specs = [
        (
            vision,
            "resnet-a",
            "FINISHED",
            {"lr": "0.01", "epochs": "10", "aug": "True", "opt": "adam"},
        ),
        (vision, "resnet-b", "FAILED", {"lr": "0.1", "epochs": "3"}),
        (nlp, "bert", "RUNNING", {"seq": "128"}),
    ]
    for i, (eid, name, status, params) in enumerate(specs):
        tags = {
            "mlflow.user": f"user{i}@example.org",
            "mlflow.source.git.commit": COMMIT,
            "team": "a" if i else "b",
        }
        run = client.create_run(eid, start_time=START_MS + i, run_name=name, tags=tags)
        rid = run.info.run_id
        client.log_batch(rid, params=[Param(k, v) for k, v in params.items()])
        metrics = {"train/loss": history(300 + i), "val acc": history(20, 1.0)}
        for key, points in metrics.items():
            batch = [Metric(key, v, ms, s) for s, ms, v in points]
            for at in range(0, len(batch), 1000):
                client.log_batch(rid, metrics=batch[at : at + 1000])
        client.log_batch(rid, tags=[RunTag("stage", "dev")])
        if i == 0:
            client.log_artifacts(rid, str(files), "outputs")
            client.log_artifact(rid, str(files / "notes.txt"))
        if status != "RUNNING":
            client.set_terminated(rid, status, end_time=START_MS + 60_000 + i)
        written[rid] = {
            "experiment": client.get_experiment(eid).name,
            "name": name,
            "status": status,
            "params": params,
            "metrics": metrics,
            "artifacts": (
                {
                    "outputs/model/MLmodel": b"flavors: {}\n",
                    "outputs/model/weights/w.bin": blob,
                    "outputs/notes.txt": b"ok\n",
                    "notes.txt": b"ok\n",
                }
                if i == 0
                else {}
            ),
            "user": tags["mlflow.user"],
            "start_ms": START_MS + i,
        }
    child = client.create_run(
        vision, run_name="child", tags={"mlflow.parentRunId": next(iter(written))}
    )
    client.set_terminated(child.info.run_id, "FINISHED")
    written[child.info.run_id] = {
        "experiment": f"{prefix}vision",
        "name": "child",
        "status": "FINISHED",
        "params": {},
        "metrics": {},
        "artifacts": {},
        "user": None,
        "start_ms": None,
    }
    return written


class Cli:
    """Runs ``lablink`` in-process; exceptions other than exits propagate."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        return result
