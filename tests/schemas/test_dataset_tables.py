"""Schemas and profiles in versioned datasets: ``data add --schema``, profiles, drift.

Through the SDK on the embedded store and on a real server on loopback (SQLite and
PostgreSQL), through the CLI, and the raw API for bad commits.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import polars as pl
import pytest
from schema_strategies import EVENTS
from typer.testing import CliRunner, Result

import lablink
from helpers import LoopbackServer, make_settings
from lablink.checks.drift import DriftThresholds
from lablink.cli.main import app
from lablink.core.lab import Lab
from lablink.core.schemas import Schemas
from lablink.errors import InvalidInput, NotFound, ValidationFailed
from lablink.sdk.data import add, drift, profile, session
from lablink.settings import Settings

API = "/api/v1"


def events(n: int, *, shift: float = 0.0, bad: int = 0) -> pl.DataFrame:
    """``n`` valid events; ``shift`` moves every amount; ``bad`` rows break the range."""
    amounts = [min(100.0, (i % 50) + shift) for i in range(n)]
    for i in range(bad):
        amounts[i * 7 % n] = 500.0 + i
    return pl.DataFrame(
        {
            "id": list(range(n)),
            "amount": amounts,
            "country": [("DE", "FR", "US")[i % 3] for i in range(n)],
        }
    )


@pytest.fixture
def tables(tmp_path: Path) -> Path:
    """Folders of events: ``good`` (Parquet and CSV parts), ``shifted``, ``bad``, ``bins``."""
    root = tmp_path / "tables"
    for name, frame in (
        ("good", events(300)),
        ("shifted", events(300, shift=40.0)),
        ("bad", events(300, bad=3)),
    ):
        (root / name / "part").mkdir(parents=True)
        frame.head(200).write_parquet(root / name / "part" / "0.parquet")
        frame.tail(100).write_csv(root / name / "part" / "1.csv")
        (root / name / "README.txt").write_text("events, one row per user event\n")
    (root / "bins").mkdir()
    (root / "bins" / "blob.bin").write_bytes(b"\x00" * 100)
    return root


def register(lab: Lab) -> None:
    Schemas(lab.store).register("events", EVENTS, "tester@example.org")


def client(tmp_path: Path, server: str | None, lab: Lab) -> Settings:
    home = tmp_path / "client"
    home.mkdir(exist_ok=True)
    if server is None:  # embedded: the client uses the lab's own store
        return lab.settings
    return make_settings(home, server=server, user="tester@example.org")


@pytest.mark.parametrize("over_http", [False, True], ids=["embedded", "http"])
def test_add_with_schema_stores_profile_and_refuses_bad_versions(
    lab: Lab, tables: Path, tmp_path: Path, over_http: bool
) -> None:
    register(lab)
    srv = LoopbackServer(lab).start() if over_http else None
    try:
        settings = client(tmp_path, srv.url if srv else None, lab)
        first = add(tables / "good", "events-clean", schema="events", settings=settings)
        version = first.version
        assert version.ref == "events-clean@v1" and version.schema_ref == "events@v1"
        assert version.profile_digest is not None
        assert version.profile_digest.startswith("blake3:")
        assert first.tables is not None and len(first.tables.tables) == 2
        assert first.tables.report is not None and first.tables.report.rows == 300

        with pytest.raises(ValidationFailed, match="breaks events@v1") as failed:
            add(tables / "bad", "events-clean", schema="events", settings=settings)
        report = failed.value.report
        assert not report.ok and report.failures[0].rule == "maximum"
        assert report.failures[0].count == 3 and len(report.failures[0].examples) == 3
        assert "nothing was stored" in failed.value.message
        with session(settings) as (remote, _):
            assert [v.ref for v in remote.log("events-clean")] == ["events-clean@v1"]
            # nothing of the refused version was uploaded either
            bad_parquet = tables / "bad" / "part" / "0.parquet"
            from lablink.store.blobs import file_digest

            assert remote.missing([file_digest(bad_parquet, "blake3")[0]]) != []

        second = add(tables / "shifted", "events-clean", message="shift", settings=settings)
        assert second.version.schema_ref is None and second.version.profile_digest is not None
        found_version, found = profile("events-clean@v1", settings=settings)
        assert found_version.ref == "events-clean@v1" and found["rows"] == 300
        assert found["columns"]["amount"]["kind"] == "numeric"
        assert found["columns"]["country"]["distinct"] == 3
        a, b, report = drift("events-clean@v1", "events-clean@v2", settings=settings)
        assert (a.ref, b.ref) == ("events-clean@v1", "events-clean@v2")
        assert report.drifted == ["amount"]  # ids and countries are the same
        loose = DriftThresholds(ks=1.0, psi=100.0)
        assert (
            drift("events-clean@v1", "events-clean@v2", thresholds=loose, settings=settings)[
                2
            ].drifted
            == []
        )

        plain = add(tables / "bins", "bins", settings=settings)
        assert plain.version.profile_digest is None and plain.tables.tables == []  # type: ignore[union-attr]
        with pytest.raises(NotFound, match="has no profile"):
            profile("bins", settings=settings)
        with pytest.raises(InvalidInput, match="no table files"):
            add(tables / "bins", "bins", schema="events", settings=settings)
        with pytest.raises(NotFound, match="nosuch"):
            add(tables / "good", "events-clean", schema="nosuch", settings=settings)
    finally:
        if srv:
            srv.stop()


def test_dataset_validate_at_load(lab: Lab, tables: Path, tmp_path: Path) -> None:
    register(lab)
    narrow = EVENTS.replace("maximum: 100", "maximum: 30")
    Schemas(lab.store).register("narrow", narrow, "tester@example.org")
    with LoopbackServer(lab).start() as srv:
        settings = client(tmp_path, srv.url, lab)
        add(tables / "good", "events-clean", schema="events", settings=settings)
        add(tables / "bins", "bins", settings=settings)
        with lablink.init(project="p", settings=settings) as run:
            ds = lablink.dataset("events-clean", validate=True)
            assert ds.validation is not None and ds.validation.ok and ds.schema == "events@v1"
            with pytest.raises(ValidationFailed, match="events-clean@v1 breaks narrow@v1"):
                lablink.dataset("events-clean@v1", validate="narrow")
            with pytest.raises(InvalidInput, match="added without a schema"):
                lablink.dataset("bins", validate=True)
            assert ds.profile["rows"] == 300
            run_id = run.id
        inputs = lab.tracking.get_run(run_id).inputs
        # only the version that loaded cleanly is the run's input
        assert [i["ref"] for i in inputs] == ["events-clean@v1"]


def test_commit_rejects_bad_profiles_and_unknown_schemas(lab: Lab, tables: Path) -> None:
    with LoopbackServer(lab).start() as srv, httpx.Client(base_url=srv.url + API) as http:
        settings = make_settings(lab.settings.home, server=srv.url, user="tester@example.org")
        first = add(tables / "bins", "bins", settings=settings).version
        junk = b"not json"
        from lablink.store.blobs import bytes_digest

        junk_digest = bytes_digest(junk, "blake3")
        assert http.put(f"/blobs/{junk_digest}", content=junk).status_code in (200, 201)
        body = {"manifest": first.digest, "version": 2}
        bad = http.post("/datasets/bins/versions", json={**body, "profile_digest": junk_digest})
        assert bad.status_code == 400 and "not JSON" in bad.json()["error"]["message"]
        absent = "blake3:" + "0" * 64
        gone = http.post("/datasets/bins/versions", json={**body, "profile_digest": absent})
        assert gone.status_code == 404 and "not uploaded" in gone.json()["error"]["message"]
        # JSON, but not a profile: refused by column, never shown on a page
        for fake, problem in (
            (b'{"rows": 1, "columns": {"a": 1}}', "column 'a' is not an object"),
            (b'{"rows": 1, "columns": {"a": {"kind": "numeric", "min": "x"}}}', "min"),
            (b'{"rows": -1, "columns": {}}', "not a table profile"),
        ):
            fake_digest = bytes_digest(fake, "blake3")
            http.put(f"/blobs/{fake_digest}", content=fake)
            refused = http.post(
                "/datasets/bins/versions", json={**body, "profile_digest": fake_digest}
            )
            assert refused.status_code == 400 and problem in refused.json()["error"]["message"]
        unknown = http.post("/datasets/bins/versions", json={**body, "schema_ref": "nosuch@v1"})
        assert unknown.status_code == 404
        assert [v["version"] for v in http.get("/datasets/bins").json()["versions"]] == [1]
        assert http.get("/datasets/bins/versions/v1/profile").status_code == 404


def run_cli(home: Path, *args: str, code: int = 0) -> Result:
    env = {"COLUMNS": "200", "LABLINK_HOME": str(home)}
    result = CliRunner().invoke(app, list(args), catch_exceptions=False, env=env)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return result


def test_cli_add_schema_profile_and_drift(tables: Path, tmp_path: Path) -> None:
    home = tmp_path / "clihome"
    (tmp_path / "events.yaml").write_text(EVENTS)
    run_cli(home, "schema", "register", "events", str(tmp_path / "events.yaml"))
    added = run_cli(home, "data", "add", str(tables / "good"), "-n", "ev", "--schema", "events")
    assert "2 table files; passed events@v1; profile stored" in added.stdout
    refused = run_cli(
        home, "data", "add", str(tables / "bad"), "-n", "ev", "--schema", "events", code=1
    )
    assert "maximum amount: 3 rows" in refused.stdout and "breaks events@v1" in refused.stderr
    as_json = run_cli(
        home, "data", "add", str(tables / "bad"), "-n", "ev", "-s", "events", "--json", code=1
    )
    assert json.loads(as_json.stdout)["error"]["code"] == "validation_failed"
    run_cli(home, "data", "add", str(tables / "shifted"), "-n", "ev", "--no-profile")
    run_cli(home, "data", "add", str(tables / "shifted"), "-n", "ev2")

    shown = run_cli(home, "data", "profile", "ev@v1").stdout
    assert "300 rows, 3 columns; tables passed events@v1" in shown
    assert "3 distinct: DE (100), FR (100), US (100)" in shown
    body = json.loads(run_cli(home, "data", "profile", "ev@v1", "--json").stdout)
    assert body["version"]["ref"] == "ev@v1" and body["profile"]["rows"] == 300
    no_profile = run_cli(home, "data", "profile", "ev@v2", code=1)
    assert "--no-profile" in no_profile.stderr

    text = run_cli(home, "data", "drift", "ev@v1", "ev2@v1").stdout
    assert "1 of 3 columns drifted" in text and "PSI=" in text
    run_cli(home, "data", "drift", "ev@v1", "ev2@v1", "--check", code=1)
    report = json.loads(run_cli(home, "data", "drift", "ev@v1", "ev2@v1", "--json").stdout)
    assert report["drifted"] == ["amount"] and report["old"] == "ev@v1"
    loose = tmp_path / "loose.toml"
    loose.write_text("[drift]\nks = 1.0\npsi = 100.0\n")
    calm = run_cli(home, "data", "drift", "ev@v1", "ev2@v1", "--threshold-from", str(loose))
    assert "no drift in 3 columns" in calm.stdout
    typo = tmp_path / "typo.toml"
    typo.write_text("[drift]\nkss = 1.0\n")
    wrong = run_cli(home, "data", "drift", "ev@v1", "ev2@v1", "--threshold-from", str(typo), code=1)
    assert "unknown key 'kss'" in wrong.stderr
    assert "tables passed events@v1" in run_cli(home, "data", "show", "ev@v1").stdout
    log = run_cli(home, "data", "log", "ev").stdout
    assert "schema" in log.splitlines()[0] and "events@v1" in log


def test_unchanged_files_add_nothing_whatever_schema_or_profile(
    lab: Lab, tables: Path, tmp_path: Path
) -> None:
    register(lab)
    settings = lab.settings
    first = add(tables / "good", "ev", profile=False, settings=settings)
    assert first.version.profile_digest is None
    again = add(tables / "good", "ev", settings=settings)  # now with a profile
    assert not again.created and again.version.ref == "ev@v1"
    assert again.tables is not None and again.tables.profile is None  # not profiled again
    checked = add(tables / "good", "ev", schema="events", settings=settings)
    assert not checked.created and checked.version == first.version
    assert checked.tables is not None and checked.tables.report is not None  # still checked
    assert checked.tables.report.ok
    with session(settings) as (remote, _):
        assert [v.ref for v in remote.log("ev")] == ["ev@v1"]
    with pytest.raises(InvalidInput, match="does not exist"):
        add(tables / "nowhere", "ev", schema="events", settings=settings)


def test_unparseable_table_without_schema_is_stored_without_profile(
    tmp_path: Path, lab: Lab
) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.parquet").write_bytes(b"PAR1 this is not parquet")
    result = add(folder, "broken", settings=lab.settings)
    assert result.created and result.version.profile_digest is None
    assert result.tables is not None and "no profile stored" in (result.tables.warning or "")


def test_a_0004_database_upgrades_keeping_its_dataset_versions(settings: Settings) -> None:
    import sqlalchemy as sa

    from lablink.store import open_store
    from lablink.store.migrate import HEAD, current_revision, upgrade

    engine = sa.create_engine(settings.db)
    try:
        upgrade(engine, "0004")
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO datasets (id, name, created_by, created_at, updated_at) "
                    "VALUES (1, 'old', 'me', 1.0, 1.0)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO dataset_versions (dataset_id, version, digest, algorithm, "
                    "files, size, created_by, created_at) "
                    "VALUES (1, 1, 'blake3:00', 'blake3', 3, 30, 'me', 1.0)"
                )
            )
    finally:
        engine.dispose()
    store = open_store(settings.db)
    try:
        assert current_revision(store.engine) == HEAD  # type: ignore[attr-defined]
        from lablink.store.datasets_sql import DatasetSql

        old = DatasetSql(store).get("old", 1)
        assert (old.files, old.profile_digest, old.schema_ref) == (3, None, None)
    finally:
        store.close()
