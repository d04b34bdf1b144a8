"""``lablink sweep`` and ``lablink sweeps``: run a parameter sweep as launched jobs."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import typer

from lablink.cli import output
from lablink.cli.state import get_state

app = typer.Typer(
    help="Parameter sweeps: list them, show their trials and the best one.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def sweep(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="The sweep file (YAML)."),
    parallel: int | None = typer.Option(None, "--parallel", "-j", help="Trials at a time."),
    backend: str | None = typer.Option(
        None, "--backend", help="Where trials run: local (default), ray or slurm."
    ),
    resume: str | None = typer.Option(None, "--resume", help="Continue this sweep id."),
    new: bool = typer.Option(False, "--new", help="Start afresh, never resume by name."),
) -> None:
    """Run the trials of a sweep file, each a launched job with its own run.

    Without --resume, a stopped sweep of the same name in the project is continued
    (finished trials are not run again); --new starts another. Ctrl-C ends the
    running trials (tagged interrupted) so a later run of this command picks them up.
    """
    from lablink.cli.output import print_error
    from lablink.cli.usage import EXIT_USAGE
    from lablink.errors import InvalidInput
    from lablink.launch.options import resolve
    from lablink.launch.placement import resolve_placement
    from lablink.launch.sweep_spec import load_spec

    try:
        spec = load_spec(file)
        if parallel is not None:
            if parallel < 1:
                raise InvalidInput(f"--parallel must be 1 or more, not {parallel}")
            spec = spec.model_copy(update={"parallel": parallel})
        state = get_state(ctx)
        table = state.settings.project_config.get("launch") or {}
        placement = resolve_placement(table, backend=backend)
        limits = spec.launch
        options = resolve(
            table, timeout=limits.timeout, grace=limits.grace, restarts=limits.restarts
        )
    except InvalidInput as error:  # a bad file is a usage error: nothing was created
        print_error(error)
        raise typer.Exit(EXIT_USAGE) from None
    project = spec.project or str(table.get("project") or "default")
    from lablink.launch.backend import check_reachable

    check_reachable(placement, state.settings)
    _quiet_optuna()
    from lablink.launch.sweep_run import SweepRunner
    from lablink.launch.sweeps import get_sweep, resumable

    err = output.err_console()
    with state.client() as client:
        transport = client._transport
        found = resumable(transport, spec, project, resume, new)
        if found is not None:
            sweep_id, done = found.id, found.trials
            err.print(f"resuming sweep {sweep_id}: {found.done()} of {found.budget} trials done")
        else:
            sweep_id, done = f"{spec.name}-{secrets.token_hex(3)}", []
            err.print(f"sweep {sweep_id}: {spec.method}, {spec.trials()} trials, {project}")
        runner = SweepRunner(
            state.settings,
            transport,
            spec,
            sweep_id,
            project,
            options,
            done,
            on_trial=lambda t: err.print(_trial_line(t, spec.metric.name)),
            placement=placement,
        )
        outcome = runner.run()
        view = get_sweep(transport, sweep_id) if (done or outcome.ran) else None
    if view is not None:
        best = view.best()
        if best is not None:
            err.print(
                f"best: trial {best.number} {spec.metric.name}={best.value:.6g} "
                f"{_params_text(best.params)} (run {best.run_id})"
            )
        err.print(f"sweep {sweep_id} {view.status}: {view.done()} of {view.budget} trials done")
    if outcome.stopped_by is not None:
        err.print(f"resume with: lablink sweep {file} --resume {sweep_id}")
        raise typer.Exit(130)


def _quiet_optuna() -> None:
    """Optuna logs every trial at INFO; the CLI prints its own line per trial."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)


def _params_text(params: Any) -> str:
    return " ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


def _trial_line(t: Any, metric: str) -> str:
    value = f"{metric}={t.value:.6g}" if isinstance(t.value, float) else ""
    why = f" ({t.reason})" if t.state != "complete" and t.reason else ""
    return f"trial {t.number} {t.state} {value} {_params_text(t.params)}{why}".replace("  ", " ")


@app.command("ls")
def ls(
    ctx: typer.Context,
    project: str | None = typer.Option(None, "--project", "-p", help="Only this project."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List sweeps, newest first: status, trials done, the best value."""
    from lablink.launch.sweeps import list_sweeps

    with get_state(ctx).client() as client:
        views = list_sweeps(client._transport, project)
    if as_json:
        rows = []
        for v in views:
            d = v.to_dict()
            d.pop("trials")
            rows.append(d)
        output.print_json({"sweeps": rows})
        return
    out = output.console()
    if not views:
        out.print("no sweeps")
        return
    for v in views:
        best = v.best()
        shown = f"best {v.metric}={best.value:.6g} (trial {best.number})" if best else "no best yet"
        out.print(
            f"{v.id}  {v.spec.get('project')}  {v.spec.get('method')}  {v.status}  "
            f"{v.done()}/{v.budget}  {shown}"
        )


@app.command("show")
def show(
    ctx: typer.Context,
    sweep_id: str = typer.Argument(..., help="The sweep's id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A sweep's trials (state, params, metric) and the best so far."""
    from lablink.launch.sweeps import get_sweep

    with get_state(ctx).client() as client:
        view = get_sweep(client._transport, sweep_id)
    if as_json:
        output.print_json(view.to_dict())
        return
    out = output.console()
    out.print(
        f"{view.id}  {view.spec.get('project')}  {view.spec.get('method')}  {view.status}  "
        f"{view.done()}/{view.budget} trials  {view.metric} ({view.goal})"
    )
    best = view.best()
    for t in view.trials:
        mark = "*" if best is not None and t.number == best.number else " "
        out.print(f"{mark} {_trial_line(t, view.metric)}  run {t.run_id}", highlight=False)
