"""Which backend runs a launched job: ``make_job`` builds it for a ``Placement``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lablink.launch.job import Job, LocalJob
from lablink.launch.options import LaunchOptions
from lablink.launch.placement import Placement

if TYPE_CHECKING:
    from lablink.sdk.transport import Transport
    from lablink.settings import Settings


def check_reachable(placement: Placement, settings: Settings) -> None:
    """Raise as ``make_job`` would when the backend cannot be reached (no run is made)."""
    if placement.backend != "local":
        _cluster(placement, settings)


def _cluster(placement: Placement, settings: Settings) -> Any:
    if placement.backend == "ray":
        from lablink.launch.ray_backend import RayCluster

        return RayCluster(placement)
    from lablink.launch.slurm_backend import SlurmCluster

    return SlurmCluster(placement, settings)


def make_job(
    placement: Placement,
    settings: Settings,
    transport: Transport | Callable[[], Transport],
    project: str,
    command: Sequence[str],
    options: LaunchOptions,
    **kwargs: Any,
) -> Job:
    """A job for ``placement``'s backend; a remote backend is reached here, before any run
    exists, so an unreachable one is an error that leaves nothing behind."""
    if placement.backend == "local":
        return LocalJob(settings, transport, project, command, options, **kwargs)
    from lablink.launch.remote import RemoteJob

    cluster = _cluster(placement, settings)
    return RemoteJob(cluster, settings, transport, project, command, options, **kwargs)
