"""The public surface: ``__all__`` stays exact and sorted; ``import lablink`` stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import lablink

PUBLIC = [
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
    "dataset",
    "init",
    "validate",
]
HEAVY = ("fastapi", "uvicorn", "jinja2", "alembic", "starlette", "sqlalchemy", "numpy", "httpx")


def test_all_is_exact_and_sorted() -> None:
    import types

    assert lablink.__all__ == PUBLIC
    assert sorted(lablink.__all__) == lablink.__all__
    for name in PUBLIC:
        assert getattr(lablink, name).__module__.startswith("lablink.")
    exported = {
        name
        for name, value in vars(lablink).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert exported == set(PUBLIC)


def test_errors_are_the_same_classes_as_in_lablink_errors() -> None:
    from lablink import errors

    assert lablink.NotFound is errors.NotFound
    assert issubclass(lablink.RunStopped, lablink.LablinkError)


def test_import_lablink_is_light() -> None:
    code = (
        f"import json, sys, lablink; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_gate_is_reachable_lazily() -> None:
    import lablink

    assert callable(lablink.gate.compare)
