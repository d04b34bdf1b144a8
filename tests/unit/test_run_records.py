"""Records built without ``__init__`` (``models.built``) and ``RunRecord.from_dict``'s
fast path: the same records as the dataclass constructors and the former decoder make."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lablink.checks.run_view import FIELDS, parse_fields
from lablink.gcpause import gc_paused
from lablink.models import (
    GitInfo,
    MetricSummary,
    Note,
    RunRecord,
    blank_value,
    built,
    metric_from_dict,
)

FLOATS = st.floats(allow_nan=True, allow_infinity=True)
MAYBE = st.none() | FLOATS
TEXT = st.text(max_size=6)
METRICS = st.dictionaries(
    TEXT,
    st.builds(
        MetricSummary,
        TEXT,
        st.integers(0, 10**6),
        st.none() | st.integers(0, 10**9),
        MAYBE,
        MAYBE,
        MAYBE,
        MAYBE,
    ),
    max_size=3,
).map(lambda ms: {k: dataclasses.replace(m, key=k) for k, m in ms.items()})
SCALARS = st.none() | st.booleans() | st.integers() | FLOATS | TEXT
RECORDS = st.builds(
    RunRecord,
    id=TEXT,
    project=TEXT,
    name=TEXT,
    user=TEXT,
    status=st.sampled_from(["running", "finished"]),
    created_at=st.floats(0, 2e9),
    ended_at=st.none() | st.floats(0, 2e9),
    heartbeat_at=st.none() | st.floats(0, 2e9),
    git=st.builds(GitInfo, st.none() | TEXT, st.none() | TEXT, st.none() | TEXT, st.booleans()),
    command=st.lists(TEXT, max_size=3),
    host=st.none() | TEXT,
    python_version=st.none() | TEXT,
    packages=st.dictionaries(TEXT, TEXT, max_size=3),
    gpus=st.lists(TEXT, max_size=2),
    config=st.dictionaries(TEXT, SCALARS, max_size=3),
    params=st.dictionaries(TEXT, SCALARS, max_size=3),
    tags=st.lists(TEXT, max_size=3),
    summary=st.dictionaries(TEXT, SCALARS, max_size=3),
    metrics=METRICS,
    notes=st.lists(st.builds(Note, TEXT, TEXT, st.floats(0, 2e9), st.none() | TEXT), max_size=2),
    outcome=st.none() | TEXT,
    status_reason=st.none() | TEXT,
    inputs=st.lists(st.fixed_dictionaries({"kind": TEXT, "ref": TEXT}), max_size=2),
    stop_requested=st.none() | TEXT,
)
# a record is a big draw: slow on a busy machine, which is no fault of the test
BIG_DRAWS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
SELECTIONS = st.none() | st.lists(st.sampled_from([*FIELDS, "lean"]), max_size=6)


def former_from_dict(data: Mapping[str, Any]) -> RunRecord:
    """``RunRecord.from_dict`` as it was before the fast path (the reference)."""
    names = {f.name for f in dataclasses.fields(RunRecord)}
    values = {k: v for k, v in data.items() if k in names}
    values["git"] = GitInfo(**data.get("git", {}))
    values["metrics"] = {k: MetricSummary(**m) for k, m in data.get("metrics", {}).items()}
    values["notes"] = [Note(**n) for n in data.get("notes", [])]
    for name in names - values.keys():
        values[name] = blank_value(name)
    return RunRecord(**values)


def wire(record: RunRecord, fields: Any) -> Any:
    """What the server sends for ``record``: its dict through JSON, NaN tokens and all."""
    chosen = None if fields is None else parse_fields(fields)
    return json.loads(json.dumps(record.to_dict(chosen), allow_nan=True))


@BIG_DRAWS
@given(RECORDS)
def test_a_built_record_is_the_record_init_makes(record: RunRecord) -> None:
    values = {f.name: getattr(record, f.name) for f in dataclasses.fields(RunRecord)}
    made = built(RunRecord, values)
    assert made == record and repr(made) == repr(record)
    assert made.to_dict() == record.to_dict() or "nan" in repr(record)
    with pytest.raises(dataclasses.FrozenInstanceError, match="name"):
        made.name = "other"  # type: ignore[misc]


@BIG_DRAWS
@given(RECORDS, SELECTIONS)
def test_from_dict_reads_what_the_former_decoder_read(record: RunRecord, fields: Any) -> None:
    data = wire(record, fields)
    new, old = RunRecord.from_dict(data), former_from_dict(data)
    # repr: NaN equals itself there, and every field and its type shows
    assert repr(new) == repr(old)
    assert [type(getattr(new, f.name)) for f in dataclasses.fields(RunRecord)] == [
        type(getattr(old, f.name)) for f in dataclasses.fields(RunRecord)
    ]


@BIG_DRAWS
@given(RECORDS)
def test_nan_and_infinities_round_trip_through_the_wire(record: RunRecord) -> None:
    back = RunRecord.from_dict(wire(record, None))
    for key, m in record.metrics.items():
        for name in ("last_value", "min_value", "max_value", "summary_value"):
            sent, got = getattr(m, name), getattr(back.metrics[key], name)
            assert (sent is None and got is None) or (
                math.isnan(sent) and math.isnan(got) if sent != sent else sent == got
            )


def test_a_missing_identity_field_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="id"):
        RunRecord.from_dict({"project": "p", "name": "n", "status": "s", "created_at": 1.0})


def test_a_blank_field_is_a_fresh_object_per_record() -> None:
    data = {"id": "a", "project": "p", "name": "n", "status": "s", "created_at": 1.0}
    one, two = RunRecord.from_dict(data), RunRecord.from_dict(data)
    assert one.tags == [] and one.tags is not two.tags and one.packages is not two.packages


def test_metric_from_dict_takes_a_dict_without_summary_value() -> None:
    m = metric_from_dict(
        {"key": "a", "count": 1, "last_step": 0, "last_value": 1.0, "min_value": 1.0}
        | {"max_value": 1.0}
    )
    assert m == MetricSummary("a", 1, 0, 1.0, 1.0, 1.0, None)


def test_gc_pauses_nest_and_restore_the_collector() -> None:
    import gc

    assert gc.isenabled()
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()


def test_duration_brings_the_times_it_is_derived_from() -> None:
    assert {"ended_at", "heartbeat_at"} <= set(parse_fields("duration"))
    assert "ended_at" not in parse_fields("tags")
