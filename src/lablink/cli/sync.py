"""``lablink sync``: send the updates runs left in the spool while the server was away."""

from __future__ import annotations

from pathlib import Path

import typer

from lablink.cli import output
from lablink.cli.state import get_state


def sync(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Replay spooled updates of ended runs to the server now (lablink.init does it too)."""
    from lablink.sdk.connect import make_transport
    from lablink.sdk.spool import FAILED_DIR, replay_all, target_of

    settings = get_state(ctx).settings
    transport = make_transport(settings)
    try:
        report = replay_all(transport)
        target = target_of(transport)
    finally:
        transport.close()
    failed_dir = Path(settings.spool_dir) / FAILED_DIR
    failed = sorted(p.name for p in failed_dir.glob("*.jsonl")) if failed_dir.is_dir() else []
    if as_json:
        output.print_json(
            {
                "target": target,
                "replayed": report.replayed,
                "ops": report.ops,
                "left": report.left,
                "other": report.other,
                "failed": [str(failed_dir / name) for name in failed],
            }
        )
    else:
        _print(report.replayed, report.ops, report.left, failed_dir, failed, target)
    if report.left:
        raise typer.Exit(1)


def _print(
    replayed: list[str], ops: int, left: list[str], failed_dir: Path, failed: list[str], target: str
) -> None:
    out = output.console()
    if not replayed and not left:
        out.print(f"nothing to send: no spooled updates for {target}")
    if replayed:
        out.print(f"sent {ops} spooled updates of {len(replayed)} runs to {target}")
    if left:
        out.print(f"{len(left)} spools stay, the server is still unreachable: {', '.join(left)}")
    if failed:
        out.print(
            f"updates the server failed on are set aside in {failed_dir}: {', '.join(failed)}"
        )
