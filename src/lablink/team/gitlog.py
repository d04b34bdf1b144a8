"""Read who changed which file from git, for the bus factor.

One ``git log --name-status -M -z`` pass, streamed, oldest commit first: each commit's
author (after the repository's ``.mailmap``) and the files it added, modified, renamed
or deleted. A rename carries the file's history to its new path, as the truck factor
paper's tool does. The history is replayed into ``FileHistory`` records
(``checks/truckfactor.py``); the files that count are those in the tree at the cut.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from lablink.checks.truckfactor import FileHistory
from lablink.errors import InvalidInput

HEADER = "\x1e"  # starts each commit's line in the log (a path cannot hold it in practice)
FORMAT = f"{HEADER}%H%x1f%aN%x1f%aE%x1f%at"
CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class Commit:
    """One non-merge commit: who, when, and its file changes (status, path[, new path])."""

    sha: str
    name: str
    email: str
    time: int
    changes: tuple[tuple[str, ...], ...]


def git(root: Path, *args: str) -> str:
    """Run git in ``root`` and return its output.

    Raises:
        InvalidInput: ``root`` is not a git repository, or git refused.
    """
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise InvalidInput(
            f"git {args[0]} failed in {root}: {done.stderr.strip() or 'no repository'}",
            "run it inside a git repository (or pass --repo PATH)",
        )
    return done.stdout


def repo_root(start: Path) -> Path:
    """The top of the git repository around ``start``. Raises ``InvalidInput``."""
    if not start.exists():
        raise InvalidInput(f"{start} does not exist", "pass a folder inside a git repository")
    return Path(git(start, "rev-parse", "--show-toplevel").strip())


def commits(root: Path, since: str | None = None, until: str | None = None) -> Iterator[Commit]:
    """The repository's non-merge commits, oldest first, streamed from one git process."""
    args = ["git", "-C", str(root), "-c", "core.quotepath=off", "log", "--no-merges"]
    args += ["--reverse", "-M", "--name-status", "-z", f"--format={FORMAT}"]
    if since:
        args.append(f"--since={since}")
    if until:
        args.append(f"--until={until}")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        yield from _parse(_tokens(proc.stdout))
    finally:
        proc.stdout.close()
        assert proc.stderr is not None
        with proc.stderr:
            err = proc.stderr.read().decode(errors="replace")
        if proc.wait() != 0 and "does not have any commits" not in err:
            raise InvalidInput(f"git log failed in {root}: {err.strip()}", "check the repository")


def _tokens(stream: object) -> Iterator[str]:
    rest = b""
    read = stream.read  # type: ignore[attr-defined]
    while chunk := read(CHUNK):
        parts = (rest + chunk).split(b"\0")
        rest = parts.pop()
        for part in parts:
            yield part.decode("utf-8", errors="surrogateescape")
    if rest:
        yield rest.decode("utf-8", errors="surrogateescape")


def _parse(tokens: Iterator[str]) -> Iterator[Commit]:
    header: list[str] | None = None
    changes: list[tuple[str, ...]] = []
    for token in tokens:
        token = token.lstrip("\n")
        if token.startswith(HEADER):
            if header is not None:
                yield _commit(header, changes)
            header, changes = token[1:].split("\x1f"), []
        elif token:
            status = token[0]
            paths = 2 if status in "RC" else 1
            changes.append((status, *(next(tokens) for _ in range(paths))))
    if header is not None:
        yield _commit(header, changes)


def _commit(header: Sequence[str], changes: list[tuple[str, ...]]) -> Commit:
    sha, name, email, when = header
    return Commit(sha, name, email, int(when or 0), tuple(changes))


class Replay:
    """File histories built by replaying commits in order; ``who`` names a commit's author."""

    def __init__(self) -> None:
        self.files: dict[str, FileHistory] = {}

    def apply(self, commit: Commit, who: str) -> None:
        """Add one commit's changes. A file whose creation is before the history read
        (``--since``) has no creator."""
        for change in commit.changes:
            status, path = change[0], change[1]
            if status == "D":
                self.files.pop(path, None)
                continue
            if status == "R":
                moved = self.files.pop(path, None)
                path = change[2]
                if moved is not None:
                    self.files[path] = moved
            elif status == "C":
                path = change[2]
            history = self.files.get(path)
            if history is None:
                created = status in ("A", "C")
                history = self.files[path] = FileHistory(creator=who if created else None)
            history.changes[who] = history.changes.get(who, 0) + 1


def tree_files(root: Path, rev: str = "HEAD") -> list[str]:
    """The files in the tree of ``rev``."""
    return [p for p in git(root, "ls-tree", "-r", "-z", "--name-only", rev).split("\0") if p]
