"""Manifests: the immutable list of a version's files, and diffs between two of them.

A manifest is canonical JSON (sorted keys, no spaces, files sorted by path)::

    {"algorithm":"blake3","files":[{"digest":"blake3:…","path":"sub/f0.bin","size":1000}],
     "format":1}

A symlink added with ``--no-follow-symlinks`` is stored as a link, as DVC does:
``{"link": "../shared/x.csv", "path": "sub/x.csv"}``, with no size, digest or blob; a
pull recreates it. Manifests without links encode exactly as before.

It is stored as a blob itself, so its digest names the version's content: two versions
with equal files have equal digests, and a client verifies the manifest it reads like
any other blob. Paths are relative POSIX paths; nothing may climb out of the folder a
version is materialised into, which is checked on the server at commit and again on
every client before it writes.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import itertools
import json
import operator
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from lablink.errors import InvalidInput
from lablink.store.blobs import ALGORITHMS, bytes_digest

FORMAT = 1
MANIFEST_ALGORITHM = "blake3"
MAX_PATH = 4096


class FileEntry(NamedTuple):
    """One file of a version: where it goes, how big it is, what it hashes to.

    A symlink stored as a link has ``link`` (its target, as ``readlink`` gave it), size
    0 and no digest. A named tuple: a push builds, and a pull reads, one per file, and
    a tuple is made in a third of a frozen dataclass's time.
    """

    path: str
    size: int
    digest: str
    link: str | None = None

    @classmethod
    def symlink(cls, path: str, target: str) -> FileEntry:
        """An entry for a symlink stored as a link."""
        return cls(path, 0, "", target)

    def to_dict(self) -> dict[str, Any]:
        """``{"path", "size", "digest"}``, or ``{"path", "link"}`` for a link."""
        if self.link is not None:
            return {"path": self.path, "link": self.link}
        return {"path": self.path, "size": self.size, "digest": self.digest}


class Checked(NamedTuple):
    """What a valid manifest vouches for: its algorithm, its paths in order (links'
    too) and the digests of its files. A manifest with the same paths needs no second
    look at them, nor at those digests (a re-push mostly changes contents)."""

    algorithm: str
    paths: list[str]
    digests: Collection[str]


@dataclasses.dataclass(frozen=True)
class Manifest:
    """The files of a version, sorted by path, all hashed with ``algorithm``."""

    algorithm: str
    files: tuple[FileEntry, ...]

    @classmethod
    def build(
        cls, algorithm: str, entries: Iterable[FileEntry], checked: Checked | None = None
    ) -> Manifest:
        """A validated manifest from entries in any order (what ``checked``, another
        manifest's, vouches for is not checked again)."""
        manifest = cls(algorithm, tuple(sorted(entries, key=operator.attrgetter("path"))))
        manifest.validate(checked)
        return manifest

    @property
    def size(self) -> int:
        """Total bytes of the files."""
        return sum(f.size for f in self.files)

    def blobs(self) -> dict[str, int]:
        """Each distinct digest once, with its size (equal files share one blob; links
        have none)."""
        return {f.digest: f.size for f in self.files if f.link is None}

    def select(self, patterns: Sequence[str]) -> Manifest:
        """The files whose path matches one of ``patterns``.

        A pattern is a glob on the whole relative path (``*`` also crosses ``/``, as in
        ``fnmatch``: ``train/*.png``, ``*.csv``) or a folder (``train`` or ``train/``),
        which takes everything under it.

        Raises:
            InvalidInput: a pattern matches no file (naming it), or there is none.
        """
        if not patterns:
            raise InvalidInput("no pattern to select files with", "give one, e.g. 'train/*.png'")
        chosen: list[FileEntry] = []
        used: set[str] = set()
        for entry in self.files:
            hits = [p for p in patterns if path_matches(entry.path, p)]
            if hits:
                chosen.append(entry)
                used.update(hits)
        unused = [p for p in patterns if p not in used]
        if unused:
            raise InvalidInput(
                f"no file matches {unused[0]!r}",
                "patterns are globs on the whole path (train/*.png, *.csv) or folders "
                "(train/); list the files with `lablink data show REF --files`",
            )
        return Manifest(self.algorithm, tuple(chosen))

    @functools.cached_property
    def _encoded(self) -> bytes:
        body = {
            "algorithm": self.algorithm,
            "files": [f.to_dict() for f in self.files],
            "format": FORMAT,
        }
        import orjson  # here: only encoding or reading a manifest needs it

        # orjson writes the bytes json.dumps(sort_keys=True, separators=(",", ":"),
        # ensure_ascii=False) wrote, escapes included, five times faster (the digest,
        # hence every version's id, depends on them: a test compares the two); json
        # stays for what orjson refuses (sizes of 2**64 and over).
        try:
            return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return json.dumps(
                body, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()

    def encode(self) -> bytes:
        """Canonical JSON bytes: equal manifests encode to equal bytes."""
        return self._encoded

    def digest(self) -> str:
        """The manifest blob's id."""
        return bytes_digest(self.encode(), MANIFEST_ALGORITHM)

    @classmethod
    def decode(cls, data: bytes) -> Manifest:
        """Parse and validate manifest bytes.

        Raises:
            InvalidInput: not a manifest, or a bad path, size or digest in it.
        """
        try:
            body = loads(data)
            files = body["files"]
            entries = _entries(files)
            manifest = cls(body["algorithm"], entries)
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"not a lablink manifest: {exc}") from exc
        if body.get("format") != FORMAT:
            raise InvalidInput(f"unknown manifest format {body.get('format')!r}")
        manifest.validate()
        return manifest

    def validate(self, checked: Checked | None = None) -> None:
        """Check algorithm, paths, sizes and digests (paths equal to ``checked``'s and
        digests it names, for the same algorithm, are taken as checked).

        Raises:
            InvalidInput: naming the first bad entry.
        """
        if self.algorithm not in ALGORITHMS:
            raise InvalidInput(f"unknown hash algorithm {self.algorithm!r}")
        if checked is not None and checked.algorithm != self.algorithm:
            checked = None
        paths = [f.path for f in self.files]
        known_paths = checked is not None and paths == checked.paths
        known_digests = checked.digests if checked is not None else ()
        valid = _all_valid(
            self.algorithm,
            self.files,
            paths=paths,
            known_paths=known_paths,
            known_digests=known_digests,
        )
        if not valid:
            self._find_bad_entry()  # raises, naming the first bad entry
        clash = set() if known_paths else folder_clash(paths)
        if clash:
            raise InvalidInput(f"{min(clash)!r} is both a file and a folder")

    def _find_bad_entry(self) -> None:
        """Check entry by entry, raising for the first bad one (the slow path)."""
        digest = re.compile(rf"{self.algorithm}:[0-9a-f]{{64}}").fullmatch
        previous = ""
        for entry in self.files:
            path = entry.path
            if not isinstance(path, str) or _BAD_PATH.search(path) or not path:
                check_path(path)  # raises, naming the problem
            if entry.link is not None:
                _check_link(path, entry.link)
            elif isinstance(entry.size, bool) or not isinstance(entry.size, int) or entry.size < 0:
                raise InvalidInput(f"{path}: size {entry.size!r} is not a byte count")
            elif not isinstance(entry.digest, str) or not digest(entry.digest):
                raise InvalidInput(f"{path}: {entry.digest!r} is not a {self.algorithm} id")
            if path <= previous:
                raise InvalidInput(f"{path}: files must be unique and sorted by path")
            previous = path


def _all_valid(
    algorithm: str,
    files: Sequence[FileEntry],
    *,
    paths: list[str] | None = None,
    known_paths: bool = False,
    known_digests: Collection[str] = (),
) -> bool:
    """Whether every entry of ``files`` is valid, checked for the whole list at once (a
    manifest of 20,000 files in a few ms: every push builds one and every commit
    decodes one). ``paths``: the files' paths, when already listed; ``known_paths``:
    they need no check; ``known_digests`` need none either.

    False means some check failed, or the entries are not all of the expected types:
    ``Manifest._find_bad_entry`` then finds which and names it.
    """
    if not files:
        return True
    plain = [f for f in files if f.link is None]
    links = [f.link for f in files if f.link is not None]
    digests, sizes = [f.digest for f in plain], [f.size for f in plain]
    return (
        (known_paths or paths_valid([f.path for f in files] if paths is None else paths))
        and plain_valid(algorithm, digests, sizes, known_digests)
        and links_valid(links)
    )


def paths_valid(paths: list[Any]) -> bool:
    """Whether ``paths`` are all valid relative paths, sorted, none twice (the checks
    of ``check_path`` and ``Manifest.validate``, on the joined text at C speed)."""
    if not paths:
        return True
    try:
        joined = "\n".join(paths)
    except TypeError:
        return False  # a path that is not text
    # One line per path: a path holding a newline (a control character) is refused.
    if joined.count("\n") != len(paths) - 1 or not _paths_ok(joined, paths):
        return False
    # sorted, and no path twice
    return all(map(operator.lt, paths, itertools.islice(paths, 1, None)))


def plain_valid(
    algorithm: str, digests: list[Any], sizes: list[Any], known: Collection[str] = ()
) -> bool:
    """Whether ``digests`` are all ``algorithm`` ids and ``sizes`` all byte counts.

    ``known`` holds ids already checked to be ``algorithm`` ids (those of a verified
    manifest of the same algorithm): only the others are matched against the pattern.
    """
    if known and digests:
        try:
            digests = list(set(digests).difference(known))
        except TypeError:
            return False  # an unhashable digest: not text
    try:
        joined = "\n".join(digests)
    except TypeError:
        return False  # a digest that is not text
    if digests and not _digest_lines(algorithm).fullmatch(joined):
        return False
    # (type(True) is bool, not int: a boolean is no size)
    return set(map(type, sizes)) <= {int} and (not sizes or min(sizes) >= 0)


def links_valid(links: list[Any]) -> bool:
    """Whether every symlink target is text a file system accepts (``_check_link``)."""
    if not links:
        return True
    try:
        joined = "\n".join(links)
    except TypeError:
        return False
    return joined.count("\n") == len(links) - 1 and not _BAD_LINKS.search(joined)


def folder_clash(paths: list[str]) -> set[str]:
    """The paths that are also the folder of another path (none in a valid manifest)."""
    # Every folder holding a file, each walked up once.
    folders: set[str] = set()
    for parent in {path.rpartition("/")[0] for path in paths}:
        while parent and parent not in folders:
            folders.add(parent)
            parent = parent.rpartition("/")[0]
    return set(paths) & folders


# Anything check_path would refuse: a leading or trailing "/", "//", "." or ".." parts, a
# backslash or a control character, or a path over MAX_PATH characters.
_BAD_PATH = re.compile(rf"^/|/$|//|(^|/)\.\.?(/|$)|[\x00-\x1f\\]|^.{{{MAX_PATH + 1},}}", re.DOTALL)


def _paths_ok(joined: str, paths: list[str]) -> bool:
    """Whether no path (one a line of ``joined``) is one ``_BAD_PATH`` refuses.

    Substring tests and a character class scan the text at C speed, where one regex
    with all the alternatives costs 0.5 µs a character.
    """
    if not joined or _BAD_CHARACTER.search(joined):
        return False
    for bad in ("//", "\n/", "/\n", "\n\n"):
        if bad in joined:
            return False
    if joined[0] in "/\n" or joined[-1] in "/\n" or max(map(len, paths)) > MAX_PATH:
        return False
    # "." and ".." parts: only paths with a part starting with a dot need the regex
    if joined[0] == "." or "/." in joined or "\n." in joined:
        return not _DOT_PART.search(joined)
    return True


@functools.cache
def _digest_lines(algorithm: str) -> re.Pattern[str]:
    """Digests of ``algorithm``, one a line (no newline after the last)."""
    one = rf"{algorithm}:[0-9a-f]{{64}}"
    return re.compile(rf"(?:{one}\n)*{one}")


# Over paths joined with newlines: a character no path may hold (besides the newline),
# and a "." or ".." part.
_BAD_CHARACTER = re.compile(r"[\x00-\x09\x0b-\x1f\\]")
_DOT_PART = re.compile(r"(?m)(^|/)\.\.?(/|$)")
# _check_link over targets joined with newlines: an empty or too long one, or a control
# character.
_BAD_LINKS = re.compile(rf"(?m)^$|[\x00-\x09\x0b-\x1f]|^[^\n]{{{MAX_PATH + 1},}}")


def loads(data: bytes) -> Any:
    """Parsed JSON: orjson's parser (several times faster), or the standard one for
    what orjson refuses and it takes (NaN, integers over 64 bits): a manifest parses
    as it always did.

    Raises:
        ValueError: not JSON.
    """
    import orjson  # here: only reading a manifest needs it

    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


_PATH, _SIZE, _DIGEST = map(operator.itemgetter, ("path", "size", "digest"))
_HAS_LINK = operator.methodcaller("__contains__", "link")


def _entries(files: list[Any]) -> tuple[FileEntry, ...]:
    """The entries of a manifest's ``files``: column by column at C speed when all are
    plain files (a pull of a large dataset decodes one entry per file), else one by one.

    Raises:
        ValueError, KeyError, TypeError: not a list of entries.
    """
    if type(files) is list and set(map(type, files)) <= {dict} and not any(map(_HAS_LINK, files)):
        return tuple(map(FileEntry, map(_PATH, files), map(_SIZE, files), map(_DIGEST, files)))
    return tuple(_entry(f) for f in files)


def _entry(item: dict[str, Any]) -> FileEntry:
    if "link" in item:
        if set(item) != {"path", "link"}:
            raise ValueError(f"a link entry has a path and a link only: {sorted(item)}")
        return FileEntry.symlink(item["path"], item["link"])
    return FileEntry(item["path"], item["size"], item["digest"])


def _check_link(path: str, target: object) -> None:
    """A symlink's target: text a file system accepts (no NUL or control characters)."""
    if (
        not isinstance(target, str)
        or not target
        or len(target) > MAX_PATH
        or any(ord(ch) < 32 for ch in target)
    ):
        raise InvalidInput(f"{path}: {str(target)[:80]!r} is not a symlink target")


def check_path(path: object) -> str:
    """A relative POSIX path that stays inside its folder.

    Raises:
        InvalidInput: absolute, empty, ``.``/``..`` parts, backslashes or control characters.
    """
    if not isinstance(path, str) or not path or len(path) > MAX_PATH:
        raise InvalidInput(f"invalid file path {str(path)[:80]!r}")
    if path.startswith("/") or "\\" in path or any(ord(ch) < 32 for ch in path):
        raise InvalidInput(f"invalid file path {path[:80]!r}", "paths are relative, with '/'")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise InvalidInput(f"invalid file path {path[:80]!r}", "no empty, '.' or '..' parts")
    return path


def diff(old: Manifest, new: Manifest) -> dict[str, list[dict[str, Any]]]:
    """Files added, removed and changed (same path, other content) from old to new."""
    before = {f.path: f for f in old.files}
    after = {f.path: f for f in new.files}
    changed = [
        {"path": p, "old": before[p].to_dict(), "new": after[p].to_dict()}
        for p in sorted(before.keys() & after.keys())
        if (before[p].digest, before[p].link) != (after[p].digest, after[p].link)
    ]
    return {
        "added": [after[p].to_dict() for p in sorted(after.keys() - before.keys())],
        "removed": [before[p].to_dict() for p in sorted(before.keys() - after.keys())],
        "changed": changed,
    }


def chunked(items: list[str], size: int) -> Iterator[list[str]]:
    """``items`` in lists of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def path_matches(path: str, pattern: str) -> bool:
    """Whether a relative path matches a glob on the whole path (``*`` crosses ``/``)
    or lies under a folder (``train`` or ``train/``)."""
    folder = pattern.rstrip("/")
    return fnmatch.fnmatchcase(path, pattern) or (bool(folder) and path.startswith(folder + "/"))
