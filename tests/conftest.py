"""Shared fixtures: real SQLite and PostgreSQL stores, a real server on loopback.

PostgreSQL is the one at 127.0.0.1:5432 (database ``test``), overridable with
``LABLINK_TEST_POSTGRES_URL``. Each test gets its own schema, so xdist workers never
touch each other's tables. If PostgreSQL is unreachable the run fails unless
``--no-postgres`` is given (a local convenience; CI never passes it).
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import sqlalchemy as sa

from helpers import LoopbackServer, make_settings
from lablink.core.lab import Lab
from lablink.settings import Settings

# CI runs each property test on the same examples every time, so a main that passed
# once passes again; a developer's `make test` draws new ones, which is where a rare
# case turns up. Loaded here, before any test module's @settings is made.
hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis.settings.load_profile(os.environ.get("LABLINK_HYPOTHESIS_PROFILE", "default"))

PG_URL = os.environ.get(
    "LABLINK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-postgres",
        action="store_true",
        help="skip PostgreSQL variants (local only; CI never passes this)",
    )


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No LABLINK_* leaks in from the developer's shell; no user config file is read."""
    for name in list(os.environ):
        if name.startswith("LABLINK_") and name != "LABLINK_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("LABLINK_CONFIG", str(tmp_path / "no-user-config.toml"))
    monkeypatch.setenv("LABLINK_USER", "tester@example.org")


def wait_for_postgres(url: str, tries: int = 10, delay: float = 1.0) -> None:
    """Bounded wait for the database to accept connections."""
    engine = sa.create_engine(url)
    try:
        for attempt in range(tries):
            try:
                with engine.connect():
                    return
            except sa.exc.OperationalError:
                if attempt == tries - 1:
                    raise
                time.sleep(delay)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_base(request: pytest.FixtureRequest) -> str:
    if request.config.getoption("--no-postgres"):
        pytest.skip("--no-postgres given")
    wait_for_postgres(PG_URL)
    return PG_URL


@contextlib.contextmanager
def fresh_schema(postgres_base: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    schema = "t_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(postgres_base)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{postgres_base}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


@pytest.fixture
def pg_url(postgres_base: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    with fresh_schema(postgres_base) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store URL, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'lablink.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return make_settings(home, db=db_url, user="tester@example.org")


@pytest.fixture
def lab(settings: Settings) -> Iterator[Lab]:
    with Lab(settings) as lab:
        yield lab


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_lab(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lab]:
    """One lab per module and backend, for parametrised cases that would otherwise each
    build a store, a team and a server: each case keeps apart by its own data and its own
    client address (``helpers.Loopback``), not by a fresh store."""
    home = tmp_path_factory.mktemp("module-home")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{home / 'lablink.db'}"
        else:
            url = stack.enter_context(fresh_schema(request.getfixturevalue("postgres_base")))
        yield stack.enter_context(Lab(make_settings(home, db=url, user="tester@example.org")))


@pytest.fixture
def server(lab: Lab) -> Iterator[LoopbackServer]:
    """A real lablink server on loopback over the test's store."""
    srv = LoopbackServer(lab).start()
    yield srv
    srv.stop()


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A real git repository with one commit."""
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.email", "dev@example.org"],
        ["config", "user.name", "Dev"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True)
    (repo / "train.py").write_text("print('train')\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=repo, check=True)
    return repo
