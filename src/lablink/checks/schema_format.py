"""Read and write schema files: YAML or JSON in Frictionless Table Schema form.

Every problem is an ``InvalidInput`` whose message names the file, the line and the
field (``events.schema.yaml, line 12: field 'amount': unknown type 'float'``), with the
line and field also in ``details`` for the JSON envelope. Parsing is strict: unknown
keys, a constraint that does not fit the field's type, or ``minimum > maximum`` are
errors, so a typo never silently turns a rule off.
"""

from __future__ import annotations

import datetime
import difflib
import json
import re
from collections.abc import Mapping
from typing import Any, NoReturn

import yaml

from lablink.checks.schema_model import (
    CONSTRAINTS,
    FIELD_KEYS,
    ORDERED_TYPES,
    TABLE_KEYS,
    TYPES,
    Field,
    Schema,
    json_default,
)
from lablink.errors import InvalidInput

Path_ = tuple[str | int, ...]
# Names people reach for that Frictionless spells differently: used in hints only.
_ALIASES = {
    "float": "number", "double": "number", "decimal": "number", "int": "integer",
    "long": "integer", "str": "string", "text": "string", "bool": "boolean",
    "timestamp": "datetime", "category": "string", "categorical": "string",
}  # fmt: skip
_LENGTH_TYPES = frozenset({"string", "array", "object", "any"})


class _Reader:
    """Walks one parsed document, remembering the line of every key for error messages."""

    def __init__(self, source: str, lines: Mapping[Path_, int]) -> None:
        self.source = source
        self.lines = lines

    def fail(
        self, path: Path_, problem: str, hint: str | None = None, field: str | None = None
    ) -> NoReturn:
        """Raise InvalidInput naming the source, the line of ``path`` and the field."""
        line = None
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                line = self.lines[path[:cut]]
                break
        where = self.source + (f", line {line}" if line else "")
        what = f"field {field!r}: " if field else ""
        raise InvalidInput(
            f"{where}: {what}{problem}",
            hint or "see docs/schemas.md for the schema format",
            source=self.source,
            line=line,
            field=field,
        )

    def keys(
        self,
        data: Mapping[str, Any],
        allowed: tuple[str, ...],
        path: Path_,
        field: str | None = None,
    ) -> None:
        """Fail on the first key not in ``allowed``, suggesting the closest one."""
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
                self.fail((*path, key), f"unknown key {key!r}", hint, field)


def parse_schema(text: str, source: str = "<schema>") -> Schema:
    """Parse YAML or JSON schema text.

    Raises:
        InvalidInput: malformed YAML/JSON or an invalid schema; names line and field.
    """
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidInput(
            f"{source}{f', line {line}' if line else ''}: not valid YAML or JSON: {problem}",
            "check indentation and quoting near that line",
            source=source,
            line=line,
            field=None,
        ) from None
    lines: dict[Path_, int] = {}
    if node is not None:
        _record_lines(node, (), lines)
    return schema_from_dict(data, source, lines)


def schema_from_dict(
    data: Any, source: str = "<schema>", lines: Mapping[Path_, int] | None = None
) -> Schema:
    """Build a Schema from parsed (or stored) Frictionless JSON.

    Raises:
        InvalidInput: the document is not a valid schema.
    """
    r = _Reader(source, lines or {})
    if not isinstance(data, dict):
        r.fail((), "a schema is a mapping with a 'fields' list", "start with `fields:`")
    r.keys(data, TABLE_KEYS, ())
    raw_fields = data.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        r.fail(("fields",), "'fields' must be a non-empty list of fields")
    fields: list[Field] = []
    for i, raw in enumerate(raw_fields):
        field = _field(r, raw, ("fields", i))
        if any(f.name == field.name for f in fields):
            r.fail(("fields", i), "the name is used twice", "rename one of them", field.name)
        fields.append(field)
    names = [f.name for f in fields]
    pk = data.get("primaryKey", [])
    pk = [pk] if isinstance(pk, str) else pk
    if not isinstance(pk, list) or any(name not in names for name in pk):
        r.fail(("primaryKey",), f"primaryKey must name fields of this schema, got {pk!r}")
    missing = data.get("missingValues", [""])
    if not isinstance(missing, list) or not all(isinstance(v, str) for v in missing):
        r.fail(("missingValues",), "missingValues must be a list of strings")
    rows = data.get("rows", {})
    if not isinstance(rows, dict):
        r.fail(("rows",), "rows must be a mapping like {min: 1, max: 1000000}")
    r.keys(rows, ("min", "max"), ("rows",))
    for key, value in rows.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            r.fail(("rows", key), f"rows.{key} must be a whole number >= 0, got {value!r}")
    if rows.get("min", 0) > rows.get("max", rows.get("min", 0)):
        r.fail(("rows",), "rows.min is larger than rows.max")
    unique_rows = data.get("uniqueRows", False)
    if not isinstance(unique_rows, bool):
        r.fail(("uniqueRows",), "uniqueRows must be true or false")
    for key in ("name", "title", "description"):
        if data.get(key) is not None and not isinstance(data[key], str):
            r.fail((key,), f"{key} must be text")
    return Schema(
        fields=tuple(fields),
        name=data.get("name"),
        title=data.get("title"),
        description=data.get("description"),
        primary_key=tuple(pk),
        missing_values=tuple(missing),
        min_rows=rows.get("min"),
        max_rows=rows.get("max"),
        unique_rows=unique_rows,
    )


def _field(r: _Reader, raw: Any, path: Path_) -> Field:
    if not isinstance(raw, dict):
        r.fail(
            path,
            "each field is a mapping with at least a 'name'",
            "e.g. - {name: id, type: integer}",
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        r.fail(path, "a field has no 'name'", "give every field a name")
    r.keys(raw, FIELD_KEYS, path, name)
    ftype = raw.get("type", "any")
    if ftype not in TYPES:
        alias = _ALIASES.get(str(ftype).lower()) or next(
            iter(difflib.get_close_matches(str(ftype), TYPES, n=1)), None
        )
        hint = (
            f"did you mean {alias!r}? types: {', '.join(TYPES)}"
            if alias
            else f"types: {', '.join(TYPES)}"
        )
        r.fail((*path, "type"), f"unknown type {ftype!r}", hint, name)
    for key in ("format", "title", "description", "unit"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            r.fail((*path, key), f"{key} must be text", None, name)
    constraints = raw.get("constraints", {})
    cpath = (*path, "constraints")
    if not isinstance(constraints, dict):
        r.fail(cpath, "constraints must be a mapping", None, name)
    r.keys(constraints, tuple(CONSTRAINTS), cpath, name)
    values: dict[str, Any] = {}
    for key, value in constraints.items():
        values[CONSTRAINTS[key]] = _constraint(r, name, ftype, key, value, (*cpath, key))
    extra: dict[str, Any] = {}
    if "default" in raw:
        extra = {
            "default": _value(r, name, ftype, raw["default"], (*path, "default")),
            "has_default": True,
        }
    field = Field(name=name, type=ftype, format=raw.get("format"), title=raw.get("title"),
                  description=raw.get("description"), unit=raw.get("unit"), **values, **extra)  # fmt: skip
    _check_consistent(r, field, cpath)
    return field


def _constraint(r: _Reader, name: str, ftype: str, key: str, value: Any, path: Path_) -> Any:
    if key in ("required", "unique"):
        if not isinstance(value, bool):
            r.fail(path, f"{key} must be true or false, got {value!r}", None, name)
        return value
    if key in ("minLength", "maxLength"):
        if ftype not in _LENGTH_TYPES:
            r.fail(path, f"{key} applies to strings, not {ftype}", "use minimum/maximum", name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            r.fail(path, f"{key} must be a whole number >= 0, got {value!r}", None, name)
        return value
    if key == "pattern":
        if not isinstance(value, str):
            r.fail(path, "pattern must be a regular expression in quotes", None, name)
        try:
            re.compile(value)
        except re.error as exc:
            r.fail(path, f"pattern {value!r} is not a regular expression: {exc}", None, name)
        unsupported = _unsupported_regex(value)
        if unsupported:
            r.fail(
                path,
                f"pattern {value!r} cannot be checked: {unsupported}",
                "validation matches with polars' regular expressions, which have no "
                "look-around ((?=...), (?!...), (?<=...)) or backreferences (\\1): "
                "rewrite it without them",
                name,
            )
        return value
    if key == "enum":
        if not isinstance(value, list) or not value:
            r.fail(path, "enum must be a non-empty list of allowed values", None, name)
        return tuple(_value(r, name, ftype, v, (*path, i)) for i, v in enumerate(value))
    if ftype not in ORDERED_TYPES:
        hint = "use minLength/maxLength for text" if ftype == "string" else None
        r.fail(
            path, f"{key} needs an ordered type (number, integer, date...), not {ftype}", hint, name
        )
    return _value(r, name, ftype, value, path)


def _value(r: _Reader, name: str, ftype: str, value: Any, path: Path_) -> Any:
    """A constraint or default value checked (and converted) for the field's type."""
    if value is None:
        return None
    if ftype in ("number", "integer", "year", "duration"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ftype in ("integer", "year") and isinstance(value, float) and not value.is_integer():
            ok = False
        if not ok:
            r.fail(
                path, f"{value!r} is not a {'number' if ftype != 'year' else 'year'}", None, name
            )
        if ftype == "duration":
            return datetime.timedelta(seconds=value)
        return int(value) if ftype in ("integer", "year") else value
    if ftype == "string":
        if not isinstance(value, str):
            hint = (
                "quote it; YAML reads unquoted yes/no/on/off as booleans and digits as numbers"
                if isinstance(value, bool | int | float)
                else None
            )
            r.fail(
                path, f"{value!r} is not text (YAML reads it as {type(value).__name__})", hint, name
            )
        return value
    if ftype == "boolean":
        if not isinstance(value, bool):
            r.fail(path, f"{value!r} is not true or false", None, name)
        return value
    if ftype in ("date", "datetime", "time"):
        return _temporal(r, name, ftype, value, path)
    return value


def _unsupported_regex(pattern: str) -> str | None:
    """Why the validator's regex engine (polars, Rust ``regex``) refuses ``pattern``, or None."""
    import polars as pl

    try:
        pl.select(pl.lit("").str.contains(pattern))
    except pl.exceptions.PolarsError as exc:
        lines = [line.strip() for line in str(exc).splitlines()]
        found = [line.removeprefix("error: ") for line in lines if line.startswith("error:")]
        return found[0] if found else (lines[0] if lines else "unsupported")
    return None


def _temporal(r: _Reader, name: str, ftype: str, value: Any, path: Path_) -> Any:
    cls = {"date": datetime.date, "datetime": datetime.datetime, "time": datetime.time}[ftype]
    if ftype == "datetime" and type(value) is datetime.date:
        return datetime.datetime.combine(value, datetime.time())
    if isinstance(value, cls) and (ftype != "date" or type(value) is datetime.date):
        return value
    if ftype == "time" and isinstance(value, int):  # YAML 1.1 reads 12:30:00 as sexagesimal
        return datetime.time(value // 3600 % 24, value // 60 % 60, value % 60)
    try:
        return cls.fromisoformat(str(value))  # type: ignore[attr-defined]
    except ValueError:
        r.fail(
            path,
            f"{value!r} is not an ISO 8601 {ftype}",
            "e.g. 2024-05-01 or 2024-05-01T12:00:00",
            name,
        )


def _check_consistent(r: _Reader, f: Field, path: Path_) -> None:
    pairs = (("minimum", "maximum"), ("min_length", "max_length"))
    for low, high in pairs:
        lo, hi = getattr(f, low), getattr(f, high)
        if lo is not None and hi is not None and lo > hi:
            r.fail(path, f"{low} {lo} is larger than {high} {hi}", None, f.name)


def _record_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*path, key_node.value)
            _record_lines(value_node, key, lines)
            lines[key] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record_lines(item, (*path, i), lines)


def to_json_dict(schema: Schema) -> dict[str, Any]:
    """The schema as plain JSON values (dates as ISO text), as stored and served."""
    data: dict[str, Any] = json.loads(json.dumps(schema.to_dict(), default=json_default))
    return data


def dump_schema(schema: Schema, fmt: str = "yaml") -> str:
    """The schema as YAML (default) or JSON text that ``parse_schema`` reads back."""
    data = to_json_dict(schema)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100))
