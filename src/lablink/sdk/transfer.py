"""Push a folder as a dataset version; pull a version into a folder through the cache.

Push: list and hash the files (only changed ones, thanks to the hash cache), ask the
remote which blobs it lacks in one request, upload only those in parallel, upload the
manifest, commit. The commit is refused while a blob is missing, so an interrupted
push leaves no version behind, and running it again uploads only what did not arrive.

A re-push asks only about the blobs the dataset's latest version does not name: that
version's manifest is in the client cache (a push and a pull leave it there), and
every blob a version names was on the remote when it was committed. Should one be
gone since, the commit is refused and the push asks about every blob and commits again.
Nor does it check again, in the manifest it builds, the paths and digests that manifest
holds (the remote checks the whole manifest at commit in any case).

Pull: resolve the reference, read the manifest, fetch the blobs the cache lacks from
the nearest endpoint, then hardlink the files into place. An interrupted pull keeps
every verified blob, so running it again fetches only the rest.
"""

from __future__ import annotations

import dataclasses
import logging
import operator
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from lablink.checks.tablefiles import FORMATS, table_format
from lablink.core.datasets.manifest import Checked, loads, path_matches
from lablink.core.datasets.profiles import encode_profile
from lablink.core.datasets.refs import check_name, parse_ref
from lablink.errors import Conflict, InvalidInput, LablinkError, NotFound
from lablink.models import DatasetVersion
from lablink.sdk.cache import ClientCache, Materialised, make_folder
from lablink.sdk.data_tables import TableCheck
from lablink.sdk.fetch import FetchReport
from lablink.sdk.remote import DataRemote
from lablink.sdk.scan import (
    ALGORITHM,
    HashCache,
    Links,
    PulledFiles,
    exclude_files,
    list_files,
    scan,
)
from lablink.store.blobcache import BlobCache
from lablink.store.blobs import bytes_digest

Advance = Callable[[int], None]
logger = logging.getLogger("lablink.sdk.data")
_PATH, _DIGEST = operator.itemgetter("path"), operator.itemgetter("digest")
_HAS_LINK = operator.methodcaller("__contains__", "link")


class Progress(Protocol):
    """Where transfers report progress (the CLI draws Rich bars)."""

    def stage(self, label: str, total: int) -> Advance:
        """Start a stage of ``total`` bytes; returns the function that advances it."""


class _Silent:
    def stage(self, label: str, total: int) -> Advance:
        return lambda n: None


@dataclasses.dataclass
class PushResult:
    """What ``push`` did."""

    version: DatasetVersion
    created: bool
    files: int
    hashed: int
    uploaded_blobs: int
    uploaded_bytes: int
    seconds: float
    tables: TableCheck | None = None  # what ``check_tables`` found, when it ran
    # followed symlinks whose content lies outside the folder: (relative path, real path)
    outside_symlinks: list[tuple[str, str]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class PullResult:
    """What ``pull`` did."""

    version: DatasetVersion
    dest: Path
    files: int
    fetch: FetchReport
    materialised: Materialised
    seconds: float


TableHook = Callable[[list[Path], bool], TableCheck]


def push(
    remote: DataRemote,
    hash_cache: Path,
    path: Path,
    name: str,
    *,
    message: str | None = None,
    parents: Sequence[str] = (),
    source_run: str | None = None,
    source_command: str | None = None,
    version: int | None = None,
    progress: Progress | None = None,
    check_tables: TableHook | None = None,
    exclude: Sequence[str] = (),
    follow_symlinks: bool = True,
    cache: BlobCache | None = None,
) -> PushResult:
    """Make the file or folder at ``path`` the next version of ``name``.

    ``cache`` (the client cache) holds the manifests of versions pushed or pulled
    before: with the latest version's there, only the blobs it does not name are asked
    about, and the new manifest is left there for the next push.

    ``check_tables(tables, unchanged)`` runs once the files are hashed and before any
    upload, with the version's table files and whether they are exactly the latest
    version's: it may refuse the version (``ValidationFailed``), and the profile and
    schema it returns are stored with the version (``sdk/data_tables.py``).

    ``exclude`` leaves out the files matching its globs or folders (``.git/``,
    ``*.tmp``), as if they were not there.

    Symlinks are followed: the files they point to are uploaded, even from outside
    ``path`` (each such link is logged as a warning and listed in
    ``outside_symlinks``). With ``follow_symlinks=False`` links are stored as links
    (their target text, no content) and a pull recreates them.

    Raises:
        InvalidInput: a bad name, parent reference or path (checked before any upload).
        NotFound: a parent version does not exist.
        AlreadyExists: ``version`` is taken.
    """
    started = time.perf_counter()
    progress = progress or _Silent()
    check_name(name)
    for parent in parents:
        remote.resolve(str(parse_ref(parent)))
    links = Links()
    listed = list_files(path, follow_symlinks=follow_symlinks, links=links)
    kept = {r: t for r, t in links.kept.items() if not any(path_matches(r, p) for p in exclude)}
    files = exclude_files(listed, exclude, path) if listed or not kept else []
    if not files and not kept:
        raise InvalidInput(f"every file of {path} is excluded", "check the --exclude patterns")
    chosen = {f[0] for f in files} if links.outside else set()
    outside = [(r, real) for r, real in links.outside if r in chosen]
    for rel, real in outside:
        logger.warning(
            "lablink: %s is a symlink to %s, outside %s; adding its content", rel, real, path
        )
    wanted = check_tables is not None or cache is not None
    latest = _latest_digest(remote, name) if wanted else None
    prior = _cached_manifest(cache, latest) if cache is not None and latest else None
    hashes = HashCache.usable(hash_cache)
    try:
        total = sum(st[0] for _, _, st in files)
        stage = progress.stage("hashing", total)
        # an excluded file's row stays while it exists
        present = list(map(operator.itemgetter(1), listed))
        manifest, sources, hashed = scan(
            path, files, hashes, stage, links=kept, listed=present, checked=prior
        )
    finally:
        if hashes is not None:
            hashes.close()
    blobs = manifest.blobs()
    manifest_digest = manifest.digest()
    small = {manifest_digest: manifest.encode()}
    tables = None
    profile_digest = None
    if check_tables is not None:
        tables = check_tables(_table_files(path, files), latest == manifest_digest)
        if tables.profile is not None:
            profile_bytes = encode_profile(tables.profile)
            profile_digest = bytes_digest(profile_bytes, "blake3")
            small[profile_digest] = profile_bytes
    # Every blob the latest version names, and its manifest, was on the remote when it
    # was committed.
    known = {*prior.digests, latest} if prior is not None and latest else set()
    if latest == manifest_digest:
        known.add(manifest_digest)  # the latest version again: its manifest is stored
    todo, sent = _send_missing(remote, blobs, small, sources, known, progress)

    def commit() -> tuple[DatasetVersion, bool]:
        return remote.commit(
            name,
            manifest_digest,
            message,
            parents,
            source_run,
            source_command,
            version,
            profile_digest=profile_digest,
            schema_ref=tables.schema_ref if tables is not None else None,
        )

    try:
        made, created = commit()
    except Conflict as exc:
        if not known or "missing_count" not in exc.details:
            raise
        # A blob the latest version names is gone from the remote: ask about them all.
        missing = exc.details["missing_count"]
        logger.info("lablink: %s blobs were not on the remote; sending them again", missing)
        more, more_sent = _send_missing(remote, blobs, small, sources, set(), progress)
        todo, sent = todo | more, sent + more_sent
        made, created = commit()
    if cache is not None:
        _remember_manifest(cache, manifest_digest, small[manifest_digest])
    seconds = time.perf_counter() - started
    return PushResult(
        made, created, len(manifest.files), hashed, len(todo), sent, seconds, tables, outside
    )


def _table_files(path: Path, files: list[tuple[str, str, tuple[int, int, int]]]) -> list[Path]:
    """The table files among ``files`` (listed under ``path``, or ``path`` itself)."""
    if not path.is_dir():
        return [path] if table_format(path) else []
    # A suffix test on the text first: a Path for each of 20,000 files costs 0.1 s.
    suffixes = tuple(FORMATS)
    return [
        found
        for rel, _, _ in files
        if rel.lower().endswith(suffixes) and table_format(found := path / rel)
    ]


def _send_missing(
    remote: DataRemote,
    blobs: dict[str, int],
    small: dict[str, bytes],
    sources: dict[str, str],
    known: set[str],
    progress: Progress,
) -> tuple[dict[str, int], int]:
    """Upload the blobs of ``blobs`` and ``small`` that the remote lacks, asking only
    about those not in ``known``; returns the file blobs uploaded and the bytes sent."""
    ask = [d for d in [*blobs, *small] if d not in known]
    missing = set(remote.missing(ask)) if ask else set()
    todo = {d: size for d, size in blobs.items() if d in missing}
    sent = remote.upload(todo, sources, progress.stage("uploading", sum(todo.values())))
    for digest, data in small.items():
        if digest in missing:
            remote.put_blob(data)
    return todo, sent


def _cached_manifest(cache: BlobCache, digest: str) -> Checked | None:
    """What the manifest ``digest`` holds, when the client cache has it: its paths and
    the blobs it names; else None (then every blob is asked about, every path checked).

    It came from this client's own push or a verified pull; a commit checks everything
    again on the remote in any case.
    """
    if not cache.has(digest):
        return None
    try:
        body = loads(cache.path(digest).read_bytes())
        files = body["files"]
        paths = list(map(_PATH, files))
        if any(map(_HAS_LINK, files)):
            named = {f["digest"] for f in files if "link" not in f}
        else:
            named = set(map(_DIGEST, files))
        return Checked(str(body["algorithm"]), paths, named)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # evicted meanwhile, or not a manifest: ask about everything


def _remember_manifest(cache: BlobCache, digest: str, data: bytes) -> None:
    """Keep the manifest just committed in the client cache, for the next push."""
    if cache.has(digest):
        cache.touch([digest])
        return
    try:
        cache.put(digest, [data])
    except LablinkError as exc:  # a full disk must not fail a push that succeeded
        logger.warning("lablink: could not cache the manifest %s: %s", digest, exc)


def _latest_digest(remote: DataRemote, name: str) -> str | None:
    try:
        return remote.resolve(name).digest
    except NotFound:
        return None


def pull(
    remote: DataRemote,
    cache: ClientCache,
    ref: str,
    dest: Path,
    *,
    link: bool = True,
    include: Sequence[str] = (),
    progress: Progress | None = None,
    hash_cache: Path | None = None,
) -> PullResult:
    """Materialise version ``ref`` under ``dest`` (hardlinks from the cache).

    With ``include`` (globs on the relative path, or folders), only the files that
    match are fetched and placed (``Manifest.select``). The files placed as hardlinks
    go into the ``hash_cache`` with their digests, so a push of ``dest`` after a few
    changes hashes only those.

    Raises:
        InvalidInput: a bad reference; ``dest`` is a file or cannot be created; an
            ``include`` pattern that matches no file.
        NotFound: no such dataset or version.
        ServiceUnavailable: no endpoint could deliver some files (the rest is cached).
        InsufficientStorage: the cache's disk is full.
    """
    started = time.perf_counter()
    progress = progress or _Silent()
    version = remote.resolve(ref)
    report = remote.fetch(cache, {version.digest: 0}, None)  # the manifest, verified
    manifest = remote.read_manifest(cache, version)
    if include:
        manifest = manifest.select(include)
    make_folder(dest)  # before downloading the files: a bad target fails at once
    blobs = manifest.blobs()
    todo = {d: s for d, s in blobs.items() if not cache.has(d)}
    advance = progress.stage("downloading", sum(todo.values()))
    report.merge(remote.fetch(cache, todo, advance))
    advance = progress.stage("placing files", manifest.size)
    recorder = None
    if hash_cache is not None and link and manifest.algorithm == ALGORITHM:
        recorder = PulledFiles.open(hash_cache, os.path.realpath(dest))
    try:
        placed = cache.materialise(
            manifest,
            dest,
            link=link,
            advance=advance,
            on_linked=recorder.add if recorder is not None else None,
        )
    finally:
        if recorder is not None:
            recorder.close()
    cache.touch([*blobs, version.digest])
    cache.evict(protect=[*blobs, version.digest])
    seconds = time.perf_counter() - started
    return PullResult(version, dest, len(manifest.files), report, placed, seconds)
