"""The runs table's view state, read from and written back to the query string.

Everything a user changes (filter, sort, order, columns, page, selected runs) is a
query parameter, so a link pasted in chat opens exactly the same view::

    /p/vision?filter=tags.baseline&sort=metrics.val/acc&order=desc
             &col=params.lr&col=metrics.val/acc&limit=50&offset=100&sel=ab12cd34ef56
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from lablink.checks.metric_goal import best_of, goal, lower_is_better
from lablink.checks.run_view import LEAN
from lablink.models import MetricSummary, RunRecord

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_LIMIT = 50
AUTO_PARAMS = 4
AUTO_METRICS = 4
# Fixed columns: (sort key, header). ``None`` means the column cannot be sorted.
# The chosen params and metrics come right after the name, so at laptop width (1280 px)
# what a person picked is on screen; who and when follow them.
LEAD_COLUMNS: tuple[tuple[str | None, str], ...] = (("status", "Status"), ("name", "Name"))
FIXED_COLUMNS: tuple[tuple[str | None, str], ...] = (
    ("user", "User"),
    ("created_at", "Start"),
    ("duration", "Duration"),
)
TRAILING_COLUMNS: tuple[tuple[str | None, str], ...] = ((None, "Tags"), ("outcome", "Outcome"))
# The parts of a run the table reads (checks/run_view.py): no package list, config or notes.
TABLE_FIELDS = (*LEAN, "outcome")


def _int(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        value = default
    return min(max(value, low), high)


def short_user(user: str) -> str:
    """The name part of an e-mail address (``ana`` for ``ana@lab.org``); else as is."""
    name, at, _ = user.partition("@")
    return name if at and name else user


def best_value(m: MetricSummary) -> float | None:
    """The best value logged: the minimum for losses and errors, else the maximum."""
    return best_of(m.key, m.min_value, m.max_value)


@dataclasses.dataclass(frozen=True)
class TableState:
    """The runs table as the URL describes it."""

    filter: str = ""
    sort: str = "created_at"
    descending: bool = True
    columns: tuple[str, ...] = ()
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    selected: tuple[str, ...] = ()

    @classmethod
    def from_query(cls, query: Mapping[str, str], multi: Mapping[str, Sequence[str]]) -> TableState:
        """Parse the query string; out-of-range numbers are clamped, not rejected."""
        columns = tuple(
            dict.fromkeys(
                c.strip()
                for c in multi.get("col", ())
                if c.strip().startswith(("params.", "metrics."))
            )
        )
        selected = tuple(
            dict.fromkeys(s for raw in multi.get("sel", ()) for s in raw.split(",") if s.strip())
        )
        return cls(
            filter=query.get("filter", "").strip(),
            sort=query.get("sort", "").strip() or "created_at",
            descending=query.get("order", "desc") != "asc",
            columns=columns,
            limit=_int(query.get("limit"), DEFAULT_LIMIT, 1, max(PAGE_SIZES)),
            offset=_int(query.get("offset"), 0, 0, 10**9),
            selected=selected,
        )

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        """Query pairs of this state with ``changes`` applied; defaults are left out."""
        state = dataclasses.replace(self, **changes)
        pairs: list[tuple[str, str]] = []
        if state.filter:
            pairs.append(("filter", state.filter))
        if state.sort != "created_at":
            pairs.append(("sort", state.sort))
        if not state.descending:
            pairs.append(("order", "asc"))
        pairs += [("col", c) for c in state.columns]
        if state.limit != DEFAULT_LIMIT:
            pairs.append(("limit", str(state.limit)))
        if state.offset:
            pairs.append(("offset", str(state.offset)))
        if state.selected:
            pairs.append(("sel", ",".join(state.selected)))
        return pairs

    def url(self, project: str, **changes: Any) -> str:
        """The runs-table URL of this state with ``changes`` applied."""
        query = urlencode(self.params(**changes))
        return f"/p/{project}" + (f"?{query}" if query else "")

    def sort_url(self, project: str, key: str) -> str:
        """Sort by ``key``; a second click on the sorted column flips the order."""
        descending = not self.descending if key == self.sort else key != "name"
        return self.url(project, sort=key, descending=descending, offset=0)


def auto_columns(runs: Sequence[RunRecord]) -> tuple[str, ...]:
    """Columns when the URL names none: params that vary, then the main metrics."""
    param_keys = list(dict.fromkeys(k for r in runs for k in r.params))
    varying = [k for k in param_keys if len({repr(r.params.get(k)) for r in runs}) > 1]
    params = (varying or param_keys)[:AUTO_PARAMS]
    metric_keys = list(dict.fromkeys(k for r in runs for k in r.metrics))

    def rank(key: str) -> tuple[int, str]:
        head = key.split("/", 1)[0] if "/" in key else ""
        order = {"val": 0, "valid": 0, "test": 1, "train": 2, "": 3, "sys": 9}
        return order.get(head, 4), key

    metrics = sorted((k for k in metric_keys if not k.startswith("sys/")), key=rank)
    # Metrics first: they are what a table of runs is read for.
    return tuple([f"metrics.{k}" for k in metrics[:AUTO_METRICS]] + [f"params.{k}" for k in params])


def available_columns(runs: Sequence[RunRecord], chosen: Sequence[str]) -> list[str]:
    """Every params.X and metrics.X seen on this page, plus the chosen ones."""
    keys = [f"params.{k}" for r in runs for k in r.params]
    keys += [f"metrics.{k}" for r in runs for k in r.metrics]
    return sorted(dict.fromkeys([*chosen, *keys]), key=lambda c: (not c.startswith("params"), c))


def cell(run: RunRecord, column: str) -> dict[str, Any]:
    """What one params.X or metrics.X cell shows: a value, and for metrics the best logged."""
    head, _, key = column.partition(".")
    if head == "params":
        return {"value": run.params.get(key), "present": key in run.params}
    m = run.metrics.get(key)
    if m is None:
        return {"value": None, "present": False}
    # The value is what filters and sorting use: the summary if the script set one, else
    # the last logged. "best" is only ever the best *logged* value, labelled as such.
    return {
        "value": m.value,
        "kind": "summary" if m.summary_value is not None else "last",
        "last_step": m.last_step,
        "best": best_value(m) if m.count else None,
        "goal": goal(key),
        "present": True,
        "count": m.count,
    }


def pages(total: int, limit: int, offset: int) -> dict[str, Any]:
    """Pagination figures: the 1-based range shown and the neighbouring offsets."""
    return {
        "first": offset + 1 if total else 0,
        "last": min(offset + limit, total),
        "total": total,
        "prev": max(0, offset - limit) if offset > 0 else None,
        "next": offset + limit if offset + limit < total else None,
        "last_offset": max(0, (total - 1) // limit * limit),
    }


__all__ = [
    "FIXED_COLUMNS",
    "LEAD_COLUMNS",
    "PAGE_SIZES",
    "TABLE_FIELDS",
    "TRAILING_COLUMNS",
    "TableState",
    "auto_columns",
    "available_columns",
    "best_value",
    "cell",
    "lower_is_better",
    "pages",
    "short_user",
]
