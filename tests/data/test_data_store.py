"""The dataset use cases on real SQLite and PostgreSQL: versions, refs, lineage, commits."""

from __future__ import annotations

from typing import Any

import pytest

from lablink.core.datasets.manifest import FileEntry, Manifest
from lablink.core.lab import Lab
from lablink.core.schemas import Schemas
from lablink.errors import AlreadyExists, Conflict, InvalidInput, NotFound


def upload(lab: Lab, files: dict[str, bytes], blobs: bool = True) -> str:
    """Store a version's blobs (optionally) and its manifest; returns the manifest digest."""
    entries = []
    for path, data in files.items():
        digest = lab.blobs.put_bytes(data, "blake3")[0] if blobs else None
        from lablink.store.blobs import bytes_digest

        entries.append(FileEntry(path, len(data), digest or bytes_digest(data, "blake3")))
    manifest = Manifest.build("blake3", entries)
    return lab.blobs.put_bytes(manifest.encode(), "blake3")[0]


def test_versions_are_numbered_immutable_and_deduplicated(lab: Lab) -> None:
    ds = lab.datasets
    d1 = upload(lab, {"a.txt": b"one", "b/c.txt": b"two"})
    v1, created = ds.commit("ana", "faces", d1, message="first")
    assert created and v1.ref == "faces@v1" and v1.files == 2 and v1.size == 6
    assert v1.created_by == "ana" and v1.message == "first" and v1.algorithm == "blake3"
    again, created = ds.commit("ben", "faces", d1)
    assert not created and again == v1  # the same files: the latest version, unchanged
    d2 = upload(lab, {"a.txt": b"one", "b/c.txt": b"two!"})
    v2, created = ds.commit("ben", "faces", d2, source_command="lablink data add x")
    assert created and v2.version == 2 and v2.source_command == "lablink data add x"
    assert [v.version for v in ds.log("faces")] == [2, 1]
    assert ds.resolve("faces") == v2 and ds.resolve("faces@latest") == v2
    assert ds.resolve("faces@v1") == v1
    assert ds.resolve(v1.digest) == v1 and ds.resolve(v1.digest[:15]) == v1
    assert ds.resolve("faces@" + v2.digest.split(":")[1][:10]) == v2
    [summary] = ds.list_datasets()
    assert (summary.name, summary.latest, summary.versions, summary.files) == ("faces", 2, 2, 2)


@pytest.mark.parametrize(
    "asked",
    [
        {"message": "again"},
        {"parents": ["toy@v1"]},
        {"version": 1},
        {"version": 2},
        {"version": 9},
        {"source_command": "lablink data add . -n toy"},
        {"schema_ref": "events"},
        {"message": "all", "parents": ["toy@v1"], "version": 2},
    ],
)
def test_identical_content_is_always_the_latest_version(lab: Lab, asked: dict[str, Any]) -> None:
    Schemas(lab.store).register("events", {"fields": [{"name": "id", "type": "integer"}]}, "ana")
    ds = lab.datasets
    digest = upload(lab, {"a.txt": b"one"})
    v1, _ = ds.commit("ana", "toy", digest, message="first")
    again, created = ds.commit("ben", "toy", digest, **asked)
    assert not created and again == v1  # nothing recorded: not the message, not the parents
    assert [v.ref for v in ds.log("toy")] == ["toy@v1"]


def test_a_version_is_never_visible_before_its_blobs(lab: Lab) -> None:
    digest = upload(lab, {"a": b"1", "b": b"2", "c": b"3"}, blobs=False)
    with pytest.raises(Conflict, match="3 of the 3 files") as caught:
        lab.datasets.commit("ana", "late", digest)
    assert caught.value.details["missing_count"] == 3
    with pytest.raises(NotFound, match="no dataset named 'late'"):
        lab.datasets.resolve("late")
    for data in (b"1", b"2", b"3"):
        lab.blobs.put_bytes(data, "blake3")
    version, created = lab.datasets.commit("ana", "late", digest)
    assert created and version.ref == "late@v1"


def test_clashes_and_bad_input_are_clear_errors(lab: Lab) -> None:
    ds = lab.datasets
    d1 = upload(lab, {"a": b"1"})
    d2 = upload(lab, {"a": b"2"})
    ds.commit("ana", "pinned", d1, version=1)
    with pytest.raises(AlreadyExists, match=r"pinned@v1 already exists and versions are immutable"):
        ds.commit("ana", "pinned", d2, version=1)
    with pytest.raises(Conflict, match="the next version is v2"):
        ds.commit("ana", "pinned", d2, version=5)
    with pytest.raises(InvalidInput, match="invalid dataset name"):
        ds.commit("ana", "bad name", d1)
    with pytest.raises(InvalidInput, match="not a blob id"):
        ds.commit("ana", "ok", "sha256:xyz")
    with pytest.raises(NotFound, match="is not uploaded"):
        ds.commit("ana", "ok", "blake3:" + "0" * 64)
    with pytest.raises(NotFound, match=r"pinned@v7 does not exist"):
        ds.resolve("pinned@v7")
    with pytest.raises(NotFound, match="no dataset named 'nope'"):
        ds.log("nope")
    with pytest.raises(NotFound, match="manifest digest starting"):
        ds.resolve("blake3:00000000")
    not_manifest = lab.blobs.put_bytes(b"not json", "blake3")[0]
    with pytest.raises(InvalidInput, match="not a lablink manifest"):
        ds.commit("ana", "ok", not_manifest)
    assert [v.version for v in ds.log("pinned")] == [1]


def test_lineage_both_ways(lab: Lab) -> None:
    ds = lab.datasets
    raw, _ = ds.commit("ana", "raw", upload(lab, {"img": b"raw"}))
    clean, _ = ds.commit("ben", "clean", upload(lab, {"img": b"clean"}), parents=["raw@v1"])
    assert clean.parents == ("raw@v1",)
    run = lab.tracking.create_run("ana", "vision", "train", {}, [])
    lab.tracking.add_input(run.id, "dataset", clean.ref, clean.digest)
    used = ds.used_by("raw@v1")
    assert [v["ref"] for v in used["versions"]] == ["clean@v1"] and used["runs"] == []
    used = ds.used_by("clean")
    assert [r["id"] for r in used["runs"]] == [run.id] and used["runs"][0]["project"] == "vision"
    with pytest.raises(NotFound, match="raw@v9 does not exist"):
        ds.commit("ben", "clean", upload(lab, {"img": b"x"}), parents=["raw@v9"])
    assert raw.parents == ()


def test_diff_between_versions(lab: Lab) -> None:
    ds = lab.datasets
    ds.commit("ana", "d", upload(lab, {"keep": b"k", "gone": b"g", "edit": b"1"}))
    ds.commit("ana", "d", upload(lab, {"keep": b"k", "new": b"n", "edit": b"2"}))
    changes = ds.diff("d@v1", "d@v2")
    assert [e["path"] for e in changes["added"]] == ["new"]
    assert [e["path"] for e in changes["removed"]] == ["gone"]
    assert [e["path"] for e in changes["changed"]] == ["edit"]


def test_packs_store_verified_blobs_and_record_them(lab: Lab) -> None:
    import io

    from lablink.core.datasets.packs import write_pack
    from lablink.store.blobs import bytes_digest

    good, bad = b"good bytes", b"bad bytes"
    items = [
        (bytes_digest(good, "blake3"), len(good)),
        (bytes_digest(b"claimed", "blake3"), len(bad)),
    ]
    contents = {items[0][0]: good, items[1][0]: bad}
    pack = write_pack(items, lambda d: io.BytesIO(contents[d]))
    with pytest.raises(InvalidInput, match="hashes to"):
        lab.datasets.transfers.put_pack(pack)
    assert lab.blobs.exists(items[0][0]) and not lab.blobs.exists(items[1][0])
    assert lab.datasets.transfers.missing([d for d, _ in items]) == [items[1][0]]


def test_migration_matches_the_tables_in_schema_py(lab: Lab) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from lablink.store import schema

    mine = {"datasets", "dataset_versions", "dataset_parents"}
    with lab.store.engine.connect() as conn:  # type: ignore[attr-defined]
        diffs = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    ours = [d for d in diffs if any(name in repr(d) for name in mine)]
    assert ours == []
