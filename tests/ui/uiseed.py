"""Runs for UI tests, made the way the SDK ends up making them: through ``Tracking``."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from lablink.core.lab import Lab
from lablink.models import RunRecord

USER = "tester@example.org"
XSS = "<script>alert('pwn')</script>"
_seq = itertools.count(1)


def project_name(prefix: str = "ui") -> str:
    """A project name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def log(lab: Lab, run_id: str, series: Mapping[str, tuple[Sequence[int], Sequence[float]]]) -> None:
    """Log ``{key: (steps, values)}`` as one batch, wall times now."""
    now = time.time()
    lab.tracking.log_batch(
        run_id,
        next(_seq),
        {
            key: {"steps": list(steps), "times": [now] * len(steps), "values": list(values)}
            for key, (steps, values) in series.items()
        },
    )


def curve(n: int, scale: float = 1.0, start: int = 0) -> tuple[list[int], list[float]]:
    """A falling loss-like curve over steps ``start .. start+n-1``."""
    steps = list(range(start, start + n))
    return steps, [scale / (1 + 0.05 * s) for s in steps]


def make_run(
    lab: Lab,
    project: str,
    name: str,
    *,
    config: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (),
    points: int = 50,
    scale: float = 1.0,
    status: str | None = "finished",
    capture: Mapping[str, Any] | None = None,
) -> RunRecord:
    """A run with ``train/loss`` and ``val/acc`` curves, ended with ``status`` unless None."""
    run = lab.tracking.create_run(USER, project, name, config or {}, tags, capture=capture)
    if points:
        steps, loss = curve(points, scale)
        log(lab, run.id, {"train/loss": (steps, loss), "val/acc": (steps, [1 - v for v in loss])})
    if status is not None:
        lab.tracking.finish_run(USER, run.id, status)
    return lab.tracking.get_run(run.id)
