"""lablink errors in MLflow's envelope: ``{"error_code": ..., "message": ...}``.

MLflow clients read ``error_code`` (``MlflowException.error_code``) and retry 5xx
answers, so each lablink code maps to the MLflow code and status an MLflow server
answers for the same trouble, and nothing a retry cannot fix is a 5xx.
"""

from __future__ import annotations

from starlette.responses import Response

from lablink.errors import LablinkError
from lablink.server.jsonio import JSONResponse

# lablink code -> (MLflow error code, HTTP status)
CODES: dict[str, tuple[str, int]] = {
    "not_found": ("RESOURCE_DOES_NOT_EXIST", 404),
    "bad_request": ("INVALID_PARAMETER_VALUE", 400),
    "bad_filter": ("INVALID_PARAMETER_VALUE", 400),
    "already_exists": ("RESOURCE_ALREADY_EXISTS", 400),
    # MLflow lets ended runs take points; lablink does not. INVALID_STATE would be a
    # 500, which the client retries for minutes.
    "run_not_active": ("INVALID_PARAMETER_VALUE", 400),
    "conflict": ("RESOURCE_CONFLICT", 409),
    "unauthorized": ("UNAUTHENTICATED", 401),
    "forbidden": ("PERMISSION_DENIED", 403),
    "too_large": ("INVALID_PARAMETER_VALUE", 413),
    "unsupported_media_type": ("BAD_REQUEST", 415),
    "method_not_allowed": ("ENDPOINT_NOT_FOUND", 405),
    "unavailable": ("TEMPORARILY_UNAVAILABLE", 503),
    "too_many_streams": ("REQUEST_LIMIT_EXCEEDED", 429),
}
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"


def mlflow_error_response(err: LablinkError, headers: dict[str, str] | None = None) -> Response:
    """``err`` as MLflow answers it; the lablink hint rides along in the message."""
    code, status = CODES.get(err.code, ("INTERNAL_ERROR", err.status))
    if err.code == "not_found" and err.message.startswith("no route "):
        code = ENDPOINT_NOT_FOUND
    message = f"{err.message} ({err.hint})" if err.hint else err.message
    return JSONResponse({"error_code": code, "message": message}, status, headers=headers)
