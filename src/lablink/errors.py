"""Errors are part of lablink's API: one tree, stable codes, one status table.

    LablinkError                 base; never raised itself
    ├── InvalidInput             400 bad_request: malformed values, keys, names
    │   ├── FilterSyntaxError    400 bad_filter: a run filter that does not parse
    │   └── ValidationFailed     422 validation_failed: data that breaks its schema
    ├── Unauthorized             401 unauthorized: no, or no valid, credential
    ├── Forbidden                403 forbidden: a valid credential without the role
    ├── NotFound                 404 not_found: unknown run, project, artifact
    ├── AlreadyExists            409 already_exists
    ├── Conflict                 409 conflict: the request clashes with stored state
    │   ├── RunNotActive         409 run_not_active: points sent to an ended run
    │   ├── RunStopped           409 run_stopped: raised by run.log once the server asked
    │   │                        the run to stop (defined in lablink.sdk.run)
    │   ├── CorruptBlob          409 corrupt: bytes that do not match their digest
    │   └── DatasetNotApproved   409 dataset_not_approved: training data its review has not
    │                            approved (``require_review``)
    ├── PayloadTooLarge          413 too_large
    ├── UnsupportedMediaType     415 unsupported_media_type: a write without a JSON body
    ├── TooManyStreams           429 too_many_streams: live streams per client
    ├── TooManyRequests          429 too_many_requests: sign-ins, bad tokens, calls (Retry-After)
    ├── InsufficientStorage      507 insufficient_storage: a disk (cache) is full
    ├── SchemaOutOfDate          503 schema_out_of_date: run `lablink db migrate`
    └── ServiceUnavailable       503 unavailable: the server cannot be reached

The HTTP server turns each into ``{"error": {"code", "message", "hint"}}`` with the
status from ``HTTP_STATUS``; the HTTP transport rebuilds the same class from that body,
so SDK users catch the same exception whichever transport they use.
"""

from __future__ import annotations

from typing import Any


class LablinkError(Exception):
    """Base of every error lablink raises on purpose."""

    code = "error"
    status = 500

    def __init__(self, message: str, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON envelope body for this error."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        if self.details:
            body["details"] = self.details
        return {"error": body}

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InvalidInput(LablinkError):
    """A value the caller sent is malformed: a key, a name, a type."""

    code = "bad_request"
    status = 400


class FilterSyntaxError(InvalidInput):
    """A run filter expression does not parse; ``position`` points at the token."""

    code = "bad_filter"

    @property
    def position(self) -> int:
        """Index of the offending token in the expression."""
        return int(self.details.get("position", 0))

    @classmethod
    def at(cls, message: str, expression: str, position: int) -> FilterSyntaxError:
        """An error pointing at ``position`` in ``expression``."""
        return cls(
            f"{message} at position {position}",
            "filters look like: metrics.val/acc > 0.9 and params.lr <= 1e-3 and tags.baseline",
            position=position,
            pointer=expression + "\n" + " " * position + "^",
        )


class ValidationFailed(InvalidInput):
    """Data breaks its schema; ``details["report"]`` is the validation report as JSON.

    Raised locally, ``report`` is the ``ValidationReport`` itself.
    """

    code = "validation_failed"
    status = 422

    def __init__(
        self, message: str, hint: str | None = None, report: Any = None, **details: Any
    ) -> None:
        self.report = report
        if report is not None and hasattr(report, "to_dict"):
            details["report"] = report.to_dict()
        elif report is not None:
            details["report"] = report
        super().__init__(message, hint, **details)


class Unauthorized(LablinkError):
    """The server needs an API token that was missing or wrong."""

    code = "unauthorized"
    status = 401


class Forbidden(LablinkError):
    """The caller is known but their role does not allow this."""

    code = "forbidden"
    status = 403


class NotFound(LablinkError):
    """A run, project or artifact that does not exist."""

    code = "not_found"
    status = 404


class AlreadyExists(LablinkError):
    """Something with that name or id is already stored."""

    code = "already_exists"
    status = 409


class Conflict(LablinkError):
    """The request clashes with what is stored."""

    code = "conflict"
    status = 409


class RunNotActive(Conflict):
    """Points or heartbeats were sent to a run that has already ended."""

    code = "run_not_active"


class CorruptBlob(Conflict):
    """Bytes read from a store, cache or endpoint do not hash to their digest."""

    code = "corrupt"


class DatasetNotApproved(Conflict):
    """A dataset version needs an approved review (``require_review``) and has none.

    ``details["state"]`` is the review's state (``none`` when it has no review).
    """

    code = "dataset_not_approved"


class PayloadTooLarge(LablinkError):
    """A request body over the server's size limit."""

    code = "too_large"
    status = 413


class UnsupportedMediaType(LablinkError):
    """A write whose Content-Type is not JSON or a lablink binary type (CSRF guard)."""

    code = "unsupported_media_type"
    status = 415


class TooManyStreams(LablinkError):
    """A client holds as many live-event streams as the server allows it."""

    code = "too_many_streams"
    status = 429


class TooManyRequests(LablinkError):
    """Too many attempts from one client or for one user: failed sign-ins, bad tokens, or
    calls with one token; ``details["retry_after"]`` says how many seconds to wait."""

    code = "too_many_requests"
    status = 429


class InsufficientStorage(LablinkError):
    """A disk ran out of space (a cache, a blob store); nothing half-written is kept."""

    code = "insufficient_storage"
    status = 507


class SchemaOutOfDate(LablinkError):
    """The database schema is older than this lablink; it must be migrated."""

    code = "schema_out_of_date"
    status = 503


class ServiceUnavailable(LablinkError):
    """The lablink server cannot be reached."""

    code = "unavailable"
    status = 503


ERRORS_BY_CODE: dict[str, type[LablinkError]] = {
    cls.code: cls
    for cls in (
        LablinkError,
        InvalidInput,
        FilterSyntaxError,
        ValidationFailed,
        Unauthorized,
        Forbidden,
        NotFound,
        AlreadyExists,
        Conflict,
        RunNotActive,
        CorruptBlob,
        DatasetNotApproved,
        PayloadTooLarge,
        UnsupportedMediaType,
        TooManyStreams,
        TooManyRequests,
        InsufficientStorage,
        SchemaOutOfDate,
        ServiceUnavailable,
    )
}

HTTP_STATUS: dict[str, int] = {code: cls.status for code, cls in ERRORS_BY_CODE.items()}


def from_dict(body: dict[str, Any], status: int) -> LablinkError:
    """Rebuild the typed error from a server's JSON envelope."""
    err = body.get("error", {}) if isinstance(body, dict) else {}
    code = err.get("code", "error")
    message = err.get("message", f"server answered HTTP {status}")
    cls = ERRORS_BY_CODE.get(code, LablinkError)
    error = cls(message, err.get("hint"), **(err.get("details") or {}))
    if cls is LablinkError:
        # A code this client does not know (``internal``, ``method_not_allowed``, or one
        # from a newer server): keep what the server said, so a 500 stays a 500 and a
        # 405 stays a 4xx, and callers can tell a server bug from an outage.
        error.code = str(code)
        error.status = status
    return error
