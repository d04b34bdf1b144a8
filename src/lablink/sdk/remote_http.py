"""``HttpRemote``: datasets on a lablink server (``LABLINK_SERVER``).

Metadata and uploads go to the server. Downloads go to the nearest healthy data
endpoint (``LABLINK_DATA_ENDPOINTS``; by default the server itself), see
``sdk/endpoints.py`` and ``sdk/fetch.py``. Uploads run in a pool of threads: small
files in packs of a few MB (one request each), large files one streamed ``PUT`` each,
read from disk chunk by chunk and never held whole in memory.

Requests to the server go over ``sdk/wire.py``'s httpcore pool, as the tracking
transport's do: a push (``lablink data add``) never imports httpx, whose import alone
cost a re-push of 20,000 files a tenth of a second of CPU. Downloads still use httpx,
loaded with ``Endpoints`` on the first fetch.
"""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from lablink import errors
from lablink.checks.routes import API_PREFIX
from lablink.core.datasets.manifest import chunked
from lablink.core.datasets.packs import write_pack
from lablink.models import DatasetSummary, DatasetVersion
from lablink.sdk.fetch import PACK_BYTES, FetchReport, fetch_blobs, plan
from lablink.sdk.remote import UPLOAD_WORKERS, Advance, DataRemote
from lablink.sdk.wire import Answer, Params, Wire, auth_headers, error_from_answer
from lablink.settings import Settings
from lablink.store.blobcache import BlobCache
from lablink.store.blobs import CHUNK, bytes_digest

if TYPE_CHECKING:  # imports httpx: loaded on the first download only
    from lablink.sdk.endpoints import Endpoints

MISSING_BATCH = 100_000
# A commit of a large manifest, or a pack, may take the server minutes to answer.
TIMEOUTS = {"connect": 5.0, "read": 300.0, "write": 300.0, "pool": 300.0}
_OCTETS = {"Content-Type": "application/octet-stream"}
_JSON = {"Content-Type": "application/json"}


class HttpRemote(DataRemote):
    """Datasets on a server, blobs from the nearest endpoint."""

    def __init__(self, settings: Settings, endpoints: Endpoints | None = None) -> None:
        if not settings.server:
            raise errors.InvalidInput("HttpRemote needs a server URL", "set LABLINK_SERVER")
        self.settings = settings
        self.label = f"the server at {settings.server}"
        self.wire = Wire(settings.server, API_PREFIX, auth_headers(settings), TIMEOUTS)
        self._endpoints = endpoints

    @property
    def endpoints(self) -> Endpoints:
        """The data endpoints downloads come from, made on first use."""
        if self._endpoints is None:
            from lablink.sdk.endpoints import Endpoints

            urls = self.settings.data_endpoints or (self.settings.server or "",)
            self._endpoints = Endpoints(
                urls, self.settings.cache_dir / "endpoints.json", auth_headers(self.settings)
            )
        return self._endpoints

    def close(self) -> None:
        self.wire.close()
        if self._endpoints is not None:
            self._endpoints.close()

    # -- plumbing -----------------------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Any = None,
        content: bytes | Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One request; a 4xx or 5xx answer raises its typed error.

        Raises:
            ServiceUnavailable: the server cannot be reached.
            LablinkError: the error the server answered with.
        """
        if body is not None:
            content, headers = _dumps(body), _JSON
        answer = self.wire.request(method, path, params=params, content=content, headers=headers)
        if answer.status >= 400:
            raise error_from_answer(answer.status, answer.content)
        return answer

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return json.loads(self._send(method, path, **kwargs).content)

    # -- metadata -----------------------------------------------------------------------
    def resolve(self, ref: str) -> DatasetVersion:
        return DatasetVersion.from_dict(
            self._json("GET", "/datasets/-/resolve", params={"ref": ref})
        )

    def aliases(self, name: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/datasets/{quote(name, safe='')}/aliases"))

    def set_alias(self, name: str, version: str, alias: str) -> dict[str, Any]:
        body = {"alias": alias, "version": version}
        return dict(self._json("POST", f"/datasets/{quote(name, safe='')}/aliases", body=body))

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
        answer = self._json("POST", f"/datasets/{quote(name, safe='')}/versions", body=body)
        return DatasetVersion.from_dict(answer["version"]), bool(answer["created"])

    # -- blobs --------------------------------------------------------------------------
    def missing(self, digests: Sequence[str]) -> list[str]:
        out: list[str] = []
        for batch in chunked(list(dict.fromkeys(digests)), MISSING_BATCH):
            out += self._json("POST", "/data/missing", body={"digests": batch})["missing"]
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


def _dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


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
