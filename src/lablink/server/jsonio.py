"""JSON in and out of the server, with NaN and ±Infinity kept as such.

Metric values and summaries may be NaN or infinite, and the Python SDK must get them
back as floats. Strict JSON has no spelling for them, so, as MLflow does, responses use
the ``NaN``, ``Infinity`` and ``-Infinity`` tokens that Python's ``json`` (and most
JSON libraries in lenient mode) read back. Starlette's ``JSONResponse`` refuses NaN,
hence this module.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse as _StarletteJSONResponse

from lablink.checks.limits import MAX_DEPTH
from lablink.errors import InvalidInput


def dumps(content: Any) -> str:
    """Compact JSON text; non-finite floats become ``NaN`` / ``Infinity`` tokens."""
    return json.dumps(content, allow_nan=True, separators=(",", ":"))


class JSONResponse(_StarletteJSONResponse):
    """The server's default response class: JSON that keeps NaN and ±Infinity."""

    def render(self, content: Any) -> bytes:
        """Encode ``content``; ``ensure_ascii`` keeps lone surrogates encodable."""
        return dumps(content).encode("ascii")


def reply(content: Any, status: int = 200) -> JSONResponse:
    """A JSON response, skipping FastAPI's per-item ``jsonable_encoder`` pass."""
    return JSONResponse(content, status_code=status)


def loads_body(body: bytes, what: str = "request body") -> Any:
    """Parse a raw request body as JSON (NaN and Infinity tokens allowed).

    Raises:
        InvalidInput: empty body, invalid UTF-8 or JSON, or nesting deeper than 64.
    """
    if not body.strip():
        raise InvalidInput(f"{what} is empty", "send a JSON object")
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{what} is not valid JSON: {exc.msg} at position {exc.pos}",
            "send a JSON object with Content-Type: application/json",
            position=exc.pos,
        ) from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{what} is not valid UTF-8 at byte {exc.start}") from exc
    except (RecursionError, ValueError) as exc:
        # ValueError: integers over Python's 4300-digit conversion limit.
        raise InvalidInput(f"{what} cannot be read as JSON: {exc}") from exc


def check_text(value: str) -> str:
    """Refuse text a database cannot store: NUL characters and lone surrogates.

    Raises:
        ValueError: naming the problem (pydantic turns it into a 400).
    """
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("text contains an unpaired surrogate (invalid unicode)") from exc
    return value


def check_json_value(value: Any, what: str = "value") -> Any:
    """Walk a JSON value: safe text everywhere, integers in 64 bits, at most 64 levels.

    Iterative, so a deeply nested document cannot exhaust the Python stack.

    Raises:
        ValueError: naming the path of the first bad part.
    """
    stack: list[tuple[Any, str, int]] = [(value, what, 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"{path} is nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, str):
            _check_at(item, path)
        elif isinstance(item, bool | float) or item is None:
            continue
        elif isinstance(item, int):
            if not -(2**63) <= item < 2**63:
                raise ValueError(f"{path}: integer {str(item)[:20]}... does not fit in 64 bits")
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_at(key, path)
                stack.append((child, f"{path}.{key}", depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
    return value


def _check_at(text: str, path: str) -> None:
    try:
        check_text(text)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
