"""MLflow's search grammar for runs: parse, translate to lablink's filter, evaluate, sort.

A filter is clauses joined by ``and``: ``metrics.acc > 0.9``, ``params.lr = '0.1'``,
``tags.team = 'nlp'``, ``attributes.status = 'FINISHED'``; keys with odd characters
are quoted in backticks or double quotes. Metrics compare with ``= != < <= > >=``;
params, tags and text attributes with ``= != LIKE ILIKE`` (and ``IN``/``NOT IN`` for
``status`` and ``run_id``); ``IS NULL``/``IS NOT NULL`` ask whether a param or tag is
set. ``order_by`` items are ``<entity>.<key> [ASC|DESC]``.

The metric and status clauses that lablink's own filter language can state are
translated to it, so the store narrows the candidates; every clause is then evaluated
here on what is left, with MLflow's semantics (params and tags compare as strings).
"""

from __future__ import annotations

import base64
import dataclasses
import fnmatch
import functools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lablink.errors import InvalidInput

ENTITIES = {
    "metric": "metrics",
    "metrics": "metrics",
    "param": "params",
    "params": "params",
    "parameter": "params",
    "parameters": "params",
    "tag": "tags",
    "tags": "tags",
    "attribute": "attributes",
    "attributes": "attributes",
    "attr": "attributes",
    "run": "attributes",
}
ATTRIBUTES = {
    "status",
    "run_name",
    "run_id",
    "start_time",
    "end_time",
    "user_id",
    "artifact_uri",
    "lifecycle_stage",
}
NUMERIC_ATTRIBUTES = {"start_time", "end_time"}
HINT = "filters look like: metrics.acc > 0.9 and params.lr = '0.1' and tags.team = 'nlp'"
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<ident>[A-Za-z_][A-Za-z0-9_]*)\.(?P<key>`[^`]+`|"[^"]+"|[^\s=!<>()]+)
      | (?P<op>!=|<>|>=|<=|=|<|>)
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?inf(?:inity)?|nan)
      | (?P<word>[A-Za-z]+)
      | (?P<lpar>\()|(?P<rpar>\))|(?P<comma>,)
    )""",
    re.VERBOSE | re.IGNORECASE,
)
_LABLINK_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*")
# MLflow status -> the lablink statuses it covers.
STATUSES = {
    "RUNNING": ("running",),
    "SCHEDULED": (),
    "FINISHED": ("finished",),
    "FAILED": ("failed", "crashed", "timed_out"),
    "KILLED": ("killed", "preempted"),
}


@dataclasses.dataclass(frozen=True)
class Clause:
    """One comparison: ``entity.key op value``."""

    entity: str
    key: str
    op: str
    value: Any


# What a clause is evaluated on: entity, key -> the run's value (None: not set).
Lookup = Callable[[str, str], Any]


def parse(text: str | None) -> list[Clause]:
    """The clauses of an MLflow filter (empty for none).

    Raises:
        InvalidInput: a filter that does not parse, naming where.
    """
    if not text or not text.strip():
        return []
    tokens = _tokens(text)
    clauses: list[Clause] = []
    i = 0
    while True:
        if i >= len(tokens) or tokens[i][0] != "ident":
            raise _bad(text, "expected <entity>.<key>, such as metrics.acc")
        entity_raw, key = tokens[i][1]
        entity = ENTITIES.get(entity_raw.lower())
        if entity is None:
            raise _bad(
                text, f"unknown entity {entity_raw!r}: use metrics, params, tags or attributes"
            )
        key = _unquote_key(key)
        if entity == "attributes":
            key = {"created": "start_time", "name": "run_name", "user": "user_id"}.get(key, key)
            if key not in ATTRIBUTES:
                raise _bad(text, f"unknown attribute {key!r}")
        i += 1
        op, value, i = _comparison(text, tokens, i, entity, key)
        clauses.append(Clause(entity, key, op, value))
        if i == len(tokens):
            return clauses
        if tokens[i] != ("word", "AND"):
            raise _bad(text, "clauses are joined with AND (MLflow has no OR)")
        i += 1


def _comparison(
    text: str, tokens: list[tuple[str, Any]], i: int, entity: str, key: str
) -> tuple[str, Any, int]:
    kind, tok = tokens[i] if i < len(tokens) else ("end", None)
    if kind == "word" and tok == "IS":
        negate = i + 1 < len(tokens) and tokens[i + 1] == ("word", "NOT")
        j = i + 2 if negate else i + 1
        if j >= len(tokens) or tokens[j] != ("word", "NULL") or entity not in ("params", "tags"):
            raise _bad(text, "IS NULL and IS NOT NULL apply to params and tags")
        return ("IS NOT NULL" if negate else "IS NULL"), None, j + 1
    if kind == "word" and tok in ("IN", "NOT"):
        op = "IN"
        if tok == "NOT":
            if i + 1 >= len(tokens) or tokens[i + 1] != ("word", "IN"):
                raise _bad(text, "expected IN after NOT")
            op, i = "NOT IN", i + 1
        values, i = _list(text, tokens, i + 1)
        return op, values, i
    if kind == "word" and tok in ("LIKE", "ILIKE"):
        op = str(tok)
    elif kind == "op":
        op = "!=" if tok == "<>" else str(tok)
    else:
        raise _bad(text, f"expected a comparison after {entity}.{key}")
    if i + 1 >= len(tokens):
        raise _bad(text, "expected a value")
    vkind, value = tokens[i + 1]
    numeric = entity == "metrics" or (entity == "attributes" and key in NUMERIC_ATTRIBUTES)
    if numeric:
        if vkind != "number" or op in ("LIKE", "ILIKE"):
            raise _bad(text, f"{entity}.{key} compares with a number and = != < <= > >=")
        return op, float(value), i + 2
    if vkind != "string":
        raise _bad(text, f"{entity}.{key} compares with a quoted string, such as '0.1'")
    if op in ("<", "<=", ">", ">="):
        raise _bad(text, f"{entity}.{key} compares with = != LIKE or ILIKE")
    return op, value, i + 2


def _list(text: str, tokens: list[tuple[str, Any]], i: int) -> tuple[tuple[str, ...], int]:
    if i >= len(tokens) or tokens[i][0] != "lpar":
        raise _bad(text, "IN takes a list: ('a', 'b')")
    values: list[str] = []
    i += 1
    while i < len(tokens) and tokens[i][0] == "string":
        values.append(tokens[i][1])
        i += 1
        if i < len(tokens) and tokens[i][0] == "comma":
            i += 1
    if i >= len(tokens) or tokens[i][0] != "rpar" or not values:
        raise _bad(text, "IN takes a list of quoted strings: ('a', 'b')")
    return tuple(values), i + 1


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise _bad(text, f"unexpected text at position {pos}: {text[pos : pos + 20]!r}")
        kind = m.lastgroup
        if kind in ("ident", "key"):
            out.append(("ident", (m.group("ident"), m.group("key"))))
        elif kind == "string":
            raw = m.group("string")
            out.append(("string", re.sub(r"\\(.)", r"\1", raw[1:-1])))
        elif kind == "word":
            out.append(("word", m.group("word").upper()))
        else:
            assert kind is not None
            out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _unquote_key(key: str) -> str:
    return key[1:-1] if key[:1] in ("`", '"') and key[-1:] == key[:1] else key


def _bad(text: str, why: str) -> InvalidInput:
    return InvalidInput(f"invalid filter {text[:200]!r}: {why}", HINT)


def to_lablink(clauses: Sequence[Clause]) -> str | None:
    """The part of the filter lablink's own language states: a superset of the matches."""
    parts: list[str] = []
    for c in clauses:
        if c.entity == "metrics" and _LABLINK_KEY.fullmatch(c.key) and math.isfinite(c.value):
            op = c.op if c.op != "!=" else None
            if op is not None:
                parts.append(f"metrics.{c.key} {op} {c.value!r}")
        elif c.entity == "attributes" and c.key == "status" and c.op in ("=", "IN"):
            wanted = [c.value] if c.op == "=" else list(c.value)
            statuses = [s for w in wanted for s in STATUSES.get(w.upper(), ())]
            quoted = ", ".join(f'"{s}"' for s in statuses) or '"none"'
            parts.append(f"status in ({quoted})")
    return " and ".join(parts) or None


def matches(clauses: Sequence[Clause], lookup: Lookup) -> bool:
    """Whether a run (seen through ``lookup``) satisfies every clause."""
    return all(_holds(c, lookup(c.entity, c.key)) for c in clauses)


def _holds(c: Clause, actual: Any) -> bool:
    if c.op == "IS NULL":
        return actual is None
    if c.op == "IS NOT NULL":
        return actual is not None
    if actual is None:
        return False
    if c.op == "IN":
        return bool(actual in c.value)
    if c.op == "NOT IN":
        return bool(actual not in c.value)
    if c.op in ("LIKE", "ILIKE"):
        pattern = fnmatch.translate(c.value.replace("%", "*").replace("_", "?"))
        return re.match(pattern, actual, re.IGNORECASE if c.op == "ILIKE" else 0) is not None
    if isinstance(c.value, float) and not isinstance(actual, int | float):
        return False
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return compare[c.op](actual, c.value)


def parse_order_by(items: Sequence[str]) -> list[tuple[str, str, bool]]:
    """``(entity, key, ascending)`` per ``order_by`` item.

    Raises:
        InvalidInput: an item that does not parse.
    """
    out: list[tuple[str, str, bool]] = []
    for item in items:
        m = re.fullmatch(
            r"\s*(?:([A-Za-z_]+)\.)?(`[^`]+`|\"[^\"]+\"|[^\s]+)(?:\s+(ASC|DESC))?\s*",
            item,
            re.IGNORECASE,
        )
        entity = ENTITIES.get((m.group(1) or "attributes").lower()) if m else None
        if m is None or entity is None:
            raise InvalidInput(
                f"invalid order_by {item[:100]!r}", "e.g. metrics.acc DESC or attributes.start_time"
            )
        key = _unquote_key(m.group(2))
        if entity == "attributes":
            key = {"created": "start_time", "name": "run_name", "user": "user_id"}.get(key, key)
            if key not in ATTRIBUTES:
                raise InvalidInput(f"invalid order_by {item[:100]!r}: unknown attribute {key!r}")
        out.append((entity, key, (m.group(3) or "ASC").upper() == "ASC"))
    return out


def sort_key(order: Sequence[tuple[str, str, bool]], lookup: Lookup) -> tuple[Any, ...]:
    """A key that sorts runs by ``order``, missing values last (as MLflow does)."""
    parts: list[Any] = []
    for entity, key, ascending in order:
        value = lookup(entity, key)
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        if missing:
            parts.append((1, 0))
        elif isinstance(value, int | float):
            parts.append((0, value if ascending else -value))
        else:
            parts.append((0, _Text(str(value), ascending)))
    return tuple(parts)


@functools.total_ordering
class _Text:
    """Text that sorts descending when asked."""

    def __init__(self, text: str, ascending: bool) -> None:
        self.text, self.ascending = text, ascending

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Text) and self.text == other.text

    def __lt__(self, other: _Text) -> bool:
        return self.text < other.text if self.ascending else self.text > other.text

    def __hash__(self) -> int:
        return hash(self.text)


def page_token(offset: int) -> str:
    """An opaque token for the page starting at ``offset``."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def read_page_token(token: str | None) -> int:
    """The offset a token stands for (0 for none). Raises ``InvalidInput``."""
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = data["offset"] if isinstance(data, Mapping) else None
    except (ValueError, KeyError, UnicodeError):
        offset = None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidInput("invalid page_token", "pass the next_page_token of the previous page")
    return offset
