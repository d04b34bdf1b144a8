"""Text and JSON values a database can store: no NUL, no lone surrogates, 64-bit integers.

Raises ``ValueError`` so the server's request fields (pydantic validators) turn it into
a 400; ``run_fields`` turns it into ``InvalidInput`` for the core and the SDK.
"""

from __future__ import annotations

from typing import Any

from lablink.checks.limits import MAX_DEPTH


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
            if not -(2**63) <= item < 2**63:  # a signed 64-bit integer, as stored
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
