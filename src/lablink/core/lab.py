"""One object that opens the store and blob store for a Settings and holds the use cases."""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

from lablink.core.tracking import Tracking
from lablink.settings import Settings
from lablink.store import open_store
from lablink.store.blobs import BlobStore
from lablink.store.sql import SqlStore

if TYPE_CHECKING:  # loaded on first use: a command that lists runs needs neither
    from lablink.core.blob_readers import BlobReaders
    from lablink.core.datasets.aliases import DatasetAliases
    from lablink.core.datasets.versions import Datasets
    from lablink.core.logged_models import LoggedModels
    from lablink.core.mlflow_compat import MlflowCompat
    from lablink.core.people import People
    from lablink.core.registry import Registry
    from lablink.core.reviews import Reviews
    from lablink.core.team import Team
    from lablink.core.watchdog import Watchdog


class Lab:
    """The embedded lablink: a store, a blob store and the use cases over them."""

    def __init__(self, settings: Settings, store: SqlStore | None = None) -> None:
        self.settings = settings
        self.store = (
            store if store is not None else open_store(settings.db, durability=settings.durability)
        )
        self.blobs = BlobStore(settings.blobs)
        self.tracking = Tracking(self.store, self.blobs)
        self._watchdog: Watchdog | None = None
        self._watchdog_lock = threading.Lock()
        self.tracking.observe_with(lambda: self.watchdog)

    @property
    def watchdog(self) -> Watchdog:
        """The watchdog: built when a run is first written or its incidents are read, so
        that listing runs loads none of its rules, notifier or GPU watch. Its
        loop runs in ``lablink server``, whose app builds it at once (a bad ``[watch]``
        or ``[notify]`` table fails there, and in a run's first write).
        """
        if self._watchdog is None:
            with self._watchdog_lock:  # request threads may ask at once: build one
                if self._watchdog is None:
                    from lablink.core.watchdog import Watchdog

                    self._watchdog = Watchdog(self.store, self.settings)
        return self._watchdog

    @functools.cached_property
    def datasets(self) -> Datasets:
        """Versioned datasets over this store and blob store."""
        from lablink.core.datasets.versions import Datasets

        return Datasets(self.store, self.blobs)

    @functools.cached_property
    def blob_readers(self) -> BlobReaders:
        """Who may read a blob: the runs and dataset versions holding it."""
        from lablink.core.blob_readers import BlobReaders
        from lablink.store.blob_refs_sql import BlobRefsSql

        datasets = self.datasets
        return BlobReaders(BlobRefsSql(self.store), lambda d: datasets.read_manifest(d).blobs())

    @functools.cached_property
    def people(self) -> People:
        """People, tokens, roles and the audit log."""
        from lablink.core.people import People

        return People(self.store)

    @functools.cached_property
    def team(self) -> Team:
        """The roster, core hours and on-call rotations."""
        from lablink.core.team import Team

        return Team(self.store)

    @functools.cached_property
    def reviews(self) -> Reviews:
        """Reviews of dataset versions: the automated report and the sign-offs."""
        from lablink.core.reviews import Reviews

        return Reviews(self)

    @functools.cached_property
    def mlflow(self) -> MlflowCompat:
        """The MLflow-compatible API's use cases (experiments, MLflow params and tags)."""
        from lablink.core.mlflow_compat import MlflowCompat

        return MlflowCompat(self.tracking, self.store)

    @functools.cached_property
    def registry(self) -> Registry:
        """The model registry: registered models, versions, stages, aliases."""
        from lablink.core.registry import Registry

        return Registry(self.mlflow)

    @functools.cached_property
    def logged_models(self) -> LoggedModels:
        """Models the MLflow client logged in runs (their files are run artifacts)."""
        from lablink.core.logged_models import LoggedModels

        return LoggedModels(self.mlflow)

    @functools.cached_property
    def dataset_aliases(self) -> DatasetAliases:
        """Aliases of dataset versions (``images@prod``) and the record of their moves."""
        from lablink.core.datasets.aliases import DatasetAliases

        return DatasetAliases(self.store, self.datasets)

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.stop()
        self.store.close()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
