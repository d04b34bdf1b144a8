"""Where dataset versions live: the embedded store, or a lablink server over HTTP.

``DataRemote`` is the narrow interface ``lablink data`` and ``lablink.dataset`` use.
``LocalRemote`` (``sdk/remote_local.py``) calls the ``Datasets`` use cases on the
embedded store in-process; ``HttpRemote`` (``sdk/remote_http.py``) speaks the REST API,
pushes to the server and reads blobs from the nearest data endpoint. Both raise the
same ``LablinkError``s. ``sdk/connect.py`` picks one.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lablink.core.datasets.manifest import Manifest
from lablink.models import DatasetSummary, DatasetVersion
from lablink.sdk.fetch import FetchReport
from lablink.store.blobcache import BlobCache

Advance = Callable[[int], None]
# Requests in flight to a server during a push: each carries a pack of up to PACK_BYTES,
# so two keep the link busy without holding many packs in memory.
UPLOAD_WORKERS = 2
# Threads copying blobs between local disks (the embedded store, the cache): hashing
# and copying overlap I/O, and a few suffice to keep a disk busy.
LOCAL_WORKERS = 4


class DataRemote(abc.ABC):
    """Dataset metadata and blobs, embedded or on a server."""

    label: str  # where it is, for messages

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    @abc.abstractmethod
    def resolve(self, ref: str) -> DatasetVersion:
        """The version a reference names. Raises InvalidInput, NotFound."""

    @abc.abstractmethod
    def aliases(self, name: str) -> dict[str, Any]:
        """``{"aliases": [...], "moves": [...]}`` of a dataset. Raises NotFound."""

    @abc.abstractmethod
    def set_alias(self, name: str, version: str, alias: str) -> dict[str, Any]:
        """Point ``alias`` at ``name@version``: ``{dataset, alias, version, previous}``.
        Raises InvalidInput, NotFound."""

    @abc.abstractmethod
    def delete_alias(self, name: str, alias: str) -> dict[str, Any]:
        """Remove an alias: ``{dataset, alias, version: None, previous}``. Raises NotFound."""

    @abc.abstractmethod
    def list_datasets(self) -> list[DatasetSummary]:
        """Every dataset with its latest version."""

    @abc.abstractmethod
    def log(self, name: str) -> list[DatasetVersion]:
        """A dataset's versions, newest first. Raises NotFound."""

    @abc.abstractmethod
    def diff(self, old: str, new: str) -> dict[str, Any]:
        """Files added, removed and changed between two versions."""

    @abc.abstractmethod
    def used_by(self, ref: str) -> dict[str, Any]:
        """Runs that read a version and versions made from it."""

    @abc.abstractmethod
    def missing(self, digests: Sequence[str]) -> list[str]:
        """The digests the remote does not hold (one request per 100,000)."""

    @abc.abstractmethod
    def upload(
        self, items: Mapping[str, int], sources: Mapping[str, str], advance: Advance | None
    ) -> int:
        """Upload blobs (digest → size) read from local files; returns bytes sent."""

    @abc.abstractmethod
    def put_blob(self, data: bytes) -> str:
        """Store a small blob (a manifest, a profile) hashed with blake3; returns its digest."""

    @abc.abstractmethod
    def commit(
        self,
        name: str,
        manifest_digest: str,
        message: str | None,
        parents: Sequence[str],
        source_run: str | None,
        source_command: str | None,
        version: int | None,
        *,
        profile_digest: str | None = None,
        schema_ref: str | None = None,
    ) -> tuple[DatasetVersion, bool]:
        """Make the manifest the next version; Conflict if blobs are missing.

        ``profile_digest`` names an uploaded table profile (``put_blob``);
        ``schema_ref`` the registered schema the version's tables passed.
        """

    @abc.abstractmethod
    def fetch(
        self, cache: BlobCache, items: Mapping[str, int], advance: Advance | None
    ) -> FetchReport:
        """Bring blobs into the cache, each verified against its digest."""

    def read_manifest(self, cache: BlobCache, version: DatasetVersion) -> Manifest:
        """A version's manifest, through the cache (verified like any blob)."""
        if not cache.has(version.digest):
            self.fetch(cache, {version.digest: 0}, None)
        return Manifest.decode(cache.path(version.digest).read_bytes())

    def read_profile(self, cache: BlobCache, version: DatasetVersion) -> dict[str, Any]:
        """A version's table profile, through the cache. Raises NotFound if it has none."""
        from lablink.core.datasets.profiles import decode_profile, no_profile

        if version.profile_digest is None:
            raise no_profile(version)
        if not cache.has(version.profile_digest):
            self.fetch(cache, {version.profile_digest: 0}, None)
        return decode_profile(cache.path(version.profile_digest).read_bytes())
