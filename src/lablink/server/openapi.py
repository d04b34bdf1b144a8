"""The OpenAPI document, made to describe what the server does.

FastAPI's generated spec says less than the server checks and more than it answers:
it promises 422 (the app answers 400 with the error envelope), leaves out the digest,
name and version patterns the routes enforce, and misses bodies a route reads by hand.
``describe`` post-processes it once, so generated clients send requests the server
takes and expect the answers it gives. The patterns come from the modules that check
them, so the spec cannot drift from the code. ``tests/api/test_api_schemathesis.py``
holds the server to it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from lablink.checks import names, widths
from lablink.checks.compat import MODES
from lablink.checks.keys import MAX_KEY_LENGTH
from lablink.checks.limits import MAX_TAGS
from lablink.checks.names import NAME_PATTERN
from lablink.checks.routes import API_PREFIX
from lablink.checks.wire_numbers import MAX_VERSION, MAX_WIRE_INT
from lablink.core.audit_export import FORMATS as AUDIT_FORMATS
from lablink.core.datasets import refs
from lablink.core.datasets.versions import MAX_PARENTS
from lablink.identity import USER_NAME_PATTERN
from lablink.models import RUN_STATUSES
from lablink.store.blobs import _DIGEST

Spec = dict[str, Any]

ERROR = "#/components/schemas/Error"
_ERROR_SCHEMA: Spec = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "description": "stable, e.g. bad_request, not_found"},
                "message": {"type": "string"},
                "hint": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
    "description": "Every 4xx and 5xx answer; the status follows the code.",
}
_WHY = {
    "400": "Bad input: malformed JSON, a wrong type, a value out of range (code bad_request).",
    "401": "The server requires a credential and the request lacks a valid one.",
    "403": "The caller's role in the project does not allow this write.",
    "404": "No such run, project, blob, dataset, schema or incident.",
    "409": "The request clashes with stored data.",
    "413": "The body is over the server's size limit.",
    "415": "A write without a lablink content type (cross-site request guard).",
    "429": "Too many requests (Retry-After): live streams of this client; with auth on, "
    "calls with one token, or bad tokens from one address.",
    "503": "The database is unavailable, or the server holds too many streams.",
}


def _anchored(pattern: str) -> str:
    return f"^(?:{pattern})$"


# What the routes check, as JSON Schema: path and query parameters by name.
_NAME = _anchored(NAME_PATTERN)
_RUN_REF = f"^[A-Za-z0-9_-]{{1,{widths.RUN_ID}}}$"  # a full id or a prefix of one
_DIGEST_PATTERN = _anchored(_DIGEST.pattern)
_VERSION_REF = _anchored(
    rf"latest|{refs._VERSION.pattern}|{refs._HEX.pattern}|{refs._DIGEST.pattern}"
)
_DATASET_REF = _anchored(
    rf"{NAME_PATTERN}(?:@(?:latest|{refs._VERSION.pattern}|{refs._HEX.pattern}))?"
    rf"|{refs._DIGEST.pattern}"
)
_SCHEMA_VERSION = _anchored(r"latest|v?0{0,9}[1-9][0-9]{0,8}")
_PATH_PARAMS: dict[str, Spec] = {
    "run_id": {"type": "string", "pattern": _RUN_REF},
    "ref": {"type": "string", "pattern": _RUN_REF},
    "digest": {"type": "string", "pattern": _DIGEST_PATTERN},
    "name": {"type": "string", "pattern": _NAME},
    "project": {"type": "string", "pattern": _NAME},
    "subject": {"type": "string", "pattern": _NAME},
    "version": {"type": "string", "pattern": _SCHEMA_VERSION},
    "user": {"type": "string", "pattern": _anchored(USER_NAME_PATTERN)},
}
_DATASET_VERSION_PATH = API_PREFIX + "/datasets/{name}/versions/{ref}"


def _security_responses(method: str, path: str) -> list[str]:
    """The error statuses an operation can answer besides 400, 401 and 503."""
    codes = ["404"] if path != f"{API_PREFIX}/projects" else []
    if method in {"post", "put", "patch", "delete"}:
        codes += ["409", "413", "415"]
    codes.append("429")  # streams per client; with auth on, per token and per address
    return codes


def _fix_parameters(path: str, op: Spec) -> None:
    for param in op.get("parameters", ()):
        name, where = param["name"], param["in"]
        if where == "path":
            if param["schema"].get("type") == "string":
                schema = _PATH_PARAMS.get(name, {"type": "string", "minLength": 1})
                if name == "ref" and path.startswith(_DATASET_VERSION_PATH):
                    schema = {"type": "string", "pattern": _VERSION_REF}
                param["schema"] = {**param["schema"], **schema}
        elif where in {"query", "header"}:
            _fix_query(path, param)


def _fix_query(path: str, param: Spec) -> None:
    name, schema = param["name"], param["schema"]
    strings = [s for s in schema.get("anyOf", [schema]) if s.get("type") == "string"]
    for text in strings:
        if name == "project" and not path.endswith("/incidents"):
            text.update(pattern=_NAME, minLength=1)
        elif name == "run" and path.endswith("/events"):
            # empty is taken as no run filter, like leaving it out
            text.update(pattern="^[A-Za-z0-9_-]{0,32}$", description="a run id; empty: every run")
        elif name == "run":
            text.update(pattern=_RUN_REF)
        elif name in {"ref", "old", "new"} and "/datasets/" in path:
            text.update(pattern=_DATASET_REF)
    if name == "format" and path.endswith("/audit/export"):
        param["schema"] = {"type": "string", "enum": list(AUDIT_FORMATS), "default": "jsonl"}
    if name == "Last-Event-ID":
        # ASCII digits up to 2**62; 18 of them always fit. Blank means none.
        param["schema"] = {"type": "string", "pattern": r"^[ \t]*[0-9]{0,18}[ \t]*$"}
    if name == "run" and path.endswith("/compare"):
        param["required"] = True
        param["schema"] = {
            "type": "array",
            "minItems": 2,
            "items": {"type": "string", "pattern": _RUN_REF},
        }


def _body(schema: Spec, media: str = "application/json") -> Spec:
    return {"required": True, "content": {media: {"schema": schema}}}


# Bodies FastAPI cannot see: routes that read the request themselves.
_SCHEMA_BODY: Spec = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "schema": {"type": "object", "description": "Frictionless JSON; or give text"},
        "text": {"type": "string", "description": "the schema as YAML or JSON"},
        "compat": {"enum": list(MODES)},
        "description": {"type": "string"},
        "version": {"type": "integer", "minimum": 1, "maximum": MAX_VERSION},
    },
    "oneOf": [{"required": ["schema"]}, {"required": ["text"]}],
}
_MANUAL_BODIES: dict[tuple[str, str], Spec] = {
    ("put", API_PREFIX + "/blobs/{digest}"): _body(
        {"type": "string", "format": "binary"}, "application/octet-stream"
    ),
    ("post", API_PREFIX + "/data/packs"): _body(
        {"type": "string", "format": "binary"}, "application/octet-stream"
    ),
    ("post", API_PREFIX + "/schemas/{subject}/versions"): _body(_SCHEMA_BODY),
    ("post", API_PREFIX + "/schemas/{subject}/check"): _body(_SCHEMA_BODY),
    # The server reads no body here, but a POST needs a lablink content type: send {}.
    ("post", API_PREFIX + "/incidents/{incident_id}/ack"): _body(
        {"description": "ignored; send {}"}
    ),
    ("post", API_PREFIX + "/admin/users/{user}/disable"): _body(
        {"description": "ignored; send {}"}
    ),
    ("post", API_PREFIX + "/admin/users/{user}/enable"): _body({"description": "ignored; send {}"}),
}
_EXTRA_QUERY: dict[tuple[str, str], list[Spec]] = {
    ("get", API_PREFIX + "/schemas/{subject}/diff"): [
        {
            "name": key,
            "in": "query",
            "required": True,
            "schema": {"type": "string", "pattern": _SCHEMA_VERSION},
            "description": "a version number or latest",
        }
        for key in ("from", "to")
    ],
}
_BINARY_ANSWERS = {
    ("get", API_PREFIX + "/blobs/{digest}"): "application/octet-stream",
    ("post", API_PREFIX + "/data/fetch"): "application/octet-stream",
    ("get", API_PREFIX + "/events"): "text/event-stream",
    ("get", API_PREFIX + "/runs/{run_id}/events"): "text/event-stream",
    ("get", API_PREFIX + "/projects/{project}/events"): "text/event-stream",
}


def _fix_body(method: str, path: str, op: Spec) -> None:
    manual = _MANUAL_BODIES.get((method, path))
    if manual is not None:
        op["requestBody"] = copy.deepcopy(manual)
    body = op.get("requestBody")
    if path.endswith("/summary") and body is not None:
        body["content"]["application/json"]["schema"]["propertyNames"] = _METRIC_KEY
    if body is not None and method == "post":
        # Optional bodies are not optional on the wire: a POST without a content type
        # is refused (415), so clients are told to send one ({} is enough).
        body["required"] = True
        for media in body.get("content", {}).values():
            schema = media.get("schema", {})
            options = schema.get("anyOf")
            if options and {"type": "null"} in options:
                media["schema"] = next(o for o in options if o != {"type": "null"})


def _fix_answers(method: str, path: str, op: Spec) -> None:
    answers: Spec = op.setdefault("responses", {})
    answers.pop("422", None)
    media = _BINARY_ANSWERS.get((method, path))
    if media is not None:
        for code, answer in answers.items():
            if code.startswith("2"):
                answer["content"] = {media: {"schema": {"type": "string", "format": "binary"}}}
    if path == API_PREFIX + "/admin/audit/export":
        answers["200"]["content"] = {
            media.split(";")[0]: {"schema": {"type": "string"}} for media in AUDIT_FORMATS.values()
        }
    if path == API_PREFIX + "/runs/{run_id}/history":
        ok = answers["200"].setdefault("content", {})
        ok["application/octet-stream"] = {"schema": {"type": "string", "format": "binary"}}
    if (method, path) in {
        ("post", API_PREFIX + "/schemas/{subject}/versions"),
    }:
        answers.setdefault("201", {"description": "registered as a new version"})
    if path == "/healthz":
        return
    for code in ["400", "401", "403", *_security_responses(method, path), "503"]:
        answers[code] = {
            "description": _WHY[code],
            "content": {"application/json": {"schema": {"$ref": ERROR}}},
        }


_CONTROL = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029"
_METRIC_KEY: Spec = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_KEY_LENGTH,
    # printable, not blank (checks/keys.py)
    "pattern": f"^[^{_CONTROL}]*[^\\s{_CONTROL}][^{_CONTROL}]*$",
}
_DIGEST_FIELDS = {"digest", "manifest", "profile_digest"}
_SCHEMA_REF = _anchored(rf"{NAME_PATTERN}(?:@(?:latest|v?0{{0,9}}[1-9][0-9]{{0,8}}))?")
_TAG: Spec = {"pattern": r"^[^\s\x00]+$"}  # tracking.check_tag: no whitespace
_NO_NUL = r"^[^\x00]*$"  # PostgreSQL's text cannot hold NUL, so no backend takes it
_FIELD_RULES: dict[tuple[str, str], Spec] = {
    ("CreateRun", "project"): {"pattern": _NAME},
    ("CreateRun", "id"): {"pattern": _anchored(names._RUN_ID.pattern)},
    ("CommitIn", "schema_ref"): {"pattern": _SCHEMA_REF},
    ("Finish", "status"): {"enum": [s for s in RUN_STATUSES if s != "running"]},
    ("NoteIn", "text"): {"minLength": 1, "pattern": "\\S"},
}


def _bound_integers(node: Any) -> None:
    """Every integer the API takes is 0..2**62 unless the route says otherwise."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            node.setdefault("minimum", 0)
            node.setdefault("maximum", MAX_WIRE_INT)
            for bound in ("minimum", "maximum"):
                # pydantic writes a validated int's bounds as floats (4.611686018427388e+18):
                # exact here, but not to a client that adds 1 to find the first bad value
                if isinstance(node[bound], float) and node[bound].is_integer():
                    node[bound] = int(node[bound])
        for value in node.values():
            _bound_integers(value)
    elif isinstance(node, list):
        for value in node:
            _bound_integers(value)


def _forbid_nul(node: Any) -> None:
    """Every string without a pattern of its own gets one that leaves out NUL."""
    if isinstance(node, dict):
        if node.get("type") == "string" and "pattern" not in node and "format" not in node:
            node["pattern"] = _NO_NUL
        for value in node.values():
            _forbid_nul(value)
    elif isinstance(node, list):
        for value in node:
            _forbid_nul(value)


def _fix_component(name: str, schema: Spec) -> None:
    for field, prop in schema.get("properties", {}).items():
        options = prop.get("anyOf", [prop])
        for option in options:
            if field in _DIGEST_FIELDS and option.get("type") == "string":
                option["pattern"] = _DIGEST_PATTERN
            if field == "digests" and option.get("type") == "array":
                option["items"] = {**option["items"], "pattern": _DIGEST_PATTERN}
            if option.get("type") == "string":
                option.update(_FIELD_RULES.get((name, field), {}))
        if (name, field) == ("Heartbeat", "system"):
            for option in options:
                if option.get("type") == "object":
                    option["propertyNames"] = _METRIC_KEY
    for field in ("tags", "add", "remove"):
        for option in schema.get("properties", {}).get(field, {}).get("anyOf", []) or [
            schema.get("properties", {}).get(field, {})
        ]:
            if option.get("type") == "array":
                option["items"] = {**option["items"], **_TAG}
                if field == "tags":
                    option["maxItems"] = MAX_TAGS
    _forbid_nul(schema)
    if name == "CommitIn":
        parents = schema["properties"]["parents"]
        parents["items"] = {**parents["items"], "pattern": _DATASET_REF}
        parents["maxItems"] = MAX_PARENTS
    if name == "Capture":
        # Gathered from the environment, so repaired (made text, cut) and never refused.
        for field, prop in schema["properties"].items():
            if field != "watch":
                schema["properties"][field] = {"title": prop.get("title", field)}


def describe(spec: Spec) -> Spec:
    """A copy of FastAPI's ``spec`` that matches the server's answers and checks."""
    out = copy.deepcopy(spec)
    schemas = out.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for name, schema in schemas.items():
        _fix_component(name, schema)
    schemas["Error"] = _ERROR_SCHEMA
    for path, item in out.get("paths", {}).items():
        for method, op in item.items():
            op.setdefault("parameters", []).extend(
                copy.deepcopy(_EXTRA_QUERY.get((method, path), []))
            )
            _fix_parameters(path, op)
            _fix_body(method, path, op)
            _fix_answers(method, path, op)
    _bound_integers(out.get("paths"))
    _bound_integers(schemas)
    return out


def install_openapi(app: FastAPI) -> None:
    """Serve ``describe(app's own spec)`` at ``/openapi.json`` (built once, on first use)."""
    generate: Callable[[], Spec] = app.openapi

    def openapi() -> Spec:
        if getattr(app.state, "openapi", None) is None:
            app.state.openapi = describe(generate())
        spec: Spec = app.state.openapi
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
