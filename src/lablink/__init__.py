"""lablink: the shared lab for ML teams spread over time zones.

Training code needs only this module::

    import lablink

    with lablink.init(project="vision", config={"lr": 3e-4}) as run:
        for step in range(1000):
            run.log({"train/loss": loss}, step=step)
        run.summary["val/acc"] = 0.91
        ds = lablink.dataset("cifar-mini@v3")  # recorded as the run's input

``lablink.run`` is the open run (``None`` outside one); ``lablink.Client().runs()``
returns ``lablink.models.RunRecord`` records; ``lablink.gate`` is the regression gate.

Importing it stays light: the server, the UI, the database layer and numpy load only
when something needs them (a test checks ``sys.modules``).
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from lablink.errors import (
    AlreadyExists,
    Conflict,
    CorruptBlob,
    DatasetNotApproved,
    FilterSyntaxError,
    InsufficientStorage,
    InvalidInput,
    LablinkError,
    NotFound,
    PayloadTooLarge,
    SchemaOutOfDate,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)

if _TYPE_CHECKING:
    from lablink.sdk import checkpoint
    from lablink.sdk.client import Client
    from lablink.sdk.data import dataset
    from lablink.sdk.run import Run, RunStopped
    from lablink.sdk.start import init
    from lablink.sdk.tables import validate

# The SDK loads on first use, so ``lablink --help`` and other tools that only import a
# submodule (every ``lablink.*`` import runs this file) skip its import cost.
_SDK = {
    "Client": "lablink.sdk.client",
    "Run": "lablink.sdk.run",
    "RunStopped": "lablink.sdk.run",
    "checkpoint": "lablink.sdk.checkpoint",  # the module itself
    "dataset": "lablink.sdk.data",
    "init": "lablink.sdk.start",
    "validate": "lablink.sdk.tables",
}

# Public until 0.2, then dropped: the SDK never raises RunNotActive (its outbox keeps
# points a server refuses), so catching it here guarded against nothing.
_DEPRECATED = {"RunNotActive": ("lablink.errors", "RunNotActive")}


def __getattr__(name: str) -> _Any:
    if name in _SDK:
        import importlib

        module = importlib.import_module(_SDK[name])
        value = module if name == "checkpoint" else getattr(module, name)
        globals()[name] = value  # later lookups skip this function
        return value
    if name == "run":  # like ``wandb.run``: the open run, or None
        from lablink.sdk.run import current

        return current()
    if name == "gate":  # loaded on first use: it brings numpy and scipy
        import lablink.gate as gate

        return gate
    from lablink.deprecation import deprecated_attribute

    return deprecated_attribute(__name__, name, _DEPRECATED)


__all__ = [
    "AlreadyExists",
    "Client",
    "Conflict",
    "CorruptBlob",
    "DatasetNotApproved",
    "FilterSyntaxError",
    "InsufficientStorage",
    "InvalidInput",
    "LablinkError",
    "NotFound",
    "PayloadTooLarge",
    "Run",
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
