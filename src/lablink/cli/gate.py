"""``lablink gate``: the statistical regression gate for CI.

``lablink gate --baseline tags.main --candidate tags.pr-42 --metric val/acc:max``
compares the runs' per-seed values and exits 0 (PASS or WARN), 1 (FAIL: a
significant regression) or 2 (INCONCLUSIVE, or misuse such as a missing metric).
Defaults come from the ``[gate]`` table of ``lablink.toml``, so CI may only pass
``--candidate``. ``lablink gate log-predictions`` attaches per-example results to a
run for ``--per-example`` comparisons. The statistics load only when a gate runs.
"""

from __future__ import annotations

import enum
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from lablink.cli import output
from lablink.cli.state import get_state
from lablink.errors import LablinkError

if TYPE_CHECKING:
    from lablink.core.gate import GateResult

EXIT_MISUSE = 2
VERDICT_STYLES = {
    "PASS": "bold green",
    "WARN": "bold yellow",
    "FAIL": "bold red",
    "INCONCLUSIVE": "bold magenta",
}

app = typer.Typer(
    help="Compare candidate runs with baseline runs and fail only on a significant regression.",
    invoke_without_command=True,
    # the gate runs by itself; log-predictions is an extra, so the usage line says so
    subcommand_metavar="[log-predictions ...]",
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Test(enum.StrEnum):
    """The two-sample test of seed mode."""

    welch = "welch"
    mwu = "mwu"


class Direction(enum.StrEnum):
    """Which way a per-example value is better."""

    max = "max"
    min = "min"


@app.callback(invoke_without_command=True)
def gate_command(
    ctx: typer.Context,
    baseline: str | None = typer.Option(
        None,
        "--baseline",
        "-b",
        help="Baseline runs: a filter (e.g. tags.main) or a run id (lablink.toml: gate.baseline).",
    ),
    candidate: str | None = typer.Option(
        None, "--candidate", "-c", help="Candidate runs: a filter (e.g. tags.pr-42) or a run id."
    ),
    metric: list[str] = typer.Option(
        [],
        "--metric",
        "-m",
        help="Metric and direction, KEY:max or KEY:min; repeatable (gate.metrics).",
    ),
    margin: float | None = typer.Option(
        None,
        "--margin",
        help="The drop you accept, in the metric's units, for every metric "
        "(gate.margin, gate.margins; default 0).",
    ),
    alpha: float | None = typer.Option(
        None, "--alpha", help="Significance level over all metrics (gate.alpha; default 0.05)."
    ),
    test: Test | None = typer.Option(
        None, "--test", help="welch (default) or mwu (Mann-Whitney U) (gate.test)."
    ),
    report: Path | None = typer.Option(
        None, "--report", help="Write the Markdown report here ('-' for stdout)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    record: bool = typer.Option(
        False,
        "--record",
        help="Keep each verdict on the candidate runs (summary gate/METRIC): model cards "
        "list the gates a model passed.",
    ),
    project: str | None = typer.Option(
        None,
        "--project",
        "-p",
        help="Only runs of this project (gate.project). Default: the only project; needed "
        "when the runs span projects.",
    ),
    per_example: bool = typer.Option(
        False,
        "--per-example",
        help="Compare two checkpoints on logged per-example predictions (McNemar / paired "
        "bootstrap) instead of seeds.",
    ),
) -> None:
    """Gate a change: exit 0 on PASS or WARN, 1 on a significant regression (FAIL), 2 on
    INCONCLUSIVE or misuse. Every verdict is explained."""
    if ctx.invoked_subcommand is not None:
        return
    state = get_state(ctx)
    try:
        from lablink.core import gate

        options = gate.resolve_options(
            state.settings.project_config,
            baseline=baseline,
            candidate=candidate,
            metrics=metric,
            margin=margin,
            alpha=alpha,
            test=test.value if test else None,
            project=project,
            per_example=per_example,
        )
        with state.client() as client:
            result = gate.run_gate(client._transport, options)
            if record:
                for run_id, entries in result.records(time.time()).items():
                    client.set_summary(run_id, entries)
    except LablinkError as error:
        output.print_error(error)
        if report is not None:
            _write(report, _misuse_markdown(error))
        raise typer.Exit(EXIT_MISUSE) from None
    if report is not None:
        from lablink.core.gate.report import render_markdown

        _write(report, render_markdown(result))
    if as_json:
        output.print_json(result.to_dict())
    elif report is None or str(report) != "-":
        _print_summary(result)
    raise typer.Exit(result.exit_code)


def _write(report: Path, text: str) -> None:
    if str(report) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(text, encoding="utf-8")


def _misuse_markdown(error: LablinkError) -> str:
    hint = f"\n\n{error.hint}" if error.hint else ""
    return f"## lablink gate: ❔ could not run (exit 2)\n\n{error.message}{hint}\n"


def _print_summary(result: GateResult) -> None:
    from lablink.core.gate.report import fmt, fmt_p

    out = output.console()
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("metric", "baseline", "candidate", "difference [CI]", "margin", "p", "verdict"):
        table.add_column(column, justify="left" if column in ("metric", "verdict") else "right")
    for m in result.metrics:
        c = m.comparison
        table.add_row(
            f"{m.spec.key} ({m.spec.direction})",
            f"{fmt(c.mean_base)} (n={c.n_base})" if c else f"n={len(m.baseline)}",
            f"{fmt(c.mean_cand)} (n={c.n_cand})" if c else f"n={len(m.candidate)}",
            f"{fmt(c.diff)} [{fmt(c.diff_ci[0])}, {fmt(c.diff_ci[1])}]" if c else "",
            fmt(m.spec.margin),
            fmt_p(m.p_drop_adjusted),
            f"[{VERDICT_STYLES[m.verdict]}]{m.verdict}[/]",
        )
    out.print(table)
    for m in result.metrics:
        out.print(f"[bold]{escape(m.spec.key)}[/]: {escape(m.explanation)}")
    for note in [*result.notes, *(n for m in result.metrics for n in m.notes)]:
        out.print(f"[dim]note: {escape(note)}[/]")
    style = VERDICT_STYLES[result.verdict]
    out.print(f"gate: [{style}]{result.verdict}[/] (exit {result.exit_code})")


@app.command("log-predictions")
def log_predictions_command(
    ctx: typer.Context,
    run: str = typer.Argument(..., help="The run (id or unique prefix) that was evaluated."),
    file: Path = typer.Argument(
        ..., help="Per-example results: .jsonl ({id, value} lines), .csv (id,value) or .npz."
    ),
    dataset: str | None = typer.Option(
        None, "--dataset", "-d", help="The evaluated dataset version, e.g. val-set@v3."
    ),
    metric: str = typer.Option("acc", "--metric", "-m", help="Metric name, e.g. acc."),
    direction: Direction = typer.Option(
        Direction.max, "--direction", help="max if larger values are better (accuracy), else min."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the artifact as JSON."),
) -> None:
    """Attach per-example results (0/1 correct, or a score) to a run as
    predictions/METRIC.jsonl, for `lablink gate --per-example`."""
    from lablink.core.gate.predictions import log_predictions, read_table

    header, ids, values = read_table(file)
    with get_state(ctx).client() as client:
        artifact = log_predictions(
            client._transport,
            run,
            ids,
            values,
            metric=metric,
            dataset=dataset or header.get("dataset"),
            direction=direction.value,
        )
    if as_json:
        output.print_json({"run_id": artifact.run_id, "name": artifact.name, "count": len(ids)})
        return
    where = f" on {dataset or header.get('dataset')}" if dataset or header.get("dataset") else ""
    output.console().print(
        f"logged {len(ids)} predictions{escape(where)} to run {artifact.run_id} "
        f"as {escape(artifact.name)}"
    )
