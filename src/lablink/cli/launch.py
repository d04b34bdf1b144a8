"""``lablink launch`` and ``lablink jobs``: run a command as a tracked job, and follow it."""

from __future__ import annotations

import json
import time
from typing import Any

import typer

from lablink.cli import output
from lablink.cli.state import get_state

FOLLOW_SECONDS = 1.0  # `jobs logs -f`: how often it asks for new output

app = typer.Typer(
    help="Launched jobs: list, show, follow their output, stop them.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def launch(
    ctx: typer.Context,
    command: list[str] = typer.Argument(None, help="The command, after `--`."),
    name: str | None = typer.Option(None, "--name", help="The run's name."),
    project: str | None = typer.Option(None, "--project", "-p", help="Project of the run."),
    timeout: str | None = typer.Option(None, "--timeout", help="Hard limit, e.g. 12h, 90s."),
    grace: str | None = typer.Option(None, "--grace", help="SIGTERM to SIGKILL, e.g. 30s."),
    restarts: int | None = typer.Option(None, "--restarts", help="Restarts on failure."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Don't echo the output."),
    backend: str | None = typer.Option(
        None, "--backend", help="Where the job runs: local (default), ray or slurm."
    ),
    address: str | None = typer.Option(
        None, "--address", help="Ray: the dashboard, e.g. http://127.0.0.1:8265."
    ),
    partition: str | None = typer.Option(None, "--partition", help="Slurm: the partition."),
    time_limit: str | None = typer.Option(
        None, "--time", help="Slurm: the time limit, e.g. 12:00:00."
    ),
    gpus: int | None = typer.Option(None, "--gpus", help="Ray, Slurm: GPUs for the job."),
    cpus: int | None = typer.Option(None, "--cpus", help="Ray, Slurm: CPUs for the job."),
    memory: str | None = typer.Option(
        None, "--memory", help="Ray, Slurm: memory for the job, e.g. 4GB."
    ),
    data: list[str] = typer.Option(
        [],
        "--data",
        help="A dataset version the job trains on (repeatable): with [data] require_review "
        "the job does not start unless its review is approved.",
    ),
) -> None:
    """Run CMD as a tracked job: one run, its output stored, a hard timeout, restarts.

    Defaults come from the `[launch]` table of lablink.toml (timeout, grace, restarts,
    backoff, backend and its resources). Inside the job, `lablink.init()` joins the
    job's run. With --backend ray or slurm the job is submitted to that cluster and
    followed from here.
    """
    from lablink.cli.output import print_error
    from lablink.cli.usage import EXIT_USAGE
    from lablink.errors import InvalidInput
    from lablink.launch.options import resolve
    from lablink.launch.placement import resolve_placement

    state = get_state(ctx)
    settings = state.settings
    table = settings.project_config.get("launch") or {}
    if not command:
        raise InvalidInput("no command to launch", "put it after --: lablink launch -- CMD ...")
    options = resolve(table, timeout=timeout, grace=grace, restarts=restarts)
    try:  # a backend that is not one, or a flag it does not take: a usage error
        placement = resolve_placement(
            table,
            backend=backend,
            address=address,
            partition=partition,
            time=time_limit,
            gpus=gpus,
            cpus=cpus,
            memory=memory,
        )
    except InvalidInput as error:
        print_error(error)
        raise typer.Exit(EXIT_USAGE) from None
    project = project or str(table.get("project") or "default")
    if data:
        from lablink.sdk.data import review_gate

        for ref in data:  # before anything starts: refused data leaves no run behind
            review_gate(ref, settings, None, recording=False)
    from lablink.cli.launch_fast import run_job

    raise typer.Exit(run_job(settings, placement, project, command, options, name, detach))


def _job(client: Any, ref: str) -> tuple[Any, dict[str, Any]]:
    from lablink.launch.jobs import job_record

    run = client._transport.get_run(ref)
    return run, job_record(client._transport, run.id)


@app.command("ls")
def ls(
    ctx: typer.Context,
    project: str | None = typer.Option(None, "--project", "-p", help="Only this project."),
    limit: int = typer.Option(50, "--limit", "-n", help="Show at most this many."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List launched jobs, newest first."""
    from lablink.launch.job import JOB_TAG

    with get_state(ctx).client() as client:
        found, _ = client._transport.search_runs(
            project, f"tags.{JOB_TAG}", "created_at", True, limit, 0
        )
    if as_json:
        output.print_json({"jobs": [r.to_dict() for r in found]})
        return
    out = output.console()
    if not found:
        out.print("no jobs")
        return
    for r in found:
        reason = f"  {r.status_reason}" if r.status_reason else ""
        out.print(f"{r.id}  {r.project}/{r.name}  {r.status}{reason}  {' '.join(r.command)}")


@app.command("show")
def show(
    ctx: typer.Context,
    job: str = typer.Argument(..., help="The job's run id (or a unique prefix)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A job's run, command, limits and attempts."""
    with get_state(ctx).client() as client:
        run, record = _job(client, job)
    if as_json:
        output.print_json({"run": run.to_dict(), "job": record})
        return
    out = output.console()
    out.print(f"{run.id}  {run.project}/{run.name}  {run.status}  {run.status_reason or ''}")
    out.print(f"command: {' '.join(run.command)}")
    if record:
        out.print(
            f"backend: {record.get('backend')}, launched from {record.get('host')}"
            + (f" to {record['address']}" if record.get("address") else "")
            + (f" (partition {record['partition']})" if record.get("partition") else "")
        )
        out.print(f"options: {record.get('options')}")
        if record.get("resources"):
            out.print(f"resources: {record['resources']}")
        now = {k[7:]: v for k, v in run.summary.items() if k.startswith("launch/")}
        if run.status == "running" and now.get("job_id"):
            gpus = f", gpus {now['gpus']}" if now.get("gpus") else ""
            out.print(f"now: job {now['job_id']} on {now.get('host') or '?'}{gpus}")
        for a in record.get("attempts", []):
            if a.get("ended_at") is None:  # the attempt running now
                where = f" on {a['host']}" if a.get("host") else ""
                out.print(
                    f"  attempt {a['number']}: running for {time.time() - a['started_at']:.1f}s{where}"
                )
                continue
            took = a["ended_at"] - a["started_at"]
            where = ", ".join(
                f"{label} {a[key]}"
                for key, label in (("job_id", "job"), ("host", "on"), ("gpus", "gpus"))
                if a.get(key)
            )
            out.print(
                f"  attempt {a['number']}: {a['status']} exit {a.get('exit_code')} "
                f"after {took:.1f}s {a.get('reason') or ''}" + (f" ({where})" if where else "")
            )


@app.command("logs")
def logs(
    ctx: typer.Context,
    job: str = typer.Argument(..., help="The job's run id (or a unique prefix)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Follow until the job ends."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """A job's stdout and stderr, in order (`-f` follows it live)."""
    from lablink.launch.logs import read_lines

    with get_state(ctx).client() as client:
        transport = client._transport
        run_id = transport.get_run(job).id
        seen = 0  # the last chunk shown: each poll asks only for the chunks after it
        while True:
            # the status first: the last chunk is stored before the run ends, so a read
            # after seeing it ended gets the rest
            running = follow and transport.get_run(run_id).status == "running"
            for number, line in read_lines(transport, run_id, seen):
                seen = number
                typer.echo(
                    json.dumps(line) if as_json else line["l"],
                    err=line["s"] == "err" and not as_json,
                )
            if not running:
                return
            time.sleep(FOLLOW_SECONDS)


@app.command("stop")
def stop(
    ctx: typer.Context,
    job: str = typer.Argument(..., help="The job's run id (or a unique prefix)."),
    reason: str = typer.Option("stopped from the command line", "--reason", help="Why."),
) -> None:
    """Ask a running job to stop: its launcher ends it (status killed).

    A local job's launcher ends its process group; for a Ray or Slurm job the launcher
    asks the cluster (stop_job, scancel), and so does this command, in case the launcher
    is gone.
    """
    from lablink.launch.jobs import cancel_on_cluster

    with get_state(ctx).client() as client:
        run = client._transport.request_stop(job, reason)
        record = _job(client, run.id)[1]
    cancelled = cancel_on_cluster(record, run.summary) if run.status == "running" else None
    output.console().print(f"asked job {run.id} to stop" + (f"; {cancelled}" if cancelled else ""))
