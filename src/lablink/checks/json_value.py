"""Free-form JSON values (config, summary): what a database can store, walked without recursion.

Pure: no I/O. The server's request models and the core both use these checks, so the
HTTP and direct transports refuse the same values.
"""

from __future__ import annotations

from collections.abc import Mapping
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

    Iterative, so a deeply nested document cannot exhaust the Python stack; paths are
    built only for the item that fails, so the walk stays linear in the value's size.

    Raises:
        ValueError: naming the path of the first bad part.
    """
    # (item, parent index, key or index within the parent, depth); parents kept for paths
    stack: list[tuple[Any, int, Any, int]] = [(value, -1, None, 0)]
    seen: list[tuple[int, Any]] = []
    while stack:
        item, parent, key, depth = stack.pop()
        here = len(seen)
        seen.append((parent, key))
        if depth > MAX_DEPTH:
            raise ValueError(f"{_path(seen, here, what)} is nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, str):
            _check_at(item, seen, here, what)
        elif isinstance(item, bool | float) or item is None:
            continue
        elif isinstance(item, int):
            if not -(2**63) <= item < 2**63:
                raise ValueError(
                    f"{_path(seen, here, what)}: integer {str(item)[:20]}... "
                    "does not fit in 64 bits"
                )
        elif isinstance(item, Mapping):
            for k, child in item.items():
                if isinstance(k, str):
                    _check_at(k, seen, here, what)
                elif not isinstance(k, int | float | bool) and k is not None:
                    # json.dumps writes these keys as text; any other key it refuses
                    raise ValueError(f"{_path(seen, here, what)}: key {k!r} is not text")
                stack.append((child, here, k, depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((child, here, i, depth + 1) for i, child in enumerate(item))
        else:
            raise ValueError(
                f"{_path(seen, here, what)}: {type(item).__name__} is not a JSON value "
                "(use numbers, text, booleans, lists and dicts)"
            )
    return value


def _path(seen: list[tuple[int, Any]], index: int, root: str) -> str:
    parts: list[str] = []
    while index > 0:
        parent, key = seen[index]
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
        index = parent
    return root + "".join(reversed(parts))


def _check_at(text: str, seen: list[tuple[int, Any]], index: int, root: str) -> None:
    try:
        check_text(text)
    except ValueError as exc:
        raise ValueError(f"{_path(seen, index, root)}: {exc}") from None
