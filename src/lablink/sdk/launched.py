"""What a launched job's process learns from its launcher, and tells it back."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

RUN_ENV = "LABLINK_RUN_ID"
ATTEMPT_ENV = "LABLINK_ATTEMPT"
STATUS_ENV = "LABLINK_LAUNCH_STATUS"


def report_status(status: str, reason: str | None) -> None:
    """Tell the launcher how the code ended its run (best effort)."""
    path = os.environ.get(STATUS_ENV)
    if not path:
        return
    with contextlib.suppress(OSError):
        Path(path).write_text(json.dumps({"status": status, "reason": reason}))
