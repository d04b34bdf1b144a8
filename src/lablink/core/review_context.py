"""The parts of a lab the data review reads, as a protocol.

The lab (``core/lab.py``) builds the reviews, so the review modules name what they
need of it here instead of importing it: the settings, the store, the blob store,
the datasets, the people and the notifier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from lablink.core.datasets.versions import Datasets
    from lablink.core.people import People
    from lablink.core.watchdog import Watchdog
    from lablink.settings import Settings
    from lablink.store.blobs import BlobStore
    from lablink.store.sql import SqlStore


class ReviewLab(Protocol):
    """What ``Lab`` offers the review: ``Lab`` itself satisfies it."""

    settings: Settings
    store: SqlStore
    blobs: BlobStore

    @property
    def watchdog(self) -> Watchdog: ...  # its notifier queues and sends the review's notifications

    @property
    def datasets(self) -> Datasets: ...

    @property
    def people(self) -> People: ...
