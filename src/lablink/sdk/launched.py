"""What a launched job's process learns from its launcher, and tells it back."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

RUN_ENV = "LABLINK_RUN_ID"
ATTEMPT_ENV = "LABLINK_ATTEMPT"
STATUS_ENV = "LABLINK_LAUNCH_STATUS"
# Set (to the run's id) by a launcher that creates the run beside the command: only then
# may ``lablink.init`` wait for a run it cannot find; any other missing run is a mistake.
PENDING_ENV = "LABLINK_RUN_PENDING"
# A sweep's trial params (a JSON object): ``lablink.init`` merges them over the code's
# own config, so ``run.config`` holds the trial's values whatever the code's defaults.
PARAMS_ENV = "LABLINK_PARAMS"


def launched_params(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The params a sweep gave this process ({} when none, or when they do not parse)."""
    env = os.environ if environ is None else environ
    try:
        params = json.loads(env.get(PARAMS_ENV) or "{}")
    except ValueError:
        return {}
    return params if isinstance(params, dict) else {}


def report_status(status: str, reason: str | None) -> None:
    """Tell the launcher how the code ended its run (best effort)."""
    path = os.environ.get(STATUS_ENV)
    if not path:
        return
    with contextlib.suppress(OSError):
        Path(path).write_text(json.dumps({"status": status, "reason": reason}))
