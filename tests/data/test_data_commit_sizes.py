"""A commit takes the sizes checked at the latest version's commit, and still finds
every blob: one gone from the store since fails the commit, and a lie about the size
of a blob the latest version names is refused as before."""

from __future__ import annotations

import os

import pytest

from lablink.core.datasets.manifest import FileEntry, Manifest
from lablink.core.datasets.versions import VerifiedSizes
from lablink.core.lab import Lab
from lablink.errors import Conflict
from lablink.store.blobs import bytes_digest


def commit(lab: Lab, files: dict[str, bytes], sizes: dict[str, int] | None = None) -> str:
    """Store ``files`` and their manifest (with ``sizes`` instead of the true ones)."""
    entries = []
    for path, data in files.items():
        digest = lab.blobs.put_bytes(data, "blake3")[0]
        entries.append(FileEntry(path, (sizes or {}).get(path, len(data)), digest))
    manifest = Manifest.build("blake3", entries)
    return lab.blobs.put_bytes(manifest.encode(), "blake3")[0]


@pytest.fixture
def stat_asked(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """The digests each ``BlobStore.sizes`` call of the commit reads from the store."""
    asked: list[set[str]] = []
    real = lab.blobs.sizes

    def sizes(digests: object) -> dict[str, int]:
        wanted = set(digests)  # type: ignore[call-overload]
        asked.append(wanted)
        return real(wanted)

    monkeypatch.setattr(lab.blobs, "sizes", sizes)
    return asked


FILES = {f"d/f{i}.bin": os.urandom(100 + i) for i in range(30)}


def test_a_re_commit_reads_only_the_new_blobs_sizes(lab: Lab, stat_asked: list[set[str]]) -> None:
    lab.datasets.commit("ana", "tree", commit(lab, FILES))
    assert len(stat_asked[-1]) == 30  # nothing trusted yet: every size is read
    changed = {**FILES, "d/f3.bin": b"new content"}
    v2, created = lab.datasets.commit("ana", "tree", commit(lab, changed))
    assert created and v2.size == sum(map(len, changed.values()))
    assert [len(s) for s in stat_asked[1:]] == [1]  # the new blob alone


def test_a_blob_gone_since_the_latest_version_fails_the_commit(lab: Lab) -> None:
    first = commit(lab, FILES)
    lab.datasets.commit("ana", "tree", first)
    gone = lab.datasets.read_manifest(first).files[7].digest
    os.unlink(lab.blobs.path(gone))
    with pytest.raises(Conflict, match="1 of the 30 files") as caught:
        lab.datasets.commit("ana", "tree", commit_without(lab, FILES, "d/f3.bin", gone))
    assert caught.value.details["missing"] == [gone]
    assert caught.value.details["missing_count"] == 1
    assert [v.version for v in lab.datasets.log("tree")] == [1]  # nothing was created


def commit_without(lab: Lab, files: dict[str, bytes], changed: str, gone: str) -> str:
    """A manifest of ``files`` with ``changed`` rewritten, the blob ``gone`` not re-stored."""
    entries = []
    for path, data in files.items():
        data = b"rewritten" if path == changed else data
        digest = bytes_digest(data, "blake3")
        if digest != gone:
            lab.blobs.put_bytes(data, "blake3")
        entries.append(FileEntry(path, len(data), digest))
    manifest = Manifest.build("blake3", entries)
    return lab.blobs.put_bytes(manifest.encode(), "blake3")[0]


def test_a_lie_about_a_trusted_blobs_size_is_refused(lab: Lab) -> None:
    lab.datasets.commit("ana", "tree", commit(lab, FILES))
    lying = commit(lab, FILES, sizes={"d/f0.bin": 5})
    with pytest.raises(Conflict, match=r"d/f0\.bin: the manifest says 5 bytes") as caught:
        lab.datasets.commit("ana", "tree", lying)
    assert caught.value.details["mismatched"] == [{"path": "d/f0.bin", "size": 5, "stored": 100}]


def test_verified_sizes_keep_the_last_few_manifests() -> None:
    kept = VerifiedSizes()
    for i in range(VerifiedSizes.MAX_MANIFESTS + 2):
        kept.put(f"m{i}", {f"b{i}": i})
    assert kept.get("m0") is None and kept.get("m1") is None
    assert kept.get(f"m{VerifiedSizes.MAX_MANIFESTS + 1}") == {
        f"b{VerifiedSizes.MAX_MANIFESTS + 1}": VerifiedSizes.MAX_MANIFESTS + 1
    }
