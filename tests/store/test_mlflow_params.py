"""MLflow params logged to one run from several threads at once are all kept."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from lablink.core.lab import Lab


def test_params_logged_at_once_are_all_kept(lab: Lab) -> None:
    exp = lab.mlflow.create_experiment("params", {})
    run, _ = lab.mlflow.create_run("ana", str(exp.experiment_id), None, "p", {})
    keys = [f"k{i}" for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: lab.mlflow.log(run.id, params={k: k[1:]}), keys))
    read, extras, _ = lab.mlflow.run(run.id)
    assert extras.params == {k: k[1:] for k in keys}
    assert read.config == read.params == {k: int(k[1:]) for k in keys}
