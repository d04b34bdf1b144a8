"""``lablink db info`` and ``lablink db migrate`` on SQLite and the real PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from cli_support import Cli

from lablink.store.migrate import HEAD


def test_info_before_and_after_migrate(cli: Cli, tmp_path: Path) -> None:
    home = str(tmp_path / "fresh")
    info = json.loads(cli("--home", home, "db", "info", "--json").stdout)
    assert info["exists"] is False and info["revision"] is None and info["head"] == HEAD
    assert "no database yet" in cli("--home", home, "db", "info").stdout

    out = cli("--home", home, "db", "migrate").stdout
    assert f"from empty to {HEAD}" in out
    info = json.loads(cli("--home", home, "db", "info", "--json").stdout)
    assert info["revision"] == HEAD and info["up_to_date"] is True
    assert "already at revision" in cli("--home", home, "db", "migrate").stdout


def test_info_on_an_unmigrated_database_names_the_fix(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    sqlite3.connect(db).close()  # an empty database file: no schema at all
    url = f"sqlite:///{db}"
    out = cli("--db", url, "db", "info").stdout
    assert "empty" in out and "lablink db migrate" in out
    cli("--db", url, "db", "migrate")
    assert json.loads(cli("--db", url, "db", "info", "--json").stdout)["up_to_date"] is True


def test_unsupported_database_url_is_an_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("--db", "mysql://localhost/x", "db", "migrate", code=1)
    assert "unsupported database URL" in result.stderr
    assert "postgresql+psycopg" in result.stderr


def test_postgres_migrate_info_and_runs(cli: Cli, pg_url: str) -> None:
    info = json.loads(cli("--db", pg_url, "db", "info", "--json").stdout)
    assert info["dialect"] == "postgresql" and info["revision"] is None
    cli("--db", pg_url, "db", "migrate")
    info = json.loads(cli("--db", pg_url, "db", "info", "--json").stdout)
    assert info["revision"] == HEAD and info["up_to_date"] is True
    assert json.loads(cli("--db", pg_url, "runs", "ls", "--json").stdout)["total"] == 0
