"""Who may read a blob: anyone who may read a run or dataset version holding it.

Blobs are content-addressed and shared: one digest may be a file of several dataset
versions, an artifact of runs in several projects and a run's captured diff at once.
A caller may read it when they may read ANY of its holders:

- a dataset version (its manifest, its profile or one of its files): datasets are
  shared by the whole server, so any caller allowed to read datasets (a viewer of some
  project) may read these;
- a run's artifact or captured diff: a viewer of that run's project.

Anything else (a blob nobody holds yet, say one uploaded for a push that was never
committed) only a server admin reads. Dataset files are found through an index of
every version's manifest, built on first use and extended as versions appear (each
manifest is read once per process); a blob not found there triggers one look for new
versions, so a version committed through another server process is seen at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from lablink.errors import LablinkError
from lablink.store.blob_refs_sql import BlobRefsSql

logger = logging.getLogger(__name__)

ReadManifest = Callable[[str], Iterable[str]]


class BlobReaders:
    """Answers "which of these digests may this caller read?" over one store."""

    def __init__(self, refs: BlobRefsSql, manifest_files: ReadManifest) -> None:
        self.refs = refs
        self.manifest_files = manifest_files
        self._lock = threading.Lock()
        self._versions: set[int] = set()
        self._dataset_digests: set[str] = set()

    def readable(
        self,
        digests: Iterable[str],
        can_read: Callable[[str], bool] | None,
        datasets: bool,
    ) -> set[str]:
        """The subset of ``digests`` a caller may read.

        Args:
            digests: the blobs asked for.
            can_read: whether the caller may read a project; None reads everything
                (a server admin, or a server without auth).
            datasets: whether the caller may read datasets (a viewer somewhere).
        """
        wanted = list(dict.fromkeys(digests))
        if can_read is None:
            return set(wanted)
        allowed: set[str] = set()
        if datasets:
            allowed = self._in_datasets(wanted)
        rest = [d for d in wanted if d not in allowed]
        if rest:
            for digest, projects in self.refs.run_projects(rest).items():
                if any(can_read(p) for p in sorted(projects)):
                    allowed.add(digest)
        return allowed

    def _in_datasets(self, digests: list[str]) -> set[str]:
        with self._lock:
            found = {d for d in digests if d in self._dataset_digests}
            if len(found) < len(digests):
                self._index_new_versions()
                found = {d for d in digests if d in self._dataset_digests}
        return found

    def _index_new_versions(self) -> None:
        # Every id, not only those above the highest seen: PostgreSQL may commit a
        # lower id after a higher one.
        for version_id, manifest, profile in self.refs.dataset_versions():
            if version_id in self._versions:
                continue
            try:
                files = list(self.manifest_files(manifest))
            except LablinkError as exc:  # lost or corrupt: nothing to serve from it
                logger.warning("dataset manifest %s is unreadable: %s", manifest, exc)
                continue
            self._dataset_digests.update(files)
            self._dataset_digests.add(manifest)
            if profile is not None:
                self._dataset_digests.add(profile)
            self._versions.add(version_id)
