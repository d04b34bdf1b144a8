"""Sweep files, trial params and the sweep read back from runs: no processes."""

from __future__ import annotations

import pytest

from lablink.errors import InvalidInput
from lablink.launch.sweep_run import build_study, make_sampler
from lablink.launch.sweep_spec import all_grid_points, parse_spec
from lablink.launch.sweep_trials import SweepView, Trial
from lablink.sdk.launched import PARAMS_ENV, launched_params

BASE = {
    "name": "s",
    "command": "python t.py --lr ${lr}",
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "space": {"lr": [0.1, 0.2], "opt": ["adam", "sgd"]},
}


def test_command_placeholders_and_args() -> None:
    spec = parse_spec({**BASE, "args": True})
    assert spec.command_for({"lr": 0.1, "opt": "sgd"}) == [
        "python",
        "t.py",
        "--lr",
        "0.1",
        "--lr=0.1",
        "--opt=sgd",
    ]
    assert spec.trials() == 4 and len(all_grid_points(spec)) == 4
    assert spec.watch_policy()["rules"]["sweep"] == {
        "metric": "loss",
        "nan": True,
        "action": "stop",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"space": {"lr": {"distribution": "int", "low": 3, "high": 1}}}, "low (3)"),
        ({"space": {"lr": {"distribution": "choice", "values": []}}}, "space.lr.values"),
        ({"watch": {"speed": 1}}, "watch.speed"),
        ({"parallel": 0}, "parallel"),
    ],
)
def test_bad_specs_name_the_key(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match="sweep file") as info:
        parse_spec({**BASE, "method": "tpe", "budget": {"trials": 2}, **change})
    assert message in info.value.message


def test_params_from_the_environment() -> None:
    assert launched_params({PARAMS_ENV: '{"lr": 0.1}'}) == {"lr": 0.1}
    assert launched_params({PARAMS_ENV: "not json"}) == {}
    assert launched_params({}) == {}


def _trial(n: int, state: str, lr: float, value: float | None) -> Trial:
    return Trial(n, f"r{n}", f"s-{n}", state, {"lr": lr, "opt": "adam"}, value, None, n, n)


def test_view_status_and_best() -> None:
    spec = parse_spec(BASE).to_json()
    trials = [_trial(0, "complete", 0.1, 0.5), _trial(1, "pruned", 0.2, None)]
    view = SweepView("s-1", spec, trials)
    assert view.status == "stopped" and view.done() == 2 and view.budget == 4
    assert view.best() is not None and view.best().number == 0  # type: ignore[union-attr]
    done = [*trials, _trial(2, "complete", 0.1, 0.2), _trial(3, "failed", 0.2, None)]
    assert SweepView("s-1", spec, done).status == "finished"
    maximize = {**spec, "metric": {"name": "acc", "goal": "maximize"}}
    assert SweepView("s-1", maximize, done).best().number == 0  # type: ignore[union-attr]


def test_a_rebuilt_grid_hands_out_the_interrupted_point_then_the_missing_one() -> None:
    spec = parse_spec(BASE)
    sampler = make_sampler(spec)
    # trial k of a grid is grid point k of the sampler's (seeded) order, as when first run
    grid = [dict(zip(sampler._param_names, g, strict=True)) for g in sampler._all_grids]
    trials = [
        Trial(0, "r0", "s-0", "complete", grid[0], 0.5, None, 0, 0),
        Trial(1, "r1", "s-1", "interrupted", grid[1], None, None, 1, 1),
        Trial(2, "r2", "s-2", "complete", grid[2], 0.1, None, 2, 2),
    ]
    study = build_study(spec, trials)
    seen = []
    for _ in range(2):
        trial = study.ask()
        lr = trial.suggest_categorical("lr", [0.1, 0.2])
        opt = trial.suggest_categorical("opt", ["adam", "sgd"])
        seen.append((trial.number, {"lr": lr, "opt": opt}))
        if len(seen) == 1:  # telling the last point stops the study: only optimize may
            study.tell(trial, 1.0)
    assert seen == [(1, grid[1]), (3, grid[3])]  # the interrupted one again, then the rest
