"""Names and run ids: one rule each, for the SDK, the server routes and the core.

A name (of a project, a schema subject or a dataset) is 1 to ``widths.NAME`` ASCII
letters, digits, ``.``, ``_`` or ``-``, starting with a letter or digit: it appears in
URLs, file names and filter expressions unquoted. A run id is 4 to ``widths.RUN_ID``
ASCII letters, digits, ``-`` or ``_``; lablink makes 12 hex characters itself.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from lablink.checks import widths
from lablink.errors import InvalidInput

# Public for the OpenAPI spec, which states the same rule as JSON Schema patterns.
NAME_PATTERN = rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{widths.NAME - 1}}}"
_NAME = re.compile(NAME_PATTERN)
_RUN_ID = re.compile(rf"[A-Za-z0-9_-]{{4,{widths.RUN_ID}}}")
NAME_RULE = (
    f"use letters, digits, '.', '_' or '-' (up to {widths.NAME}), starting with a letter or digit"
)
RUN_ID_RULE = f"ids are 4-{widths.RUN_ID} letters, digits, - or _"


def is_name(value: Any) -> bool:
    """Whether ``value`` is a valid project, schema subject or dataset name."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None


def check_name(value: Any, what: str, example: str) -> str:
    """``value`` if it is a valid name.

    Raises:
        InvalidInput: ``invalid {what} ...`` with the rule and ``example`` as the hint.
    """
    if not is_name(value):
        raise InvalidInput(f"invalid {what} {value!r}", f"{NAME_RULE}, e.g. {example}")
    return value  # type: ignore[no-any-return]


def check_project(value: Any) -> str:
    """``value`` if it is a valid project name.

    Raises:
        InvalidInput: naming the rule.
    """
    return check_name(value, "project name", "vision")


def is_run_id(value: Any) -> bool:
    """Whether ``value`` has the shape of a full run id."""
    return isinstance(value, str) and _RUN_ID.fullmatch(value) is not None


def check_run_id(value: Any) -> str:
    """``value`` if it is a valid run id.

    Raises:
        InvalidInput: naming the rule.
    """
    if not is_run_id(value):
        raise InvalidInput(f"invalid run id {value!r}", RUN_ID_RULE)
    return value  # type: ignore[no-any-return]


def new_run_id() -> str:
    """12 hex characters: short enough to type, 48 random bits."""
    return uuid.uuid4().hex[:12]
