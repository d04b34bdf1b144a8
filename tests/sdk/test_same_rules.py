"""The SDK refuses exactly what the server refuses, before it sends or spools anything.

Each case goes to a real server on loopback as a raw request and through the checks
``lablink.init`` runs first; the two verdicts must agree. On PostgreSQL a NUL the
SDK let through would surface as a refusal only after the run was spooled.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sdk_support import FAST

import lablink
from helpers import LoopbackServer, free_port
from lablink.checks import widths
from lablink.checks.keys import metric_key_problem
from lablink.checks.names import new_run_id
from lablink.checks.run_fields import check_new_run
from lablink.errors import InvalidInput
from lablink.settings import Settings

API = "/api/v1"

RUNS: list[dict[str, Any]] = [
    # accepted
    {"project": "vision"},
    {"project": "a" * widths.NAME, "name": "  padded  "},
    {"project": "p", "name": "ünïcode λ", "tags": ["t" * widths.TAG, "x-y_z"]},
    {"project": "p", "config": {"lr": 3e-4, "m": {"depth": [1, 2]}, "big": 2**63 - 1}},
    # refused: the project
    {"project": ""},
    {"project": ".hidden"},
    {"project": "a" * (widths.NAME + 1)},
    {"project": "a b"},
    {"project": "vision\n"},
    {"project": "é"},
    {"project": "٣"},
    {"project": 5},
    # refused: the name
    {"project": "p", "name": "n" * (widths.RUN_NAME + 1)},
    {"project": "p", "name": " " + "n" * widths.RUN_NAME},
    {"project": "p", "name": "a\x00b"},
    {"project": "p", "name": "a\ud800"},
    {"project": "p", "name": 5},
    # refused: the tags
    {"project": "p", "tags": ["a b"]},
    {"project": "p", "tags": [""]},
    {"project": "p", "tags": ["t" * (widths.TAG + 1)]},
    {"project": "p", "tags": ["a\x00"]},
    {"project": "p", "tags": [str(i) for i in range(101)]},
    {"project": "p", "tags": [5]},
    # refused: the config
    {"project": "p", "config": {"a": 2**63}},
    {"project": "p", "config": {"a": "\x00"}},
    {"project": "p", "config": {"k\x00": 1}},
    {"project": "p", "config": {"x": "y" * 300_000}},
    {"project": "p", "config": {f"p{i}": i for i in range(5_001)}},
]
KEYS = [
    "train/loss",
    "ünïcode/λ",
    "a b",
    "k" * 250,
    "k" * 251,
    "",
    " ",
    "a\tb",
    "a\x00b",
    "a\x7fb",
    "a\x85b",
    "a\u2028b",
    "a\ud800",
]


def sdk_refuses(case: dict[str, Any]) -> bool:
    try:
        check_new_run(
            case["project"],
            case.get("name"),
            case.get("config", {}),
            case.get("tags", []),
            new_run_id(),
        )
    except InvalidInput:
        return True
    return False


def post(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    """JSON as the SDK sends it: ASCII, so a lone surrogate travels as ``\\ud800``."""
    headers = {"Content-Type": "application/json"}
    return client.post(f"{API}{path}", content=json.dumps(body), headers=headers)


def server_refuses(client: httpx.Client, body: dict[str, Any]) -> bool:
    answer = post(client, "/runs", body)
    assert answer.status_code < 500, answer.text
    return answer.is_client_error


def test_runs_the_server_refuses_the_sdk_refuses(server: LoopbackServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        verdicts = [(server_refuses(client, case), sdk_refuses(case)) for case in RUNS]
    differ = [(case, v) for case, v in zip(RUNS, verdicts, strict=True) if v[0] != v[1]]
    assert differ == []
    assert [s for s, _ in verdicts].count(False) == 4  # the cases meant to pass did


def test_metric_keys_the_server_refuses_the_sdk_skips(server: LoopbackServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        run_id = client.post(f"{API}/runs", json={"project": "keys"}).json()["id"]
        differ = []
        for seq, key in enumerate(KEYS):
            series = {"steps": [0], "times": [1.0], "values": [0.5]}
            answer = post(client, f"/runs/{run_id}/batches", {"seq": seq, "metrics": {key: series}})
            assert answer.status_code < 500, answer.text
            if answer.is_client_error != (metric_key_problem(key) is not None):
                differ.append((key, answer.status_code))
    assert differ == []


def test_init_refuses_a_bad_run_with_no_server_and_spools_nothing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spool = tmp_path / "spool"
    away = dataclasses.replace(
        settings, server=f"http://127.0.0.1:{free_port()}", spool_dir=spool, **FAST
    )
    bad = [({"project": "a b"}, "project name"), ({"project": "p", "tags": ["a\x00"]}, "tag")]
    for fields, what in bad:
        with pytest.raises(InvalidInput, match=what):
            lablink.init(settings=away, **fields)
    assert [p for p in spool.rglob("*") if p.is_file()] == []
