"""``lablink runs ...`` and ``lablink projects`` in-process on a temporary LABLINK_HOME."""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path

import pytest
from cli_support import Cli, Seeded

from helpers import make_settings
from lablink.core.lab import Lab


def test_ls_table_shows_runs_with_status_and_metrics(cli: Cli, seeded: Seeded) -> None:
    out = cli("runs", "ls", "--project", "vision").stdout
    assert seeded.ids["base"] in out and seeded.ids["hot"] in out
    assert seeded.ids["other"] not in out
    assert "finished" in out and "failed" in out
    assert "val/acc" in out and "0.91" in out
    assert "baseline" in out


def test_ls_table_from_the_table_fields_equals_the_table_from_whole_runs(seeded: Seeded) -> None:
    from rich.console import Console

    from lablink.cli.runs import TABLE_FIELDS, ls_table
    from lablink.sdk.client import Client

    with Lab(make_settings(seeded.home, user="cy@example.org")) as lab:
        running = lab.tracking.create_run("cy@example.org", "vision", "wip", {"lr": 1}, ["a", "b"])
        lab.tracking.set_summary(running.id, {"val/acc": 0.5, "note": "text"})

    def table(fields: tuple[str, ...] | None, metric: list[str]) -> str:
        with Client(settings=make_settings(seeded.home)) as client:
            found, total = client.search(None, None, fields=fields)
        assert total == len(found) == 4
        if fields is not None:  # the lean rows really are lean
            assert all(run.config == {} and run.params == {} for run in found)
        console = Console(width=200, record=True, file=io.StringIO(), color_system="truecolor")
        console.print(ls_table(found, metric, now=found[0].created_at + 3600))
        return console.export_text(styles=True)

    for metric in ([], ["train/loss", "val/acc", "note", "nope"]):
        assert table(TABLE_FIELDS, metric) == table(None, metric)


def test_ls_json_parses_and_filters(cli: Cli, seeded: Seeded) -> None:
    data = json.loads(
        cli("runs", "ls", "--filter", "metrics.val/acc > 0.9 and params.lr <= 0.1", "--json").stdout
    )
    assert data["total"] == 1
    assert [r["id"] for r in data["runs"]] == [seeded.ids["base"]]
    assert data["runs"][0]["config"] == {"lr": 0.1, "model": {"depth": 50}}


def test_ls_sorts_by_metric(cli: Cli, seeded: Seeded) -> None:
    args = ["runs", "ls", "-p", "vision", "--sort", "metrics.val/acc", "--json"]
    desc = [r["id"] for r in json.loads(cli(*args).stdout)["runs"]]
    asc = [r["id"] for r in json.loads(cli(*args, "--asc").stdout)["runs"]]
    assert desc == [seeded.ids["base"], seeded.ids["hot"]]
    assert asc == desc[::-1]


def test_ls_limit_says_how_many_are_hidden(cli: Cli, seeded: Seeded) -> None:
    out = cli("runs", "ls", "--limit", "1").stdout
    assert "1 of 3 runs shown" in out


def test_ls_bad_filter_points_at_the_token(cli: Cli, seeded: Seeded) -> None:
    result = cli("runs", "ls", "--filter", "metrics.val/acc > and", code=1)
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error:")
    expr_line = next(i for i, line in enumerate(lines) if "metrics.val/acc > and" in line)
    pointer = lines[expr_line + 1]
    assert pointer.strip() == "^"
    assert lines[expr_line][pointer.index("^")] == "a"  # under the offending "and"
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_unknown_run_is_an_error_without_traceback(cli: Cli, seeded: Seeded) -> None:
    result = cli("runs", "show", "doesnotexist", code=1)
    assert "no run with id 'doesnotexist'" in result.stderr
    assert "lablink runs ls" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_bad_sort_key_is_an_error(cli: Cli, seeded: Seeded) -> None:
    result = cli("runs", "ls", "--sort", "nonsense", code=1)
    assert "cannot sort by 'nonsense'" in result.stderr


def test_show_json_has_the_whole_run(cli: Cli, seeded: Seeded) -> None:
    shown = json.loads(cli("runs", "show", seeded.ids["base"], "--json").stdout)
    assert shown["id"] == seeded.ids["base"]
    assert shown["git"]["commit"] == "a" * 40
    assert shown["git"]["dirty"] is True
    assert shown["config"]["model"]["depth"] == 50
    assert shown["tags"] == ["baseline"]
    assert shown["summary"] == {"val/acc": 0.91}
    loss = shown["metrics"]["train/loss"]
    assert loss["count"] == 4 and loss["min_value"] == 0.5
    assert shown["notes"] == []
    assert shown["status"] == "finished"


def test_show_by_prefix_renders_sections(cli: Cli, seeded: Seeded) -> None:
    out = cli("runs", "show", seeded.ids["base"][:8]).stdout
    assert "resnet-base" in out and "aaaaaaaaaaaa on main" in out and "dirty" in out
    assert "config" in out and "model.depth" in out
    assert "train/loss" in out and "val/acc" in out


def test_show_failed_run_says_why(cli: Cli, seeded: Seeded) -> None:
    out = cli("runs", "show", seeded.ids["hot"]).stdout
    assert "why it failed" in out and "Traceback: boom" in out


def test_compare_table_and_json(cli: Cli, seeded: Seeded) -> None:
    ids = seeded.ids["base"], seeded.ids["hot"]
    out = cli("runs", "compare", *ids).stdout
    assert "params that differ" in out and "lr" in out and "0.5" in out
    assert "1 params are the same" in out  # model.depth
    assert "train/loss" in out and "val/acc" in out
    data = json.loads(cli("runs", "compare", *ids, "--json").stdout)
    assert data["params_differing"] == {"lr": [0.1, 0.5]}
    assert data["params_same"] == {"model.depth": 50}
    assert data["metrics"]["val/acc"][0]["final"] == 0.91


def test_compare_needs_two_runs(cli: Cli, seeded: Seeded) -> None:
    result = cli("runs", "compare", seeded.ids["base"], code=1)
    assert "at least two runs" in result.stderr


def test_tag_and_untag(cli: Cli, seeded: Seeded) -> None:
    rid = seeded.ids["hot"]
    assert "best keep" in cli("runs", "tag", rid, "keep", "best").stdout
    out = cli("runs", "tag", rid, "best", "--remove").stdout
    assert "keep" in out and "best" not in out
    shown = json.loads(cli("runs", "show", rid, "--json").stdout)
    assert shown["tags"] == ["keep"]
    assert "whitespace" in cli("runs", "tag", rid, "two words", code=1).stderr


def test_note_with_outcome(cli: Cli, seeded: Seeded) -> None:
    rid = seeded.ids["hot"]
    out = cli("runs", "note", rid, "lr 0.5 diverges", "--outcome", "negative").stdout
    assert "negative" in out
    shown = json.loads(cli("runs", "show", rid, "--json").stdout)
    assert shown["notes"][0]["text"] == "lr 0.5 diverges"
    assert shown["notes"][0]["outcome"] == "negative"
    assert shown["notes"][0]["author"] == "tester@example.org"
    neg = json.loads(cli("runs", "ls", "--filter", 'outcome = "negative"', "--json").stdout)
    assert [r["id"] for r in neg["runs"]] == [rid]


def test_note_rejects_unknown_outcome_and_empty_text(cli: Cli, seeded: Seeded) -> None:
    result = cli("runs", "note", seeded.ids["hot"], "x", "--outcome", "great", code=2)
    assert "great" in result.stderr
    assert "empty" in cli("runs", "note", seeded.ids["hot"], "  ", code=1).stderr


def test_history_json_and_downsampling(cli: Cli, seeded: Seeded) -> None:
    rid = seeded.ids["other"]
    full = json.loads(cli("runs", "history", rid, "train/loss", "--json").stdout)
    assert full["steps"] == list(range(500)) and full["downsampled"] is False
    small = json.loads(
        cli("runs", "history", rid, "train/loss", "--max-points", "20", "--json").stdout
    )
    assert len(small["steps"]) == 20 and small["total"] == 500 and small["downsampled"]
    assert small["values"][0] == 0.0 and small["values"][-1] == 499.0
    ranged = json.loads(
        cli(
            "runs", "history", rid, "train/loss", "--step-min", "10", "--step-max", "12", "--json"
        ).stdout
    )
    assert ranged["steps"] == [10, 11, 12]
    table = cli("runs", "history", rid, "train/loss", "--max-points", "10").stdout
    assert "downsampled from 500" in table


@pytest.mark.parametrize(
    ("max_points", "expected"), [(2, 2), (3, 3), (5, 5), (500, 500), (900, 500)]
)
def test_history_max_points_returns_that_many_or_all(
    cli: Cli, seeded: Seeded, max_points: int, expected: int
) -> None:
    # a straight line: every bucket's min and max fall on its ends, which once gave 3 of 5
    out = cli(
        "runs",
        "history",
        seeded.ids["other"],
        "train/loss",
        "--max-points",
        str(max_points),
        "--json",
    ).stdout
    assert len(json.loads(out)["steps"]) == expected


def test_history_max_points_below_two_is_refused(cli: Cli, seeded: Seeded) -> None:
    result = cli("runs", "history", seeded.ids["other"], "train/loss", "--max-points", "1", code=1)
    assert "error: max_points must be between 2 and" in result.stderr
    assert "hint: ask for at least 2 points" in result.stderr


def test_history_json_keeps_nan(cli: Cli, seeded: Seeded) -> None:
    out = cli("runs", "history", seeded.ids["base"], "train/loss", "--json").stdout
    assert "NaN" in out  # json.dumps writes NaN as a token that json.loads reads back
    assert math.isnan(json.loads(out)["values"][3])


def test_history_of_unknown_metric(cli: Cli, seeded: Seeded) -> None:
    result = cli("runs", "history", seeded.ids["base"], "nope", code=1)
    assert "has no metric 'nope'" in result.stderr


def test_projects_table_and_json(cli: Cli, seeded: Seeded) -> None:
    out = cli("projects").stdout
    assert "vision" in out and "nlp" in out
    data = {p["name"]: p for p in json.loads(cli("projects", "--json").stdout)}
    assert data["vision"]["run_count"] == 2
    assert data["nlp"]["active_runs"] == 1


def test_global_home_flag_wins_over_environment(cli: Cli, seeded: Seeded, tmp_path: Path) -> None:
    empty = str(tmp_path / "elsewhere")
    assert json.loads(cli("--home", empty, "projects", "--json").stdout) == []
    assert "no runs yet" in cli("--home", empty, "runs", "ls").stdout


def test_invalid_environment_setting_is_a_clear_error(
    cli: Cli, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABLINK_SYSTEM_METRICS", "maybe")
    result = cli("runs", "ls", code=1)
    assert "LABLINK_SYSTEM_METRICS='maybe' is not valid" in result.stderr


def test_ls_and_show_give_a_running_run_its_time_since_start(cli: Cli, seeded: Seeded) -> None:
    # A run started 2 h ago whose heartbeat has not moved: its duration alone reads 0.0s.
    with Lab(make_settings(seeded.home, user="ana@example.org")) as lab:
        run = lab.tracking.create_run("ana@example.org", "longrun", "still-going", {})
        started = time.time() - 2 * 3600 - 5 * 60
        lab.store.update_run(run.id, {"created_at": started, "heartbeat_at": started})
    out = cli("runs", "ls", "--project", "longrun").stdout
    assert "2h 05m" in out and "0.0s" not in out
    assert "2h 05m" in cli("runs", "show", run.id).stdout
