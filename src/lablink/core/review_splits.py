"""Which split each file (or row) of a version belongs to, for the review report.

Splits are given as path prefixes (``train=train/``), else inferred from top-level
folders named ``train``, ``val``, ``valid``, ``validation`` or ``test``, else read from
a ``split`` column of the tables. A file outside every split is checked for corruption
but takes no part in the leakage checks.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Mapping, Sequence

from lablink.errors import InvalidInput

SPLIT_FOLDERS = ("train", "val", "valid", "validation", "test")
SPLIT_COLUMN = "split"
NO_SPLIT = -1


@dataclasses.dataclass
class SplitPlan:
    """Split names (index = split id) and how files or rows map to them."""

    names: list[str]
    prefixes: list[tuple[str, int]]  # (prefix, split id), longest first
    source: str  # "options", "folders", "column" (rows name their split) or "none"
    column: str | None = None

    def of_path(self, path: str) -> int:
        """The split id of a file, or ``NO_SPLIT``."""
        for prefix, split in self.prefixes:
            if path == prefix.rstrip("/") or path.startswith(prefix):
                return split
        return NO_SPLIT

    def split_id(self, name: str) -> int:
        """The id of a split named by a table row (new names are added)."""
        try:
            return self.names.index(name)
        except ValueError:
            self.names.append(name)
            return len(self.names) - 1


def plan_splits(given: Mapping[str, str], paths: Sequence[str], ref: str) -> SplitPlan:
    """The split plan for a version whose files are ``paths`` (sorted).

    Raises:
        InvalidInput: a given prefix that no file of the version is under, or two
            splits with the same prefix.
    """
    if given:
        prefixes: list[tuple[str, int]] = []
        for split, (name, raw) in enumerate(given.items()):
            prefix = _prefix(raw)
            if not _has_prefix(paths, prefix):
                raise InvalidInput(
                    f"split {name!r}: no file of {ref} is at or under {raw!r}",
                    f"top-level folders of {ref}: {', '.join(_top_level(paths)) or '(none)'}; "
                    "give splits as name=prefix, e.g. train=train/,test=test/",
                )
            if any(p == prefix for p, _ in prefixes):
                raise InvalidInput(f"two splits have the prefix {raw!r}", "give each its own")
            prefixes.append((prefix, split))
        prefixes.sort(key=lambda item: -len(item[0]))
        return SplitPlan(list(given), prefixes, "options")
    found = [name for name in _top_level(paths) if name.lower() in SPLIT_FOLDERS]
    if found:
        found.sort(key=lambda name: SPLIT_FOLDERS.index(name.lower()))
        return SplitPlan(found, [(f"{n}/", i) for i, n in enumerate(found)], "folders")
    return SplitPlan([], [], "column", SPLIT_COLUMN)


def _prefix(raw: str) -> str:
    """A folder prefix ends with ``/``; a prefix naming one file is kept whole."""
    text = raw.strip().removeprefix("./").lstrip("/")
    if not text:
        raise InvalidInput(
            "a split prefix is empty", "give a folder of the version, e.g. train=train/"
        )
    return text if text.endswith("/") else text + "/"


def _has_prefix(paths: Sequence[str], prefix: str) -> bool:
    whole = prefix.rstrip("/")
    at = bisect.bisect_left(paths, whole)
    if at < len(paths) and paths[at] == whole:
        return True
    at = bisect.bisect_left(paths, prefix)
    return at < len(paths) and paths[at].startswith(prefix)


def _top_level(paths: Sequence[str]) -> list[str]:
    """Top-level folder names, in order (paths are sorted, so a scan of changes)."""
    names: list[str] = []
    for path in paths:
        head, sep, _ = path.partition("/")
        if sep and (not names or names[-1] != head):
            names.append(head)
    return list(dict.fromkeys(names))
