"""The registry on SQLite and PostgreSQL: immutable versions, modes, clean refusals."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa
from schema_strategies import EVENTS

from lablink.checks.schema_format import dump_schema, parse_schema
from lablink.core.lab import Lab
from lablink.core.schemas import Schemas, parse_ref
from lablink.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from lablink.sdk.tables import validate
from lablink.store import schema as tables

WIDER = EVENTS.replace("maximum: 100", "maximum: 1000")
NARROWER = EVENTS.replace("maximum: 100", "maximum: 50")
MIDDLE = EVENTS.replace("maximum: 100", "maximum: 500")


def count_rows(lab: Lab) -> tuple[int, int]:
    engine = lab.store.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        subjects = conn.execute(
            sa.select(sa.func.count()).select_from(tables.schema_subjects)
        ).scalar()
        versions = conn.execute(
            sa.select(sa.func.count()).select_from(tables.schema_versions)
        ).scalar()
    return int(subjects or 0), int(versions or 0)


def test_register_versions_and_read_them_back(lab: Lab) -> None:
    schemas = Schemas(lab.store)
    v1, created = schemas.register("events", EVENTS, "ana@example.org", description="first")
    assert created and v1.ref == "events@v1" and v1.compat == "backward"
    v2, created = schemas.register("events", WIDER, "ben@example.org")
    assert created and v2.version == 2 and v2.created_by == "ben@example.org"
    assert schemas.get("events").version == 2 and schemas.get("events@v1").description == "first"
    assert schemas.schema("events@v1") == parse_schema(EVENTS)
    assert [v.version for v in schemas.versions("events")] == [1, 2]
    (subject,) = schemas.subjects()
    assert (subject.name, subject.latest, subject.versions, subject.compat) == (
        "events",
        2,
        2,
        "backward",
    )


def test_same_schema_again_returns_the_latest_version(lab: Lab) -> None:
    schemas = Schemas(lab.store)
    schemas.register("events", EVENTS, "ana")
    again, created = schemas.register("events", dump_schema(parse_schema(EVENTS), "json"), "ben")
    assert not created and again.version == 1 and count_rows(lab) == (1, 1)


def test_an_incompatible_schema_is_refused_with_every_break_and_nothing_stored(lab: Lab) -> None:
    schemas = Schemas(lab.store)
    schemas.register("events", EVENTS, "ana")
    with pytest.raises(Conflict, match="not backward compatible") as info:
        schemas.register("events", NARROWER, "ben")
    assert [b["rule"] for b in info.value.details["breaks"]] == ["maximum"]
    assert count_rows(lab) == (1, 1) and schemas.get("events").version == 1


def test_a_failed_first_registration_leaves_no_subject(lab: Lab) -> None:
    schemas = Schemas(lab.store)

    def boom(previous: list[object], mode: str) -> None:
        raise Conflict("refused")

    with pytest.raises(Conflict, match="refused"):
        schemas.sql.register("fresh", {"fields": []}, "sha256:x", None, "ana", check=boom)
    assert count_rows(lab) == (0, 0)


def test_registering_over_an_existing_version_is_a_clear_error(lab: Lab) -> None:
    schemas = Schemas(lab.store)
    schemas.register("events", EVENTS, "ana")
    with pytest.raises(AlreadyExists, match="events@v1 already exists and versions are immutable"):
        schemas.register("events", WIDER, "ben", version=1)
    with pytest.raises(Conflict, match="the next version is v2"):
        schemas.register("events", WIDER, "ben", version=5)
    assert schemas.register("events", WIDER, "ben", version=2)[0].version == 2
    assert count_rows(lab) == (1, 2)


def test_modes_and_transitive_checks(lab: Lab) -> None:
    schemas = Schemas(lab.store)
    schemas.register("events", EVENTS, "ana", compat_mode="full")
    with pytest.raises(Conflict, match="not full compatible"):
        schemas.register("events", WIDER, "ana")
    v2, _ = schemas.register("events", WIDER, "ana", compat_mode="none")
    assert v2.compat == "none" and schemas.subject("events").compat == "none"
    # MIDDLE reads v1's data (0-100) but not v2's (0-1000): only v2 breaks.
    result = schemas.check("events", MIDDLE, "backward_transitive")
    assert (
        not result.compatible
        and result.against == [1, 2]
        and {b.against for b in result.breaks} == {2}
    )
    assert schemas.check("events", WIDER, "forward").against == [2]
    assert (
        schemas.get("events@v1").compat == "full"
    )  # each version keeps the mode it was checked under


def test_diff_between_versions(lab: Lab) -> None:
    schemas = Schemas(lab.store)
    schemas.register("events", EVENTS, "ana")
    schemas.register("events", WIDER, "ana")
    found = schemas.diff("events@v1", "events@v2")
    assert found["from"] == "events@v1" and found["to"] == "events@v2"
    assert found["changed"] == [
        {"field": "amount", "changes": [{"key": "constraints.maximum", "from": 100, "to": 1000}]}
    ]
    assert found["backward"] == [] and found["forward"][0]["rule"] == "maximum"


def test_unknown_subjects_versions_and_bad_references(lab: Lab) -> None:
    schemas = Schemas(lab.store)
    with pytest.raises(NotFound, match="no schema subject named 'nope'"):
        schemas.get("nope@v1")
    schemas.register("events", EVENTS, "ana")
    with pytest.raises(NotFound, match="events@v7 does not exist"):
        schemas.get("events@v7")
    for bad in ("", "events@vx", "bad name", "events@v0"):
        with pytest.raises(InvalidInput, match="invalid schema"):
            parse_ref(bad)
    with pytest.raises(InvalidInput, match="unknown compatibility mode"):
        schemas.register("events", WIDER, "ana", compat_mode="sideways")
    with pytest.raises(InvalidInput, match="events, line"):
        schemas.register("events", "fields:\n  - {name: a, type: floot}\n", "ana")
    assert count_rows(lab) == (1, 1)


def test_validate_resolves_registered_references(lab: Lab) -> None:
    import polars as pl

    Schemas(lab.store).register("events", EVENTS, "ana")
    data = pl.DataFrame({"id": [1, 2, -3], "amount": [1.0, 2.0, 3.0]})
    report = validate(data, "events@v1", settings=lab.settings)
    assert report.schema == "events@v1" and [f.rule for f in report.failures] == ["minimum"]
    assert Schemas(lab.store).validate(data.head(2), "events").ok


def test_pinned_version_bodies_never_change(lab: Lab) -> None:
    schemas = Schemas(lab.store)
    v1, _ = schemas.register("events", EVENTS, "ana")
    schemas.register("events", WIDER, "ana")
    assert dataclasses.replace(schemas.get("events@v1"), created_at=v1.created_at) == v1
