"""The binary batch format: same semantics as JSON, NaN exact, malformed bodies refused."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from apitools import API, assert_envelope, state_of
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import LoopbackServer
from lablink.checks.batchwire import CONTENT_TYPE, decode_batch, encode_batch
from lablink.core.lab import Lab

HEADERS = {"Content-Type": CONTENT_TYPE}


def post(api: httpx.Client, run_id: str, body: bytes) -> httpx.Response:
    return api.post(f"{API}/runs/{run_id}/batches", content=body, headers=HEADERS)


def test_binary_batch_round_trips_and_is_idempotent(
    api: httpx.Client, new_run: Callable[..., dict[str, Any]]
) -> None:
    run = new_run()
    values = [1.5, math.nan, math.inf, -math.inf, 5e-324]
    body = encode_batch(
        7, {"train/loss": {"steps": [0, 1, 2, 3, 4], "times": [1.7e9] * 5, "values": values}}
    )
    first, again = post(api, run["id"], body), post(api, run["id"], body)
    assert first.json() == {"ingested": True, "points": 5}
    assert again.json() == {"ingested": False, "points": 0}
    history = api.get(
        f"{API}/runs/{run['id']}/history", params={"key": "train/loss", "format": "binary"}
    )
    got = struct.unpack("<5d", history.content[80:])
    assert got[0] == 1.5 and math.isnan(got[1]) and got[2:] == (math.inf, -math.inf, 5e-324)


@pytest.fixture(scope="module")
def module_api(module_lab: Lab) -> Iterator[httpx.Client]:
    """A client of one server per module and backend."""
    with (
        LoopbackServer(module_lab).start() as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        yield client


def _good() -> bytes:
    return encode_batch(1, {"a": {"steps": [0], "times": [1.0], "values": [2.0]}})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "LLB1"),
        (b"JSON{}" + b"\0" * 4, "LLB1"),
        (_good()[:-3], "header describes"),
        (_good() + b"\0", "header describes"),
        (b"LLB1" + struct.pack("<I", 3) + b"{x}", "header is malformed"),
        (encode_batch(1, {"a": {"steps": [-1], "times": [1.0], "values": [1.0]}}), "steps"),
        (encode_batch(1, {"a": {"steps": [0], "times": [math.nan], "values": [1.0]}}), "times"),
        (encode_batch(-2, {"a": {"steps": [0], "times": [1.0], "values": [1.0]}}), "seq"),
        (encode_batch(1, {"": {"steps": [0], "times": [1.0], "values": [1.0]}}), "empty"),
    ],
)
def test_malformed_binary_batches_are_400_and_store_nothing(
    module_lab: Lab, module_api: httpx.Client, body: bytes, message: str
) -> None:
    # One server for all cases: each posts to a run of its own, and the whole store is
    # compared before and after, so a case that stored anything would show it.
    created = module_api.post(f"{API}/runs", json={"project": "vision"})
    assert created.status_code == 201, created.text
    before = state_of(module_lab)
    response = post(module_api, created.json()["id"], body)
    assert_envelope(response, 400, "bad_request")
    assert message in response.json()["error"]["message"]
    assert state_of(module_lab) == before


finite = st.floats(allow_nan=False)
columns = st.lists(st.tuples(st.integers(0, 2**62), st.floats(-1e12, 1e12), finite), max_size=50)


@settings(deadline=None, max_examples=50)
@given(
    st.integers(0, 2**62), st.dictionaries(st.text(min_size=1, max_size=20), columns, max_size=4)
)
def test_codec_round_trip(seq: int, data: dict[str, list[tuple[int, float, float]]]) -> None:
    metrics = {
        k: {
            "steps": [p[0] for p in pts],
            "times": [p[1] for p in pts],
            "values": [p[2] for p in pts],
        }
        for k, pts in data.items()
    }
    got_seq, got = decode_batch(encode_batch(seq, metrics))
    assert got_seq == seq and set(got) == set(metrics)
    for key, series in metrics.items():
        for name in ("steps", "times", "values"):
            assert got[key][name].tolist() == series[name]
