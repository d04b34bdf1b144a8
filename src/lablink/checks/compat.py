"""Schema compatibility: Confluent Schema Registry's modes, adapted to tables.

The one question underneath every mode is ``can_read(reader, writer)``: can a consumer
that validates with ``reader`` accept every table produced under ``writer``? A table
"produced under" a schema has exactly its columns, and a reader ignores columns it does
not declare and fills the ones it declares but the table lacks with nulls (or the
field's ``default``). Then:

- ``backward``: the new schema reads data written with the previous one;
- ``forward``: the previous schema reads data written with the new one;
- ``full``: both; ``none``: no check;
- ``*_transitive``: the same against every earlier version, not just the latest.

Each reason a reader cannot read a writer's data is a ``Break`` naming the field and
the rule. The full table is in ``docs/schemas.md``; ``tests/schemas`` checks it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from lablink.checks.schema_model import Field, Schema, lower_bound, upper_bound

MODES: tuple[str, ...] = (
    "none",
    "backward",
    "forward",
    "full",
    "backward_transitive",
    "forward_transitive",
    "full_transitive",
)
# Writer type -> reader types that accept every value of it without loss.
WIDENS_TO: dict[str, frozenset[str]] = {
    "integer": frozenset({"number"}),
    "year": frozenset({"integer", "number"}),
    "date": frozenset({"datetime"}),
}


@dataclasses.dataclass(frozen=True)
class Break:
    """One reason a reader schema cannot read data written with a writer schema."""

    field: str | None
    rule: str
    message: str
    direction: str = ""  # "backward" or "forward" once a mode has been applied
    against: int | None = None  # the registered version it breaks against

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return dataclasses.asdict(self)


def can_read(reader: Schema, writer: Schema) -> list[Break]:
    """Every reason ``reader`` cannot accept tables produced under ``writer``; [] if it can."""
    breaks: list[Break] = []
    for rf in reader.fields:
        wf = writer.field(rf.name)
        r_required = rf.required or rf.name in reader.primary_key
        if wf is None:
            if r_required and (not rf.has_default or rf.default is None):
                breaks.append(
                    Break(
                        rf.name,
                        "required",
                        f"{rf.name!r} is required but the writer has no such column; give it a default or make it nullable",
                    )
                )
            elif rf.unique and rf.has_default and rf.default is not None:
                breaks.append(
                    Break(
                        rf.name,
                        "unique",
                        f"{rf.name!r} must be unique but is missing from the writer and would be filled with one default",
                    )
                )
            continue
        w_required = wf.required or wf.name in writer.primary_key
        breaks += _field_breaks(rf, wf, r_required, w_required)
    breaks += _table_breaks(reader, writer)
    return breaks


def check(new: Schema, previous: Sequence[Schema], mode: str) -> list[Break]:
    """Breaks of ``new`` against the registered ``previous`` versions (oldest first).

    Raises:
        ValueError: ``mode`` is not one of ``MODES``.
    """
    if mode not in MODES:
        raise ValueError(f"unknown compatibility mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode == "none" or not previous:
        return []
    base = mode.removesuffix("_transitive")
    numbered = list(enumerate(previous, start=1))
    targets = numbered if mode.endswith("_transitive") else numbered[-1:]
    breaks: list[Break] = []
    for version, old in targets:
        if base in ("backward", "full"):
            breaks += [_tag(b, "backward", version) for b in can_read(new, old)]
        if base in ("forward", "full"):
            breaks += [_tag(b, "forward", version) for b in can_read(old, new)]
    return breaks


def _tag(b: Break, direction: str, version: int) -> Break:
    return dataclasses.replace(b, direction=direction, against=version)


def _field_breaks(r: Field, w: Field, r_required: bool, w_required: bool) -> list[Break]:
    name = r.name
    out: list[Break] = []

    def add(rule: str, message: str) -> None:
        out.append(Break(name, rule, f"{name!r}: {message}"))

    if r.type != w.type and r.type != "any" and r.type not in WIDENS_TO.get(w.type, ()):
        add("type", f"type {w.type} cannot be read as {r.type}")
        return out  # value constraints of another type say nothing more
    if r.unit is not None and w.unit is not None and r.unit != w.unit:
        add("unit", f"unit changed from {w.unit!r} to {r.unit!r}")
    if r_required and not w_required:
        add("required", "the reader requires a value but the writer allows empty cells")
    if r.unique and not w.unique:
        add("unique", "the reader requires unique values but the writer does not")
    if not _range_within(lower_bound(w), lower_bound(r), low=True):
        add(
            "minimum",
            f"lower bound {_fmt(lower_bound(r))} excludes values the writer allows ({_fmt(lower_bound(w))})",
        )
    if not _range_within(upper_bound(w), upper_bound(r), low=False):
        add(
            "maximum",
            f"upper bound {_fmt(upper_bound(r))} excludes values the writer allows ({_fmt(upper_bound(w))})",
        )
    if r.min_length is not None and (w.min_length or 0) < r.min_length:
        add("minLength", f"minLength {r.min_length} is above the writer's {w.min_length or 0}")
    if r.max_length is not None and (w.max_length is None or w.max_length > r.max_length):
        add("maxLength", f"maxLength {r.max_length} is below the writer's {w.max_length or 'none'}")
    if r.enum is not None:
        extra = None if w.enum is None else [v for v in w.enum if v not in r.enum]
        if extra is None:
            add("enum", f"only {len(r.enum)} values are allowed but the writer allows any")
        elif extra:
            add(
                "enum",
                f"values the writer allows are not allowed: {', '.join(map(str, extra[:10]))}",
            )
    if r.pattern is not None and r.pattern != w.pattern:
        add("pattern", f"pattern {r.pattern!r} is not the writer's ({w.pattern!r})")
    return out


def _range_within(
    writer: tuple[Any, bool] | None, reader: tuple[Any, bool] | None, low: bool
) -> bool:
    """Whether the writer's bound on one side is at least as tight as the reader's."""
    if reader is None:
        return True
    if writer is None:
        return False
    (wv, wx), (rv, rx) = writer, reader
    try:
        if wv == rv:
            return wx or not rx  # exclusive writer fits anything; inclusive needs inclusive
        return bool(wv > rv) if low else bool(wv < rv)
    except TypeError:  # bounds of different kinds (date against number): cannot tell
        return False


def _fmt(bound: tuple[Any, bool] | None) -> str:
    if bound is None:
        return "none"
    value, exclusive = bound
    return f"{value} (exclusive)" if exclusive else str(value)


def _table_breaks(reader: Schema, writer: Schema) -> list[Break]:
    out: list[Break] = []
    if reader.min_rows is not None and (writer.min_rows or 0) < reader.min_rows:
        out.append(
            Break(
                None,
                "rows",
                f"rows.min {reader.min_rows} is above the writer's {writer.min_rows or 0}",
            )
        )
    if reader.max_rows is not None and (
        writer.max_rows is None or writer.max_rows > reader.max_rows
    ):
        out.append(
            Break(
                None,
                "rows",
                f"rows.max {reader.max_rows} is below the writer's {writer.max_rows or 'none'}",
            )
        )
    if reader.primary_key and not _unique_implied(set(reader.primary_key), writer):
        out.append(
            Break(
                None,
                "primaryKey",
                f"primaryKey {list(reader.primary_key)} is not guaranteed unique by the writer",
            )
        )
    covered = writer.unique_rows and set(writer.names) <= set(reader.names)
    if reader.unique_rows and not covered and not _unique_implied(set(reader.names), writer):
        out.append(
            Break(None, "uniqueRows", "the reader forbids duplicate rows but the writer does not")
        )
    return out


def _unique_implied(columns: set[str], writer: Schema) -> bool:
    """Whether the writer guarantees rows are unique over ``columns``."""
    keys = [set(writer.primary_key)] if writer.primary_key else []
    keys += [{f.name} for f in writer.fields if f.unique and f.required]
    return any(key and key <= columns for key in keys)


def diff_schemas(old: Schema, new: Schema) -> dict[str, Any]:
    """What changed from ``old`` to ``new``: fields added, removed and changed key by key,
    table rules, and the breaks in each direction."""
    from lablink.checks.schema_format import to_json_dict

    a, b = to_json_dict(old), to_json_dict(new)
    a_fields = {f["name"]: f for f in a.pop("fields")}
    b_fields = {f["name"]: f for f in b.pop("fields")}
    changed = []
    for name in a_fields.keys() & b_fields.keys():
        changes = _dict_changes(_flat(a_fields[name]), _flat(b_fields[name]))
        if changes:
            changed.append({"field": name, "changes": changes})
    order = list(b_fields)
    changed.sort(key=lambda c: order.index(c["field"]))
    return {
        "added": [f for n, f in b_fields.items() if n not in a_fields],
        "removed": [n for n in a_fields if n not in b_fields],
        "changed": changed,
        "table": _dict_changes(_flat(a), _flat(b)),
        "backward": [x.to_dict() for x in can_read(new, old)],
        "forward": [x.to_dict() for x in can_read(old, new)],
    }


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _dict_changes(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    keys = list(dict.fromkeys([*a, *b]))
    return [{"key": k, "from": a.get(k), "to": b.get(k)} for k in keys if a.get(k) != b.get(k)]
