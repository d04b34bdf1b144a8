"""Dataset use cases: commit versions, resolve references, read manifests, lineage.

``Datasets`` is what the server routes and the SDK's embedded mode both call. A commit
names a manifest blob that is already stored; it succeeds only when every blob the
manifest lists is stored too, and the version row is written in one transaction, so a
version is never visible half uploaded. An interrupted push leaves blobs but no
version; pushing again uploads what is missing and commits.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Sequence
from typing import Any

from lablink.core.datasets.listing import Listing, read_listing
from lablink.core.datasets.manifest import Manifest, diff
from lablink.core.datasets.profiles import MAX_PROFILE_BYTES, decode_profile, no_profile
from lablink.core.datasets.refs import Ref, check_name, check_version, digest_matches, parse_ref
from lablink.core.datasets.transfer import Transfers
from lablink.core.schemas import Schemas
from lablink.errors import Conflict, InvalidInput, NotFound
from lablink.models import DatasetSummary, DatasetVersion
from lablink.store.blobs import BlobStore, bytes_digest, check_digest
from lablink.store.dataset_aliases_sql import DatasetAliasSql
from lablink.store.datasets_sql import DatasetSql
from lablink.store.sql import SqlStore

MAX_MESSAGE = 10_000
MAX_COMMAND = 10_000
MAX_PARENTS = 100
SHOWN_MISSING = 20


class Datasets:
    """Versioned datasets over one store and blob store."""

    def __init__(self, store: SqlStore, blobs: BlobStore) -> None:
        self.sql = DatasetSql(store)
        self.alias_sql = DatasetAliasSql(store)
        self.blobs = blobs
        self.transfers = Transfers(blobs, self.sql)
        self._verified = VerifiedSizes()

    def commit(
        self,
        actor: str,
        name: str,
        manifest_digest: str,
        *,
        message: str | None = None,
        parents: Sequence[str] = (),
        source_run: str | None = None,
        source_command: str | None = None,
        version: int | None = None,
        profile_digest: str | None = None,
        schema_ref: str | None = None,
    ) -> tuple[DatasetVersion, bool]:
        """Make the uploaded manifest the next version of ``name``.

        Returns the version and whether it is new: committing the same files as the
        latest version returns the latest version unchanged.

        ``profile_digest`` names an uploaded profile of the version's tables
        (``checks/profile.py``); ``schema_ref`` a registered schema its files passed.

        Raises:
            InvalidInput: a bad name, message, parent reference or manifest.
            NotFound: the manifest blob or a parent version does not exist.
            Conflict: some files are not uploaded yet (``details["missing"]`` lists some,
                ``details["missing_count"]`` counts them), or a file's size in the
                manifest is not its stored blob's (``details["mismatched"]``); nothing
                is created.
            AlreadyExists: ``version`` is taken.
        """
        check_name(name)
        check_digest(manifest_digest)
        if version is not None:
            check_version(version)
        if message is not None and len(message) > MAX_MESSAGE:
            raise InvalidInput(f"the message is {len(message)} characters long (max {MAX_MESSAGE})")
        if source_run is not None and not (0 < len(source_run) <= 32):
            raise InvalidInput(f"invalid run id {source_run!r}")
        if len(parents) > MAX_PARENTS:
            raise InvalidInput(f"at most {MAX_PARENTS} parent versions")
        parent_ids = [self._parent_id(p) for p in parents]
        if schema_ref is not None:
            schema_ref = Schemas(self.sql.store).get(schema_ref).ref
        latest = self._latest(name)
        checked = self._verified.listing(latest) if latest else None
        listing = read_listing(self._read_verified(manifest_digest, "manifest"), checked)
        if profile_digest is not None:
            self.read_profile(profile_digest)
        blobs = listing.blobs
        stored = self._stored_sizes(latest, blobs)
        if len(stored) < len(blobs):
            missing = [d for d in blobs if d not in stored]
            raise Conflict(
                f"{len(missing)} of the {len(listing.paths)} files of this version are not "
                "uploaded yet",
                "upload them (a push does), then commit again; nothing was created",
                missing=missing[:SHOWN_MISSING],
                missing_count=len(missing),
            )
        check_sizes(listing, stored)
        self._verified.put(manifest_digest, stored, listing)
        values = {
            "digest": manifest_digest,
            "algorithm": listing.algorithm,
            "files": len(listing.paths),
            "size": listing.size,
            "message": message,
            "source_run": source_run,
            "source_command": source_command[:MAX_COMMAND] if source_command else None,
            "profile_digest": profile_digest,
            "schema_ref": schema_ref,
        }
        return self.sql.create_version(name, actor, values, parent_ids, version)

    def _latest(self, name: str) -> str | None:
        """The manifest digest of the dataset's latest version (None: no version yet)."""
        try:
            return self.sql.get(name).digest
        except NotFound:
            return None

    def _stored_sizes(self, latest: str | None, blobs: dict[str, int]) -> dict[str, int]:
        """The stored size of each of ``blobs`` that is stored (the others left out).

        Every blob is looked for in the store, so one gone since an earlier commit is
        missing now. Sizes checked at the commit of the dataset's ``latest`` version are
        taken from that check (a digest's content, hence its size, never changes); only
        the others are read from the store, which costs a ``stat`` each.
        """
        trusted = self._verified.get(latest) if latest else None
        if trusted is None:
            return self.blobs.sizes(blobs)
        present = self.blobs.existing(blobs, checked=True)  # read_listing checked them
        # Set operations, not a loop over 20,000 blobs: copy the trusted sizes, drop
        # those not present (or not named), add the sizes of the others.
        found = dict(trusted)
        for digest in trusted.keys() - present:
            del found[digest]
        found.update(self.blobs.sizes(present - trusted.keys()))
        return found

    def _parent_id(self, text: str) -> int:
        ref = parse_ref(text)
        found = self.resolve(ref)
        return self.sql.version_id(found.dataset, found.version)

    def resolve(self, ref: str | Ref) -> DatasetVersion:
        """The version a reference names.

        Raises:
            InvalidInput: not a reference, or a digest prefix that matches several contents.
            NotFound: no such dataset or version.
        """
        parsed = parse_ref(ref) if isinstance(ref, str) else ref
        if parsed.alias is not None:
            assert parsed.name is not None
            return self.sql.get(parsed.name, self.alias_sql.lookup(parsed.name, parsed.alias))
        if parsed.digest is None:
            assert parsed.name is not None
            return self.sql.get(parsed.name, parsed.version)
        prefix = parsed.digest
        if ":" not in prefix:
            found = [
                v
                for algorithm in ("blake3", "sha256")
                for v in self.sql.by_digest(f"{algorithm}:{prefix}", parsed.name)
            ]
        else:
            found = self.sql.by_digest(prefix, parsed.name)
        found = [v for v in found if digest_matches(prefix, v.digest)]
        if not found:
            where = f"of {parsed.name!r} " if parsed.name else ""
            raise NotFound(
                f"no version {where}has a manifest digest starting {prefix}",
                "see digests with `lablink data log NAME`",
            )
        if len({v.digest for v in found}) > 1:
            raise InvalidInput(f"digest prefix {prefix} is ambiguous", "give more hex digits")
        return found[0]  # the same content in several versions: the oldest one

    def read_manifest(self, digest: str) -> Manifest:
        """The manifest stored as ``digest``, verified against it.

        Raises:
            NotFound: no such blob.
            InvalidInput: the blob is not a valid manifest.
            Conflict: the stored bytes do not match the digest (corrupt).
        """
        return Manifest.decode(self._read_verified(digest, "manifest"))

    def read_profile(self, digest: str) -> dict[str, Any]:
        """The table profile stored as ``digest``, verified against it.

        Raises:
            NotFound: no such blob.
            InvalidInput: the blob is not a profile.
            Conflict: the stored bytes do not match the digest (corrupt).
        """
        return decode_profile(self._read_verified(digest, "profile", MAX_PROFILE_BYTES))

    def _read_verified(self, digest: str, what: str, max_bytes: int | None = None) -> bytes:
        try:
            if max_bytes is not None and self.blobs.size(check_digest(digest)) > max_bytes:
                raise InvalidInput(f"the {what} {digest} is over {max_bytes} bytes")
            data = self.blobs.read_bytes(check_digest(digest))
        except NotFound:
            raise NotFound(
                f"{what} {digest} is not uploaded", f"upload the {what} blob, then commit"
            ) from None
        if bytes_digest(data, digest.split(":", 1)[0]) != digest:
            raise Conflict(f"the stored {what} {digest} is corrupt")
        return data

    def profile(self, ref: str) -> tuple[DatasetVersion, dict[str, Any]]:
        """A version and the profile of its tables.

        Raises:
            NotFound: no such version, or it has no profile (no table files).
        """
        version = self.resolve(ref)
        if version.profile_digest is None:
            raise no_profile(version)
        return version, self.read_profile(version.profile_digest)

    def manifest(self, ref: str) -> tuple[DatasetVersion, Manifest]:
        """A version and its files."""
        version = self.resolve(ref)
        return version, self.read_manifest(version.digest)

    def list_datasets(self) -> list[DatasetSummary]:
        """Every dataset with its latest version."""
        return self.sql.summaries()

    def log(self, name: str) -> list[DatasetVersion]:
        """The versions of a dataset, newest first. Raises NotFound."""
        return self.sql.versions(check_name(name))

    def diff(self, old: str, new: str) -> dict[str, Any]:
        """Files added, removed and changed between two versions."""
        a, manifest_a = self.manifest(old)
        b, manifest_b = self.manifest(new)
        return {"old": a.ref, "new": b.ref, **diff(manifest_a, manifest_b)}

    def used_by(self, ref: str) -> dict[str, Any]:
        """Runs that read a version and versions made from it (lineage, downstream)."""
        version = self.resolve(ref)
        return {
            "version": version.to_dict(),
            "runs": self.sql.runs_using(version.ref, version.digest),
            "versions": [v.to_dict() for v in self.sql.children(version.dataset, version.version)],
        }


class VerifiedSizes:
    """Blob sizes checked against the store at recent commits, by manifest digest, with
    the listing checked then.

    A re-push's commit names mostly the blobs of the version before it; sizes taken
    from that version's check spare a ``stat`` per blob, and its listing spares
    checking the same paths and digests again. Bounded: the last few manifests, up to
    ``MAX_BLOBS`` sizes and listed files in all.
    """

    MAX_MANIFESTS = 4
    MAX_BLOBS = 2_000_000

    def __init__(self) -> None:
        self._kept: collections.OrderedDict[str, tuple[dict[str, int], Listing | None]] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()  # commits run in several request threads

    def get(self, manifest_digest: str) -> dict[str, int] | None:
        """The sizes checked when ``manifest_digest`` was committed, if still kept."""
        with self._lock:
            kept = self._kept.get(manifest_digest)
        return kept[0] if kept is not None else None

    def listing(self, manifest_digest: str) -> Listing | None:
        """The listing checked when ``manifest_digest`` was committed, if still kept."""
        with self._lock:
            kept = self._kept.get(manifest_digest)
        return kept[1] if kept is not None else None

    def put(
        self, manifest_digest: str, sizes: dict[str, int], listing: Listing | None = None
    ) -> None:
        """Keep the sizes (and listing) just checked for ``manifest_digest``, dropping
        the oldest."""
        if _entries((sizes, listing)) > self.MAX_BLOBS:
            return
        with self._lock:
            self._kept[manifest_digest] = (sizes, listing)
            self._kept.move_to_end(manifest_digest)
            while len(self._kept) > self.MAX_MANIFESTS or (
                sum(map(_entries, self._kept.values())) > self.MAX_BLOBS
            ):
                self._kept.popitem(last=False)


def _entries(kept: tuple[dict[str, int], Listing | None]) -> int:
    """What one kept check holds, in sizes and listed files (the memory bound)."""
    sizes, listing = kept
    return len(sizes) + (len(listing.paths) if listing is not None else 0)


def check_sizes(listing: Listing, stored: dict[str, int]) -> None:
    """Refuse a manifest whose sizes are not those of the stored blobs.

    A size is what ``data show`` reports and what a pull expects to write: a manifest
    that lies about it would commit, then every pull would write other sizes silently.

    Raises:
        Conflict: naming the first files whose size does not match.
    """
    blobs = listing.blobs
    # At C speed when each digest comes with one size: every (digest, size) stored.
    if len(blobs) == len(listing.digests) and blobs.items() <= stored.items():
        return
    wrong = [
        (path, size, digest)
        for path, size, digest in zip(
            listing.file_paths, listing.sizes, listing.digests, strict=True
        )
        if stored.get(digest, size) != size
    ]
    if not wrong:
        return
    path, size, digest = wrong[0]
    raise Conflict(
        f"{path}: the manifest says {size} bytes, but its blob {digest} "
        f"holds {stored[digest]} bytes"
        + (f" ({len(wrong) - 1} more files differ)" if len(wrong) > 1 else ""),
        "the manifest does not describe the uploaded files; hash the folder again "
        "(lablink data add does) and commit that manifest; nothing was created",
        mismatched=[
            {"path": p, "size": s, "stored": stored[d]} for p, s, d in wrong[:SHOWN_MISSING]
        ],
    )
