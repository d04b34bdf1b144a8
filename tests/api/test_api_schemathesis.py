"""The OpenAPI spec tells the truth: schemathesis against the real server, both backends.

Every operation in ``/openapi.json`` gets a few generated requests, valid and invalid by
the spec, with all of schemathesis' checks: no server error, answers that match their
declared schema, status code and content type, schema-valid requests accepted and
schema-invalid ones refused. Derandomized and bounded per operation (5 examples of
the fuzzing phase, no shrinking, no coverage phase), so a run is repeatable and takes
about half a minute per backend. A check is left out for an operation only in
``SKIPPED``, with the reason.

Each backend is served twice: with auth off, and with ``--auth required``, where every
request carries a server admin's token (so every operation runs, behind the
authentication, role and CSRF layers). A generated request may disable or revoke
anything, that admin included, so each request gets a fresh token of a re-enabled admin.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import requests
import schemathesis
import sqlalchemy as sa
from apitools import served_spec
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.transport import Response

from helpers import AppServer, make_settings
from lablink.core.guard import Guard, Limits
from lablink.core.lab import Lab
from lablink.server.app import create_app
from lablink.server.auth import AuthConfig

EXAMPLES_PER_OPERATION = 5
# An operation takes a second or two; the bound turns a hang (a stream that never
# says ready, a lock) into a failure naming the operation.
pytestmark = pytest.mark.timeout(60)

# (method, path) -> (check names left out, why)
SKIPPED: dict[tuple[str, str], tuple[set[str], str]] = {
    ("GET", "/api/v1/runs"): (
        {"positive_data_acceptance"},
        "the filter and sort grammar (docs/api.md) is not expressible in JSON Schema, so a "
        "string the spec allows may still be a bad filter (400 bad_filter)",
    ),
    ("POST", "/api/v1/runs"): (
        {"positive_data_acceptance"},
        "a config is free-form JSON whose integers must fit in 64 bits at any depth, which "
        "the spec's open object cannot say (checks/json_value.py)",
    ),
    ("POST", "/api/v1/runs/batch"): (
        {"positive_data_acceptance"},
        "each run is a POST /runs body (its free-form config, above), and ids repeated "
        "across the list are refused, which JSON Schema cannot say",
    ),
    ("POST", "/api/v1/runs/{run_id}/batches"): (
        {"positive_data_acceptance"},
        "a series' steps, times and values must be of equal length, which JSON Schema cannot say",
    ),
    ("PUT", "/api/v1/blobs/{digest}"): (
        {"positive_data_acceptance"},
        "the body must hash to the digest in the path",
    ),
    ("POST", "/api/v1/data/packs"): (
        {"positive_data_acceptance"},
        "a pack is a framed binary format (core/datasets/packs.py)",
    ),
    ("POST", "/api/v1/schemas/{subject}/versions"): (
        {"positive_data_acceptance"},
        "the schema's content (Frictionless fields, or YAML text) is checked by the registry",
    ),
    ("POST", "/api/v1/schemas/{subject}/check"): (
        {"positive_data_acceptance"},
        "the schema's content (Frictionless fields, or YAML text) is checked by the registry",
    ),
    ("POST", "/api/v1/login/device/token"): (
        {"positive_data_acceptance"},
        "a device code is a secret the server made: any other string, however well formed, "
        "is unknown (400 expired_token), and a known one answers 400 until approved",
    ),
    ("POST", "/api/v1/datasets/{name}/aliases"): (
        {"positive_data_acceptance"},
        "an alias must not read as a version (v3, 7), latest or a digest prefix, and the "
        "version is a reference (v7, a digest prefix or an alias): rules JSON Schema cannot say",
    ),
    ("DELETE", "/api/v1/datasets/{name}/aliases/{alias}"): (
        {"positive_data_acceptance"},
        "an alias that reads as a version (v3, 7), latest or a digest prefix is refused (400)",
    ),
    ("PUT", "/api/v1/team/{name}"): (
        {"positive_data_acceptance"},
        "working hours, focus blocks and away periods have their own grammar and the time "
        "zone must be in the tz database (docs/team.md)",
    ),
    ("PUT", "/api/v1/oncall/rotations/{rotation}"): (
        {"positive_data_acceptance"},
        "members must be on the team, the hand-off is a weekday and a time, the zone must be "
        "in the tz database (docs/team.md)",
    ),
    ("POST", "/api/v1/oncall/overrides"): (
        {"positive_data_acceptance"},
        "the person must be on the team and the times must parse and fall in the schedule",
    ),
    ("POST", "/api/v1/team/sync"): (
        {"positive_data_acceptance"},
        "the tables hold lablink.toml's [team] and [oncall] entries, checked like the CLI's",
    ),
    ("GET", "/api/v1/team/overlap"): (
        {"positive_data_acceptance"},
        "the week must exist (2026-W53 does not) and `min` be at most the team's size",
    ),
    ("GET", "/api/v1/models/{name}"): (
        {"positive_data_acceptance"},
        "a registered model name holds no / or @ and no control characters (400 otherwise)",
    ),
    ("POST", "/api/v1/blobs/missing"): (
        {"unsupported_method", "allow_header_conformance"},
        "the path is also /blobs/{digest} (a digest that is not one: 400), so GET, HEAD and "
        "PUT are routed there and Allow names them",
    ),
}

schema = schemathesis.openapi.from_dict(served_spec())
# The coverage phase sends every boundary value of every parameter, hundreds of requests
# per operation (minutes in all); the bounded fuzzing phase (valid and invalid data)
# runs in the suite, and LABLINK_SPEC_COVERAGE=1 adds the coverage phase for a thorough run.
schema.config.phases.coverage.enabled = os.environ.get("LABLINK_SPEC_COVERAGE") == "1"


class Served:
    """A server under test and, with auth on, fresh credentials for each request."""

    def __init__(self, lab: Lab, auth: bool) -> None:
        self.lab = lab
        self.auth = auth
        config = AuthConfig("required" if auth else "off")
        self.server = AppServer(create_app(lab, auth=config)).start()
        self.url = self.server.url
        if auth:
            people = lab.people
            # generated requests are many and some carry bad credentials: no lockouts
            people.guard = Guard(
                Limits(free_failures_address=10**9, token_burst=10**6, signin_burst=10**6),
                lambda: people.clock(),
            )
            people.add_user("root", "fuzz-admin", "fuzz@lab.org", admin=True)

    def headers(self) -> dict[str, str]:
        """A server admin's new token (with auth on), whatever the last request did."""
        if not self.auth:
            return {}
        people = self.lab.people
        if people.get_user("fuzz-admin").disabled:
            people.enable("root", "fuzz-admin")
        token = people.create_token("root", "fuzz-admin", "fuzz", None, "admin").secret
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(
    scope="module",
    params=[("sqlite", False), ("postgres", False), ("sqlite", True), ("postgres", True)],
    ids=["sqlite", "postgres", "sqlite-auth", "postgres-auth"],
)
def conformance_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """One server per backend and auth mode for every operation (a fresh store per test
    would be slow)."""
    backend, auth = request.param
    home = tmp_path_factory.mktemp("conformance")
    db, drop = f"sqlite:///{home / 'lablink.db'}", None
    if backend == "postgres":
        base = str(request.getfixturevalue("postgres_base"))
        name = "t_" + uuid.uuid4().hex[:12]
        engine = sa.create_engine(base)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {name}")
        db, drop = f"{base}?options=-csearch_path%3D{name}", f"DROP SCHEMA {name} CASCADE"
    with Lab(make_settings(Path(home), db=db, user="tester@example.org")) as lab:
        served = Served(lab, auth)
        yield served
        served.server.stop()
    if drop is not None:
        with engine.begin() as conn:
            conn.exec_driver_sql(drop)
        engine.dispose()


def _stream_head(case: schemathesis.Case, base_url: str, headers: dict[str, str]) -> Response:
    """An SSE answer up to its ``: ready`` comment: the stream itself never ends."""
    kwargs = case.as_transport_kwargs(base_url=base_url, headers=headers)
    with requests.request(**kwargs, stream=True, timeout=10) as raw:
        head = b""
        for chunk in raw.iter_content(chunk_size=None):
            head += chunk
            if raw.status_code != 200 or b": ready\n\n" in head:
                break
        raw._content = head  # what was read stands for the body
        return Response.from_requests(raw, verify=True)


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    deadline=None,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_server_conforms_to_its_spec(case: schemathesis.Case, conformance_server: Served) -> None:
    load_all_checks()
    skipped = SKIPPED.get((case.operation.method.upper(), case.operation.path), (set(), ""))[0]
    checks = [check for check in CHECKS.get_all() if check.__name__ not in skipped]
    url = conformance_server.url
    headers = conformance_server.headers()
    if case.operation.path.endswith("/events"):
        case.validate_response(_stream_head(case, url, headers), checks=checks)
        return
    case.call_and_validate(base_url=url, checks=checks, timeout=10, headers=headers)


def test_skipped_names_real_operations_and_checks() -> None:
    """A renamed route or check must not leave a stale, silently ignored exemption."""
    load_all_checks()
    known = {check.__name__ for check in CHECKS.get_all()}
    operations = {
        (method.upper(), path)
        for path, item in schema.raw_schema["paths"].items()
        for method in item
    }
    for operation, (checks, why) in SKIPPED.items():
        assert operation in operations, operation
        assert checks <= known, checks - known
        assert why, operation
