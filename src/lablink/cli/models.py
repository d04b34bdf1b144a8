"""``lablink models``: list registered models and show one with its versions.

Models are registered through the MLflow-compatible API (``mlflow.register_model``);
these commands read them from the embedded store, or with ``--server`` /
``LABLINK_SERVER`` from the server's ``/api/v1/models`` (which leaves out models the
token's user may not read). Both print the same records; ``--json`` as the API does.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from lablink.cli import output
from lablink.cli.state import get_state
from lablink.settings import Settings

app = typer.Typer(
    help="Registered models (the MLflow model registry): list them, show versions and aliases.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")
STAGE_STYLES = {"Production": "bold green", "Staging": "yellow", "Archived": "dim"}


def _fetch(settings: Settings, name: str | None) -> dict[str, Any]:
    """``{"models": [...]}`` or ``{"model": ..., "versions": [...]}``, on either transport."""
    from lablink.core.registry import check_model_name

    if name is not None:
        check_model_name(name)  # a / would change the URL's path: refuse it here
    if settings.server:
        from urllib.parse import quote

        from lablink.sdk.api import ApiClient

        with ApiClient(settings) as api:
            path = "/models" if name is None else f"/models/{quote(name, safe='')}"
            answer: dict[str, Any] = api.json("GET", path)
            return answer
    from lablink.core.lab import Lab
    from lablink.core.registry import model_dict, version_dict

    with Lab(settings) as lab:
        if name is None:
            return {"models": [model_dict(m) for m in lab.registry.models()]}
        model = lab.registry.model(name)
        versions = lab.registry.versions(model.name)
        return {"model": model_dict(model), "versions": [version_dict(v) for v in versions]}


@app.command("ls")
def ls(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List registered models with their latest version and aliases."""
    found = _fetch(get_state(ctx).settings, None)["models"]
    if as_json:
        output.print_json({"models": found})
        return
    out = output.console()
    if not found:
        out.print("no registered models yet; register one with mlflow.register_model(...)")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("model", "latest", "aliases", "project", "updated", "description"):
        table.add_column(column)
    for m in found:
        aliases = ", ".join(f"@{a}→v{v}" for a, v in sorted(m["aliases"].items()))
        table.add_row(
            Text(m["name"], style="bold cyan"),
            f"v{m['latest_version']}" if m["latest_version"] else "",
            aliases,
            m["project"] or "",
            output.fmt_ago(m["updated_at"]),
            m["description"] or "",
        )
    out.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The registered model's name."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a registered model: its versions, stages, aliases, source runs and tags."""
    answer = _fetch(get_state(ctx).settings, name)
    if as_json:
        output.print_json(answer)
        return
    model, versions = answer["model"], answer["versions"]
    out = output.console()
    out.print(Text.assemble(("model       ", "bold"), (model["name"], "bold cyan")))
    for key, value in (
        ("project", model["project"] or ""),
        ("description", model["description"] or ""),
        ("tags", ", ".join(f"{k}={v}" for k, v in sorted(model["tags"].items()))),
        ("created", f"{output.fmt_time(model['created_at'])} by {model['created_by']}"),
    ):
        if value:
            out.print(Text.assemble((f"{key:<12}", "bold"), value))
    if not versions:
        out.print("no versions yet")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("version", "stage", "aliases", "run", "source", "by", "created", "tags"):
        table.add_column(column)
    for v in versions:
        table.add_row(
            Text(f"v{v['version']}", style="cyan"),
            Text(v["stage"], style=STAGE_STYLES.get(v["stage"], "")),
            ", ".join(f"@{a}" for a in v["aliases"]),
            v["run_id"] or "",
            v["source"],
            v["created_by"],
            output.fmt_time(v["created_at"]),
            ", ".join(f"{k}={val}" for k, val in sorted(v["tags"].items())),
        )
    out.print(table)
