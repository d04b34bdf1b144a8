"""Pure parts of the UI: URL state, formatting, grouping, option parsing."""

from __future__ import annotations

import math
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from lablink.ui.assets import Assets
from lablink.ui.charts import ChartOptions, group_keys
from lablink.ui.render import Renderer, fmt_duration, fmt_num
from lablink.ui.runpage import content_disposition, diff_lines
from lablink.ui.table import TableState, lower_is_better, pages


def test_table_state_round_trips_through_the_url() -> None:
    state = TableState(
        filter="metrics.val/acc > 0.9",
        sort="metrics.val/acc",
        descending=False,
        columns=("params.lr", "metrics.val/acc"),
        limit=100,
        offset=200,
        selected=("abcd1234", "efgh5678"),
    )
    url = urlsplit(state.url("vision"))
    assert url.path == "/p/vision"
    query = parse_qs(url.query)
    again = TableState.from_query({k: v[-1] for k, v in query.items()}, query)
    assert again == state
    assert TableState().url("vision") == "/p/vision"  # defaults stay out of the link


def test_table_state_clamps_what_it_cannot_use() -> None:
    query = {"limit": "100000", "offset": "-5", "order": "sideways"}
    state = TableState.from_query(query, {"col": ["params.lr", "bogus", " ", "params.lr"]})
    assert (state.limit, state.offset, state.descending) == (200, 0, True)
    assert state.columns == ("params.lr",)
    assert TableState.from_query({"limit": "x"}, {}).limit == 50


def test_sorting_a_column_again_flips_the_order() -> None:
    state = TableState(sort="params.lr", descending=True, offset=100)
    assert "order=asc" in state.sort_url("p", "params.lr")
    assert "offset" not in state.sort_url("p", "params.lr")
    assert "order=asc" in TableState().sort_url("p", "name")  # names sort A to Z first


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (3, "3"),
        (0.5, "0.5"),
        (2.0, "2"),
        (0.123456, "0.1235"),
        (3e-4, "3.000e-04"),
        (1.5e9, "1.500e+09"),
        (math.nan, "NaN"),
        (-math.inf, "\u2212∞"),
        (True, "true"),
    ],
)
def test_numbers_are_short_and_exact_enough(value: object, text: str) -> None:
    assert fmt_num(value) == text


def test_durations() -> None:
    assert [fmt_duration(s) for s in (None, 9.21, 252, 11_100, 200_000)] == [
        "—",
        "9.2s",
        "4m 12s",
        "3h 05m",
        "2d 07h",
    ]


def test_metrics_group_by_prefix_with_sys_last() -> None:
    keys = ["sys/cpu", "loss", "val/acc", "train/loss", "eval/f1", "custom/x", "train/acc"]
    assert group_keys(keys) == [
        ("train", ["train/acc", "train/loss"]),
        ("val", ["val/acc"]),
        ("eval", ["eval/f1"]),
        ("custom", ["custom/x"]),
        ("other", ["loss"]),
        ("sys", ["sys/cpu"]),
    ]


def test_chart_options_are_clamped() -> None:
    assert ChartOptions.from_query({"smooth": "5", "log": "1", "x": "time"}) == ChartOptions(
        0.99, True, "time"
    )
    assert ChartOptions.from_query({"smooth": "nan", "x": "bogus"}) == ChartOptions()


def test_losses_are_better_low() -> None:
    assert lower_is_better("train/loss") and lower_is_better("val/WER")
    assert not lower_is_better("val/acc")


def test_pages_figures() -> None:
    assert pages(0, 50, 0)["first"] == 0
    assert pages(120, 50, 50) == {
        "first": 51,
        "last": 100,
        "total": 120,
        "prev": 0,
        "next": 100,
        "last_offset": 100,
    }


def test_diff_lines_are_classified() -> None:
    diff = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n ctx"
    assert [k for k, _ in diff_lines(diff)] == ["meta", "meta", "meta", "hunk", "del", "add", ""]


def test_download_names_survive_any_characters() -> None:
    header = content_disposition('résumé "v2".pt')
    assert header.startswith('attachment; filename="r_sum_ _v2_.pt"')
    assert header.endswith("filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.pt")


def test_every_template_is_autoescaped() -> None:
    renderer = Renderer(Assets())
    assert renderer.env.autoescape is True
    html = renderer.env.from_string("{{ x }}").render(x="<b>")
    assert html == "&lt;b&gt;"


def test_every_ui_route_is_in_docs_ui_md(tmp_path: Path) -> None:
    from fastapi import APIRouter
    from fastapi.routing import APIRoute

    from helpers import make_settings
    from lablink.core.lab import Lab
    from lablink.ui import mount_ui

    class Recorder:
        """Stands in for the app: keeps the routers mount_ui adds."""

        routers: list[APIRouter] = []
        title = "lablink"
        openapi_url = "/openapi.json"

        def include_router(self, router: APIRouter) -> None:
            self.routers.append(router)

    app = Recorder()
    with Lab(make_settings(tmp_path)) as lab:
        mount_ui(app, lab)  # type: ignore[arg-type]
    paths = [r.path for router in app.routers for r in router.routes if isinstance(r, APIRoute)]
    docs = Path(__file__).parents[2] / "docs" / "ui.md"
    text = re.sub(r"\{[^}]*\}", "{}", docs.read_text())
    undocumented = [p for p in paths if re.sub(r"\{[^}]*\}", "{}", p) not in text]
    assert len(paths) >= 8 and undocumented == []


def test_spread_gives_mean_std_or_min_max_of_finite_values() -> None:
    from lablink.ui.grouping import spread

    assert spread([1.0, 3.0, float("nan")], "std") == {
        "mean": 2.0,
        "lo": 1.0,
        "hi": 3.0,
        "std": 1.0,
    }
    assert spread([1.0, 3.0, float("inf")], "minmax") == {"mean": 2.0, "lo": 1.0, "hi": 3.0}
    assert spread([float("nan")], "std") is None
