"""Symlinks on both sides of a version: a pull never writes through a link out of its
target folder; a push follows links by default (and names those that leave the folder)
or, with ``follow_symlinks=False``, stores them as links that a pull recreates.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from datatools import client_settings
from typer.testing import CliRunner

import lablink
from helpers import AppServer
from lablink.cli.main import app
from lablink.core.datasets.manifest import FileEntry, Manifest
from lablink.errors import InvalidInput
from lablink.sdk.data import add, download, session


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A folder outside every target, with one file that must never change."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "keep.txt").write_text("precious")
    return folder


def test_a_pull_refuses_a_symlinked_folder_that_leaves_the_target(
    tmp_path: Path, work: Path, elsewhere: Path
) -> None:
    settings = client_settings(tmp_path / "home")
    src = work / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "x.txt").write_text("pulled")
    (src / "top.txt").write_text("top")
    add(src, "links", settings=settings)
    target = work / "tgt"
    target.mkdir()
    (target / "sub").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(InvalidInput, match=r"tgt/sub is a symlink to .*elsewhere, outside"):
        download("links", target, settings=settings)
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]  # nothing written there


def test_a_pull_replaces_a_link_to_a_file_instead_of_writing_through_it(
    tmp_path: Path, work: Path, elsewhere: Path
) -> None:
    settings = client_settings(tmp_path / "home")
    src = work / "src"
    src.mkdir()
    (src / "keep.txt").write_text("from the version")
    add(src, "file-link", settings=settings)
    target = work / "tgt"
    target.mkdir()
    (target / "keep.txt").symlink_to(elsewhere / "keep.txt")
    download("file-link", target, settings=settings, link=False)
    assert not (target / "keep.txt").is_symlink()
    assert (target / "keep.txt").read_text() == "from the version"
    assert (elsewhere / "keep.txt").read_text() == "precious"


def test_a_link_inside_the_target_may_be_followed(tmp_path: Path, work: Path) -> None:
    settings = client_settings(tmp_path / "home")
    src = work / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "x.txt").write_text("pulled")
    add(src, "inner", settings=settings)
    target = work / "tgt"
    (target / "real").mkdir(parents=True)
    (target / "sub").symlink_to("real", target_is_directory=True)
    download("inner", target, settings=settings)
    assert (target / "real" / "x.txt").read_text() == "pulled"


def linked_tree(root: Path, elsewhere: Path) -> Path:
    """A folder with a file, links inside it, one out of it, one to a folder, one dangling."""
    (root / "sub").mkdir(parents=True)
    (root / "real.txt").write_text("real")
    (root / "sub" / "deep.txt").write_text("deep")
    (root / "alias.txt").symlink_to("real.txt")
    (root / "outside.txt").symlink_to(elsewhere / "keep.txt")
    (root / "folder").symlink_to("sub", target_is_directory=True)
    (root / "dangling").symlink_to("nowhere")
    return root


def test_a_push_follows_links_and_names_those_leading_outside(
    tmp_path: Path, work: Path, elsewhere: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = client_settings(tmp_path / "home")
    src = work / "src"
    (src / "sub").mkdir(parents=True)
    (src / "real.txt").write_text("real")
    (src / "alias.txt").symlink_to("real.txt")
    (src / "outside.txt").symlink_to(elsewhere / "keep.txt")
    with caplog.at_level(logging.WARNING, logger="lablink.sdk.data"):
        pushed = add(src, "followed", settings=settings)
    assert pushed.outside_symlinks == [("outside.txt", str((elsewhere / "keep.txt").resolve()))]
    assert "outside.txt is a symlink to" in caplog.text and "alias.txt" not in caplog.text
    download("followed", work / "out", settings=settings)
    assert (work / "out" / "outside.txt").read_text() == "precious"  # its content was added
    assert not (work / "out" / "outside.txt").is_symlink()


def test_no_follow_symlinks_stores_links_and_a_pull_recreates_them(
    tmp_path: Path, work: Path, elsewhere: Path, origin: tuple[AppServer, object]
) -> None:
    server, _ = origin
    settings = client_settings(tmp_path / "home", server.url)
    src = linked_tree(work / "src", elsewhere)
    pushed = add(src, "links", follow_symlinks=False, settings=settings)
    assert pushed.outside_symlinks == [] and pushed.uploaded_blobs == 2  # two real files
    with session(settings) as (remote, cache):
        manifest = remote.read_manifest(cache, remote.resolve("links"))
    entries = {f.path: f.to_dict() for f in manifest.files}
    assert entries["alias.txt"] == {"path": "alias.txt", "link": "real.txt"}
    assert entries["outside.txt"] == {"path": "outside.txt", "link": str(elsewhere / "keep.txt")}
    assert entries["folder"] == {"path": "folder", "link": "sub"}
    assert entries["dangling"] == {"path": "dangling", "link": "nowhere"}
    assert pushed.version.size == 8  # links weigh nothing

    out = work / "out"
    reader = client_settings(tmp_path / "reader", server.url)
    download("links", out, settings=reader)
    for name in ("alias.txt", "outside.txt", "folder", "dangling"):
        assert os.readlink(out / name) == os.readlink(src / name), name
    assert (out / "sub" / "deep.txt").read_text() == "deep"
    again = download("links", out, settings=reader)  # links already in place stay
    assert again.materialised.unchanged == 6
    assert (elsewhere / "keep.txt").read_text() == "precious"
    with pytest.raises(InvalidInput, match=r"is a symlink to 'real\.txt'"):
        lablink.dataset("links", settings=reader).open("alias.txt")


def test_a_link_entry_in_a_manifest_is_checked() -> None:
    digest = "blake3:" + "ab" * 32
    good = Manifest.build("blake3", [FileEntry("a", 1, digest), FileEntry.symlink("b", "a")])
    assert Manifest.decode(good.encode()) == good
    assert set(Manifest.decode(good.encode()).blobs()) == {digest}
    with pytest.raises(InvalidInput, match="is not a symlink target"):
        Manifest.build("blake3", [FileEntry.symlink("b", "a\nb")])
    body = b'{"algorithm":"blake3","files":[{"link":"a","path":"b","size":3}],"format":1}'
    with pytest.raises(InvalidInput, match="a link entry has a path and a link only"):
        Manifest.decode(body)


def test_the_cli_warns_about_outside_links_and_lists_them_in_json(
    tmp_path: Path, work: Path, elsewhere: Path
) -> None:
    runner = CliRunner()
    env = {"COLUMNS": "200", "LABLINK_HOME": str(tmp_path / "home")}
    src = work / "src"
    src.mkdir()
    (src / "real.txt").write_text("real")
    (src / "outside.txt").symlink_to(elsewhere / "keep.txt")
    shown = runner.invoke(
        app, ["data", "add", str(src), "-n", "w"], catch_exceptions=False, env=env
    )
    assert shown.exit_code == 0, shown.output
    assert "outside.txt is a symlink to" in shown.stdout and "--no-follow-symlinks" in shown.stdout
    args = ["data", "add", str(src), "-n", "w", "--json"]
    listed = runner.invoke(app, args, catch_exceptions=False, env=env)
    body = json.loads(listed.stdout)
    assert body["outside_symlinks"] == [
        {"path": "outside.txt", "target": str((elsewhere / "keep.txt").resolve())}
    ]
    args = ["data", "add", str(src), "-n", "w", "--no-follow-symlinks", "--json"]
    kept = json.loads(runner.invoke(app, args, catch_exceptions=False, env=env).stdout)
    assert kept["outside_symlinks"] == [] and kept["version"]["ref"] == "w@v2"
    assert "--no-follow-symlinks" in kept["version"]["source_command"]
