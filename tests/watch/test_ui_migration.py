"""The incidents page and the run page's incidents box; migration 0004 on both dialects."""

from __future__ import annotations

import math
from collections.abc import Callable

import httpx
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from helpers import LoopbackServer
from lablink.core.lab import Lab
from lablink.settings import Settings
from lablink.store import open_store
from lablink.store import schema as t
from lablink.store.migrate import HEAD, current_revision, upgrade

TOML = '[watch.rules.loss]\nmetric = "train/loss"\n'


def test_incidents_page_and_run_page(
    make_lab: Callable[..., Lab], serve: Callable[[Lab], LoopbackServer]
) -> None:
    lab = make_lab(TOML)
    run = lab.tracking.create_run("ana", "vision", "resnet <b>7</b>")
    values = [1.0 / (s + 1) for s in range(40)] + [math.nan]
    lab.tracking.log_batch(
        run.id, 0, {"train/loss": {"steps": list(range(41)), "times": [1.0] * 41, "values": values}}
    )
    quiet = lab.tracking.create_run("ana", "vision", "quiet")
    with httpx.Client(base_url=serve(lab).url) as web:
        page = web.get("/incidents")
        assert page.status_code == 200
        html = page.text
        assert (
            "train/loss is NaN at step 40" in html
            and "<polyline" in html
            and "<title>step 40: NaN</title>" in html
        )
        assert "resnet &lt;b&gt;7&lt;/b&gt;" in html  # run names are escaped
        assert "lablink incidents ack" in html
        assert web.get("/incidents", params={"open": "1", "run": quiet.id}).status_code == 200
        assert (
            "No unresolved incidents"
            in web.get("/incidents", params={"open": "1", "run": quiet.id}).text
        )
        assert web.get("/incidents", params={"run": "nosuchrun"}).status_code == 404
        run_page = web.get(f"/r/{run.id}").text
        assert 'id="incidents-h"' in run_page and "NaN at step 40" in run_page
        assert 'id="incidents-h"' not in web.get(f"/r/{quiet.id}").text


def test_a_0003_database_upgrades_to_0004_keeping_its_rows(settings: Settings) -> None:
    db_url = settings.db
    engine = sa.create_engine(db_url)
    try:
        upgrade(engine, "0003")
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO projects (name, created_at) VALUES ('old', 1.0)"))
        assert current_revision(engine) == "0003"
        assert not sa.inspect(engine).has_table("incidents")
    finally:
        engine.dispose()
    store = open_store(db_url)
    try:
        assert current_revision(store.engine) == HEAD  # type: ignore[attr-defined]
        assert [p.name for p in store.list_projects()] == ["old"]
        with store.engine.connect() as conn:  # type: ignore[attr-defined]
            context = MigrationContext.configure(conn)
            ours = {"run_watch", "incidents", "incident_deliveries", "delivery_attempts"}
            diffs = [d for d in compare_metadata(context, t.metadata) if _table_of(d) in ours]
        assert diffs == []  # the migration makes exactly the tables schema.py declares
    finally:
        store.close()


def _table_of(diff: object) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:] if isinstance(item, tuple) else ():
        name = getattr(part, "name", None) if not isinstance(part, str) else None
        table = getattr(part, "table", None)
        if table is not None:
            return str(table.name)
        if name and hasattr(part, "columns"):
            return str(name)
        if isinstance(part, str):
            return part
    return None
