"""MLflow logged models: lablink keeps none, and says so to clients that look.

The MLflow client searches logged models while listing a run's artifacts (to show a
model's files beside the run's); an empty answer lets that listing go on. Registering
and logging models is not served.
"""

from __future__ import annotations

from fastapi import APIRouter

from lablink.server.jsonio import JSONResponse, reply
from lablink.server.mlflow.guard import Authorized

router = APIRouter(prefix="/logged-models")


@router.post("/search")
def search_logged_models(access: Authorized) -> JSONResponse:
    """No logged models (lablink stores models as run artifacts)."""
    return reply({"models": []})
