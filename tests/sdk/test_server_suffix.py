"""A server URL that already ends with /api/v1 gets a hint to drop the suffix."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

import lablink
from helpers import LoopbackServer
from lablink.errors import NotFound
from lablink.settings import Settings


def test_client_hint_names_the_url_to_use(settings: Settings, server: LoopbackServer) -> None:
    wrong = dataclasses.replace(settings, server=server.url + "/api/v1")
    with (
        lablink.Client(settings=wrong) as client,
        pytest.raises(NotFound, match="no route") as caught,
    ):
        client.projects()
    assert caught.value.hint == (
        f"the server URL ends with /api/v1, which lablink adds itself: use {server.url} instead"
    )


def test_server_404_for_a_doubled_prefix_says_to_drop_it(server: LoopbackServer) -> None:
    answer = httpx.get(server.url + "/api/v1/api/v1/projects")
    assert answer.status_code == 404
    assert "drop that suffix" in answer.json()["error"]["hint"]
    other = httpx.get(server.url + "/api/v1/nope")
    assert other.json()["error"]["hint"] == "the API lives under /api/v1"
