"""``lablink eval``: score a run's model artifact on a registered dataset version.

``lablink eval --model model.pt --data val-set@v3 --run RUN --predict mypkg.eval:predict``
downloads the artifact, materialises the version, calls the user's
``predict(model_path, rows)`` on batches of the version's table, and logs per-example
values as ``predictions/<metric>.jsonl`` for ``lablink gate --per-example``. Options
may default from the ``[eval]`` table of ``lablink.toml``. An exception in the user's
code is reported as one message naming the function (exit 1, no traceback).
"""

from __future__ import annotations

import enum
from typing import Any

import typer
from rich.markup import escape

from lablink.cli import output
from lablink.cli.state import get_state
from lablink.errors import InvalidInput


class Kind(enum.StrEnum):
    """How a prediction becomes a per-example value."""

    correct = "correct"
    score = "score"


class Direction(enum.StrEnum):
    """Which way a per-example value is better."""

    max = "max"
    min = "min"


def eval_command(
    ctx: typer.Context,
    model: str | None = typer.Option(
        None, "--model", help="The run's model artifact, by name (e.g. model.pt) (eval.model)."
    ),
    data: str = typer.Option(
        ..., "--data", "-d", help="The dataset version to evaluate on, e.g. val-set@v3."
    ),
    run: str = typer.Option(
        ..., "--run", "-r", help="The run (id or unique prefix) whose model is evaluated."
    ),
    metric: str = typer.Option(
        "acc", "--metric", "-m", help="The metric name the predictions are logged under."
    ),
    predict: str | None = typer.Option(
        None,
        "--predict",
        help="Your function package.module:function, predict(model_path, rows) -> list, "
        "imported from the current directory (eval.predict).",
    ),
    kind: Kind = typer.Option(
        Kind.correct,
        "--metric-kind",
        help="correct: 1 if the prediction equals the label, else 0; score: the number "
        "returned per row.",
    ),
    direction: Direction | None = typer.Option(
        None, "--direction", help="For scores: max if larger is better (default), else min."
    ),
    table: str | None = typer.Option(
        None, "--table", help="The table file in the version (default: its only table)."
    ),
    id_column: str | None = typer.Option(
        None, "--id-column", help="Column of example ids (eval.id_column; default id)."
    ),
    label_column: str | None = typer.Option(
        None, "--label-column", help="Column of labels (eval.label_column; default label)."
    ),
    batch_size: int = typer.Option(256, "--batch-size", help="Rows per call of your function."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Evaluate a run's model artifact on a dataset version and log per-example
    predictions, for `lablink gate --per-example`."""
    from lablink.core.evaluate import evaluate
    from lablink.sdk.data import dataset

    state = get_state(ctx)
    config: dict[str, Any] = dict(state.settings.project_config.get("eval", {}))
    model = model or config.get("model")
    predict = predict or config.get("predict")
    if not model:
        raise InvalidInput("name the model artifact with --model (or eval.model in lablink.toml)")
    if not predict:
        raise InvalidInput(
            "name your prediction function with --predict package.module:function",
            "or set eval.predict in lablink.toml",
        )
    if kind is Kind.correct and direction is Direction.min:
        raise InvalidInput("--direction min applies to --metric-kind score only")
    version = dataset(data, settings=state.settings, record=False)
    with state.client() as client:
        result = evaluate(
            client._transport,
            run,
            model,
            version,
            predict,
            metric=metric,
            kind=kind.value,
            direction=(direction or Direction.max).value,
            id_column=id_column or config.get("id_column", "id"),
            label_column=label_column or config.get("label_column", "label"),
            table=table or config.get("table"),
            batch_size=batch_size,
        )
    if as_json:
        output.print_json(result.to_dict())
        return
    value = f"{result.mean:.4f}" if kind is Kind.correct else f"mean {result.mean:.6g}"
    output.console().print(
        f"evaluated {escape(result.model)} of run {result.run_id} on {escape(result.dataset)} "
        f"({result.count} examples from {escape(result.table)}): {escape(metric)} = {value}; "
        f"logged as {escape(result.artifact.name)}"
    )
