"""``/api/3.0/mlflow/server-info``: what the MLflow 3 client asks a server at start.

The client reads which optional transfers and features the server has; lablink says
plainly that it offers none of them (no multipart or presigned transfers, no
workspaces), so the client uses the plain artifact proxy it would pick anyway, without
first logging a 404.
"""

from __future__ import annotations

from fastapi import APIRouter

from lablink.server.jsonio import JSONResponse, reply
from lablink.server.mlflow.guard import Authorized

router = APIRouter()


@router.get("/server-info")
def server_info(access: Authorized) -> JSONResponse:
    """The capabilities an MLflow 3 client looks for, all off but artifact serving."""
    return reply(
        {
            "store_type": None,
            "artifact_serving_enabled": True,
            "workspaces_enabled": False,
            "trace_archival_enabled": False,
            "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False,
            "presigned_upload_run_id_supported": False,
            "presigned_upload_model_id_supported": False,
            "model_artifact_presigned_downloads_supported": False,
            "artifacts_presigned_only": False,
            "features_enabled": {"gateway": False, "scheduled_issue_detection": False},
            "tracking_auth": "",
        }
    )
