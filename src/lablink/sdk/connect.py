"""Connect to lablink: a server over HTTP when one is configured, else the embedded store.

The one place that chooses; the implementations load on first use, so that importing
the SDK loads neither httpx's clients nor the database layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lablink.settings import Settings

if TYPE_CHECKING:
    from lablink.sdk.remote import DataRemote
    from lablink.sdk.transport import Transport


def make_transport(settings: Settings) -> Transport:
    """Runs and projects: HTTP when a server is configured, else the embedded store."""
    if settings.server:
        from lablink.sdk.http import HttpTransport

        return HttpTransport(settings)
    from lablink.sdk.direct import DirectTransport

    return DirectTransport(settings)


def open_remote(settings: Settings) -> DataRemote:
    """Datasets: HTTP when a server is configured, else the embedded store."""
    if settings.server:
        from lablink.sdk.remote_http import HttpRemote

        return HttpRemote(settings)
    from lablink.sdk.remote_local import LocalRemote

    return LocalRemote(settings)
