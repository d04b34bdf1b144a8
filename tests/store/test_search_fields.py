"""A search that names its fields (``fields=``) answers what the full search answers,
cut to those fields, on both backends: the lean path of issue #18 (rows sorted in one
query, unread columns as NULL, side tables read by a bound list of ids) changes no value.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lablink.checks.run_view import FIELDS, parse_fields
from lablink.core.lab import Lab
from lablink.errors import InvalidInput
from lablink.models import RUN_KEYS, RunRecord
from lablink.run_columns import from_columns, page_of, to_columns
from lablink.server.jsonio import dumps
from lablink.store import schema as t
from lablink.store.base_sql import FEW_VALUES
from lablink.store.row_columns import COLUMN_FIELDS

USER = "tester@example.org"
PROJECT = "fields"
SPECIAL = (math.nan, math.inf, -math.inf, 0.5, -2.0)
FILTERS = (
    None,
    "metrics.acc >= 0",
    "tags.a",
    "params.lr <= 0.01 and not tags.b",
    "status = 'finished' or metrics.loss < 1",
)
SORTS = (None, "name", "metrics.acc", "params.lr", "duration")


@pytest.fixture
def made(lab: Lab) -> int:
    """40 runs (more than ``FEW_VALUES``) with NaN and infinite summaries, notes, inputs,
    git state and statuses."""
    tr = lab.tracking
    for i in range(40):
        config: dict[str, Any] = {"lr": [1e-4, 1e-3, 0.01, 3][i % 4]} if i % 5 else {}
        tags = [tag for tag, on in (("a", i % 2), ("b", i % 3 == 0)) if on]
        capture = {"git_commit": f"{i:040x}", "git_dirty": bool(i % 2), "host": f"h{i % 3}"}
        run = tr.create_run(USER, PROJECT, f"r{i % 7}", config, tags, capture=capture)
        if i % 3:
            tr.set_summary(run.id, {"acc": SPECIAL[i % len(SPECIAL)], "note": "text"})
        if i % 4:
            series = {"steps": [0, 1], "times": [1.0, 2.0], "values": [SPECIAL[i % 5], 0.25]}
            tr.log_batch(run.id, 0, {"loss": series})
        if i % 6 == 0:
            tr.note(USER, run.id, f"note {i}", "positive")
            tr.add_input(run.id, "dataset", f"ds@{i}", None)
        if i % 3 != 2:
            tr.finish_run(USER, run.id, "finished" if i % 2 else "failed")
    return 40


def as_json(run: RunRecord, fields: tuple[str, ...]) -> str:
    """The run as the API lists it with ``fields``; NaN spelled, so it equals itself."""
    return json.dumps(run.to_dict(fields), allow_nan=True, sort_keys=True)


Page = tuple[str, str | None, str | None, bool, int, int]


def pages(max_offset: int) -> st.SearchStrategy[Page]:
    """The search arguments after the field selection: project, filter, sort, order,
    limit, offset."""
    return st.tuples(
        st.just(PROJECT),
        st.sampled_from(FILTERS),
        st.sampled_from(SORTS),
        st.booleans(),
        st.integers(1, 50),
        st.integers(0, max_offset),
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(selection=st.lists(st.sampled_from([*FIELDS, "lean"]), max_size=5), page=pages(25))
def test_a_chosen_selection_is_the_full_answer_cut_to_it(
    lab: Lab, made: int, selection: list[str], page: Page
) -> None:
    chosen = parse_fields(selection)
    tr = lab.tracking
    lean, lean_total = tr.search_runs(*page, chosen)
    full, full_total = tr.search_runs(*page, None)
    assert lean_total == full_total
    assert [as_json(r, chosen) for r in lean] == [as_json(r, chosen) for r in full]


def test_the_lean_rows_keep_nan_and_infinite_summaries(lab: Lab, made: int) -> None:
    lean, _ = lab.tracking.search_runs(PROJECT, None, None, True, 100, 0, parse_fields(["lean"]))
    values = [r.metrics["acc"].summary_value for r in lean if "acc" in r.metrics]
    assert any(v is not None and math.isnan(v) for v in values)
    assert math.inf in values and -math.inf in values


def test_among_finds_exactly_the_listed_ids_short_or_long(lab: Lab) -> None:
    store = lab.store
    made = [lab.tracking.create_run(USER, PROJECT, f"r{i}").id for i in range(3)]
    odd = ["it's", 'a "b"', "ü%_\\", ""]  # quoting, LIKE characters, non-ASCII, empty
    for listed in (made[:2], [*made[:2], *odd, *(f"x{i}" for i in range(FEW_VALUES * 3))]):
        query = sa.select(t.runs.c.id).where(store.among(t.runs.c.id, listed))  # type: ignore[attr-defined]
        with store.engine.connect() as conn:  # type: ignore[attr-defined]
            assert sorted(conn.execute(query).scalars()) == sorted(made[:2])


@pytest.mark.parametrize("selection", [None, ["lean"], *([name] for name in FIELDS)])
def test_the_column_answer_reads_back_as_the_row_answer(
    lab: Lab, made: int, selection: list[str] | None
) -> None:
    chosen = None if selection is None else parse_fields(selection)
    keys = RUN_KEYS if chosen is None else chosen
    runs, total = lab.tracking.search_runs(PROJECT, None, None, True, 100, 0, chosen)
    as_text = dumps({"columns": to_columns(runs, keys), "total": total})  # NaN as tokens
    columns, total_read = page_of(json.loads(as_text))
    rows, _ = page_of(json.loads(dumps({"runs": [r.to_dict(keys) for r in runs], "total": 3})))
    assert total_read == total == made
    assert [as_json(r, keys) for r in columns] == [as_json(r, keys) for r in runs]
    assert [as_json(r, RUN_KEYS) for r in columns] == [as_json(r, RUN_KEYS) for r in rows]
    assert columns == rows


def test_a_column_answer_with_ragged_columns_is_refused() -> None:
    with pytest.raises(ValueError, match="length"):
        from_columns({"id": ["a", "b"], "name": ["x"]})
    with pytest.raises(ValueError, match="id"):
        from_columns({"name": ["x"]})


ROW_MADE = sorted(COLUMN_FIELDS)


def as_text(columns: dict[str, list[Any]]) -> str:
    """A column answer as text, NaN spelled (so it equals itself) and order kept."""
    return json.dumps(columns, allow_nan=True)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(selection=st.lists(st.sampled_from([*ROW_MADE, "lean"]), max_size=5), page=pages(45))
def test_columns_made_from_rows_are_those_made_from_records(
    lab: Lab, made: int, selection: list[str], page: Page
) -> None:
    chosen = parse_fields(selection)
    tr = lab.tracking
    columns, total = tr.search_columns(*page, chosen, chosen)
    lean, lean_total = tr.search_runs(*page, chosen)
    full, full_total = tr.search_runs(*page, None)
    assert total == lean_total == full_total
    assert list(columns) == list(chosen)
    assert as_text(columns) == as_text(to_columns(lean, chosen))
    assert as_text(columns) == as_text(to_columns(full, chosen))


def test_columns_from_rows_keep_nan_and_infinite_params_and_metrics(lab: Lab) -> None:
    tr = lab.tracking
    for i, x in enumerate((math.nan, math.inf, -math.inf, 1.5, None)):
        config = {} if x is None else {"x": x, "deep": {"y": [x]}}
        run = tr.create_run(USER, PROJECT, f"n{i}", config, ["t"] if i % 2 else [])
        if x is not None:
            tr.set_summary(run.id, {"acc": x})
            series = {"steps": [0], "times": [1.0], "values": [x]}
            tr.log_batch(run.id, 0, {"loss": series})
    chosen = parse_fields(["lean"])
    columns, _ = tr.search_columns(PROJECT, None, None, True, 10, 0, chosen, chosen)
    runs, _ = tr.search_runs(PROJECT, None, None, True, 10, 0, chosen)
    assert as_text(columns) == as_text(to_columns(runs, chosen))
    text = as_text(columns)
    assert "NaN" in text and "Infinity" in text and "-Infinity" in text
    values = [m["acc"][5] for m in columns["metrics"] if "acc" in m]
    assert math.inf in values and -math.inf in values and any(math.isnan(v) for v in values)


def test_columns_through_records_for_fields_not_made_from_rows(lab: Lab, made: int) -> None:
    tr = lab.tracking
    for selection in (["notes"], ["git", "lean"], ["summary"]):
        chosen = parse_fields(selection)
        columns, total = tr.search_columns(PROJECT, None, None, True, 50, 0, chosen, chosen)
        runs, _ = tr.search_runs(PROJECT, None, None, True, 50, 0, chosen)
        assert total == made
        assert as_text(columns) == as_text(to_columns(runs, chosen))
    with pytest.raises(InvalidInput, match="not made as columns"):
        lab.store.search_run_columns(PROJECT, None, None, True, 5, 0, ("id", "notes"))


def test_an_empty_page_of_columns_has_every_column(lab: Lab, made: int) -> None:
    chosen = parse_fields(["lean"])
    for offset in (made, made + 10):
        columns, total = lab.tracking.search_columns(
            PROJECT, None, None, True, 5, offset, chosen, chosen
        )
        assert total == made
        assert columns == {name: [] for name in chosen}
