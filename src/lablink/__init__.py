"""lablink: the shared lab for ML teams spread over time zones.

Training code needs only this module::

    import lablink

    with lablink.init(project="vision", config={"lr": 3e-4}) as run:
        for step in range(1000):
            run.log({"train/loss": loss}, step=step)
        run.summary["val/acc"] = 0.91
        ds = lablink.dataset("cifar-mini@v3")  # recorded as the run's input

Importing it stays light: the server, the UI, the database layer and numpy load only
when something needs them (a test checks ``sys.modules``).
"""

from typing import Any as _Any

from lablink.errors import (
    AlreadyExists,
    Conflict,
    FilterSyntaxError,
    InvalidInput,
    LablinkError,
    NotFound,
    PayloadTooLarge,
    RunNotActive,
    SchemaOutOfDate,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from lablink.sdk import checkpoint
from lablink.sdk.client import Client
from lablink.sdk.data import dataset
from lablink.sdk.run import Run, RunStopped
from lablink.sdk.start import init
from lablink.sdk.tables import validate


def __getattr__(name: str) -> _Any:
    # ``lablink.gate.compare(...)`` without loading scipy on ``import lablink``.
    if name == "gate":
        import lablink.core.gate as gate

        return gate
    raise AttributeError(f"module 'lablink' has no attribute {name!r}")


__all__ = [
    "AlreadyExists",
    "Client",
    "Conflict",
    "FilterSyntaxError",
    "InvalidInput",
    "LablinkError",
    "NotFound",
    "PayloadTooLarge",
    "Run",
    "RunNotActive",
    "RunStopped",
    "SchemaOutOfDate",
    "ServiceUnavailable",
    "Unauthorized",
    "ValidationFailed",
    "checkpoint",
    "dataset",
    "init",
    "validate",
]
