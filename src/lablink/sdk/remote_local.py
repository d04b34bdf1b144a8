"""``LocalRemote``: datasets in the embedded store, through ``core/`` in-process."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Mapping, Sequence
from typing import Any

from lablink.models import DatasetSummary, DatasetVersion
from lablink.sdk.fetch import FetchReport
from lablink.sdk.remote import LOCAL_WORKERS, Advance, DataRemote
from lablink.settings import Settings
from lablink.store.blobcache import BlobCache


class LocalRemote(DataRemote):
    """The embedded store: blobs in its blob store (a folder or S3), rows in its DB."""

    def __init__(self, settings: Settings) -> None:
        from lablink.core.lab import Lab

        self.settings = settings
        self.lab = Lab(settings)
        self.datasets = self.lab.datasets
        self.label = f"the embedded store at {settings.home}"

    def close(self) -> None:
        self.lab.close()

    def resolve(self, ref: str) -> DatasetVersion:
        return self.datasets.resolve(ref)

    def aliases(self, name: str) -> dict[str, Any]:
        aliases = self.lab.dataset_aliases
        return {
            "dataset": name,
            "aliases": [a.to_dict() for a in aliases.of(name)],
            "moves": [m.to_dict() for m in aliases.moves(name)],
        }

    def set_alias(self, name: str, version: str, alias: str) -> dict[str, Any]:
        found, previous = self.lab.dataset_aliases.set(
            self.settings.user, f"{name}@{version}", alias
        )
        return {"dataset": name, "alias": alias, "version": found.version, "previous": previous}

    def delete_alias(self, name: str, alias: str) -> dict[str, Any]:
        previous = self.lab.dataset_aliases.delete(self.settings.user, name, alias)
        return {"dataset": name, "alias": alias, "version": None, "previous": previous}

    def list_datasets(self) -> list[DatasetSummary]:
        return self.datasets.list_datasets()

    def log(self, name: str) -> list[DatasetVersion]:
        return self.datasets.log(name)

    def diff(self, old: str, new: str) -> dict[str, Any]:
        return self.datasets.diff(old, new)

    def used_by(self, ref: str) -> dict[str, Any]:
        return self.datasets.used_by(ref)

    def missing(self, digests: Sequence[str]) -> list[str]:
        return self.datasets.transfers.missing(digests)

    def upload(
        self, items: Mapping[str, int], sources: Mapping[str, str], advance: Advance | None
    ) -> int:
        blobs = self.lab.blobs

        def put(digest: str) -> tuple[str, int]:
            with open(sources[digest], "rb") as fh:
                stored = blobs.put_stream(fh, expected=digest)
            if advance:
                advance(stored[1])
            return stored

        with concurrent.futures.ThreadPoolExecutor(LOCAL_WORKERS, "lablink-put") as pool:
            stored = list(pool.map(put, items))
        self.datasets.sql.record_blobs(stored)
        return sum(size for _, size in stored)

    def put_blob(self, data: bytes) -> str:
        digest, _ = self.lab.blobs.put_bytes(data, "blake3")
        return digest

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
        return self.datasets.commit(
            self.settings.user,
            name,
            manifest_digest,
            message=message,
            parents=parents,
            source_run=source_run,
            source_command=source_command,
            version=version,
            profile_digest=profile_digest,
            schema_ref=schema_ref,
        )

    def fetch(
        self, cache: BlobCache, items: Mapping[str, int], advance: Advance | None
    ) -> FetchReport:
        report = FetchReport()
        blobs = self.lab.blobs

        def bring(digest: str) -> None:
            local = blobs.local_path(digest)
            if local is not None and local.exists():
                size = cache.adopt(digest, local)  # verified, then hardlinked
            else:
                with blobs.open(digest) as fh:
                    size = cache.put(digest, iter(lambda: fh.read(1 << 20), b""))
            report.add(size)
            if advance:
                advance(size)

        todo = [d for d in items if not cache.has(d)]
        try:
            with concurrent.futures.ThreadPoolExecutor(LOCAL_WORKERS, "lablink-fetch") as pool:
                list(pool.map(bring, todo))
        finally:
            cache.flush()
        return report
