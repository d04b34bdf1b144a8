"""Fixtures for people, tokens, grants and the audit log: a clock the tests move by hand."""

from __future__ import annotations

import pytest
from people_support import Clock

from lablink.core.lab import Lab
from lablink.core.people import People


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def people(lab: Lab, clock: Clock) -> People:
    """The people use cases on the test's store (SQLite and PostgreSQL), on ``clock``."""
    return People(lab.store, clock=clock)
