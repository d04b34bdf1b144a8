"""The error envelope is an API: pin its shape and the typed rebuild."""

from __future__ import annotations

from lablink.errors import (
    ERRORS_BY_CODE,
    HTTP_STATUS,
    FilterSyntaxError,
    NotFound,
    RunNotActive,
    from_dict,
)


def test_envelope_shape() -> None:
    body = NotFound("no run with id 'x'", "list runs with `lablink runs ls`").to_dict()
    assert body == {
        "error": {
            "code": "not_found",
            "message": "no run with id 'x'",
            "hint": "list runs with `lablink runs ls`",
        }
    }


def test_every_error_round_trips_through_its_envelope() -> None:
    for code, cls in ERRORS_BY_CODE.items():
        rebuilt = from_dict(cls("m", "h").to_dict(), HTTP_STATUS[code])
        assert type(rebuilt) is cls and rebuilt.message == "m" and rebuilt.hint == "h"


def test_filter_error_keeps_position_details() -> None:
    err = FilterSyntaxError.at("bad", "metrics.x >", 11)
    rebuilt = from_dict(err.to_dict(), 400)
    assert isinstance(rebuilt, FilterSyntaxError) and rebuilt.details["position"] == 11


def test_statuses() -> None:
    assert HTTP_STATUS["already_exists"] == 409 and RunNotActive.status == 409
    assert from_dict({"garbage": 1}, 502).message == "server answered HTTP 502"
