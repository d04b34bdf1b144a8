"""``HttpRemote``: datasets on a lablink server (``LABLINK_SERVER``).

Metadata and uploads go to the server. Downloads go to the nearest healthy data
endpoint (``LABLINK_DATA_ENDPOINTS``; by default the server itself), see
``sdk/endpoints.py`` and ``sdk/fetch.py``. Uploads run in a pool of threads: small
files in packs of a few MB (one request each), large files one streamed ``PUT`` each,
read from disk chunk by chunk and never held whole in memory.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Mapping, Sequence
from typing import IO, Any
from urllib.parse import quote

import httpx

from lablink import errors
from lablink.core.datasets.manifest import chunked
from lablink.core.datasets.packs import write_pack
from lablink.models import DatasetSummary, DatasetVersion
from lablink.sdk.api import ApiClient
from lablink.sdk.endpoints import Endpoints
from lablink.sdk.fetch import PACK_BYTES, FetchReport, fetch_blobs, plan
from lablink.sdk.remote import UPLOAD_WORKERS, Advance, DataRemote
from lablink.sdk.wire import auth_headers
from lablink.settings import Settings
from lablink.store.blobcache import BlobCache
from lablink.store.blobs import CHUNK, bytes_digest

MISSING_BATCH = 100_000
TIMEOUT = httpx.Timeout(300.0, connect=5.0)
_OCTETS = {"Content-Type": "application/octet-stream"}


class HttpRemote(DataRemote):
    """Datasets on a server, blobs from the nearest endpoint."""

    def __init__(self, settings: Settings, endpoints: Endpoints | None = None) -> None:
        if not settings.server:
            raise errors.InvalidInput("HttpRemote needs a server URL", "set LABLINK_SERVER")
        self.settings = settings
        self.label = f"the server at {settings.server}"
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        self.api = ApiClient(settings, TIMEOUT, limits)
        urls = settings.data_endpoints or (settings.server,)
        self.endpoints = endpoints or Endpoints(
            urls, settings.cache_dir / "endpoints.json", auth_headers(settings)
        )

    def close(self) -> None:
        self.api.close()
        self.endpoints.close()

    # -- plumbing -----------------------------------------------------------------------
    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.api.send(method, path, **kwargs)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.api.json(method, path, **kwargs)

    # -- metadata -----------------------------------------------------------------------
    def resolve(self, ref: str) -> DatasetVersion:
        return DatasetVersion.from_dict(
            self._json("GET", "/datasets/-/resolve", params={"ref": ref})
        )

    def aliases(self, name: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/datasets/{quote(name, safe='')}/aliases"))

    def set_alias(self, name: str, version: str, alias: str) -> dict[str, Any]:
        body = {"alias": alias, "version": version}
        return dict(self._json("POST", f"/datasets/{quote(name, safe='')}/aliases", json=body))

    def delete_alias(self, name: str, alias: str) -> dict[str, Any]:
        path = f"/datasets/{quote(name, safe='')}/aliases/{quote(alias, safe='')}"
        return dict(self._json("DELETE", path))

    def list_datasets(self) -> list[DatasetSummary]:
        answer = self._json("GET", "/datasets")
        return [DatasetSummary(**d) for d in answer["datasets"]]

    def log(self, name: str) -> list[DatasetVersion]:
        answer = self._json("GET", f"/datasets/{quote(name, safe='')}")
        return [DatasetVersion.from_dict(v) for v in answer["versions"]]

    def diff(self, old: str, new: str) -> dict[str, Any]:
        return dict(self._json("GET", "/datasets/-/diff", params={"old": old, "new": new}))

    def used_by(self, ref: str) -> dict[str, Any]:
        version = self.resolve(ref)
        path = f"/datasets/{quote(version.dataset, safe='')}/versions/v{version.version}/used-by"
        return dict(self._json("GET", path))

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
        fields = {
            "manifest": manifest_digest,
            "message": message,
            "parents": list(parents),
            "source_run": source_run,
            "source_command": source_command,
            "version": version,
            "profile_digest": profile_digest,
            "schema_ref": schema_ref,
        }
        # Unset fields are left out, so an older server (which refuses fields it does
        # not know) still takes a commit that does not use them.
        body = {k: v for k, v in fields.items() if v is not None}
        answer = self._json("POST", f"/datasets/{quote(name, safe='')}/versions", json=body)
        return DatasetVersion.from_dict(answer["version"]), bool(answer["created"])

    # -- blobs --------------------------------------------------------------------------
    def missing(self, digests: Sequence[str]) -> list[str]:
        out: list[str] = []
        for batch in chunked(list(dict.fromkeys(digests)), MISSING_BATCH):
            out += self._json("POST", "/data/missing", json={"digests": batch})["missing"]
        return out

    def put_blob(self, data: bytes) -> str:
        digest = bytes_digest(data, "blake3")
        self._send("PUT", f"/blobs/{digest}", content=data, headers=_OCTETS)
        return digest

    def upload(
        self, items: Mapping[str, int], sources: Mapping[str, str], advance: Advance | None
    ) -> int:
        def send(digests: list[str]) -> int:
            if len(digests) == 1 and items[digests[0]] >= PACK_BYTES:
                return self._put_one(digests[0], items[digests[0]], sources, advance)
            return self._put_pack(digests, items, sources, advance)

        with concurrent.futures.ThreadPoolExecutor(UPLOAD_WORKERS, "lablink-push") as pool:
            return sum(pool.map(send, plan(items)))

    def _put_one(
        self, digest: str, size: int, sources: Mapping[str, str], advance: Advance | None
    ) -> int:
        with open(sources[digest], "rb") as fh:
            reader = _Reader(fh, advance)
            chunks = iter(lambda: reader.read(CHUNK), b"")
            self._send("PUT", f"/blobs/{digest}", content=chunks, headers=_OCTETS)
        return size

    def _put_pack(
        self,
        digests: list[str],
        items: Mapping[str, int],
        sources: Mapping[str, str],
        advance: Advance | None,
    ) -> int:
        def open_blob(digest: str) -> IO[bytes]:
            return _Reader(open(sources[digest], "rb"), advance)  # type: ignore[return-value]

        body = write_pack(((d, items[d]) for d in digests), open_blob)
        try:
            self._send("POST", "/data/packs", content=body, headers=_OCTETS)
        except errors.PayloadTooLarge:  # a server with a small body limit: one by one
            return sum(self._put_one(d, items[d], sources, None) for d in digests)
        return sum(items[d] for d in digests)

    def fetch(
        self, cache: BlobCache, items: Mapping[str, int], advance: Advance | None
    ) -> FetchReport:
        return fetch_blobs(self.endpoints, cache, items, advance)


class _Reader:
    """A file that reports the bytes read from it (for progress bars)."""

    def __init__(self, fh: IO[bytes], advance: Advance | None) -> None:
        self.fh = fh
        self.advance = advance

    def read(self, n: int = -1) -> bytes:
        chunk = self.fh.read(n)
        if self.advance and chunk:
            self.advance(len(chunk))
        return chunk

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()
