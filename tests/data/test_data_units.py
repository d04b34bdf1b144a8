"""Pure parts of datasets: references, names, manifests, diffs and the pack framing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lablink.core.datasets.manifest import FileEntry, Manifest, check_path, diff
from lablink.core.datasets.packs import PackReader, TruncatedPack, write_pack
from lablink.core.datasets.refs import Ref, check_name, check_version, parse_ref
from lablink.errors import InvalidInput
from lablink.sdk.endpoints import Endpoints
from lablink.store.blobs import bytes_digest, check_digest

D1 = bytes_digest(b"one", "blake3")
D2 = bytes_digest(b"two", "blake3")


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("cifar-mini", Ref("cifar-mini")),
        ("cifar-mini@latest", Ref("cifar-mini")),
        ("cifar-mini@v3", Ref("cifar-mini", version=3)),
        ("a.b_c-1@v12", Ref("a.b_c-1", version=12)),
        ("cifar@3fa2c1d0", Ref("cifar", digest="3fa2c1d0")),
        ("blake3:3fa2c1d0aa", Ref(None, digest="blake3:3fa2c1d0aa")),
        (f"x@{D1}", Ref("x", digest=D1)),
        ("images@prod", Ref("images", alias="prod")),
        ("ds@vx", Ref("ds", alias="vx")),
    ],
)
def test_references_parse(text: str, ref: Ref) -> None:
    assert parse_ref(text) == ref


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("my data", "invalid dataset name"),
        ("-lead", "invalid dataset name"),
        ("a/b", "invalid dataset name"),
        ("n" * 201, "invalid dataset name"),
        ("ds@v0", "invalid version"),
        ("ds@v-1", "invalid version"),
        ("ds@7", "invalid version"),
        ("ds@V3", "invalid version"),
        ("ds@", "invalid dataset reference"),
        ("ds@3fa", "invalid dataset reference"),
        ("@v1", "invalid dataset name"),
        ("md5:abcdef0123", "invalid dataset name"),
    ],
)
def test_bad_references_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_ref(text)


def test_names_and_versions_are_checked() -> None:
    assert check_name("ok-name.1") == "ok-name.1"
    with pytest.raises(InvalidInput, match="invalid dataset name"):
        check_name(5)
    with pytest.raises(InvalidInput, match="versions count from 1"):
        check_version(0)
    with pytest.raises(InvalidInput, match="versions count from 1"):
        check_version(True)


@pytest.mark.parametrize("path", ["/abs", "a/../b", "..", "a//b", "./a", "a\\b", "a\x00b", ""])
def test_paths_that_leave_the_folder_are_refused(path: str) -> None:
    with pytest.raises(InvalidInput, match="invalid file path"):
        check_path(path)


def test_manifest_is_canonical_and_round_trips() -> None:
    a = Manifest.build("blake3", [FileEntry("b/x", 3, D2), FileEntry("a", 3, D1)])
    b = Manifest.build("blake3", [FileEntry("a", 3, D1), FileEntry("b/x", 3, D2)])
    assert a.encode() == b.encode() and a.digest() == b.digest()
    assert Manifest.decode(a.encode()) == a
    assert a.blobs() == {D1: 3, D2: 3} and a.size == 6
    check_digest(a.digest())


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([FileEntry("a", 3, D1), FileEntry("a", 3, D1)], "unique"),
        ([FileEntry("a", 3, D1), FileEntry("a/b", 3, D2)], "both a file and a folder"),
        ([FileEntry("a", -1, D1)], "byte count"),
        ([FileEntry("a", 3, bytes_digest(b"x", "sha256"))], "not a blake3 id"),
        ([FileEntry("../a", 3, D1)], "invalid file path"),
    ],
)
def test_bad_manifests_are_refused(entries: list[FileEntry], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Manifest.build("blake3", entries)


def test_garbage_is_not_a_manifest() -> None:
    with pytest.raises(InvalidInput, match="not a lablink manifest"):
        Manifest.decode(b'{"files": 3}')
    with pytest.raises(InvalidInput, match="manifest format"):
        Manifest.decode(b'{"algorithm": "blake3", "files": [], "format": 9}')


def test_diff_lists_added_removed_and_changed() -> None:
    old = Manifest.build(
        "blake3", [FileEntry("keep", 3, D1), FileEntry("gone", 3, D1), FileEntry("edit", 3, D1)]
    )
    new = Manifest.build(
        "blake3", [FileEntry("keep", 3, D1), FileEntry("new", 3, D2), FileEntry("edit", 3, D2)]
    )
    changes = diff(old, new)
    assert [e["path"] for e in changes["added"]] == ["new"]
    assert [e["path"] for e in changes["removed"]] == ["gone"]
    assert [(e["path"], e["old"]["digest"], e["new"]["digest"]) for e in changes["changed"]] == [
        ("edit", D1, D2)
    ]


blobs = st.lists(st.binary(max_size=3000), max_size=8)


@given(blobs, st.integers(1, 4096))
def test_packs_round_trip_in_any_chunking(contents: list[bytes], cut: int) -> None:
    items = {bytes_digest(c, "blake3"): c for c in contents}
    lacking = bytes_digest(b"not here", "blake3")
    order = [*items, lacking]
    import io

    def open_blob(digest: str) -> io.BytesIO | None:
        return io.BytesIO(items[digest]) if digest in items else None

    stream = b"".join(write_pack(((d, len(items.get(d, b""))) for d in order), open_blob))
    chunks = [stream[i : i + cut] for i in range(0, len(stream), cut)]
    reader = PackReader(chunks)
    got = {digest: b"".join(body) for digest, _size, body in reader}
    assert got == items and reader.missing == [lacking] and reader.complete


def test_a_cut_off_pack_is_told_apart_from_a_complete_one() -> None:
    import io

    data = b"x" * 1000
    digest = bytes_digest(data, "blake3")
    stream = b"".join(write_pack([(digest, 1000)], lambda d: io.BytesIO(data)))
    with pytest.raises(TruncatedPack, match="short"):
        [b"".join(body) for _d, _s, body in PackReader([stream[:500]])]
    with pytest.raises(TruncatedPack, match="end frame"):
        list(PackReader([stream[: -len(b"end\n")]]))
    with pytest.raises(InvalidInput, match="malformed pack"):
        list(PackReader([b"hello world\n"]))


def test_a_file_that_changed_size_is_refused_while_packing() -> None:
    import io

    digest = bytes_digest(b"abc", "blake3")
    with pytest.raises(InvalidInput, match="changed"):
        list(write_pack([(digest, 10)], lambda d: io.BytesIO(b"abc")))
    with pytest.raises(InvalidInput, match="changed"):
        list(write_pack([(digest, 2)], lambda d: io.BytesIO(b"abc")))


def test_equally_near_endpoints_keep_the_order_they_were_listed_in(tmp_path: Path) -> None:
    a, b, c, d = (f"http://{host}.invalid:8500" for host in "abcd")
    endpoints = Endpoints([a, b, c, d], tmp_path / "endpoints.json")
    now = time.time()

    def measured(**latency: float | None) -> list[str]:
        for host, value in latency.items():
            endpoints._state[f"http://{host}.invalid:8500"] = {"latency": value, "checked": now}
        return endpoints.ordered()

    # a is listed first and within 25% + 2 ms of b: jitter does not reorder them
    assert measured(a=0.0031, b=0.0020, c=0.050, d=None) == [a, b, c, d]
    assert measured(a=0.0100) == [b, a, c, d]  # a is now clearly farther
    assert measured(a=0.200, b=0.300, c=0.210) == [a, c, b, d]  # 25% of 200 ms is near
    endpoints.failed(a, "test")
    assert endpoints.ordered() == [c, b, a, d]  # a failed: after every healthy one


def test_select_takes_globs_on_the_path_and_folders() -> None:
    def entry(path: str) -> FileEntry:
        return FileEntry(path, 1, bytes_digest(path.encode(), "blake3"))

    paths = ["README.md", "train/a.png", "train/deep/b.png", "train/c.txt", "val/d.png"]
    manifest = Manifest.build("blake3", [entry(p) for p in paths])

    def picked(*patterns: str) -> list[str]:
        return [f.path for f in manifest.select(patterns).files]

    assert picked("train/") == picked("train") == ["train/a.png", "train/c.txt", "train/deep/b.png"]
    assert picked("*.png") == ["train/a.png", "train/deep/b.png", "val/d.png"]  # * crosses /
    assert picked("train/*.png", "README.md") == ["README.md", "train/a.png", "train/deep/b.png"]
    assert picked("val/d.png", "val/") == ["val/d.png"]  # a file picked twice is placed once
    with pytest.raises(InvalidInput, match="no file matches 'test/'"):
        manifest.select(["train/", "test/"])
    with pytest.raises(InvalidInput, match="no file matches 'tra'"):
        manifest.select(["tra"])  # a folder is a whole path part, not a prefix of a name
