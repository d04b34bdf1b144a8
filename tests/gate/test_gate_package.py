"""``lablink.core.gate``: its public names, each from the module that defines it, loaded lazily."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lablink.core import gate
from lablink.core.gate import options, predictions, results, run, selection, verdicts


def test_public_names_come_from_their_modules() -> None:
    assert gate.GateOptions is options.GateOptions
    assert gate.MetricSpec is options.MetricSpec
    assert gate.parse_metric is options.parse_metric
    assert gate.resolve_options is options.resolve_options
    assert gate.GateResult is results.GateResult
    assert gate.MetricResult is results.MetricResult
    assert gate.SeedValue is results.SeedValue
    assert gate.select_runs is selection.select_runs
    assert gate.run_value is selection.run_value
    assert gate.compare is verdicts.compare
    assert gate.run_gate is run.run_gate
    assert gate.log_predictions is predictions.log_predictions
    assert gate.read_predictions is predictions.read_predictions
    assert str(gate.Verdict.PASS) == "PASS"


def test_every_listed_name_resolves_and_from_import_works() -> None:
    for name in gate.__all__:
        assert getattr(gate, name) is not None
        assert name in dir(gate)
    from lablink.core.gate import GateResult, compare

    assert GateResult is results.GateResult and compare is verdicts.compare


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = gate.nope


def test_importing_the_package_loads_no_statistics() -> None:
    code = (
        "import json, sys, lablink.core.gate as g\n"
        "before = sorted(m for m in sys.modules if m in ('numpy', 'scipy')"
        " or m.startswith('lablink.core.gate.'))\n"
        "g.compare\n"
        "print(json.dumps([before, 'lablink.core.gate.verdicts' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [[], True]
