"""Folders lablink creates for itself, kept out of the user's git repository.

The default home is ``.lablink/`` at the git root, so its database, blobs, spool and
cache sit inside the user's working tree. Each ``.lablink`` folder lablink creates gets
a ``.gitignore`` holding ``*``: git then ignores the folder and everything in it, and
the user's runs are not recorded as dirty because of lablink's own files.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

HOME_NAME = ".lablink"
GITIGNORE = "# lablink's own files (database, blobs, spool, cache): never commit them\n*\n"


def make_dirs(path: str | os.PathLike[str]) -> Path:
    """``mkdir -p path``, writing ``.gitignore`` into each ``.lablink`` folder it creates."""
    target = Path(path).expanduser()
    created = [p for p in (target, *target.parents) if p.name == HOME_NAME and not p.exists()]
    target.mkdir(parents=True, exist_ok=True)
    for folder in created:
        write_gitignore(folder)
    return target


def write_gitignore(folder: Path) -> None:
    """Write ``folder/.gitignore`` ignoring everything, unless the user wrote one."""
    # best effort: a read-only folder must not stop a run
    with contextlib.suppress(OSError), (folder / ".gitignore").open("x") as fh:
        fh.write(GITIGNORE)


def make_home_above(path: str | os.PathLike[str]) -> None:
    """Create the ``.lablink`` folder above ``path`` (with its ``.gitignore``) if missing.

    For folders created later by code that only knows ``mkdir``: the home they land in
    is then already ignored by git.
    """
    target = Path(path).expanduser()
    homes = [p for p in (target, *target.parents) if p.name == HOME_NAME]
    if homes and not homes[-1].exists():
        make_dirs(homes[-1])


def own_paths(*paths: str | os.PathLike[str] | None) -> list[Path]:
    """The local paths among ``paths``, resolved: folders, ``file://`` and ``sqlite:///``.

    Other URLs (``s3://``, ``postgresql://``) and None are dropped.
    """
    out: list[Path] = []
    for path in paths:
        if path is None:
            continue
        text = os.fspath(path)
        if text.startswith("sqlite"):
            text = text.split(":///", 1)[1] if ":///" in text else ""
            if text in ("", ":memory:"):
                continue
        elif text.startswith("file://"):
            text = text[len("file://") :]
        elif "://" in text:
            continue  # s3://, http://: not in the working tree
        resolved = Path(text).expanduser().resolve()
        if resolved not in out:
            out.append(resolved)
    return out
