"""Where an import writes: a lablink server when one is configured, else the embedded
store, as every command chooses."""

from __future__ import annotations

from lablink.importers.sink import Sink
from lablink.settings import Settings


def open_sink(settings: Settings) -> Sink:
    """A lablink server when one is configured, else the embedded store."""
    if settings.server:
        from lablink.importers.sink_http import HttpSink

        return HttpSink(settings)
    from lablink.importers.sink_local import LocalSink

    return LocalSink(settings)
