"""The schema registry over HTTP: subjects, immutable versions, checks and diffs.

    GET  /api/v1/schemas                              subjects
    GET  /api/v1/schemas/{subject}                    a subject and its versions
    GET  /api/v1/schemas/{subject}/versions/{v}       one version (a number or "latest")
    POST /api/v1/schemas/{subject}/versions           register: 201 new, 200 same as latest
    POST /api/v1/schemas/{subject}/check              would it register? each break named
    GET  /api/v1/schemas/{subject}/diff?from=1&to=2   changes between two versions

A schema travels as Frictionless JSON in ``schema`` or as YAML/JSON text in ``text``.
Every error is a ``LablinkError`` (a 4xx JSON envelope): 409 for an incompatible
schema (``details.breaks``) or an existing version.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from lablink.checks.wire_numbers import MAX_VERSION, json_int, parse_wire_int
from lablink.core.schemas import Schemas, parse_ref, version_to_dict
from lablink.errors import InvalidInput
from lablink.server.deps import Actor, LabDep
from lablink.server.jsonio import JSONResponse, loads_body, reply
from lablink.server.offloop import OffLoopRoute

router = APIRouter(tags=["schemas"], route_class=OffLoopRoute)
_BODY_KEYS = ("schema", "text", "compat", "description", "version")


def _version_number(raw: str) -> int | None:
    if raw == "latest":
        return None
    try:
        return parse_wire_int(raw.removeprefix("v"), "schema version", low=1, high=MAX_VERSION)
    except InvalidInput:
        raise InvalidInput(
            f"invalid schema version {raw[:40]!r}",
            f"use a number from 1 to {MAX_VERSION}, or latest",
        ) from None


async def _body(request: Request) -> dict[str, Any]:
    body = loads_body(await request.body())
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object")
    unknown = [k for k in body if k not in _BODY_KEYS]
    if unknown:
        raise InvalidInput(f"unknown keys {unknown}", f"allowed: {', '.join(_BODY_KEYS)}")
    has_schema, has_text = body.get("schema") is not None, body.get("text") is not None
    if has_schema == has_text:
        raise InvalidInput("send the schema either as 'schema' (JSON) or as 'text' (YAML/JSON)")
    if has_schema and not isinstance(body["schema"], dict):
        raise InvalidInput("'schema' must be a JSON object (Frictionless fields)")
    if has_text and not isinstance(body["text"], str):
        raise InvalidInput("'text' must be a string holding YAML or JSON")
    for key in ("compat", "description"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise InvalidInput(f"'{key}' must be a string")
    version = body.get("version")
    if version is not None:
        body["version"] = json_int(version, "'version'", low=1, high=MAX_VERSION)
    return body


def _schema_arg(body: dict[str, Any]) -> Any:
    return body["text"] if body.get("text") is not None else body["schema"]


@router.get("/schemas", summary="List schema subjects")
def list_subjects(lab: LabDep) -> JSONResponse:
    """Every subject with its compatibility mode and latest version."""
    subjects = Schemas(lab.store).subjects()
    return reply({"subjects": [dataclasses.asdict(s) for s in subjects]})


@router.get("/schemas/{subject}", summary="A subject and its versions")
def get_subject(subject: str, lab: LabDep) -> JSONResponse:
    """The subject's mode and every version, oldest first."""
    schemas = Schemas(lab.store)
    versions = schemas.versions(subject)
    info = schemas.subject(subject)
    return reply({**dataclasses.asdict(info), "versions": [version_to_dict(v) for v in versions]})


@router.get("/schemas/{subject}/versions/{version}", summary="One schema version")
def get_version(subject: str, version: str, lab: LabDep) -> JSONResponse:
    """A version by number, or ``latest``."""
    number = _version_number(version)
    ref = subject if number is None else f"{subject}@v{number}"
    return reply(version_to_dict(Schemas(lab.store).get(ref)))


@router.post("/schemas/{subject}/versions", summary="Register a schema version")
async def register(subject: str, request: Request, lab: LabDep, actor: Actor) -> JSONResponse:
    """Register the next version; 201 when new, 200 when equal to the latest."""
    body = await _body(request)

    def work() -> JSONResponse:
        version, created = Schemas(lab.store).register(
            subject,
            _schema_arg(body),
            actor,
            compat_mode=body.get("compat"),
            description=body.get("description"),
            version=body.get("version"),
        )
        return reply({**version_to_dict(version), "created": created}, 201 if created else 200)

    # parsing and a write transaction (seconds under a busy SQLite): off the event loop,
    # which serves every live stream
    return await run_in_threadpool(work)


@router.post("/schemas/{subject}/check", summary="Check compatibility")
async def check(subject: str, request: Request, lab: LabDep) -> JSONResponse:
    """Whether the schema would register under the subject's (or the given) mode."""
    body = await _body(request)

    def work() -> JSONResponse:
        result = Schemas(lab.store).check(subject, _schema_arg(body), body.get("compat"))
        return reply(result.to_dict())

    return await run_in_threadpool(work)  # parsing and queries: off the event loop


@router.get("/schemas/{subject}/diff", summary="Diff two versions")
def diff(subject: str, lab: LabDep, request: Request) -> JSONResponse:
    """Changes between ``from`` and ``to`` (version numbers, or refs like ``other@v3``)."""
    params = request.query_params
    refs = []
    for key in ("from", "to"):
        raw = params.get(key)
        if raw is None:
            raise InvalidInput(f"missing query parameter {key!r}", "e.g. ?from=1&to=2")
        if "@" in raw:
            parse_ref(raw)
            refs.append(raw)
        else:
            number = _version_number(raw)
            refs.append(subject if number is None else f"{subject}@v{number}")
    return reply(Schemas(lab.store).diff(refs[0], refs[1]))
