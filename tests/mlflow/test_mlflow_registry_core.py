"""The registry's core rules without a client: source forms, model URIs, names, aliases."""

from __future__ import annotations

import pytest

from lablink.core.lab import Lab
from lablink.core.registry import check_alias, check_model_name, location_parts, parse_version
from lablink.errors import AlreadyExists, InvalidInput, NotFound


def test_every_source_form_resolves_to_the_run_artifacts(lab: Lab) -> None:
    run = lab.tracking.create_run("ana", "vision", "t")
    lab.mlflow.put_artifact(run.id, "model/MLmodel", iter([b"x"]))
    reg = lab.registry
    reg.create("ana", "m")
    v1 = reg.create_version("ana", "m", f"runs:/{run.id}/model")
    assert location_parts(v1.location) == (run.id, "model") and v1.run_id == run.id
    reg.set_alias("ana", "m", "prod", 1)
    v2 = reg.create_version("ana", "m", "models:/m@prod")
    v3 = reg.create_version("ana", "m", v1.location)
    v4 = reg.create_version("ana", "m", "models:/m/1")
    assert {v.location for v in (v2, v3, v4)} == {v1.location}
    reg.transition("m", 4, "staging", archive_others=True)
    assert reg.resolve("models:/m/latest").version == 4
    assert reg.resolve("models:/m/Staging").version == 4
    assert reg.resolve("models:/m@prod").version == 1
    with pytest.raises(NotFound, match="no version 'Production'"):
        reg.resolve("models:/m/Production")
    with pytest.raises(InvalidInput, match="is not the run of source"):
        reg.create_version("ana", "m", f"runs:/{run.id}/model", run_id="other-run")
    with pytest.raises(NotFound, match="logged model 'm-0123456789abcdef' not found"):
        reg.create_version("ana", "m", "models:/m-0123456789abcdef")
    with pytest.raises(AlreadyExists, match="already exists"):
        reg.create("ana", "m")
    reg.delete_version("m", 1)
    assert reg.model("m").aliases == {}  # the alias went with its version


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: check_model_name(""), "non-empty"),
        (lambda: check_model_name("a@b"), "without / or @"),
        (lambda: check_model_name(7), "non-empty"),
        (lambda: check_alias("V12"), "reserved"),
        (lambda: check_alias("Latest"), "reserved"),
        (lambda: check_alias("12"), "invalid alias|reserved"),
        (lambda: check_alias("a b"), "invalid alias"),
        (lambda: parse_version("0"), "count from 1"),
        (lambda: parse_version(True), "invalid model version"),
        (lambda: parse_version("1.5"), "invalid model version"),
    ],
)
def test_bad_names_aliases_and_versions_name_the_problem(call: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        call()  # type: ignore[operator]


def test_concurrent_versions_get_distinct_numbers(lab: Lab) -> None:
    from concurrent.futures import ThreadPoolExecutor

    run = lab.tracking.create_run("ana", "vision", "t")
    lab.mlflow.put_artifact(run.id, "model/MLmodel", iter([b"x"]))
    lab.registry.create("ana", "busy")
    with ThreadPoolExecutor(8) as pool:
        made = list(
            pool.map(
                lambda _: lab.registry.create_version("ana", "busy", f"runs:/{run.id}/model"),
                range(16),
            )
        )
    assert sorted(v.version for v in made) == list(range(1, 17))
