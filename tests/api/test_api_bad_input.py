"""Bad input to every route: a 4xx JSON envelope naming the problem, and nothing stored.

One table of requests runs against the real server on SQLite and on PostgreSQL (which
refuses NUL characters, over-long text and out-of-range numbers that SQLite accepts,
so both backends are needed to prove "no 500 on bad input").
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apitools import API, JSON, assert_envelope, post_batch, series, served_spec

from helpers import LoopbackServer, make_settings
from lablink.checks.batchwire import CONTENT_TYPE
from lablink.core.lab import Lab

ZERO = "sha256:" + "0" * 64
BINARY = {"Content-Type": CONTENT_TYPE}
OK_SERIES = series([0], [1.0])


@dataclasses.dataclass
class Case:
    """One bad request and the answer it must get."""

    name: str
    method: str
    path: str
    status: int
    code: str | None = "bad_request"
    json: Any = None
    content: bytes | str | None = None
    params: Any = None
    headers: dict[str, Any] | None = None
    contains: str | None = None  # a word the message must hold


def batch(metrics: Any, seq: Any = 5, **extra: Any) -> str:
    return json.dumps({"seq": seq, "metrics": metrics, **extra})


def binary(header: str, payload: bytes = b"") -> bytes:
    """A binary batch with a hand-written header (see checks/batchwire.py)."""
    raw = header.encode()
    return b"LLB1" + struct.pack("<I", len(raw)) + raw + payload


def row(*values: float) -> bytes:
    """One point (step 0, time 0, value) of a binary batch."""
    return struct.pack("<qdd", 0, 0.0, *values)


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"x": 1}
    for _ in range(levels):
        value = {"a": value}
    return value


def cases(run: str, ended: str, blob: str) -> list[Case]:
    """Every route with malformed JSON, wrong types, unknown ids and bad values."""
    r, f = f"{API}/runs/{run}", f"{API}/runs/{ended}"
    nope = f"{API}/runs/nosuchrun"
    deep: Any = 1
    for _ in range(100):
        deep = {"a": deep}
    # fmt: off
    # One request per line, so the cases read as a table.
    return [
        # -- create -----------------------------------------------------------------
        Case("create: malformed JSON", "POST", f"{API}/runs", 400, content='{"project": ', contains="JSON"),
        Case("create: not an object", "POST", f"{API}/runs", 400, json=["vision"]),
        Case("create: no body", "POST", f"{API}/runs", 400, content=b"", contains="body"),
        Case("create: missing project", "POST", f"{API}/runs", 400, json={}, contains="project"),
        Case("create: project a number", "POST", f"{API}/runs", 400, json={"project": 5}, contains="project"),
        Case("create: bad project name", "POST", f"{API}/runs", 400, json={"project": "a b/c"}, contains="project"),
        Case("create: project too long", "POST", f"{API}/runs", 400, json={"project": "p" * 201}),
        Case("create: tags a string", "POST", f"{API}/runs", 400, json={"project": "x", "tags": "a"}, contains="tags"),
        Case("create: tag with space", "POST", f"{API}/runs", 400, json={"project": "x", "tags": ["a b"]}, contains="tag"),
        Case("create: unknown field", "POST", f"{API}/runs", 400, json={"project": "x", "colour": 1}, contains="colour"),
        Case("create: config a list", "POST", f"{API}/runs", 400, json={"project": "x", "config": [1]}, contains="config"),
        Case("create: NUL in name", "POST", f"{API}/runs", 400, json={"project": "x", "name": "a\x00b"}, contains="NUL"),
        Case("create: NUL in config", "POST", f"{API}/runs", 400, json={"project": "x", "config": {"k\x00": 1}}, contains="NUL"),
        Case("create: lone surrogate", "POST", f"{API}/runs", 400, content='{"project": "x", "config": {"k": "\\ud800"}}', headers=JSON, contains="surrogate"),
        Case("create: 100-digit integer", "POST", f"{API}/runs", 400, json={"project": "x", "config": {"seed": 10**100}}, contains="64 bits"),
        Case("create: nested too deep", "POST", f"{API}/runs", 400, json={"project": "x", "config": deep}, contains="deeper"),
        Case("create: name too long", "POST", f"{API}/runs", 400, json={"project": "x", "name": "n" * 501}, contains="name"),
        Case("create: bad id", "POST", f"{API}/runs", 400, json={"project": "x", "id": "a/b"}, contains="id"),
        Case("create: config over 256 KiB", "POST", f"{API}/runs", 400, json={"project": "x", "config": {"x": [1] * 200_000}}, contains="config"),
        Case("create: config over 5000 params", "POST", f"{API}/runs", 400, json={"project": "x", "config": {f"p{i}": i for i in range(5001)}}, contains="params"),
        Case("create: 101 tags", "POST", f"{API}/runs", 400, json={"project": "x", "tags": [f"t{i}" for i in range(101)]}, contains="tags"),
        Case("create: existing id", "POST", f"{API}/runs", 409, "already_exists", json={"project": "x", "id": run}),
        Case("create: capture not an object", "POST", f"{API}/runs", 400, json={"project": "x", "capture": "gpu"}, contains="capture"),
        # -- batch create: each run checked as one create, all or none ----------------
        Case("batch: not an object", "POST", f"{API}/runs/batch", 400, json=[{"project": "x"}]),
        Case("batch: no runs key", "POST", f"{API}/runs/batch", 400, json={}, contains="runs"),
        Case("batch: runs not a list", "POST", f"{API}/runs/batch", 400, json={"runs": {"project": "x"}}, contains="runs"),
        Case("batch: empty list", "POST", f"{API}/runs/batch", 400, json={"runs": []}, contains="runs"),
        Case("batch: over 1000 runs", "POST", f"{API}/runs/batch", 400, json={"runs": [{"project": "x"}] * 1001}, contains="runs"),
        Case("batch: bad project name", "POST", f"{API}/runs/batch", 400, json={"runs": [{"project": "x"}, {"project": "a b"}]}, contains="project"),
        Case("batch: unknown field", "POST", f"{API}/runs/batch", 400, json={"runs": [{"project": "x", "colour": 1}]}, contains="colour"),
        Case("batch: 101 tags", "POST", f"{API}/runs/batch", 400, json={"runs": [{"project": "x", "tags": [f"t{i}" for i in range(101)]}]}, contains="runs[0]"),
        Case("batch: one id twice", "POST", f"{API}/runs/batch", 400, json={"runs": [{"project": "x", "id": "twice1"}, {"project": "x", "id": "twice1"}]}, contains="same id"),
        Case("batch: existing id", "POST", f"{API}/runs/batch", 409, "already_exists", json={"runs": [{"project": "x"}, {"project": "x", "id": run}]}, contains="runs[1]"),
        Case("batch: capture not an object", "POST", f"{API}/runs/batch", 400, json={"runs": [{"project": "x", "capture": "gpu"}]}, contains="capture"),
        # -- search and show --------------------------------------------------------
        Case("search: bad filter", "GET", f"{API}/runs", 400, "bad_filter", params={"filter": "metrics.loss >> 1"}, contains="position"),
        Case("search: unknown field", "GET", f"{API}/runs", 400, "bad_filter", params={"filter": "colour = 1"}, contains="colour"),
        Case("search: limit not a number", "GET", f"{API}/runs", 400, params={"limit": "ten"}, contains="limit"),
        Case("search: limit zero", "GET", f"{API}/runs", 400, params={"limit": 0}, contains="limit"),
        Case("search: negative offset", "GET", f"{API}/runs", 400, params={"offset": -1}, contains="offset"),
        Case("search: huge offset", "GET", f"{API}/runs", 400, params={"offset": 10**30}),
        Case("search: desc not a bool", "GET", f"{API}/runs", 400, params={"desc": "maybe"}, contains="desc"),
        Case("search: bad sort", "GET", f"{API}/runs", 400, params={"sort": "colour"}, contains="sort"),
        Case("search: unknown project", "GET", f"{API}/runs", 404, "not_found", params={"project": "nosuch"}),
        Case("search: unknown field in fields", "GET", f"{API}/runs", 400, params={"fields": "id,colour"}, contains="colour"),
        Case("search: fields too long", "GET", f"{API}/runs", 400, params={"fields": "id," * 1000}, contains="fields"),
        Case("show: unknown run", "GET", nope, 404, "not_found", contains="nosuchrun"),
        Case("show: short unknown prefix", "GET", f"{API}/runs/ab", 404, "not_found"),
        Case("show: NUL in id", "GET", f"{API}/runs/ab%00cd", 400, contains="NUL"),
        # -- batches ----------------------------------------------------------------
        Case("batch: malformed JSON", "POST", f"{r}/batches", 400, content='{"seq": 5, "metrics": {', contains="JSON"),
        Case("batch: empty body", "POST", f"{r}/batches", 400, content=b"", contains="empty"),
        Case("batch: not UTF-8", "POST", f"{r}/batches", 400, content=b'{"seq": 5, "metrics": {"\xff": 1}}', contains="UTF-8"),
        Case("batch: a list", "POST", f"{r}/batches", 400, content="[1, 2]", contains="object"),
        Case("batch: no seq", "POST", f"{r}/batches", 400, content='{"metrics": {}}', contains="seq"),
        Case("batch: seq text", "POST", f"{r}/batches", 400, content=batch({"k": OK_SERIES}, seq="5"), contains="seq"),
        Case("batch: seq negative", "POST", f"{r}/batches", 400, content=batch({"k": OK_SERIES}, seq=-1), contains="seq"),
        Case("batch: seq 2**63", "POST", f"{r}/batches", 400, content=batch({"k": OK_SERIES}, seq=2**63), contains="seq"),
        Case("batch: seq 2**62 + 1", "POST", f"{r}/batches", 400, content=batch({"k": OK_SERIES}, seq=2**62 + 1), contains="seq"),
        Case("batch: seq a bool", "POST", f"{r}/batches", 400, content=batch({"k": OK_SERIES}, seq=True), contains="seq"),
        Case("batch: unknown field", "POST", f"{r}/batches", 400, content=batch({}, run="x"), contains="run"),
        Case("batch: metrics a list", "POST", f"{r}/batches", 400, content=batch([1]), contains="metrics"),
        Case("batch: empty key", "POST", f"{r}/batches", 400, content=batch({"": OK_SERIES}), contains="empty"),
        Case("batch: blank key", "POST", f"{r}/batches", 400, content=batch({"  ": OK_SERIES}), contains="empty"),
        Case("batch: key too long", "POST", f"{r}/batches", 400, content=batch({"k" * 251: OK_SERIES}), contains="251"),
        Case("batch: key with control", "POST", f"{r}/batches", 400, content=batch({"a\tb": OK_SERIES}), contains="control"),
        Case("batch: key surrogate", "POST", f"{r}/batches", 400, content='{"seq": 5, "metrics": {"\\udc80": {"steps": [0], "times": [0], "values": [1]}}}', contains="surrogate"),
        Case("batch: series a number", "POST", f"{r}/batches", 400, content=batch({"k": 1.0}), contains="'k'"),
        Case("batch: no times", "POST", f"{r}/batches", 400, content=batch({"k": {"steps": [0], "values": [1]}}), contains="times"),
        Case("batch: lengths differ", "POST", f"{r}/batches", 400, content=batch({"k": {"steps": [0, 1], "times": [0], "values": [1]}}), contains="length"),
        Case("batch: text value", "POST", f"{r}/batches", 400, content=batch({"k": {"steps": [0], "times": [0], "values": ["high"]}}), contains="number"),
        Case("batch: bool value", "POST", f"{r}/batches", 400, content=batch({"k": {"steps": [0], "times": [0], "values": [True]}}), contains="number"),
        Case("batch: nested values", "POST", f"{r}/batches", 400, content=batch({"k": {"steps": [0], "times": [0], "values": [[1, 2]]}}), contains="flat"),
        Case("batch: huge integer", "POST", f"{r}/batches", 400, content=batch({"k": {"steps": [0], "times": [0], "values": [10**400]}}), contains="number"),
        Case("batch: fractional step", "POST", f"{r}/batches", 400, content=batch({"k": {"steps": [0.5], "times": [0], "values": [1]}}), contains="steps"),
        Case("batch: negative step", "POST", f"{r}/batches", 400, content=batch({"k": {"steps": [-1], "times": [0], "values": [1]}}), contains="steps"),
        Case("batch: step too large", "POST", f"{r}/batches", 400, content=batch({"k": {"steps": [2**63], "times": [0], "values": [1]}}), contains="steps"),
        Case("batch: text step after a number", "POST", f"{r}/batches", 400, content=batch({"k": {"steps": [7, "8"], "times": [0, 0], "values": [1, 2]}}), contains="steps"),
        Case("batch: bool step after a number", "POST", f"{r}/batches", 400, content=batch({"k": {"steps": [7, True], "times": [0, 0], "values": [1, 2]}}), contains="steps"),
        Case("batch: text time after a number", "POST", f"{r}/batches", 400, content=batch({"k": {"steps": [7, 8], "times": [0, "1"], "values": [1, 2]}}), contains="times"),
        Case("batch: text value after a number", "POST", f"{r}/batches", 400, content=batch({"k": {"steps": [7, 8], "times": [0, 0], "values": [1, "2"]}}), contains="values"),
        Case("batch: bool value after a number", "POST", f"{r}/batches", 400, content=batch({"k": {"steps": [7, 8], "times": [0, 0], "values": [1, False]}}), contains="values"),
        Case("batch: step 2**63 among floats", "POST", f"{r}/batches", 400, content=batch({"k": {"steps": [1.0, 2**63], "times": [0, 0], "values": [1, 2]}}), contains="steps"),
        Case("batch: key with DEL", "POST", f"{r}/batches", 400, content=batch({"a\x7fb": OK_SERIES}), contains="control"),
        Case("batch: key with U+2028", "POST", f"{r}/batches", 400, content=batch({"a\u2028b": OK_SERIES}), contains="control"),
        Case("batch: key with U+2029", "POST", f"{r}/batches", 400, content=batch({"a\u2029b": OK_SERIES}), contains="control"),
        Case("batch: key with C1 control", "POST", f"{r}/batches", 400, content=batch({"a\x85b": OK_SERIES}), contains="control"),
        Case("batch: too many metrics", "POST", f"{r}/batches", 400, content=batch({f"k{i}": OK_SERIES for i in range(10_001)}), contains="10000"),
        Case("binary: Infinity count", "POST", f"{r}/batches", 400, content=binary('{"seq":5,"keys":[["k",Infinity]]}', row(1.0)), headers=BINARY, contains="Infinity"),
        Case("binary: NaN seq", "POST", f"{r}/batches", 400, content=binary('{"seq":NaN,"keys":[["k",1]]}', row(1.0)), headers=BINARY, contains="NaN"),
        Case("binary: float count", "POST", f"{r}/batches", 400, content=binary('{"seq":5,"keys":[["k",1.0]]}', row(1.0)), headers=BINARY, contains="count"),
        Case("binary: bool count", "POST", f"{r}/batches", 400, content=binary('{"seq":5,"keys":[["k",true]]}', row(1.0)), headers=BINARY, contains="count"),
        Case("binary: huge count", "POST", f"{r}/batches", 400, content=binary('{"seq":5,"keys":[["k",' + str(2**64) + ']]}', row(1.0)), headers=BINARY, contains="count"),
        Case("binary: number key", "POST", f"{r}/batches", 400, content=binary('{"seq":5,"keys":[[5,1]]}', row(1.0)), headers=BINARY, contains="text key"),
        Case("binary: key with DEL", "POST", f"{r}/batches", 400, content=binary('{"seq":5,"keys":[["a\\u007f",1]]}', row(1.0)), headers=BINARY, contains="control"),
        Case("binary: seq text", "POST", f"{r}/batches", 400, content=binary('{"seq":"5","keys":[["k",1]]}', row(1.0)), headers=BINARY, contains="seq"),
        Case("binary: seq 2**63", "POST", f"{r}/batches", 400, content=binary('{"seq":' + str(2**63) + ',"keys":[["k",1]]}', row(1.0)), headers=BINARY, contains="seq"),
        Case("binary: header not an object", "POST", f"{r}/batches", 400, content=binary('[5]', row(1.0)), headers=BINARY, contains="header"),
        Case("binary: header longer than body", "POST", f"{r}/batches", 400, content=b"LLB1" + struct.pack("<I", 10**6) + b"{}", headers=BINARY, contains="header"),
        Case("binary: header not UTF-8", "POST", f"{r}/batches", 400, content=binary("x") + b"\xff", headers=BINARY),
        Case("batch: NaN time", "POST", f"{r}/batches", 400, content='{"seq": 5, "metrics": {"k": {"steps": [0], "times": [NaN], "values": [1]}}}', contains="times"),
        Case("batch: unknown run", "POST", f"{nope}/batches", 404, "not_found", content=batch({"k": OK_SERIES})),
        Case("batch: finished run", "POST", f"{f}/batches", 409, "run_not_active", content=batch({"k": OK_SERIES}), contains="finished"),
        # -- heartbeat, finish, summary, tags, notes, inputs, stop ----------------------
        Case("heartbeat: seq text", "POST", f"{r}/heartbeat", 400, json={"seq": "1"}, contains="seq"),
        Case("heartbeat: empty system key", "POST", f"{r}/heartbeat", 400, json={"system": {"": 1.0}, "seq": 9}, contains="empty"),
        Case("heartbeat: system text value", "POST", f"{r}/heartbeat", 400, json={"system": {"cpu": "high"}, "seq": 9}, contains="system"),
        Case("heartbeat: negative seq", "POST", f"{r}/heartbeat", 400, json={"system": {"cpu": 1.0}, "seq": -2}, contains="seq"),
        Case("heartbeat: seq 2**63", "POST", f"{r}/heartbeat", 400, json={"system": {"cpu": 1.0}, "seq": 2**63}, contains="seq"),
        Case("heartbeat: unknown run", "POST", f"{nope}/heartbeat", 404, "not_found", json={}),
        Case("heartbeat: take_restart text", "POST", f"{r}/heartbeat", 400, json={"take_restart": "yes"}, contains="take_restart"),
        Case("finish: unknown status", "POST", f"{r}/finish", 400, json={"status": "done"}, contains="done"),
        Case("finish: status a number", "POST", f"{r}/finish", 400, json={"status": 1}, contains="status"),
        Case("finish: malformed JSON", "POST", f"{r}/finish", 400, content="{", headers=JSON, contains="JSON"),
        Case("finish: unknown run", "POST", f"{nope}/finish", 404, "not_found", json={"status": "finished"}),
        Case("summary: a list", "POST", f"{r}/summary", 400, json=[1]),
        Case("summary: empty key", "POST", f"{r}/summary", 400, json={"": 1}, contains="empty"),
        Case("summary: key too long", "POST", f"{r}/summary", 400, json={"k" * 300: 1}, contains="300"),
        Case("summary: NUL in value", "POST", f"{r}/summary", 400, json={"k": "a\x00"}, contains="NUL"),
        Case("summary: key with DEL", "POST", f"{r}/summary", 400, json={"a\x7f": 1}, contains="control"),
        Case("heartbeat: system key with U+2028", "POST", f"{r}/heartbeat", 400, json={"system": {"a\u2028": 1.0}, "seq": 9}, contains="control"),
        Case("summary: unknown run", "POST", f"{nope}/summary", 404, "not_found", json={"k": 1}),
        Case("tags: add a string", "POST", f"{r}/tags", 400, json={"add": "x"}, contains="add"),
        Case("tags: empty tag", "POST", f"{r}/tags", 400, json={"add": [""]}, contains="add"),
        Case("tags: tag with space", "POST", f"{r}/tags", 400, json={"add": ["a b"]}, contains="whitespace"),
        Case("tags: unknown run", "POST", f"{nope}/tags", 404, "not_found", json={"add": ["x"]}),
        Case("config: not an object", "POST", f"{r}/config", 400, json={"config": [1]}, contains="config"),
        Case("config: no config", "POST", f"{r}/config", 400, json={}, contains="config"),
        Case("config: too deep", "POST", f"{r}/config", 400, json={"config": _deep(70)}, contains="deeper"),
        Case("config: unknown run", "POST", f"{nope}/config", 404, "not_found", json={"config": {"a": 1}}),
        Case("notes: empty text", "POST", f"{r}/notes", 400, json={"text": " "}, contains="empty"),
        Case("notes: no text", "POST", f"{r}/notes", 400, json={}, contains="text"),
        Case("notes: unknown outcome", "POST", f"{r}/notes", 400, json={"text": "x", "outcome": "meh"}, contains="meh"),
        Case("notes: unknown run", "POST", f"{nope}/notes", 404, "not_found", json={"text": "x"}),
        Case("inputs: empty kind", "POST", f"{r}/inputs", 400, json={"kind": "", "ref": "x"}, contains="kind"),
        Case("inputs: ref too long", "POST", f"{r}/inputs", 400, json={"kind": "dataset", "ref": "r" * 501}, contains="ref"),
        Case("inputs: unknown run", "POST", f"{nope}/inputs", 404, "not_found", json={"kind": "d", "ref": "x"}),
        Case("stop: reason a number", "POST", f"{r}/stop", 400, json={"reason": 5}, contains="reason"),
        Case("stop: unknown run", "POST", f"{nope}/stop", 404, "not_found", json={"reason": "x"}),
        Case("actor: user header too long", "POST", f"{r}/notes", 400, json={"text": "x"}, headers={"X-Lablink-User": "u" * 300}, contains="X-Lablink-User"),
        # -- history and compare ----------------------------------------------------
        Case("history: no key", "GET", f"{r}/history", 400, contains="key"),
        Case("history: unknown key", "GET", f"{r}/history", 404, "not_found", params={"key": "nope"}, contains="nope"),
        Case("history: max_points 1", "GET", f"{r}/history", 400, params={"key": "loss", "max_points": 1}, contains="max_points"),
        Case("history: max_points text", "GET", f"{r}/history", 400, params={"key": "loss", "max_points": "all"}, contains="max_points"),
        Case("history: step out of range", "GET", f"{r}/history", 400, params={"key": "loss", "step_min": 10**30}, contains="step_min"),
        Case("history: unknown format", "GET", f"{r}/history", 400, params={"key": "loss", "format": "csv"}, contains="format"),
        Case("history: unknown run", "GET", f"{nope}/history", 404, "not_found", params={"key": "loss"}),
        Case("compare: one run", "GET", f"{API}/compare", 400, params={"run": run}, contains="two"),
        Case("compare: unknown run", "GET", f"{API}/compare", 404, "not_found", params=[("run", run), ("run", "nosuchrun")]),
        # -- blobs and artifacts ----------------------------------------------------
        Case("blob put: bad digest", "PUT", f"{API}/blobs/md5:abc", 400, content=b"x", contains="blob id"),
        Case("blob put: wrong digest", "PUT", f"{API}/blobs/{ZERO}", 400, content=b"hello", contains="hashes to"),
        Case("blob get: bad digest", "GET", f"{API}/blobs/abc", 400, contains="blob id"),
        Case("blob head: bad digest", "HEAD", f"{API}/blobs/abc", 400, code=None),
        Case("blob get: not stored", "GET", f"{API}/blobs/{ZERO}", 404, "not_found"),
        Case("missing: bad digest", "POST", f"{API}/blobs/missing", 400, json={"digests": ["abc"]}, contains="blob id"),
        Case("missing: not a list", "POST", f"{API}/blobs/missing", 400, json={"digests": "abc"}, contains="digests"),
        Case("artifact: parent path", "POST", f"{r}/artifacts", 400, json={"name": "../x", "kind": "model", "digest": blob}, contains="name"),
        Case("artifact: absolute path", "POST", f"{r}/artifacts", 400, json={"name": "/etc/x", "digest": blob}, contains="name"),
        Case("artifact: blob not uploaded", "POST", f"{r}/artifacts", 404, "not_found", json={"name": "m.pt", "digest": ZERO}),
        Case("artifact: bad digest", "POST", f"{r}/artifacts", 400, json={"name": "m.pt", "digest": "abc"}, contains="blob id"),
        Case("artifact: kind too long", "POST", f"{r}/artifacts", 400, json={"name": "m.pt", "kind": "k" * 101, "digest": blob}, contains="kind"),
        Case("artifact: unknown run", "POST", f"{nope}/artifacts", 404, "not_found", json={"name": "m.pt", "digest": blob}),
        Case("artifacts: unknown run", "GET", f"{nope}/artifacts", 404, "not_found"),
        Case("artifacts: limit zero", "GET", f"{r}/artifacts", 400, params={"limit": 0}, contains="limit"),
        Case("artifacts: limit not a number", "GET", f"{r}/artifacts", 400, params={"limit": "x"}, contains="limit"),
        Case("artifacts: limit too large", "GET", f"{r}/artifacts", 400, params={"limit": 2**63}, contains="limit"),
        Case("artifacts: after too long", "GET", f"{r}/artifacts", 400, params={"after": "a" * 1001}, contains="after"),
        Case("artifacts: NUL in prefix", "GET", f"{r}/artifacts", 400, params={"prefix": "logs/\x00"}, contains="NUL"),
        Case("artifacts: NUL in after", "GET", f"{r}/artifacts", 400, params={"after": "\x00"}, contains="NUL"),
        Case("artifacts page: unknown run", "GET", f"{nope}/artifacts", 404, "not_found", params={"limit": 5}),
        Case("project artifacts: bad project", "GET", f"{API}/projects/a%20b/artifacts", 400, contains="project"),
        Case("project artifacts: kind too long", "GET", f"{API}/projects/p/artifacts?kind={'k' * 101}", 400, contains="kind"),
        # -- events -----------------------------------------------------------------
        Case("events: unknown run", "GET", f"{API}/events", 404, "not_found", params={"run": "nosuchrun"}),
        Case("events: negative cursor", "GET", f"{API}/events", 400, params={"cursor": -1}, contains="cursor"),
        Case("events: bad project", "GET", f"{API}/events", 400, params={"project": "a b"}, contains="project"),
        Case("events: bad Last-Event-ID", "GET", f"{API}/events", 400, headers={"Last-Event-ID": "abc"}, contains="Last-Event-ID"),
        Case("events: Unicode digit Last-Event-ID", "GET", f"{API}/events", 400, headers={"Last-Event-ID": "³".encode("latin-1")}, contains="Last-Event-ID"),
        Case("events: Last-Event-ID over 2**62", "GET", f"{API}/events", 400, headers={"Last-Event-ID": str(2**63)}, contains="Last-Event-ID"),
        Case("ui events: Unicode digit Last-Event-ID", "GET", "/ui-data/events", 400, headers={"Last-Event-ID": "³".encode("latin-1")}, contains="Last-Event-ID"),
        Case("events: cursor over 2**62", "GET", f"{API}/events", 400, params={"cursor": 2**63}, contains="cursor"),
        Case("run events: unknown run", "GET", f"{nope}/events", 404, "not_found"),
        Case("project events: bad project", "GET", f"{API}/projects/a%20b/events", 400, contains="project"),
        # -- datasets and data transfer ----------------------------------------------
        Case("dataset resolve: no ref", "GET", f"{API}/datasets/-/resolve", 400, contains="ref"),
        Case("dataset resolve: bad ref", "GET", f"{API}/datasets/-/resolve", 400, params={"ref": "a b@vx"}),
        Case("dataset diff: no new", "GET", f"{API}/datasets/-/diff", 400, params={"old": "d@v1"}, contains="new"),
        Case("dataset log: bad name", "GET", f"{API}/datasets/a%20b", 400, contains="name"),
        Case("dataset log: unknown", "GET", f"{API}/datasets/nosuch", 404, "not_found"),
        Case("dataset commit: bad manifest", "POST", f"{API}/datasets/d/versions", 400, json={"manifest": "abc"}, contains="blob id"),
        Case("dataset commit: version 0", "POST", f"{API}/datasets/d/versions", 400, json={"manifest": ZERO, "version": 0}, contains="version"),
        Case("dataset commit: version 1.5", "POST", f"{API}/datasets/d/versions", 400, json={"manifest": ZERO, "version": 1.5}, contains="version"),
        Case("dataset version: bad ref", "GET", f"{API}/datasets/d/versions/v0", 400),
        Case("dataset files: unknown", "GET", f"{API}/datasets/nosuch/versions/v1/files", 404, "not_found"),
        Case("dataset profile: unknown", "GET", f"{API}/datasets/nosuch/versions/v1/profile", 404, "not_found"),
        Case("dataset used-by: unknown", "GET", f"{API}/datasets/nosuch/versions/v1/used-by", 404, "not_found"),
        # -- registered models ----------------------------------------------------------
        Case("model: unknown", "GET", f"{API}/models/nosuch", 404, "not_found"),
        Case("model: name with @", "GET", f"{API}/models/a%40b", 400, contains="registered model name"),
        Case("model: name too long", "GET", f"{API}/models/{'m' * 300}", 400, contains="registered model name"),
        Case("dataset aliases: unknown", "GET", f"{API}/datasets/nosuch/aliases", 404, "not_found"),
        Case("dataset aliases: bad name", "GET", f"{API}/datasets/a%20b/aliases", 400, contains="name"),
        Case("dataset alias: empty body", "POST", f"{API}/datasets/d/aliases", 400, json={}),
        Case("dataset alias: no version", "POST", f"{API}/datasets/d/aliases", 400, json={"alias": "prod"}, contains="version"),
        Case("dataset alias: alias like a version", "POST", f"{API}/datasets/d/aliases", 400, json={"alias": "v3", "version": "v1"}, contains="looks like a version"),
        Case("dataset alias: digits", "POST", f"{API}/datasets/d/aliases", 400, json={"alias": "42", "version": "v1"}, contains="looks like a version"),
        Case("dataset alias: latest", "POST", f"{API}/datasets/d/aliases", 400, json={"alias": "latest", "version": "v1"}, contains="reserved"),
        Case("dataset alias: not text", "POST", f"{API}/datasets/d/aliases", 400, json={"alias": 5, "version": "v1"}),
        Case("dataset alias: unknown dataset", "POST", f"{API}/datasets/nosuch/aliases", 404, "not_found", json={"alias": "prod", "version": "v1"}),
        Case("dataset alias: bad version", "POST", f"{API}/datasets/d/aliases", 400, json={"alias": "prod", "version": "v0"}, contains="version"),
        Case("dataset alias delete: unknown", "DELETE", f"{API}/datasets/nosuch/aliases/prod", 404, "not_found"),
        Case("dataset alias delete: alias like a version", "DELETE", f"{API}/datasets/d/aliases/v2", 400, contains="looks like a version"),
        Case("data missing: bad digest", "POST", f"{API}/data/missing", 400, json={"digests": ["abc"]}, contains="blob id"),
        Case("data fetch: digests a string", "POST", f"{API}/data/fetch", 400, json={"digests": ZERO}, contains="digests"),
        Case("data access: bad digest", "POST", f"{API}/data/access", 400, json={"digests": ["abc"]}, contains="blob id"),
        Case("data access: digests a string", "POST", f"{API}/data/access", 400, json={"digests": ZERO}, contains="digests"),
        Case("data access: no body", "POST", f"{API}/data/access", 400, json={}),
        Case("data verify: both forms", "POST", f"{API}/data/verify", 400, json={"digest": ZERO, "digests": [ZERO]}),
        Case("data verify: neither form", "POST", f"{API}/data/verify", 400, json={}),
        # -- schemas and incidents ---------------------------------------------------
        Case("schema subject: bad name", "GET", f"{API}/schemas/a%20b", 400, contains="subject"),
        Case("schema subject: unknown", "GET", f"{API}/schemas/nosuch", 404, "not_found"),
        Case("schema check: schema a list", "POST", f"{API}/schemas/s/check", 400, json={"schema": [None, None]}, contains="schema"),
        Case("schema version: Unicode digit", "GET", f"{API}/schemas/s/versions/%C2%B3", 400, contains="version"),
        Case("schema version: 2**63", "GET", f"{API}/schemas/s/versions/{2**63}", 400, contains="version"),
        Case("schema version: signed", "GET", f"{API}/schemas/s/versions/+1", 400, contains="version"),
        Case("schema diff: ref version 10**23", "GET", f"{API}/schemas/s/diff", 400, params={"from": "s@v" + "9" * 23, "to": "1"}, contains="version"),
        Case("schema diff: ref version 5000 digits", "GET", f"{API}/schemas/s/diff", 400, params={"from": "s@v" + "9" * 5000, "to": "1"}, contains="version"),
        Case("dataset commit: schema_ref version 10**23", "POST", f"{API}/datasets/d/versions", 400, json={"manifest": ZERO, "schema_ref": "s@v" + "9" * 23}, contains="version"),
        Case("schema diff: Unicode digit", "GET", f"{API}/schemas/s/diff", 400, params={"from": "³", "to": "1"}, contains="version"),
        Case("schema register: schema a list of nulls", "POST", f"{API}/schemas/s/versions", 400, json={"schema": [None, None]}, contains="schema"),
        Case("schema register: version 5.5", "POST", f"{API}/schemas/s/versions", 400, json={"schema": {"fields": []}, "version": 5.5}, contains="version"),
        Case("schema register: version 2**63", "POST", f"{API}/schemas/s/versions", 400, json={"schema": {"fields": [{"name": "a", "type": "integer"}]}, "version": 2**63}, contains="version"),
        # -- data reviews (#19) -------------------------------------------------------
        Case("reviews: limit 0", "GET", f"{API}/reviews", 400, params={"limit": 0}, contains="limit"),
        Case("reviews: pending a word", "GET", f"{API}/reviews", 400, params={"pending": "maybe"}, contains="pending"),
        Case("review: unknown version", "GET", f"{API}/datasets/nosuch/versions/v1/review", 404, "not_found", contains="nosuch"),
        Case("review: bad ref", "GET", f"{API}/datasets/d/versions/-x/review", 400),  # vx reads as an alias
        Case("review request: unknown version", "POST", f"{API}/datasets/nosuch/versions/v1/review", 404, "not_found", json={}),
        Case("review request: reviewers a string", "POST", f"{API}/datasets/nosuch/versions/v1/review", 400, json={"reviewers": "kenji"}, contains="reviewers"),
        Case("review request: splits a list", "POST", f"{API}/datasets/nosuch/versions/v1/review", 400, json={"splits": ["train/"]}, contains="splits"),
        Case("review request: approvals 0", "POST", f"{API}/datasets/nosuch/versions/v1/review", 400, json={"approvals": 0}, contains="approvals"),
        Case("review request: unknown field", "POST", f"{API}/datasets/nosuch/versions/v1/review", 400, json={"reviewer": "kenji"}, contains="reviewer"),
        Case("review comment: unknown version", "POST", f"{API}/datasets/nosuch/versions/v1/review" + "/comment", 404, "not_found", json={"note": "x"}),
        Case("review comment: note a number", "POST", f"{API}/datasets/nosuch/versions/v1/review" + "/comment", 400, json={"note": 5}, contains="note"),
        Case("review approve: no auth on this server", "POST", f"{API}/datasets/nosuch/versions/v1/review" + "/approve", 403, "forbidden", json={}, contains="knows who is calling"),
        Case("review reject: note a list", "POST", f"{API}/datasets/nosuch/versions/v1/review" + "/reject", 400, json={"note": ["x"]}, contains="note"),
        Case("review revoke: no auth on this server", "POST", f"{API}/datasets/nosuch/versions/v1/review" + "/revoke", 403, "forbidden", json={}, contains="knows who is calling"),
        Case("csrf: review request as text/plain", "POST", f"{API}/datasets/nosuch/versions/v1/review", 415, "unsupported_media_type", content="{}", headers={"Content-Type": "text/plain"}),
        Case("incident: id 2**63", "GET", f"{API}/incidents/{2**63}", 400, contains="incident_id"),
        Case("incident: Unicode digit id", "GET", f"{API}/incidents/%C2%B3", 400, contains="incident_id"),
        Case("incidents: limit 2**63", "GET", f"{API}/incidents", 400, params={"limit": 2**63}, contains="limit"),
        # -- cross-site writes: simple-request content types are refused -------------
        Case("csrf: batch as text/plain", "POST", f"{r}/batches", 415, "unsupported_media_type", content=batch({"k": OK_SERIES}, seq=77), headers={"Content-Type": "text/plain"}, contains="text/plain"),
        Case("csrf: run as a form", "POST", f"{API}/runs", 415, "unsupported_media_type", content="project=x", headers={"Content-Type": "application/x-www-form-urlencoded"}, contains="Content-Type"),
        Case("csrf: run as multipart", "POST", f"{API}/runs", 415, "unsupported_media_type", content="--b--", headers={"Content-Type": "multipart/form-data; boundary=b"}),
        Case("csrf: schema as text/plain", "POST", f"{API}/schemas/s/versions", 415, "unsupported_media_type", content='{"text": "fields: []"}', headers={"Content-Type": "text/plain"}),
        Case("csrf: incident ack without a type", "POST", f"{API}/incidents/1/ack", 415, "unsupported_media_type", content=b"", headers={"X-Nothing": "1"}, contains="no Content-Type"),
        Case("csrf: incident resolve as text/plain", "POST", f"{API}/incidents/1/resolve", 415, "unsupported_media_type", content="{}", headers={"Content-Type": "text/plain"}),
        Case("csrf: data pack as text/plain", "POST", f"{API}/data/packs", 415, "unsupported_media_type", content="x", headers={"Content-Type": "text/plain"}),
        Case("csrf: blob put as a form", "PUT", f"{API}/blobs/{ZERO}", 415, "unsupported_media_type", content="x", headers={"Content-Type": "application/x-www-form-urlencoded"}),
        Case("csrf: heartbeat without a type", "POST", f"{r}/heartbeat", 415, "unsupported_media_type", content=b"", headers={"X-Nothing": "1"}),
        # -- team and on-call (issue 20) -------------------------------------------
        Case("team add: no body", "PUT", f"{API}/team/ana", 400, content=b"", contains="body"),
        Case("team add: unknown zone", "PUT", f"{API}/team/ana", 400, json={"tz": "Mars/Olympus", "hours": ["09:00-17:00"], "email": "a@lab.org"}, contains="tz:"),
        Case("team add: zone a number", "PUT", f"{API}/team/ana", 400, json={"tz": 5, "hours": ["09:00-17:00"]}, contains="tz"),
        Case("team add: hours that do not parse", "PUT", f"{API}/team/ana", 400, json={"tz": "UTC", "hours": ["9 to 5"], "email": "a@lab.org"}, contains="hours:"),
        Case("team add: focus outside hours", "PUT", f"{API}/team/ana", 400, json={"tz": "UTC", "hours": ["09:00-17:00"], "focus": ["Sun 10:00-11:00"], "email": "a@lab.org"}, contains="focus:"),
        Case("team add: away backwards", "PUT", f"{API}/team/ana", 400, json={"tz": "UTC", "hours": ["09:00-17:00"], "away": ["2026-12-24..2026-12-01"], "email": "a@lab.org"}, contains="away:"),
        Case("team add: contact not a URL", "PUT", f"{API}/team/ana", 400, json={"tz": "UTC", "hours": ["09:00-17:00"], "contacts": ["ana"], "email": "a@lab.org"}, contains="contact:"),
        Case("team add: unknown field", "PUT", f"{API}/team/ana", 400, json={"tz": "UTC", "hours": ["09:00-17:00"], "colour": 1}, contains="colour"),
        Case("team add: bad name", "PUT", f"{API}/team/a%20b", 400, json={"tz": "UTC", "hours": ["09:00-17:00"], "email": "a@lab.org"}, contains="not valid"),
        Case("team add: no user, no e-mail", "PUT", f"{API}/team/ghost", 404, "not_found", json={"tz": "UTC", "hours": ["09:00-17:00"]}, contains="ghost"),
        Case("team show: not on the team", "GET", f"{API}/team/ghost", 404, "not_found", contains="ghost"),
        Case("team rm: not on the team", "DELETE", f"{API}/team/ghost", 404, "not_found", contains="ghost"),
        Case("team overlap: bad week", "GET", f"{API}/team/overlap", 400, params={"week": "2026-50"}, contains="week"),
        Case("team overlap: min 0", "GET", f"{API}/team/overlap", 400, params={"min": 0}, contains="min"),
        Case("team overlap: nobody", "GET", f"{API}/team/overlap", 404, code="not_found", params={"week": "2026-W50"}, contains="nobody"),
        Case("team sync: team a list", "POST", f"{API}/team/sync", 400, json={"team": [1]}, contains="team"),
        Case("team sync: bad zone named", "POST", f"{API}/team/sync", 400, json={"team": {"x": {"tz": "Nowhere", "hours": "09:00-17:00", "email": "x@lab.org"}}}, contains="team.x: tz:"),
        Case("oncall schedule: 0 weeks", "GET", f"{API}/oncall/schedule", 400, params={"weeks": 0}, contains="weeks"),
        Case("oncall schedule: unknown rotation", "GET", f"{API}/oncall/schedule", 404, "not_found", params={"rotation": "ghost"}),
        Case("rotation: no members", "PUT", f"{API}/oncall/rotations/r", 400, json={"members": []}, contains="members:"),
        Case("rotation: members a string", "PUT", f"{API}/oncall/rotations/r", 400, json={"members": "ana"}, contains="members"),
        Case("rotation: member not on the team", "PUT", f"{API}/oncall/rotations/r", 400, json={"members": ["ghost"]}, contains="not on the team"),
        Case("rotation: remove unknown", "DELETE", f"{API}/oncall/rotations/ghost", 404, "not_found"),
        Case("rotation ics: unknown", "GET", f"{API}/oncall/rotations/ghost/ics", 404, "not_found"),
        Case("rotation ics: 100 weeks", "GET", f"{API}/oncall/rotations/r/ics", 400, params={"weeks": 100}, contains="weeks"),
        Case("override: no rotations", "POST", f"{API}/oncall/overrides", 409, code="conflict", json={"person": "ana", "start": "now", "end": "now"}, contains="rotation"),
        Case("override: no person", "POST", f"{API}/oncall/overrides", 400, json={"start": "now", "end": "now"}, contains="person"),
        # -- routing ----------------------------------------------------------------
        Case("unknown route", "GET", f"{API}/nothing/here", 404, "not_found", contains="/api/v1/nothing/here"),
        Case("wrong method", "DELETE", f"{API}/runs", 405, "method_not_allowed", contains="DELETE"),
        Case("POST to no route", "POST", f"{API}/nothing/here", 404, "not_found", json={}),
        Case("POST to no route, no type", "POST", f"{API}/nothing/here", 404, "not_found", content=b"", headers={"X-Nothing": "1"}),
        Case("POST to a GET route", "POST", f"{API}/projects", 405, "method_not_allowed", json={}, contains="POST"),
        Case("PUT to a POST route", "PUT", f"{API}/runs", 405, "method_not_allowed", json={}, contains="PUT"),
    ]
    # fmt: on


def admin_cases() -> list[Case]:
    """The people routes, which need auth on: sent with a server admin's token."""
    u, me = f"{API}/admin/users", f"{API}/me/tokens"
    g = f"{API}/admin/projects/vision/grants"
    # fmt: off
    return [
        Case("me: no route below", "GET", f"{API}/me/nothing", 404, "not_found"),
        Case("my token: no body", "POST", me, 400, content=b"", contains="body"),
        Case("my token: bad name", "POST", me, 400, json={"name": "a/b"}, contains="token name"),
        Case("my token: role owner", "POST", me, 400, json={"name": "ci", "role": "owner"}, contains="role"),
        Case("my token: expires negative", "POST", me, 400, json={"name": "ci", "expires_in": -1}, contains="expires_in"),
        Case("my token: expires in a century", "POST", me, 400, json={"name": "ci", "expires_in": 3.2e9}, contains="expires_in"),
        Case("my token: unknown project", "POST", me, 404, "not_found", json={"name": "ci", "project": "nowhere"}),
        Case("my token revoke: not a number", "DELETE", f"{me}/abc", 400, contains="token_id"),
        Case("my token revoke: unknown", "DELETE", f"{me}/99999", 404, "not_found"),
        Case("users: add without e-mail", "POST", u, 400, json={"name": "bob"}, contains="e-mail"),
        Case("users: add a bad name", "POST", u, 400, json={"name": "b b", "email": "b@lab.org"}, contains="not valid"),
        Case("users: add a bad e-mail", "POST", u, 400, json={"name": "bob", "email": "bob"}, contains="e-mail"),
        Case("users: admin a string", "POST", u, 400, json={"name": "bob", "email": "b@lab.org", "admin": "yes"}, contains="admin"),
        Case("users: unknown field", "POST", u, 400, json={"name": "bob", "email": "b@lab.org", "colour": 1}, contains="colour"),
        Case("users: NUL in name", "POST", u, 400, json={"name": "b\x00b", "email": "b@lab.org"}),
        Case("users: existing", "POST", u, 409, "already_exists", json={"name": "root", "email": "r@lab.org"}),
        Case("users: disable a ghost", "POST", f"{u}/ghost/disable", 404, "not_found", json={}),
        Case("users: enable a ghost", "POST", f"{u}/ghost/enable", 404, "not_found", json={}),
        Case("users: password too short", "PUT", f"{u}/root/password", 400, json={"password": "short"}, contains="password"),
        Case("users: password of a ghost", "PUT", f"{u}/ghost/password", 404, "not_found", json={"password": "a long passphrase"}),
        Case("users: password a number", "PUT", f"{u}/root/password", 400, json={"password": 12345678}, contains="password"),
        Case("tokens: list a ghost's", "GET", f"{API}/admin/tokens", 404, "not_found", params={"user": "ghost"}),
        Case("tokens: create for a ghost", "POST", f"{API}/admin/tokens", 404, "not_found", json={"user": "ghost", "name": "ci"}),
        Case("tokens: create without a user", "POST", f"{API}/admin/tokens", 400, json={"name": "ci"}, contains="user"),
        Case("tokens: revoke id 0", "DELETE", f"{API}/admin/tokens/0", 400, contains="token_id"),
        Case("tokens: revoke id 2**63", "DELETE", f"{API}/admin/tokens/{2**63}", 400, contains="token_id"),
        Case("tokens: revoke unknown", "DELETE", f"{API}/admin/tokens/99999", 404, "not_found"),
        Case("grants: limit of project too long", "GET", f"{API}/admin/grants", 400, params={"project": "p" * 201}, contains="project"),
        Case("grants: unknown project", "GET", f"{API}/admin/projects/nowhere/grants", 200, None),
        Case("grant: to a ghost", "PUT", f"{g}/ghost", 404, "not_found", json={"role": "member"}, contains="ghost"),
        Case("grant: role boss", "PUT", f"{g}/root", 400, json={"role": "boss"}, contains="role"),
        Case("grant: no body", "PUT", f"{g}/root", 400, content=b"", contains="body"),
        Case("grant: unknown project", "PUT", f"{API}/admin/projects/nowhere/grants/root", 404, "not_found", json={"role": "member"}),
        Case("grant revoke: none there", "DELETE", f"{g}/root", 404, "not_found"),
        Case("audit: limit 0", "GET", f"{API}/admin/audit", 400, params={"limit": 0}, contains="limit"),
        Case("audit: since a word", "GET", f"{API}/admin/audit", 400, params={"since": "yesterday"}, contains="since"),
        Case("audit: before -1", "GET", f"{API}/admin/audit", 400, params={"before": -1}, contains="before"),
        Case("audit export: xml", "GET", f"{API}/admin/audit/export", 400, params={"format": "xml"}, contains="xml"),
        Case("audit export: action too long", "GET", f"{API}/admin/audit/export", 400, params={"action": "a" * 51}, contains="action"),
        Case("device login: label with a slash", "POST", f"{API}/login/device", 400, json={"name": "a/b"}, contains="label"),
        Case("device login: label a number", "POST", f"{API}/login/device", 400, json={"name": 7}, contains="name"),
        Case("device login: unknown field", "POST", f"{API}/login/device", 400, json={"scope": "all"}, contains="scope"),
        Case("device login: no body", "POST", f"{API}/login/device", 400, content=b"", contains="body"),
        Case("device poll: no device_code", "POST", f"{API}/login/device/token", 400, json={}, contains="device_code"),
        Case("device poll: device_code a number", "POST", f"{API}/login/device/token", 400, json={"device_code": 5}, contains="device_code"),
        Case("device poll: device_code too long", "POST", f"{API}/login/device/token", 400, json={"device_code": "x" * 101}, contains="device_code"),
        Case("device poll: unknown device_code", "POST", f"{API}/login/device/token", 400, "expired_token", json={"device_code": "x" * 43}, contains="unknown"),
        Case("device poll: NUL in device_code", "POST", f"{API}/login/device/token", 400, "expired_token", json={"device_code": "a\x00b"}),
        Case("csrf: add a user as a form", "POST", u, 415, "unsupported_media_type", content="name=eve", headers={"Content-Type": "application/x-www-form-urlencoded"}),
    ]
    # fmt: on


@pytest.fixture
def admin_api(lab: Lab) -> Iterator[httpx.Client]:
    """A server with auth on, and a client with a server admin's token; vision exists."""
    from helpers import AppServer
    from lablink.server.app import create_app
    from lablink.server.auth import AuthConfig

    lab.people.add_user("root", "root", "root@lab.org", admin=True)
    token = lab.people.create_token("root", "root", "t", None, "admin").secret
    lab.tracking.create_run("root", "vision", "first")
    with (
        AppServer(create_app(lab, auth=AuthConfig("required"))).start() as srv,
        httpx.Client(
            base_url=srv.url, timeout=10, headers={"Authorization": f"Bearer {token}"}
        ) as client,
    ):
        assert client.get(f"{API}/me").status_code == 200  # the token's first use is recorded
        yield client
        srv.stop()


def people_state(lab: Lab) -> str:
    """Users, tokens and grants as comparable text (the audit log may gain attempts)."""
    people = lab.people
    return json.dumps(
        {
            "users": [u.to_dict() for u in people.list_users()],
            "tokens": [k.to_dict(0) for k in people.list_tokens()],
            "grants": [g.to_dict() for g in people.grants()],
            "projects": [p.name for p in lab.tracking.list_projects()],
        },
        sort_keys=True,
    )


def test_bad_input_to_every_people_route_is_a_4xx_envelope_and_changes_nothing(
    admin_api: httpx.Client, lab: Lab
) -> None:
    failures: list[str] = []
    for case in admin_cases():
        before = people_state(lab)
        response = admin_api.request(
            case.method,
            case.path,
            json=case.json,
            content=case.content,
            params=case.params,
            headers=case.headers or (JSON if case.content is not None else None),
        )
        try:
            if case.code is None:
                assert response.status_code == case.status, response.text
                continue
            error = assert_envelope(response, case.status, case.code)
            if case.contains:
                assert case.contains in error["message"], error
        except AssertionError as exc:
            failures.append(f"{case.name}: {exc}")
            continue
        if people_state(lab) != before:
            failures.append(f"{case.name}: the store changed")
    assert not failures, "\n".join(failures)


@pytest.fixture
def world(api: httpx.Client, new_run: Callable[..., dict[str, Any]]) -> dict[str, str]:
    """A running run with a point, a finished run, and one uploaded blob."""
    run = new_run(name="running", tags=["keep"])["id"]
    assert post_batch(api, run, 0, {"loss": series([0, 1], [2.0, 1.0])}).status_code == 200
    ended = new_run(name="ended")["id"]
    api.post(f"{API}/runs/{ended}/finish", json={"status": "finished"})
    data = b"model weights"
    blob = "sha256:" + hashlib.sha256(data).hexdigest()
    assert api.put(f"{API}/blobs/{blob}", content=data).status_code == 201
    return {"run": run, "ended": ended, "blob": blob}


def test_bad_input_to_every_route_is_a_4xx_envelope_and_changes_nothing(
    api: httpx.Client, world: dict[str, str], snapshot: Callable[[], str]
) -> None:
    before = snapshot()
    failures: list[str] = []
    for case in cases(world["run"], world["ended"], world["blob"]):
        response = api.request(
            case.method,
            case.path,
            json=case.json,
            content=case.content,
            params=case.params,
            # Raw bodies are JSON unless a case says otherwise: the type is checked first.
            headers=case.headers or (JSON if case.content is not None else None),
        )
        try:
            if case.method == "HEAD":  # an answer without a body: the status is all
                assert response.status_code == case.status, response.status_code
                continue
            error = assert_envelope(response, case.status, case.code)
            if case.contains:
                assert case.contains in error["message"], error
        except AssertionError as exc:
            failures.append(f"{case.name}: {exc}")
            continue
        if snapshot() != before:
            failures.append(f"{case.name}: the store changed")
            before = snapshot()
    assert not failures, "\n".join(failures)


# Operations that read no input a client could get wrong: nothing to put in the table.
NO_INPUT = {
    ("GET", "/healthz"),
    ("GET", "/api/v1/projects"),
    ("GET", "/api/v1/datasets"),
    ("GET", "/api/v1/models"),
    ("GET", "/api/v1/schemas"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/me/tokens"),
    ("GET", "/api/v1/admin/users"),
    ("GET", "/api/v1/team"),
    ("GET", "/api/v1/oncall/now"),
    ("GET", "/api/v1/oncall/rotations"),
}


def _route_pattern(template: str) -> re.Pattern[str]:
    """A spec path such as ``/runs/{run_id}/tags`` as a regex over concrete paths."""
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")


def test_every_operation_in_the_spec_has_a_bad_input_row() -> None:
    """A new route gets hostile-input rows too: the table must name every operation."""
    table = {(c.method, c.path) for c in cases("r1", "r2", ZERO) + admin_cases()}
    missing = []
    for template, item in served_spec()["paths"].items():
        pattern = _route_pattern(template)
        for method in item:
            op = (method.upper(), template)
            if op in NO_INPUT:
                continue
            # A literal route (/blobs/missing) must not count for its templated sibling.
            rows = [p for m, p in table if m == op[0] and pattern.match(p)]
            if not rows:
                missing.append(f"{op[0]} {template}")
    assert not missing, "no bad-input row for: " + ", ".join(missing)


def test_a_json_integer_may_be_written_5_0(
    api: httpx.Client, new_run: Callable[..., dict[str, Any]]
) -> None:
    """JSON Schema counts 5.0 as an integer, and the spec says integer: the server agrees."""
    run = new_run()["id"]
    assert api.post(f"{API}/runs/{run}/heartbeat", json={"seq": 5.0}).status_code == 200
    answer = post_batch(api, run, 0, {"loss": series([0], [1.0])})
    assert answer.status_code == 200, answer.text
    body = json.dumps({"seq": 7.0, "metrics": {"loss": series([1], [0.5])}})
    answer = api.post(f"{API}/runs/{run}/batches", content=body, headers=JSON)
    assert answer.status_code == 200, answer.text
    schema = {"schema": {"fields": [{"name": "a", "type": "integer"}]}, "version": 1.0}
    answer = api.post(f"{API}/schemas/s/versions", json=schema)
    assert answer.status_code == 201, answer.text
    assert answer.json()["version"] == 1


def test_405_allow_names_every_method_the_path_takes(api: httpx.Client) -> None:
    """The API's routes sit in nested routers: ``Allow`` must still see all of them."""
    assert api.delete(f"{API}/runs").headers["allow"] == "GET, POST"
    assert api.request("OPTIONS", f"{API}/runs/x/artifacts").headers["allow"] == "GET, POST"
    assert api.patch(f"{API}/blobs/{ZERO}").headers["allow"] == "GET, HEAD, PUT"


def test_head_of_a_missing_blob_is_404(api: httpx.Client) -> None:
    assert api.head(f"{API}/blobs/{ZERO}").status_code == 404
    assert api.head(f"{API}/blobs/nonsense").status_code == 400


# -- request size limit (a small limit, so the test sends little) ---------------------


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[tuple[httpx.Client, Lab]]:
    settings = make_settings(tmp_path / "small", max_request_bytes=4096, user="tester@example.org")
    with Lab(settings) as lab:
        server = LoopbackServer(lab).start()
        try:
            with httpx.Client(base_url=server.url, timeout=10) as client:
                yield client, lab
        finally:
            server.stop()


def test_over_size_bodies_get_413_declared_or_streamed(
    small_server: tuple[httpx.Client, Lab],
) -> None:
    from apitools import state_of

    client, lab = small_server
    run = client.post(f"{API}/runs", json={"project": "p"}).json()["id"]
    before = state_of(lab)
    steps = list(range(2000))
    big = batch({"loss": series(steps, [0.5] * len(steps))})
    assert len(big) > 4096

    declared = client.post(f"{API}/runs/{run}/batches", content=big, headers=JSON)
    assert "4096" in assert_envelope(declared, 413, "too_large")["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        data = big.encode()
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]

    streamed = client.post(f"{API}/runs/{run}/batches", content=chunks(), headers=JSON)
    assert_envelope(streamed, 413, "too_large")
    big_run = {"project": "p", "config": {"blob": "x" * 5000}}
    streamed_model = client.post(
        f"{API}/runs", content=(c for c in [json.dumps(big_run).encode()]), headers=JSON
    )
    assert_envelope(streamed_model, 413, "too_large")
    assert state_of(lab) == before

    # Blob uploads stream to disk and are exempt; a small batch still passes.
    data = b"x" * 10_000
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert client.put(f"{API}/blobs/{digest}", content=data).status_code == 201
    small = batch({"loss": series([0], [1.0])})
    assert client.post(f"{API}/runs/{run}/batches", content=small, headers=JSON).status_code == 200


def test_the_spec_lists_the_outcomes_the_store_knows() -> None:
    from typing import get_args

    from lablink.models import OUTCOMES
    from lablink.server.fields import Outcome

    assert get_args(Outcome) == OUTCOMES
