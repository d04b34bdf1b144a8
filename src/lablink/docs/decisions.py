"""Decisions as files in the repository: ``docs/lab/decisions/D0001.md``.

They live in the repository, not the database, so they go through review like code
and need no schema. Each file is a front matter of ``key: value`` lines and the why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from lablink.docs.facts import Decision
from lablink.errors import InvalidInput, NotFound

FOLDER = "decisions"
ID = re.compile(r"^D0*(\d+)$", re.IGNORECASE)


def normalize(ref: str) -> str:
    """``D3``, ``d0003`` → ``D0003``."""
    match = ID.match(ref.strip())
    if not match:
        raise InvalidInput(f"not a decision id: {ref!r}", "decision ids look like D3 or D0003")
    return f"D{int(match.group(1)):04d}"


def format_decision(decision: Decision) -> str:
    """The file's text."""
    lines = [
        "---",
        f"id: {decision.id}",
        f"title: {decision.title}",
        f"date: {decision.date}",
        f"author: {decision.author}",
        f"runs: {', '.join(decision.runs)}",
        f"supersedes: {', '.join(decision.supersedes)}",
        "---",
        "",
        decision.why.strip(),
    ]
    return "\n".join(lines) + "\n"


def parse_decision(text: str, where: str) -> Decision:
    """A decision from its file's text; ``where`` names the file in errors."""
    parts = text.split("---\n", 2)
    if len(parts) != 3 or parts[0].strip():
        raise InvalidInput(f"{where}: no front matter", "a decision starts with a --- block")
    fields = {}
    for line in parts[1].splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    missing = [k for k in ("id", "title", "date") if not fields.get(k)]
    if missing:
        raise InvalidInput(f"{where}: front matter lacks {', '.join(missing)}")

    def listed(key: str) -> tuple[str, ...]:
        return tuple(v.strip() for v in fields.get(key, "").split(",") if v.strip())

    return Decision(
        id=normalize(fields["id"]),
        title=fields["title"],
        why=parts[2].strip(),
        date=fields["date"],
        author=fields.get("author", ""),
        runs=listed("runs"),
        supersedes=listed("supersedes"),
    )


def read_decisions(docs: Path) -> list[Decision]:
    """Every decision under ``docs/decisions``, by id."""
    folder = docs / FOLDER
    if not folder.is_dir():
        return []
    found = [
        parse_decision(path.read_text(encoding="utf-8"), str(path))
        for path in sorted(folder.glob("D*.md"))
    ]
    return sorted(found, key=lambda d: d.id)


def add_decision(
    docs: Path,
    title: str,
    why: str,
    *,
    date: str,
    author: str,
    runs: Sequence[str] = (),
    supersedes: Sequence[str] = (),
) -> tuple[Decision, Path]:
    """Write the next decision file and return it with its path.

    Raises:
        InvalidInput: an empty or multi-line title, or an empty why.
        NotFound: a decision it supersedes does not exist.
    """
    title = title.strip()
    if not title or "\n" in title:
        raise InvalidInput("a decision needs a one-line title")
    if not why.strip():
        raise InvalidInput("a decision needs a why", 'say it with --why "..."')
    existing = read_decisions(docs)
    ids = {d.id for d in existing}
    replaced = tuple(normalize(ref) for ref in supersedes)
    unknown = [ref for ref in replaced if ref not in ids]
    if unknown:
        known = ", ".join(sorted(ids)) or "none yet"
        raise NotFound(f"no decision {', '.join(unknown)} to supersede", f"known: {known}")
    number = max((int(d.id[1:]) for d in existing), default=0) + 1
    decision = Decision(
        id=f"D{number:04d}",
        title=title,
        why=why,
        date=date,
        author=author,
        runs=tuple(r.strip() for r in runs if r.strip()),
        supersedes=replaced,
    )
    path = docs / FOLDER / f"{decision.id}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as fh:  # never overwrite a decision
        fh.write(format_decision(decision))
    return decision, path
