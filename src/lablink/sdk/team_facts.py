"""Read the store's side of the bus factor: runs and dataset versions, through the SDK."""

from __future__ import annotations

from lablink.sdk.client import Client
from lablink.sdk.connect import open_remote
from lablink.settings import Settings
from lablink.team.busfactor import Holding, holdings


def gather_holdings(settings: Settings) -> list[Holding]:
    """Who made each dataset and runs each project, from the embedded store or a server."""
    with Client(settings=settings) as client:
        runs = [run for p in client.projects() for run in client.runs(p.name)]
    remote = open_remote(settings)
    try:
        versions = [v for d in remote.list_datasets() for v in remote.log(d.name)]
    finally:
        remote.close()
    return holdings(runs, versions)
