"""``lablink.validate``: check a table against a registered schema from training code."""

from __future__ import annotations

from typing import Any


def validate(data: Any, schema: str, **kwargs: Any) -> Any:
    """Validate a pandas/polars/pyarrow table or files against a schema (``"events@v2"``).

    Returns a report with ``.ok`` and ``.failures`` (rule, column, count, example rows).
    The validation engine (polars, pyarrow) loads on the first call, not on import.
    """
    from lablink.core.schemas import validate as _validate

    return _validate(data, schema, **kwargs)
