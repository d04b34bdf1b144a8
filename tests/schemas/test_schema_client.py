"""Registered schemas over HTTP (``lablink.sdk.tables``): typed errors whatever answers."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from schema_strategies import EVENTS
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from helpers import AppServer, LoopbackServer, free_port, make_settings
from lablink.core.lab import Lab
from lablink.core.schemas import Schemas
from lablink.errors import NotFound, ServiceUnavailable
from lablink.sdk.tables import fetch_schema, validate

FRAME = pl.DataFrame({"id": [1, 2], "amount": [5.0, 500.0], "country": ["DE", "FR"]})


def test_validate_reads_registered_schemas_from_the_server(lab: Lab, tmp_path: Path) -> None:
    Schemas(lab.store).register("events", EVENTS, "tester@example.org")
    with LoopbackServer(lab).start() as srv:
        settings = make_settings(tmp_path / "client", server=srv.url)
        report = validate(FRAME, "events", settings=settings)
        assert report.schema == "events@v1" and [f.rule for f in report.failures] == ["maximum"]
        assert fetch_schema(settings, "events@1").ref == "events@v1"
        with pytest.raises(NotFound, match="events@v7"):
            fetch_schema(settings, "events@v7")


def test_an_unreachable_or_broken_server_is_a_clear_error(tmp_path: Path) -> None:
    down = make_settings(tmp_path / "a", server=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ServiceUnavailable, match="cannot reach the lablink server"):
        validate(FRAME, "events", settings=down)

    def bad_gateway(request: object) -> PlainTextResponse:
        return PlainTextResponse("upstream went away", status_code=502)

    proxy = Starlette(routes=[Route("/{path:path}", bad_gateway)])
    with AppServer(proxy).start() as srv:
        broken = make_settings(tmp_path / "b", server=srv.url)
        with pytest.raises(ServiceUnavailable, match="HTTP 502: upstream went away"):
            validate(FRAME, "events", settings=broken)
