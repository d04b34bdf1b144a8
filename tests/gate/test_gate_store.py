"""The gate end to end through the real embedded store (and once over HTTP)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from scipy import stats as sps

from conftest import BASE, Home
from helpers import LoopbackServer, make_settings
from lablink.core import gate
from lablink.core.gate.report import render_markdown
from lablink.core.lab import Lab
from lablink.errors import InvalidInput, NotFound
from lablink.sdk.direct import DirectTransport
from lablink.sdk.transport import Transport


def options(candidate: str, *metrics: str, **kwargs: object) -> gate.GateOptions:
    return gate.resolve_options(
        {},
        baseline=str(kwargs.pop("baseline", "tags.main")),
        candidate=candidate,
        metrics=list(metrics) or ["val/acc:max"],
        margin=kwargs.pop("margin", 0.5),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def test_same_worse_single(home: Home, transport: DirectTransport) -> None:
    home.runs("main", BASE)
    home.runs("same", BASE)
    home.runs("worse", [v - 2.5 for v in BASE])  # about 10 sigma
    home.runs("single", [90.0])
    same = gate.run_gate(transport, options("tags.same"))
    assert (same.verdict, same.exit_code) == (gate.Verdict.PASS, 0)
    worse = gate.run_gate(transport, options("tags.worse"))
    assert (worse.verdict, worse.exit_code) == (gate.Verdict.FAIL, 1)
    assert worse.metrics[0].comparison is not None
    assert worse.metrics[0].comparison.diff == pytest.approx(-2.5)
    report = render_markdown(worse)
    assert "val/acc" in report and "FAIL" in report
    for value in ("89.6", "90.4", "87.1", "87.9"):  # every per-seed value is shown
        assert value in report
    single = gate.run_gate(transport, options("tags.single"))
    assert (single.verdict, single.exit_code) == (gate.Verdict.INCONCLUSIVE, 2)
    assert "candidate seeds" in single.metrics[0].explanation


def test_a_missing_metric_is_misuse(home: Home, transport: DirectTransport) -> None:
    home.runs("main", BASE)
    home.runs("same", BASE)
    with pytest.raises(InvalidInput, match="metric 'val/nope'") as info:
        gate.run_gate(transport, options("tags.same", "val/nope:max"))
    assert "val/acc" in str(info.value.hint)


def test_runs_lacking_the_metric_are_listed(home: Home, transport: DirectTransport) -> None:
    home.runs("main", BASE)
    home.runs("pr", BASE[:5])
    odd = home.runs("pr", [1.0], metric="other")
    result = gate.run_gate(transport, options("tags.pr"))
    assert result.metrics[0].comparison is not None
    assert result.metrics[0].comparison.n_cand == 5
    assert any(odd[0] in note for note in result.metrics[0].notes)


def test_unfinished_runs_are_left_out(home: Home, transport: DirectTransport) -> None:
    home.runs("main", BASE)
    home.runs("pr", BASE[:4])
    running = home.runs("pr", [10.0], status=None)
    crashed = home.runs("pr", [10.0], status="crashed")
    result = gate.run_gate(transport, options("tags.pr"))
    assert result.metrics[0].comparison is not None
    assert result.metrics[0].comparison.n_cand == 4
    assert running[0] in result.notes[0] and crashed[0] in result.notes[0]
    home.runs("live", [1.0, 2.0], status=None)
    with pytest.raises(InvalidInput, match="finished"):
        gate.run_gate(transport, options("tags.live"))


def test_selector_problems(home: Home, transport: DirectTransport) -> None:
    home.runs("main", BASE)
    with pytest.raises(InvalidInput, match="no candidate runs match"):
        gate.run_gate(transport, options("tags.nothing"))
    with pytest.raises(InvalidInput, match="match both"):
        gate.run_gate(transport, options("tags.main"))
    with pytest.raises(NotFound, match="no project named 'x'"):
        gate.run_gate(transport, options("tags.x", project="x"))
    home.runs("elsewhere", [1.0], project="other")
    with pytest.raises(InvalidInput, match=r"no baseline runs match 'tags\.main' in project other"):
        gate.run_gate(transport, options("tags.elsewhere", project="other"))


def test_a_run_id_selects_one_run_and_baselines_use_every_seed(
    home: Home, transport: DirectTransport
) -> None:
    home.runs("main", [90 + 0.1 * (i % 7) for i in range(25)])
    ids = home.runs("pr", [90.2])
    result = gate.run_gate(transport, options(ids[0]))
    assert [v.run_id for v in result.metrics[0].candidate] == ids
    assert len(result.metrics[0].baseline) == 25
    assert result.verdict is gate.Verdict.INCONCLUSIVE


def test_which_value_of_a_run_counts(home: Home, transport: DirectTransport) -> None:
    """Summary if set, else the best value in the metric's direction."""
    with_summary = home.runs("a", [0.5], curve=[0.9, 0.1])
    best = home.runs("b", [0.5], curve=[0.9, 0.1], summary=False)
    a, b = transport.get_run(with_summary[0]), transport.get_run(best[0])
    assert gate.run_value(a, "val/acc", "max") == 0.5
    assert gate.run_value(b, "val/acc", "max") == 0.9
    assert gate.run_value(b, "val/acc", "min") == 0.1
    assert gate.run_value(b, "val/nope", "min") is None


def test_holm_bonferroni_across_metrics(home: Home, transport: DirectTransport) -> None:
    base = [0.0, 1.0, 2.0, 3.0, 4.0]
    shift = -float(sps.t.ppf(0.03, 8))  # one-sided Welch p = 0.03 for each metric alone
    with Lab(home.settings) as lab:
        for tag, delta in (("main", 0.0), ("pr", shift)):
            for value in base:
                run = lab.tracking.create_run("t@x", "gate", tags=[tag])
                lab.tracking.set_summary(run.id, {"a": value - delta, "b": value - delta})
                lab.tracking.finish_run("t@x", run.id)
    one = gate.run_gate(transport, options("tags.pr", "a:max", margin=0.0))
    assert one.metrics[0].p_drop_adjusted == pytest.approx(0.03)
    assert one.verdict is gate.Verdict.FAIL
    two = gate.run_gate(transport, options("tags.pr", "a:max", "b:max", margin=0.0))
    assert [m.p_drop_adjusted for m in two.metrics] == pytest.approx([0.06, 0.06])
    assert two.verdict is gate.Verdict.INCONCLUSIVE
    assert "Holm" in two.metrics[0].explanation


def test_mann_whitney_and_min_metrics(home: Home, transport: DirectTransport) -> None:
    home.runs("main", [1.0 + 0.01 * i for i in range(8)], metric="val/loss")
    home.runs("pr", [1.5 + 0.01 * i for i in range(8)], metric="val/loss")
    result = gate.run_gate(transport, options("tags.pr", "val/loss:min", margin=0.1, test="mwu"))
    assert result.verdict is gate.Verdict.FAIL
    assert "higher" in result.metrics[0].explanation
    assert result.to_dict()["metrics"][0]["comparison"]["test"] == "mwu"


def test_compare_api_on_run_objects(home: Home, transport: DirectTransport) -> None:
    home.runs("main", BASE)
    home.runs("same", BASE)
    base = transport.search_runs(None, "tags.main", None, True, 100, 0)[0]
    cand = transport.search_runs(None, "tags.same", None, True, 100, 0)[0]
    result = gate.compare(base, cand, metrics={"val/acc": "max"}, margin=0.5)
    assert result.verdict is gate.Verdict.PASS
    assert result.to_dict()["metrics"][0]["verdict"] == "PASS"
    with pytest.raises(InvalidInput, match="alpha"):
        gate.compare(base, cand, metrics={"val/acc": "max"}, alpha=0.7)


@pytest.fixture
def http_transport(home: Home) -> Iterator[Transport]:
    from lablink.sdk.http import HttpTransport

    lab = Lab(home.settings)
    server = LoopbackServer(lab).start()
    transport = HttpTransport(make_settings(home.path, server=server.url, user="t@x"))
    yield transport
    transport.close()
    server.stop()
    lab.close()


def test_the_gate_over_http(home: Home, http_transport: Transport) -> None:
    home.runs("main", BASE)
    home.runs("worse", [v - 2.5 for v in BASE])
    result = gate.run_gate(http_transport, options("tags.worse"))
    assert result.exit_code == 1
    ids = home.runs("ckpt", [1.0])
    gate.log_predictions(http_transport, ids[0], ["a", "b"], [1, 0], dataset="val@v1")
    read = gate.read_predictions(http_transport, ids[0], "acc")
    assert (read.ids, read.values.tolist(), read.dataset) == (["a", "b"], [1.0, 0.0], "val@v1")
    time.sleep(0)  # the loopback server stops in the fixture
