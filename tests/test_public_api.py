"""The public surface: ``__all__`` stays exact and sorted; ``import lablink`` stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import lablink

PUBLIC = [
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
HEAVY = ("fastapi", "uvicorn", "jinja2", "alembic", "starlette", "sqlalchemy", "numpy", "httpx")


def test_all_is_exact_and_sorted() -> None:
    import types

    assert lablink.__all__ == PUBLIC
    assert sorted(lablink.__all__) == lablink.__all__
    for name in PUBLIC:
        value = getattr(lablink, name)
        home = value.__name__ if isinstance(value, types.ModuleType) else value.__module__
        assert home.startswith("lablink.")
    exported = {
        name
        for name, value in vars(lablink).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    # ``lablink.checkpoint`` is the one public submodule (save/latest), like ``wandb.apis``
    assert exported | {"checkpoint"} == set(PUBLIC)


def test_errors_are_the_same_classes_as_in_lablink_errors() -> None:
    from lablink import errors

    assert lablink.NotFound is errors.NotFound
    assert lablink.CorruptBlob is errors.CorruptBlob
    assert lablink.InsufficientStorage is errors.InsufficientStorage
    assert issubclass(lablink.RunStopped, lablink.Conflict)
    assert issubclass(lablink.RunStopped, lablink.LablinkError)


def test_every_public_name_imports_from_the_package() -> None:
    namespace: dict[str, object] = {}
    exec("from lablink import *", namespace)
    assert {n for n in namespace if not n.startswith("__")} == set(PUBLIC)


@pytest.mark.parametrize(
    ("module", "old", "new"),
    [
        ("lablink", "RunNotActive", "lablink.errors.RunNotActive"),
        ("lablink.models", "Run", "lablink.models.RunRecord"),
    ],
)
def test_old_names_warn_and_still_resolve(module: str, old: str, new: str) -> None:
    import importlib

    owner, _, attr = new.rpartition(".")
    with pytest.warns(DeprecationWarning, match=attr):
        value = getattr(importlib.import_module(module), old)
    assert value is getattr(importlib.import_module(owner), attr)


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        lablink.nope  # noqa: B018


def test_import_lablink_is_light() -> None:
    code = (
        f"import json, sys, lablink; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_gate_is_reachable_lazily() -> None:
    import lablink

    assert callable(lablink.gate.compare)
    code = "import json, sys, lablink; print(json.dumps('scipy' in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) is False


def test_gate_is_a_small_public_module() -> None:
    import lablink.gate as gate

    assert lablink.gate is gate
    assert set(gate.__all__) == {
        "EvalResult",
        "GateOptions",
        "GateResult",
        "MetricSpec",
        "Verdict",
        "compare",
        "evaluate",
        "log_predictions",
        "render_markdown",
        "run_gate",
    }
    for name in gate.__all__:
        assert getattr(gate, name) is not None


@pytest.mark.parametrize("name", ["select_runs", "run_value", "resolve_options"])
def test_gate_internals_forward_with_a_warning(name: str) -> None:
    import lablink.core.gate as core

    with pytest.warns(DeprecationWarning, match=f"lablink.gate.{name}"):
        value = getattr(lablink.gate, name)
    assert value is getattr(core, name)


def test_run_is_none_outside_a_run() -> None:
    assert lablink.run is None
