"""``lablink schema ...`` and ``lablink validate`` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from schema_strategies import EVENTS
from typer.testing import CliRunner, Result

from helpers import LoopbackServer
from lablink.cli.main import app
from lablink.core.lab import Lab
from lablink.core.schemas import Schemas


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LABLINK_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "events.yaml").write_text(EVENTS)
    (tmp_path / "wider.yaml").write_text(EVENTS.replace("maximum: 100", "maximum: 1000"))
    (tmp_path / "narrow.yaml").write_text(EVENTS.replace("maximum: 100", "maximum: 10"))
    data = pl.DataFrame(
        {"id": [1, 2, 3], "amount": [5.0, 50.0, 500.0], "country": ["DE", "FR", "US"]}
    )
    data.write_parquet(tmp_path / "part-0.parquet")
    data.head(2).write_csv(tmp_path / "good.csv")
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_register_show_ls_and_diff(home: Path) -> None:
    first = run("schema", "register", "events", "events.yaml", "--compat", "backward")
    assert first.exit_code == 0 and "registered events@v1 (backward)" in first.stdout
    again = run("schema", "register", "events", "events.yaml")
    assert again.exit_code == 0 and "unchanged" in again.stdout
    body = json.loads(
        run("schema", "register", "events", "wider.yaml", "-m", "wider", "--json").stdout
    )
    assert body["ref"] == "events@v2" and body["created"] is True and body["description"] == "wider"
    listed = json.loads(run("schema", "ls", "--json").stdout)
    assert [(s["name"], s["latest"], s["compat"]) for s in listed] == [("events", 2, "backward")]
    assert "events" in run("schema", "ls").stdout
    shown = run("schema", "show", "events@v1")
    assert "events@v1 (backward)" in shown.stdout and "unit: EUR" in shown.stdout
    assert json.loads(run("schema", "show", "events", "--json").stdout)["version"] == 2
    diff = json.loads(run("schema", "diff", "events@v1", "events@v2", "--json").stdout)
    assert diff["changed"][0]["field"] == "amount" and diff["backward"] == []
    text = run("schema", "diff", "events@v1", "events@v2").stdout
    assert "amount.constraints.maximum" in text and "forward: 1 break(s)" in text


def test_check_exits_1_and_names_each_break(home: Path) -> None:
    run("schema", "register", "events", "events.yaml")
    ok = run("schema", "check", "events", "wider.yaml")
    assert ok.exit_code == 0 and "compatible (backward, checked against v1)" in ok.stdout
    bad = run("schema", "check", "events", "narrow.yaml")
    assert bad.exit_code == 1 and "incompatible" in bad.stdout and "maximum" in bad.stdout
    body = json.loads(run("schema", "check", "events", "narrow.yaml", "--json").stdout)
    assert body["compatible"] is False and body["breaks"][0]["field"] == "amount"
    refused = run("schema", "register", "events", "narrow.yaml")
    assert refused.exit_code == 1 and "not backward compatible" in refused.stderr
    assert "hint:" in refused.stderr


def test_validate_exit_codes_json_and_markdown_report(home: Path) -> None:
    run("schema", "register", "events", "events.yaml")
    good = run("validate", "good.csv", "--schema", "events@v1")
    assert good.exit_code == 0 and "ok: 2 rows valid against events@v1" in good.stdout
    bad = run(
        "validate", "part-0.parquet", "good.csv", "--schema", "events@v1", "--report", "report.md"
    )
    assert bad.exit_code == 1 and "maximum" in bad.stdout and "row 2" in bad.stdout
    assert (home / "report.md").read_text().startswith("# Validation report: events@v1")
    body = json.loads(run("validate", ".", "--schema", "events.yaml", "--json").stdout)
    assert body["ok"] is False and body["rows"] == 5 and body["failures"][0]["count"] == 1


def test_infer_writes_a_schema_that_registers_and_validates(home: Path) -> None:
    inferred = run("schema", "infer", "part-0.parquet", "--name", "events")
    assert inferred.exit_code == 0 and "name: events" in inferred.stdout
    (home / "inferred.yaml").write_text(inferred.stdout)
    assert run("schema", "register", "inferred", "inferred.yaml").exit_code == 0
    assert run("validate", "part-0.parquet", "--schema", "inferred").exit_code == 0
    as_json = json.loads(run("schema", "infer", "part-0.parquet", "--format", "json").stdout)
    assert [f["name"] for f in as_json["fields"]] == ["id", "amount", "country"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("schema", "show", "nope"), "no schema subject named 'nope'"),
        (("schema", "register", "events", "missing.yaml"), "missing.yaml: no such file"),
        (("schema", "register", "bad name", "events.yaml"), "invalid schema subject"),
        (
            ("schema", "register", "events", "events.yaml", "--compat", "sideways"),
            "unknown compatibility mode",
        ),
        (("validate", "nothing.parquet", "--schema", "events.yaml"), "no such file or folder"),
        (("schema", "infer", "part-0.parquet", "--format", "xml"), "unknown format"),
    ],
)
def test_errors_print_a_message_and_exit_1(home: Path, args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_malformed_schema_file_names_line_and_field(home: Path) -> None:
    (home / "bad.yaml").write_text("fields:\n  - name: id\n    type: int\n")
    result = run("schema", "register", "events", "bad.yaml")
    assert result.exit_code == 1
    assert "line 3: field 'id': unknown type 'int'" in result.stderr and "integer" in result.stderr


def test_the_same_commands_over_a_server(lab: Lab, home: Path) -> None:
    server = LoopbackServer(lab).start()
    try:
        base = ("--server", server.url)
        assert run(*base, "schema", "register", "events", "events.yaml").exit_code == 0
        assert run(*base, "schema", "register", "events", "wider.yaml").exit_code == 0
        assert Schemas(lab.store).get("events").version == 2
        assert json.loads(run(*base, "schema", "ls", "--json").stdout)[0]["latest"] == 2
        assert (
            json.loads(run(*base, "schema", "show", "events@v1", "--json").stdout)["version"] == 1
        )
        assert run(*base, "schema", "check", "events", "narrow.yaml").exit_code == 1
        diff = json.loads(run(*base, "schema", "diff", "events@v1", "events@v2", "--json").stdout)
        assert diff["to"] == "events@v2"
        assert run(*base, "validate", "part-0.parquet", "--schema", "events@v2").exit_code == 0
        refused = run(*base, "schema", "register", "events@v1", "wider.yaml")
        assert refused.exit_code == 1 and "already exists" in refused.stderr
    finally:
        server.stop()


def test_validate_counts_each_violation_once_with_the_file_line(home: Path) -> None:
    (home / "six.csv").write_text(
        "id,amount,country\n1,5.0,DE\n2,abc,FR\n3,7.5,US\n4,500.0,XX\n5,1.0,DE\n6,2.0,FR\n"
    )
    (home / "strict.yaml").write_text(
        EVENTS.replace("{minimum: 0, maximum: 100}", "{required: true, minimum: 0, maximum: 100}")
    )
    text = run("validate", "six.csv", "--schema", "strict.yaml")
    assert text.exit_code == 1
    assert "3 violation(s) of 3 rule(s) in 2 rows; 6 rows checked" in text.stdout
    assert "six.csv:3: 'abc'" in text.stdout and "six.csv:5: '500.0'" in text.stdout
    assert "required" not in text.stdout and "row " not in text.stdout
    body = json.loads(run("validate", "six.csv", "--schema", "strict.yaml", "--json").stdout)
    assert (body["violations"], body["failed_rows"], body["rows"]) == (3, 2, 6)
    assert sorted((f["rule"], f["count"]) for f in body["failures"]) == [
        ("enum", 1),
        ("maximum", 1),
        ("type", 1),
    ]
    assert body["failures"][0]["examples"][0].keys() == {"file", "line", "value"}
