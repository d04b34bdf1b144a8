"""Symlinks on both sides of a version: a pull never writes through a link out of its
target folder; a push follows links by default (and names those that leave the folder)
or, with ``follow_symlinks=False``, stores them as links that a pull recreates.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from datatools import client_settings

from lablink.errors import InvalidInput
from lablink.sdk.data import add, download


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
