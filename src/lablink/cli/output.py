"""Rendering for the command line: Rich tables and colours for people, JSON for scripts.

Commands build plain data and hand it here; nothing in this module talks to a store.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from lablink.checks import metric_goal
from lablink.errors import LablinkError

STATUS_STYLES = {
    "running": "bold blue",
    "finished": "green",
    "failed": "bold red",
    "crashed": "bold red",
    "killed": "yellow",
    "timed_out": "yellow",
    "preempted": "yellow",
}
OUTCOME_STYLES = {"negative": "bold magenta", "positive": "green", "inconclusive": "yellow"}
# Metric keys whose best value is the smallest; everything else is best when largest.
# Piped output is read by people in pagers and logs: don't squeeze tables into 80 columns.
PIPE_WIDTH = 160


def console() -> Console:
    """A console on the current stdout (looked up per call, so tests can capture it)."""
    out = Console(file=sys.stdout, highlight=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = PIPE_WIDTH
    return out


def err_console() -> Console:
    """A console on the current stderr."""
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Plain JSON on stdout; NaN and infinities are written as JSON's NaN/Infinity tokens."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_error(error: LablinkError) -> None:
    """An error's message, pointer (for filters) and hint, in red on stderr."""
    out = err_console()
    out.print(f"[bold red]error:[/] [red]{escape(error.message)}[/]")
    pointer = error.details.get("pointer") if error.details else None
    if isinstance(pointer, str):
        for line in pointer.splitlines():
            out.print(Text("  " + line, style="red"))
    if error.hint:
        out.print(f"[red]hint:[/] {escape(error.hint)}")


def status_text(status: str) -> Text:
    """A run status coloured by how it ended."""
    return Text(status, style=STATUS_STYLES.get(status, ""))


def outcome_text(outcome: str | None) -> Text:
    """A note outcome (negative results stand out)."""
    return Text(outcome or "", style=OUTCOME_STYLES.get(outcome or "", ""))


def fmt_value(value: Any) -> str:
    """Numbers with four significant digits; everything else as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.4g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    return str(value)


def fmt_ago(timestamp: float | None, now: float | None = None) -> str:
    """``42s ago``, ``5m ago``, ``3h ago``, ``2d ago``; dates past a month."""
    if timestamp is None:
        return ""
    seconds = (time.time() if now is None else now) - timestamp
    if seconds < 0:
        return "just now"
    for limit, unit, size in ((60, "s", 1), (3600, "m", 60), (86400, "h", 3600)):
        if seconds < limit:
            return f"{int(seconds // size)}{unit} ago"
    if seconds < 30 * 86400:
        return f"{int(seconds // 86400)}d ago"
    return time.strftime("%Y-%m-%d", time.localtime(timestamp))


def fmt_time(timestamp: float | None) -> str:
    """A local timestamp to the second."""
    if timestamp is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def fmt_duration(seconds: float | None) -> str:
    """``0.4s``, ``12s``, ``3m 04s``, ``2h 05m``, ``3d 04h``."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f}s"
    total = int(seconds)
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m {total % 60:02d}s"
    if total < 86400:
        return f"{total // 3600}h {total % 3600 // 60:02d}m"
    return f"{total // 86400}d {total % 86400 // 3600:02d}h"


def lower_is_better(key: str) -> bool:
    """Whether a metric is better small (losses, errors, times) or large (accuracies)."""
    return metric_goal.lower_is_better(key)


def best_of(key: str, cell: Mapping[str, Any]) -> Any:
    """The best value of a metric cell ``{final, min, max}`` by the key's direction."""
    return cell.get("min") if lower_is_better(key) else cell.get("max")


def pick_metric_keys(runs: Iterable[Any], wanted: Iterable[str] = (), limit: int = 3) -> list[str]:
    """Metric columns for a run table: the ones asked for, else the most common.

    Summary keys come first, system metrics (``sys/*``) never come on their own.
    """
    chosen = [key for key in wanted if key]
    if chosen:
        return chosen
    counts: dict[str, int] = {}
    for run in runs:
        for key in run.summary:
            counts[key] = counts.get(key, 0) + 1_000
        for key in run.metrics:
            counts[key] = counts.get(key, 0) + 1
    keys = [k for k in counts if not k.startswith("sys/")]
    keys.sort(key=lambda k: (-counts[k], k))
    return keys[:limit]
