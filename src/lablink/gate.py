"""``lablink.gate``: the statistical regression gate from Python.

::

    import lablink

    client = lablink.Client()
    base = client.runs("vision", "tags.main")
    cand = client.runs("vision", "tags.pr-42")
    result = lablink.gate.compare(base, cand, {"val/acc": "max"}, margin=0.5)
    print(result.verdict, lablink.gate.render_markdown(result))

``run_gate`` selects the runs itself, as ``lablink gate`` does; ``log_predictions`` and
``evaluate`` attach per-example results for ``per_example=True``. Each takes a
``lablink.Client`` (or a transport) as its ``source``. How the gate decides:
``docs/gate.md``.

Other names this module forwarded from ``lablink.core.gate`` before 0.2
(``select_runs``, ``run_value``, ``resolve_options``, ...) still work for one release,
with a ``DeprecationWarning``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lablink.checks.stats import Verdict
from lablink.core import evaluate as _evaluate
from lablink.core.evaluate import EvalResult
from lablink.core.gate import predictions as _predictions
from lablink.core.gate import run as _run
from lablink.core.gate.options import GateOptions, MetricSpec
from lablink.core.gate.report import render_markdown
from lablink.core.gate.results import GateResult
from lablink.core.gate.verdicts import compare
from lablink.deprecation import warn
from lablink.models import Artifact
from lablink.sdk.client import Client

__all__ = [
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
]


def _source(source: Any) -> Any:
    """What the core functions read through: a client's transport, or the transport."""
    return source._transport if isinstance(source, Client) else source


def run_gate(source: Client | Any, options: GateOptions) -> GateResult:
    """Select the runs ``options`` name (filters or run ids) and gate them.

    Raises:
        InvalidInput: no runs match, the runs span projects, the selectors overlap, a
            metric is missing, or (per-example) the two sides are not comparable.
    """
    return _run.run_gate(_source(source), options)


def log_predictions(
    source: Client | Any,
    run: str,
    ids: Any,
    values: Any,
    *,
    metric: str = "acc",
    dataset: str | None = None,
    direction: str = "max",
) -> Artifact:
    """Attach per-example values (0/1 correct, or a score) to ``run`` for the gate.

    Raises:
        InvalidInput: mismatched lengths, duplicate ids, non-numeric values.
        NotFound: no such run.
    """
    return _predictions.log_predictions(
        _source(source), run, ids, values, metric=metric, dataset=dataset, direction=direction
    )


def evaluate(
    source: Client | Any,
    run: str,
    model: str,
    data: Any,
    predict: str | Callable[..., Any],
    **options: Any,
) -> EvalResult:
    """Score ``run``'s model artifact ``model`` on ``data`` and log per-example values.

    ``options`` are those of ``lablink eval``: ``metric``, ``kind``, ``direction``,
    ``id_column``, ``label_column``, ``table``, ``batch_size``, ``search_dir``.
    """
    search_dir = options.pop("search_dir", None)
    return _evaluate.evaluate(
        _source(source),
        run,
        model,
        data,
        predict,
        search_dir=Path(search_dir) if search_dir is not None else None,
        **options,
    )


def __getattr__(name: str) -> Any:
    # Before 0.2 ``lablink.gate`` was ``lablink.core.gate`` itself, internals included.
    core = importlib.import_module("lablink.core.gate")
    if name.startswith("__") or not hasattr(core, name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warn(f"lablink.gate.{name}", f"lablink.core.gate.{name} (internal) or lablink.gate.__all__")
    return getattr(core, name)
