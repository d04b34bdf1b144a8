"""Fixtures for the schema registry, validation and drift tests."""

from __future__ import annotations

import pytest
from schema_strategies import EVENTS

from lablink.checks.schema_format import parse_schema
from lablink.checks.schema_model import Schema


@pytest.fixture
def events() -> Schema:
    return parse_schema(EVENTS, "events.schema.yaml")
