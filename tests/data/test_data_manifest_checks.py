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
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lablink.core.datasets.manifest import MAX_PATH, Checked, FileEntry, Manifest, _all_valid
from lablink.errors import InvalidInput

GOOD = "blake3:" + "ab" * 32
OTHER = "blake3:" + "cd" * 32
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


def outcome(build: Any) -> Manifest | str:
    try:
        return build()  # type: ignore[no-any-return]
    except InvalidInput as exc:
        return f"refused: {exc.message}"


CLEAN_PATHS = st.sampled_from(["a", "b", "b/c", "b/d", "e/f/g", ".x", "é"])
# a field of an entry and a value for it, good or bad (a path is always text: what
# scan builds from file names)
SPOILS = st.one_of(
    st.tuples(st.just("path"), st.sampled_from(["a", "b/c", "a/b", "", "../x", "b/", "a\\b"])),
    st.tuples(st.just("size"), st.sampled_from([0, 5, -1, True, 1.5])),
    st.tuples(st.just("digest"), st.sampled_from([GOOD, OTHER, "sha256:" + "ab" * 32, "", 3])),
)


@settings(max_examples=1500, deadline=None)
@given(
    st.dictionaries(CLEAN_PATHS, st.tuples(st.integers(0, 9), st.sampled_from([GOOD, OTHER]))),
    st.one_of(st.none(), st.tuples(st.integers(0, 20), SPOILS)),
    st.sampled_from(["blake3", "sha256"]),
)
def test_what_a_checked_manifest_vouches_for_changes_no_verdict(
    files: dict[str, tuple[int, str]], spoil: tuple[int, tuple[str, Any]] | None, algorithm: str
) -> None:
    """A valid manifest, then the same files with one field of one entry sometimes
    spoiled: built with the first as ``checked`` (a re-push), the second is accepted
    or refused exactly as when built alone."""
    entries = [FileEntry(p, s, d) for p, (s, d) in sorted(files.items())]
    valid = outcome(lambda: Manifest.build("blake3", entries))
    assume(isinstance(valid, Manifest))  # "b" beside "b/c": no valid first manifest
    assert isinstance(valid, Manifest)
    checked = Checked(algorithm, [f.path for f in valid.files], {f.digest for f in valid.files})
    if spoil is not None and entries:
        index, (field, value) = spoil
        index %= len(entries)
        entries[index] = entries[index]._replace(**{field: value})
    alone = outcome(lambda: Manifest.build("blake3", entries))
    vouched = outcome(lambda: Manifest.build("blake3", entries, checked))
    if isinstance(alone, str):
        assert isinstance(vouched, str)  # refused too (either check may name it)
    else:
        assert vouched == alone


def test_a_checked_manifest_of_another_algorithm_vouches_for_nothing() -> None:
    sha = "sha256:" + "ab" * 32
    checked = Checked("sha256", ["a"], {sha})
    with pytest.raises(InvalidInput, match="is not a blake3 id"):
        Manifest.build("blake3", [FileEntry("a", 1, sha)], checked)


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
