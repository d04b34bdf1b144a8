"""The whole-list manifest checks agree with the entry-by-entry ones (issue 18).

``Manifest.validate`` first checks all entries at once (joined text, C-speed scans)
and only when that fails walks them one by one to name the bad entry: the fast check
must never pass a manifest the slow one refuses (that would loosen validation), and
should refuse only what the slow one refuses.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lablink.core.datasets.manifest import MAX_PATH, FileEntry, Manifest, _all_valid
from lablink.errors import InvalidInput

GOOD = "blake3:" + "ab" * 32
PATH_CHARS = st.sampled_from(["a", "b", ".", "/", "-", " ", "\\", "\n", "\x00", "\x1f", "é"])
PATHS = st.text(PATH_CHARS, max_size=8)
DIGESTS = st.sampled_from([GOOD, "blake3:" + "cd" * 32, "blake3:AB", "sha256:" + "ab" * 32, ""])
SIZES = st.sampled_from([0, 1, 10**12, -1, True, 1.5, "3"])


@st.composite
def entries(draw: Any) -> FileEntry:
    path = draw(PATHS)
    if draw(st.integers(0, 9)) == 0:
        return FileEntry.symlink(path, draw(st.text(PATH_CHARS, max_size=6)))
    return FileEntry(path, draw(SIZES), draw(DIGESTS))


def slow_ok(manifest: Manifest) -> bool:
    try:
        manifest._find_bad_entry()
    except InvalidInput:
        return False
    return True


@settings(max_examples=2000, deadline=None)
@given(st.lists(entries(), max_size=6), st.booleans())
def test_the_fast_check_agrees_with_the_slow_one(files: list[FileEntry], sort: bool) -> None:
    if sort:
        files = sorted(files, key=lambda f: f.path if isinstance(f.path, str) else "")
    manifest = Manifest("blake3", tuple(files))
    assert _all_valid("blake3", manifest.files) == slow_ok(manifest)


@pytest.mark.parametrize(
    ("paths", "error"),
    [
        (["a", "b/" + "x" * MAX_PATH], "invalid file path"),  # too long
        ([".hidden", "a/./b"], "invalid file path"),  # a "." part after a good dotfile
        (["a/..", "b"], "invalid file path"),
        (["../a"], "invalid file path"),
        (["a\nb"], "invalid file path"),  # a newline inside a path
        ([""], "invalid file path"),
        (["a", "a"], "unique and sorted"),
        (["b", "a"], "unique and sorted"),
    ],
)
def test_bad_paths_are_refused_naming_one(paths: list[str], error: str) -> None:
    files = tuple(FileEntry(p, 1, GOOD) for p in paths)
    with pytest.raises(InvalidInput, match=error):
        Manifest("blake3", files).validate()


def test_a_good_manifest_passes_both_checks() -> None:
    files = tuple(
        [FileEntry(f".cfg/d{i}/f.{i}.bin", i, GOOD) for i in range(5)]
        + [FileEntry.symlink("z/link", "../a b")]
    )
    manifest = Manifest("blake3", files)
    assert _all_valid("blake3", files) and slow_ok(manifest)
    manifest.validate()
    assert Manifest.decode(manifest.encode()) == manifest


@pytest.mark.parametrize(
    "paths", [["a", "a/b"], ["a/b", "a/b/c/d"], ["x/y", "x/y/z"], ["a-b/c", "a/b", "a/b/c"]]
)
def test_a_file_that_is_also_a_folder_is_refused(paths: list[str]) -> None:
    files = tuple(FileEntry(p, 1, GOOD) for p in sorted(paths))
    with pytest.raises(InvalidInput, match="both a file and a folder"):
        Manifest("blake3", files).validate()


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=6), st.integers(0, 2**64 - 1), st.booleans()), max_size=5)
)
def test_a_manifest_encodes_to_the_bytes_json_dumps_wrote(rows: list[Any]) -> None:
    """Versions are named by the manifest's digest: the encoder (orjson) must write
    byte for byte what ``json.dumps`` wrote, whatever the text."""
    files = tuple(
        FileEntry.symlink(text or "x", text) if link else FileEntry(text, size, GOOD)
        for text, size, link in rows
    )
    manifest = Manifest("blake3", files)
    body = {"algorithm": "blake3", "files": [f.to_dict() for f in files], "format": 1}
    old = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert manifest.encode() == old
