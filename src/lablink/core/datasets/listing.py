"""What a commit needs of a manifest, read in columns instead of an entry per file.

A commit reads the manifest's paths, sizes and digests and checks them. Building a
``FileEntry`` per file and walking the entries again and again cost a commit of 20,000
files a tenth of a second; here the decoded JSON is taken apart column by column
(``map`` with ``itemgetter``, C speed) and the columns get the checks
``Manifest.validate`` runs on the same lists. Anything but plain file entries in a list
of dicts (links, odd types, a bad entry) goes to ``Manifest.decode``, which accepts
exactly what it always did and names what it refuses: a listing is accepted only when
``Manifest.decode`` would accept the manifest.

A re-push mostly changes contents, not paths: paths equal to those of a manifest
checked before are not checked again, nor are digests it named.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Collection

from lablink.core.datasets.manifest import (
    FORMAT,
    Manifest,
    folder_clash,
    loads,
    paths_valid,
    plain_valid,
)
from lablink.store.blobs import ALGORITHMS

_PATH = operator.itemgetter("path")
_SIZE = operator.itemgetter("size")
_DIGEST = operator.itemgetter("digest")
_HAS_LINK = operator.methodcaller("__contains__", "link")


@dataclasses.dataclass(frozen=True)
class Listing:
    """A valid manifest's columns: every entry's path; each plain file's path, size and
    digest (links have neither size nor blob)."""

    algorithm: str
    paths: list[str]
    file_paths: list[str]
    sizes: list[int]
    digests: list[str]

    @functools.cached_property
    def blobs(self) -> dict[str, int]:
        """Each distinct digest once, with its size (``Manifest.blobs``)."""
        return dict(zip(self.digests, self.sizes, strict=True))

    @property
    def size(self) -> int:
        """Total bytes of the files."""
        return sum(self.sizes)

    @classmethod
    def of(cls, manifest: Manifest) -> Listing:
        """The columns of a manifest already decoded."""
        plain = [f for f in manifest.files if f.link is None]
        return cls(
            manifest.algorithm,
            [f.path for f in manifest.files],
            [f.path for f in plain],
            [f.size for f in plain],
            [f.digest for f in plain],
        )


def read_listing(data: bytes, checked: Listing | None = None) -> Listing:
    """The columns of the manifest ``data``, checked as ``Manifest.decode`` checks it.

    ``checked`` is a listing checked before (the dataset's latest version): equal paths
    and the digests it names need no second look.

    Raises:
        InvalidInput: not a manifest, or a bad entry in it (``Manifest.decode``'s errors).
    """
    try:
        listing = _plain_listing(data, checked)
    except (ValueError, KeyError, TypeError):
        listing = None
    return listing if listing is not None else Listing.of(Manifest.decode(data))


def _plain_listing(data: bytes, checked: Listing | None) -> Listing | None:
    """The listing of a manifest of plain files that passes every check, else None."""
    body = loads(data)
    if type(body) is not dict:
        return None
    algorithm, files = body.get("algorithm"), body.get("files")
    if (
        algorithm not in ALGORITHMS
        or body.get("format") != FORMAT
        or type(files) is not list
        or not set(map(type, files)) <= {dict}
        or any(map(_HAS_LINK, files))
    ):
        return None
    paths: list[str] = list(map(_PATH, files))
    sizes: list[int] = list(map(_SIZE, files))
    digests: list[str] = list(map(_DIGEST, files))
    same = checked if checked is not None and checked.algorithm == algorithm else None
    fresh_paths = same is None or paths != same.paths
    if fresh_paths and (not paths_valid(paths) or folder_clash(paths)):
        return None
    known: Collection[str] = same.blobs if same is not None else ()
    if not plain_valid(str(algorithm), digests, sizes, known):
        return None
    return Listing(str(algorithm), paths, paths, sizes, digests)
