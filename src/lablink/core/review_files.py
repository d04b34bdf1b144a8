"""The review report's pass over a version's files: decode, blank, perceptual hash, text.

Files are read one at a time straight from the blob store (a local path when the store
is a folder, else one streamed temporary copy), so a version of a million files never
sits in memory; what is kept per image is its path, its split and 8 bytes of hash.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import json
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lablink.checks.images import ImageProbe, is_image, probe_image, probe_images
from lablink.core.datasets.manifest import FileEntry
from lablink.core.review_splits import NO_SPLIT, SplitPlan
from lablink.store.blobs import CHUNK, BlobStore

if TYPE_CHECKING:
    from lablink.checks.near_text import TextIndex

TEXT_SUFFIXES = frozenset({".txt", ".text", ".md"})
JSON_SUFFIXES = frozenset({".json"})
MAX_TEXT_BYTES = 1024**2  # a text file's first MiB is what is compared
MAX_JSON_BYTES = 64 * 1024**2  # larger JSON files are not parsed
PARALLEL_FROM = 2048  # images from which a pool of processes decodes them
BATCH = 256  # images per task sent to a worker


@contextlib.contextmanager
def local_copy(blobs: BlobStore, digest: str) -> Iterator[Path]:
    """A path to the blob's bytes: the stored file itself, or a temporary copy."""
    path = blobs.local_path(digest)
    if path is not None:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="lablink-review-") as folder:
        target = Path(folder) / "blob"
        with blobs.open(digest) as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
        yield target


class FileScan:
    """Accumulates the file checks' findings over the version's files."""

    def __init__(
        self,
        plan: SplitPlan,
        blobs: BlobStore,
        texts: TextIndex | None,
        max_texts: int,
        *,
        workers: int | None = None,
        parallel_from: int = PARALLEL_FROM,
    ) -> None:
        self.plan, self.blobs = plan, blobs
        self.texts, self.max_texts = texts, max_texts
        # Images are decoded by a pool of processes once there are enough of them to
        # repay its start (a second or so), when the blobs are local files.
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.parallel_from = parallel_from
        self._pending: list[FileEntry] = []
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.errors: list[tuple[str, str]] = []
        self.empty: list[str] = []
        self.blank: list[str] = []
        self.images = 0
        self.image_paths: list[str] = []
        self.image_splits: list[int] = []
        self.image_hashes: list[int] = []
        self.checked = 0

    def scan(self, entry: FileEntry) -> None:
        """Check one file that is not a table."""
        suffix = Path(entry.path).suffix.lower()
        if entry.size == 0:
            self.empty.append(entry.path)
            return
        if is_image(entry.path):
            self._image(entry)
        elif suffix in TEXT_SUFFIXES:
            self._text(entry)
        elif suffix in JSON_SUFFIXES and entry.size <= MAX_JSON_BYTES:
            self._json(entry)

    def _image(self, entry: FileEntry) -> None:
        self.images += 1
        self.checked += 1
        if self.workers > 1 and self.blobs.local_path(entry.digest) is not None:
            self._pending.append(entry)
            if len(self._pending) >= max(self.parallel_from, BATCH * self.workers):
                self._flush()
            return
        with local_copy(self.blobs, entry.digest) as path:
            self._record(entry, probe_image(path))

    def finish(self) -> None:
        """Probe the images still pending, and stop the pool."""
        self._flush()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def close(self) -> None:
        """Stop the pool without waiting for work not started (after an error)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        paths = [str(self.blobs.local_path(e.digest)) for e in pending]
        if self._pool is None and len(pending) < self.parallel_from:
            probes: Iterable[ImageProbe] = map(probe_image, paths)
        else:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")  # no fork of a threaded server
                self._pool = concurrent.futures.ProcessPoolExecutor(self.workers, context)
            batches = [paths[i : i + BATCH] for i in range(0, len(paths), BATCH)]
            probes = itertools.chain.from_iterable(self._pool.map(probe_images, batches))
        for entry, probe in zip(pending, probes, strict=True):
            self._record(entry, probe)

    def _record(self, entry: FileEntry, probe: ImageProbe) -> None:
        if probe.error is not None:
            self.errors.append((entry.path, probe.error))
            return
        if probe.blank:
            self.blank.append(entry.path)
        split = self.plan.of_path(entry.path)
        if probe.phash is not None and split != NO_SPLIT:
            self.image_paths.append(entry.path)
            self.image_splits.append(split)
            self.image_hashes.append(probe.phash)

    def _text(self, entry: FileEntry) -> None:
        self.checked += 1
        with self.blobs.open(entry.digest) as handle:
            data = handle.read(MAX_TEXT_BYTES)
        try:
            # A multi-byte character cut at the limit is not a fault of the file
            text = data.decode("utf-8", errors="strict" if entry.size <= len(data) else "ignore")
        except UnicodeDecodeError as exc:
            self.errors.append((entry.path, f"not UTF-8 text: {exc.reason} at byte {exc.start}"))
            return
        if not text.strip():
            self.empty.append(entry.path)
            return
        split = self.plan.of_path(entry.path)
        if self.texts is not None and split != NO_SPLIT and len(self.texts) < self.max_texts:
            self.texts.add(text, split, (entry.path, None, None))

    def _json(self, entry: FileEntry) -> None:
        self.checked += 1
        with local_copy(self.blobs, entry.digest) as path:
            try:
                with open(path, "rb") as handle:
                    json.load(handle)
            except (ValueError, UnicodeDecodeError) as exc:
                self.errors.append((entry.path, f"not JSON: {exc}".splitlines()[0]))

    def image_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Perceptual hashes (uint64) and split ids of the decoded images in splits."""
        return (
            np.array(self.image_hashes, dtype=np.uint64),
            np.array(self.image_splits, dtype=np.int64),
        )
