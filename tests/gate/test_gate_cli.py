"""``lablink gate`` through Typer's CliRunner: exit codes, the report, lablink.toml defaults."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from conftest import BASE, Home
from lablink.cli.main import app

GATE = ["gate", "--baseline", "tags.main", "--metric", "val/acc:max", "--margin", "0.5"]


def lablink(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def seeded(home: Home) -> Home:
    home.runs("main", BASE)
    home.runs("same", BASE)
    home.runs("worse", [v - 2.5 for v in BASE])
    home.runs("single", [90.0])
    return home


def test_exit_codes_and_report(seeded: Home, tmp_path: Path) -> None:
    same = lablink(*GATE, "--candidate", "tags.same")
    assert same.exit_code == 0, same.output
    assert "PASS" in same.stdout
    report = tmp_path / "out" / "gate.md"
    worse = lablink(*GATE, "--candidate", "tags.worse", "--report", str(report))
    assert worse.exit_code == 1, worse.output
    text = report.read_text(encoding="utf-8")
    assert text.startswith("## lablink gate: ❌ FAIL")
    assert "`val/acc`" in text and "P(candidate > baseline)" in text and "```text" in text
    single = lablink(*GATE, "--candidate", "tags.single")
    assert single.exit_code == 2
    assert "candidate seeds" in flat(single.stdout)


def test_a_missing_metric_exits_2_with_a_clear_message(seeded: Home, tmp_path: Path) -> None:
    report = tmp_path / "gate.md"
    result = lablink(
        "gate", "-b", "tags.main", "-c", "tags.same", "-m", "val/nope:max", "--report", str(report)
    )
    assert result.exit_code == 2
    message = flat(result.stderr)
    assert "no baseline run has a finite value of metric 'val/nope'" in message
    assert "val/acc" in message  # the hint names the metrics the runs do have
    assert "could not run" in report.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "val/acc"], "needs a direction"),
        (["-m", "val/acc:max", "--margin", "-1"], "--margin must be a finite number >= 0"),
        (["-m", "val/acc:max", "--alpha", "0.7"], "alpha must be a number between 0 and 0.5"),
        (["-m", "val/acc:max", "-b", "metrics.val/acc >"], "filter"),
        ([], "no metric to gate"),
    ],
)
def test_misuse_exits_2(seeded: Home, args: list[str], message: str) -> None:
    result = lablink("gate", "-b", "tags.main", "-c", "tags.same", *args)
    assert result.exit_code == 2
    assert message in flat(result.stderr).replace("error: ", "")


def test_defaults_come_from_lablink_toml(seeded: Home, tmp_path: Path) -> None:
    (tmp_path / "lablink.toml").write_text(
        '[gate]\nbaseline = "tags.main"\nmetrics = ["val/acc:max"]\nmargin = 0.2\n'
        'alpha = 0.01\ntest = "mwu"\nproject = "gate"\n\n[gate.margins]\n"val/acc" = 0.5\n'
    )
    result = lablink("gate", "--candidate", "tags.same", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["verdict"], data["alpha"], data["test"]) == ("PASS", 0.01, "mwu")
    assert data["metrics"][0]["margin"] == 0.5  # per-metric margin beats [gate] margin
    assert len(data["metrics"][0]["baseline"]) == 10
    # a flag beats the file: with margin 0 nothing can be shown non-inferior
    strict = lablink("gate", "--candidate", "tags.same", "--margin", "0", "--json")
    assert strict.exit_code == 2
    assert json.loads(strict.stdout)["verdict"] == "INCONCLUSIVE"
    worse = lablink("gate", "--candidate", "tags.worse")
    assert worse.exit_code == 1


def test_the_gate_reads_one_project(seeded: Home, tmp_path: Path) -> None:
    # the same tags in another project: a filter alone matches both projects
    seeded.runs("main", [v - 5 for v in BASE], project="nlp")
    stray = seeded.runs("pr-7", BASE, project="nlp")[0]
    mixed = lablink(*GATE, "--candidate", "tags.same")
    assert mixed.exit_code == 2, mixed.output
    message = flat(mixed.stderr)
    assert "the baseline runs come from 2 projects: gate (10 runs), nlp (10 runs)" in message
    assert "hint: pass --project NAME" in message
    scoped = lablink(*GATE, "--candidate", "tags.same", "--project", "gate", "--json")
    assert scoped.exit_code == 0, scoped.output
    assert len(json.loads(scoped.stdout)["metrics"][0]["baseline"]) == 10
    (tmp_path / "lablink.toml").write_text('[gate]\nproject = "gate"\n')
    from_file = lablink(*GATE, "--candidate", "tags.same")
    assert from_file.exit_code == 0, from_file.output
    # a run id of another project is refused, not compared across projects
    elsewhere = lablink(*GATE, "--candidate", stray)
    assert elsewhere.exit_code == 2
    assert f"{stray} (nlp) belong to another project" in flat(elsewhere.stderr)


def test_sides_from_two_projects_are_refused(seeded: Home) -> None:
    seeded.runs("pr-8", BASE, project="nlp")
    result = lablink(*GATE, "--candidate", "tags.pr-8")
    assert result.exit_code == 2
    message = flat(result.stderr)
    assert "the baseline runs come from project gate and the candidate runs come from" in message
    assert "project nlp" in message


def test_a_bad_gate_table_exits_2(seeded: Home, tmp_path: Path) -> None:
    (tmp_path / "lablink.toml").write_text('[gate]\nbaseline = "tags.main"\nalpha = "x"\n')
    result = lablink("gate", "--candidate", "tags.same", "-m", "val/acc:max")
    assert result.exit_code == 2
    assert "alpha" in result.stderr


def test_report_to_stdout(seeded: Home) -> None:
    result = lablink(*GATE, "--candidate", "tags.worse", "--report", "-")
    assert result.exit_code == 1
    assert result.stdout.startswith("## lablink gate: ❌ FAIL")


def test_log_predictions_and_per_example(home: Home, tmp_path: Path) -> None:
    base, cand, other = (home.runs(tag, [1.0])[0] for tag in ("base", "cand", "other"))
    files = {}
    for name, values in (("base", [1] * 150 + [0] * 50), ("cand", [0] * 60 + [1] * 90 + [0] * 50)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text(
            "".join(json.dumps({"id": i, "value": v}) + "\n" for i, v in enumerate(values))
        )
        files[name] = path
    logged = lablink("gate", "log-predictions", base, str(files["base"]), "--dataset", "val@v3")
    assert logged.exit_code == 0, logged.output
    assert "logged 200 predictions on val@v3" in flat(logged.stdout)
    lablink("gate", "log-predictions", cand, str(files["cand"]), "--dataset", "val@v3")
    lablink("gate", "log-predictions", other, str(files["cand"]), "--dataset", "val@v4")
    fail = lablink("gate", "--per-example", "-b", base, "-c", cand, "-m", "acc", "--margin", "0.01")
    assert fail.exit_code == 1, fail.output
    refused = lablink("gate", "--per-example", "-b", base, "-c", other, "-m", "acc")
    assert refused.exit_code == 2
    assert "evaluated on val@v3 and the candidate on val@v4" in flat(refused.stderr)


def test_the_lablink_entry_point(seeded: Home) -> None:
    import subprocess

    script = Path(sys.executable).with_name("lablink")
    done = subprocess.run(
        [str(script), *GATE, "--candidate", "tags.worse"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
