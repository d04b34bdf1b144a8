"""A commit reads its manifest in columns (``core/datasets/listing.py``): it accepts
exactly what ``Manifest.decode`` accepts, with or without the listing of the latest
version to skip checks, and still refuses a missing blob, a size lie or a digest of
another algorithm; ``BlobStore.existing`` finds blobs by folder listings."""

from __future__ import annotations

import collections
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lablink.core.datasets.listing import Listing, read_listing
from lablink.core.datasets.manifest import FileEntry, Manifest
from lablink.core.datasets.versions import VerifiedSizes
from lablink.core.lab import Lab
from lablink.errors import Conflict, InvalidInput
from lablink.store import blobs as blobs_module
from lablink.store.blobs import BlobStore, bytes_digest

GOOD = "blake3:" + "ab" * 32
OTHER = "blake3:" + "cd" * 32
VALUES = st.sampled_from(
    ["a", "b/c", "a/b", "", "../x", GOOD, OTHER, "sha256:" + "ab" * 32, 0, 7, -1, True, 1.5, None]
)
KEYS = st.sampled_from(["path", "size", "digest", "link", "extra"])
ENTRY = st.one_of(
    st.dictionaries(KEYS, VALUES, max_size=5),
    st.fixed_dictionaries({"path": VALUES, "size": VALUES, "digest": VALUES}),
    VALUES,
    st.lists(VALUES, max_size=2),
)
BODY = st.fixed_dictionaries(
    {
        "algorithm": st.sampled_from(["blake3", "sha256", "md5", 3]),
        "files": st.one_of(st.lists(ENTRY, max_size=5), VALUES),
        "format": st.sampled_from([1, 2, True, "1"]),
    }
)


def outcome(read: Callable[[], Listing]) -> Listing | str:
    try:
        return read()
    except InvalidInput as exc:
        return f"refused: {exc.message}"


def checked_listing() -> Listing:
    """A verified listing of plain files with the paths the strategies draw."""
    files = [FileEntry("a", 7, GOOD), FileEntry("b/c", 0, OTHER)]
    return Listing.of(Manifest.build("blake3", files))


@settings(max_examples=1500, deadline=None)
@given(BODY, st.booleans(), st.booleans())
def test_the_listing_accepts_what_decode_accepts(
    body: dict[str, Any], sort: bool, with_checked: bool
) -> None:
    if sort and isinstance(body["files"], list):
        body["files"] = sorted(
            body["files"], key=lambda f: str(f.get("path")) if isinstance(f, dict) else ""
        )
    data = json.dumps(body).encode()
    expected = outcome(lambda: Listing.of(Manifest.decode(data)))
    got = outcome(lambda: read_listing(data, checked_listing() if with_checked else None))
    if isinstance(expected, str):
        assert isinstance(got, str)  # refused too (the message may come from either path)
    else:
        assert got == expected


PATHS = st.sampled_from(["a", "b", "b/c", "b/d", "e/f/g", ".x", "é"])
FIELDS = st.sampled_from(["path", "size", "digest", "link"])


@settings(max_examples=1500, deadline=None)
@given(
    st.dictionaries(PATHS, st.tuples(st.integers(0, 9), st.sampled_from([GOOD, OTHER]))),
    st.one_of(st.none(), st.tuples(st.integers(0, 20), FIELDS, VALUES)),
    st.booleans(),
)
def test_a_near_valid_manifest_lists_as_it_decodes(
    files: dict[str, tuple[int, str]], spoil: tuple[int, str, Any] | None, with_checked: bool
) -> None:
    """Valid manifests, one field of one entry sometimes spoiled, checked against the
    listing of the unspoiled one (same paths, same digests): the skipped checks must
    not let the spoiled field through."""
    entries = [{"digest": d, "path": p, "size": s} for p, (s, d) in sorted(files.items())]
    body = {"algorithm": "blake3", "files": entries, "format": 1}
    checked = outcome(lambda: Listing.of(Manifest.decode(json.dumps(body).encode())))
    if spoil is not None and entries:
        index, field, value = spoil
        entries[index % len(entries)][field] = value
    data = json.dumps(body).encode()
    expected = outcome(lambda: Listing.of(Manifest.decode(data)))
    known = checked if with_checked and isinstance(checked, Listing) else None
    got = outcome(lambda: read_listing(data, known))
    if isinstance(expected, str):
        assert isinstance(got, str)
    else:
        assert got == expected


def test_a_listing_from_the_checked_paths_still_checks_digests_and_sizes() -> None:
    checked = checked_listing()
    for files in (
        [{"path": "a", "size": 7, "digest": "sha256:" + "ab" * 32}, dict(checked_entry())],
        [{"path": "a", "size": -1, "digest": GOOD}, dict(checked_entry())],
        [{"path": "a", "size": True, "digest": GOOD}, dict(checked_entry())],
    ):
        data = json.dumps({"algorithm": "blake3", "files": files, "format": 1}).encode()
        with pytest.raises(InvalidInput, match=r"^a: "):
            read_listing(data, checked)


def checked_entry() -> dict[str, Any]:
    return {"path": "b/c", "size": 0, "digest": OTHER}


def test_a_sha256_manifest_may_not_name_the_checked_blake3_digests() -> None:
    checked = checked_listing()
    files = [{"path": "a", "size": 7, "digest": GOOD}, checked_entry()]
    data = json.dumps({"algorithm": "sha256", "files": files, "format": 1}).encode()
    with pytest.raises(InvalidInput, match="is not a sha256 id"):
        read_listing(data, checked)


def test_links_and_duplicate_contents_list_like_the_manifest() -> None:
    files = [
        FileEntry("a", 3, GOOD),
        FileEntry("b", 3, GOOD),
        FileEntry.symlink("c", "a"),
    ]
    manifest = Manifest.build("blake3", files)
    listing = read_listing(manifest.encode())
    assert listing == Listing.of(manifest)
    assert listing.blobs == manifest.blobs() and listing.size == manifest.size
    assert listing.paths == ["a", "b", "c"] and listing.file_paths == ["a", "b"]


def store(lab: Lab, files: dict[str, bytes], sizes: dict[str, int] | None = None) -> str:
    entries = []
    for path, data in files.items():
        digest = lab.blobs.put_bytes(data, "blake3")[0]
        entries.append(FileEntry(path, (sizes or {}).get(path, len(data)), digest))
    return lab.blobs.put_bytes(Manifest.build("blake3", entries).encode(), "blake3")[0]


FILES = {f"d/f{i}.bin": os.urandom(50 + i) for i in range(40)}


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blob lookups list folders (as for 20,000 files) however few the blobs."""
    monkeypatch.setattr(blobs_module, "LIST_THRESHOLD", 1)


@pytest.mark.usefixtures("listed")
def test_a_re_commit_with_the_same_paths_refuses_a_size_lie_on_a_changed_file(lab: Lab) -> None:
    lab.datasets.commit("ana", "tree", store(lab, FILES))
    changed = {**FILES, "d/f3.bin": b"new content"}
    lying = store(lab, changed, sizes={"d/f3.bin": 3})
    with pytest.raises(Conflict, match=r"d/f3\.bin: the manifest says 3 bytes") as caught:
        lab.datasets.commit("ana", "tree", lying)
    assert caught.value.details["mismatched"] == [{"path": "d/f3.bin", "size": 3, "stored": 11}]
    v2, created = lab.datasets.commit("ana", "tree", store(lab, changed))
    assert created and v2.files == 40 and v2.size == sum(map(len, changed.values()))


@pytest.mark.usefixtures("listed")
def test_a_re_commit_refuses_a_blob_never_uploaded_and_one_gone(lab: Lab) -> None:
    first = store(lab, FILES)
    lab.datasets.commit("ana", "tree", first)
    gone = lab.datasets.read_manifest(first).files[9].digest
    os.unlink(lab.blobs.path(gone))
    never = bytes_digest(b"never uploaded", "blake3")
    entries = [
        FileEntry(p, len(d), bytes_digest(d, "blake3")) for p, d in FILES.items() if p != "d/f3.bin"
    ]
    entries.append(FileEntry("d/f3.bin", len(b"never uploaded"), never))
    manifest = Manifest.build("blake3", entries)
    digest = lab.blobs.put_bytes(manifest.encode(), "blake3")[0]
    with pytest.raises(Conflict, match="2 of the 40 files") as caught:
        lab.datasets.commit("ana", "tree", digest)
    assert sorted(caught.value.details["missing"]) == sorted([gone, never])
    assert [v.version for v in lab.datasets.log("tree")] == [1]


def test_existing_by_folder_listings(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blobs_module, "LIST_THRESHOLD", 1)
    blobs = BlobStore(str(tmp_path / "blobs"))
    stored = [blobs.put_bytes(f"blob {i}".encode(), "blake3")[0] for i in range(30)]
    stored.append(blobs.put_bytes(b"an artifact", "sha256")[0])
    absent = [bytes_digest(f"absent {i}".encode(), "blake3") for i in range(30)]
    assert blobs.existing(stored + absent) == set(stored)
    assert blobs.existing(stored + absent, checked=True) == set(stored)
    with pytest.raises(InvalidInput, match="is not a blob id"):
        blobs.existing([*stored, "blake3:../../etc"])


def test_a_large_store_is_not_listed_for_a_few_digests(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing costs in proportion to the store: with far more blobs stored than asked
    about, ``existing`` and ``sizes`` look each digest up, and answer the same."""
    monkeypatch.setattr(blobs_module, "LIST_THRESHOLD", 1)
    blobs = BlobStore(str(tmp_path / "blobs"))
    stored = [blobs.put_bytes(f"blob {i}".encode(), "blake3")[0] for i in range(1500)]
    # A digest stored and one not in each of the three fullest folders (over 8 of the
    # 1,500 blobs each: more than four names per digest asked about)
    fullest = collections.Counter(d[:9] for d in stored).most_common(3)
    assert all(count > 8 for _, count in fullest)
    here = [next(d for d in stored if d.startswith(folder)) for folder, _ in fullest]
    asked = here + [folder + "f" * 62 for folder, _ in fullest]
    listed: list[str] = []
    real_listdir = os.listdir

    def listdir(path: str) -> list[str]:
        listed.append(path)
        return real_listdir(path)

    monkeypatch.setattr(blobs_module.os, "listdir", listdir)
    assert blobs.existing(asked) == set(here)
    assert len(listed) == 1  # one of the folders, for the estimate
    assert blobs.sizes(asked) == {d: len(f"blob {stored.index(d)}") for d in here}
    assert len(listed) == 2
    # Asked about most of what is stored, both list every folder holding one.
    listed.clear()
    absent = [bytes_digest(f"absent {i}".encode(), "blake3") for i in range(3)]
    assert blobs.existing(stored + absent) == set(stored)
    assert len(listed) > 200


def test_kept_listings_count_toward_the_memory_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(VerifiedSizes, "MAX_BLOBS", 10)
    kept = VerifiedSizes()
    listing = checked_listing()  # two files
    kept.put("m1", {GOOD: 7, OTHER: 0}, listing)  # 4 entries
    kept.put("m2", {GOOD: 7, OTHER: 0}, listing)  # 8
    assert kept.listing("m1") == listing and kept.get("m2") == {GOOD: 7, OTHER: 0}
    kept.put("m3", {GOOD: 7, OTHER: 0}, listing)  # 12: the oldest goes
    assert kept.get("m1") is None and kept.listing("m1") is None
    assert kept.listing("m3") == listing
