"""The statistical regression gate: is the candidate significantly worse?

``run_gate`` selects baseline and candidate runs by filter (``selection.py``), reads
one value per run and metric, compares the two samples and gives each metric one of
four verdicts, PASS, WARN, FAIL or INCONCLUSIVE (``verdicts.py``); ``--per-example``
compares one checkpoint per side on stored predictions (``predictions.py``). The
orchestration is ``run.py``, the answer's records ``results.py``, its words and
Markdown ``report.py``, the options ``options.py``, the one-project rule ``scope.py``.

Only finished runs count; others are listed in the result's notes. The public Python
API is ``lablink.gate`` (``src/lablink/gate.py``): ``lablink.gate.compare(base_runs,
cand_runs, metrics={"val/acc": "max"}, margin=0.5)``. The names below load their module on
first use: importing the package alone loads neither numpy nor SciPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lablink.checks.stats import Verdict
    from lablink.core.gate.options import GateOptions, MetricSpec, parse_metric, resolve_options
    from lablink.core.gate.predictions import log_predictions, read_predictions
    from lablink.core.gate.results import GateResult, MetricResult, SeedValue
    from lablink.core.gate.run import run_gate
    from lablink.core.gate.selection import run_value, select_runs
    from lablink.core.gate.verdicts import compare

# public name → the module that defines it
_HOMES = {
    "GateOptions": "lablink.core.gate.options",
    "GateResult": "lablink.core.gate.results",
    "MetricResult": "lablink.core.gate.results",
    "MetricSpec": "lablink.core.gate.options",
    "SeedValue": "lablink.core.gate.results",
    "Verdict": "lablink.checks.stats",
    "compare": "lablink.core.gate.verdicts",
    "log_predictions": "lablink.core.gate.predictions",
    "parse_metric": "lablink.core.gate.options",
    "read_predictions": "lablink.core.gate.predictions",
    "resolve_options": "lablink.core.gate.options",
    "run_gate": "lablink.core.gate.run",
    "run_value": "lablink.core.gate.selection",
    "select_runs": "lablink.core.gate.selection",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # found once; later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))


__all__ = [
    "GateOptions",
    "GateResult",
    "MetricResult",
    "MetricSpec",
    "SeedValue",
    "Verdict",
    "compare",
    "log_predictions",
    "parse_metric",
    "read_predictions",
    "resolve_options",
    "run_gate",
    "run_value",
    "select_runs",
]
