"""Field types for request bodies, shared by the routers.

Request models are strict (no ``"5"`` for 5, no ``"yes"`` for true) and forbid unknown
fields, so a typo gets a 400 naming the field instead of being silently dropped. Text
is checked for what PostgreSQL refuses (NUL, unpaired surrogates, values longer than
their column) before any write starts, so a bad request never leaves half a write.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    model_validator,
)

from lablink.checks import widths
from lablink.checks.json_value import check_text
from lablink.checks.limits import MAX_NOTE_CHARS


class Body(BaseModel):
    """Base of request bodies: strict types, unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid")


_Safe = AfterValidator(check_text)


def _integral(value: Any) -> Any:
    # JSON Schema counts 5.0 as an integer (the spec says "integer"); strict mode would not.
    if type(value) is float and value.is_integer():
        return int(value)
    return value


# Put after the Field(ge, le) of an int in a JSON body: 5 or 5.0, never "5", 5.5 or true.
# (After it, not before: pydantic would put the bounds in the spec as ge/le, not minimum.)
Integral = BeforeValidator(_integral)

# A free-form JSON object (config, summary). Only its top level is checked here, as
# request models are validated on the event loop; the core walks the rest (safe text,
# 64-bit integers, 64 levels, size) in a worker thread.
JsonObject = dict[str, Any]
ProjectName = Annotated[str, StringConstraints(min_length=1, max_length=widths.NAME), _Safe]
RunName = Annotated[str, StringConstraints(max_length=widths.RUN_NAME), _Safe]
RunId = Annotated[str, StringConstraints(min_length=1, max_length=widths.RUN_ID), _Safe]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=widths.TAG), _Safe]
Digest = Annotated[str, StringConstraints(min_length=1, max_length=widths.DIGEST), _Safe]
SchemaRef = Annotated[str, StringConstraints(min_length=1, max_length=220), _Safe]
ArtifactName = Annotated[
    str, StringConstraints(min_length=1, max_length=widths.ARTIFACT_NAME), _Safe
]
Kind = Annotated[str, StringConstraints(max_length=widths.ARTIFACT_KIND), _Safe]
InputKind = Annotated[str, StringConstraints(min_length=1, max_length=widths.INPUT_KIND), _Safe]
InputRef = Annotated[str, StringConstraints(min_length=1, max_length=widths.INPUT_REF), _Safe]
Status = Annotated[str, StringConstraints(min_length=1, max_length=widths.STATUS), _Safe]
# models.OUTCOMES, spelled out so the spec lists them (tests/api/test_api_bad_input.py checks)
Outcome = Literal["positive", "negative", "inconclusive"]
Text = Annotated[str, StringConstraints(max_length=MAX_NOTE_CHARS), _Safe]
MetricKey = Annotated[str, StringConstraints(max_length=widths.METRIC_KEY), _Safe]

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(value: str, width: int | None = None) -> str:
    """Repair text gathered from the environment: drop NUL, replace bad unicode, cut."""
    value = _SURROGATE.sub("\ufffd", value.replace("\x00", ""))
    return value if width is None else value[:width]


class Capture(BaseModel):
    """What the SDK gathered about the run's code and machine.

    Repaired and cut, never refused: a non-UTF-8 file name in ``sys.argv`` or a long
    git remote must not stop a run from starting. Unknown keys are ignored, so an
    older server accepts a newer SDK.
    """

    model_config = ConfigDict(strict=True, extra="ignore")

    git_commit: str | None = None
    git_branch: str | None = None
    git_remote: str | None = None
    git_dirty: bool | None = None
    git_diff_digest: str | None = None
    command: list[str] | None = None
    host: str | None = None
    python_version: str | None = None
    packages: dict[str, str] | None = None
    gpus: list[str] | None = None
    # The run's watch policy: checked by the watchdog, which refuses a bad one.
    watch: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _repair(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key, width in widths.CAPTURED.items():  # longer values are cut
            if out.get(key) is not None:
                out[key] = clean(str(out[key]), width)
        if out.get("git_dirty") is not None:
            out["git_dirty"] = bool(out["git_dirty"])
        for key in ("command", "gpus"):
            if isinstance(out.get(key), list | tuple):
                out[key] = [clean(str(v)) for v in out[key] if v is not None]
            elif out.get(key) is not None:
                out[key] = None
        if isinstance(out.get("packages"), dict):
            out["packages"] = {clean(str(k)): clean(str(v)) for k, v in out["packages"].items()}
        elif out.get("packages") is not None:
            out["packages"] = None
        return out
