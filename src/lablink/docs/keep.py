"""Hand-written blocks: ``<!-- lablink:keep NAME -->`` … ``<!-- /lablink:keep -->``.

A rebuild replaces everything in a generated file except these blocks, whose contents
come from the file already in the repository. A block the new text no longer has is
appended under "Kept from an earlier build", so nothing a person wrote is lost.
"""

from __future__ import annotations

import re

BLOCK = re.compile(
    r"<!-- lablink:keep (?P<name>[A-Za-z0-9_.-]+) -->\n?(?P<body>.*?)<!-- /lablink:keep -->",
    re.DOTALL,
)


def blocks(text: str) -> dict[str, str]:
    """Name -> body of each kept block in ``text`` (the first one of a name wins)."""
    found: dict[str, str] = {}
    for match in BLOCK.finditer(text):
        found.setdefault(match.group("name"), match.group("body"))
    return found


def merge(new: str, old: str | None) -> str:
    """``new`` with the bodies of ``old``'s kept blocks put back in."""
    if not old:
        return new
    kept = blocks(old)
    used: set[str] = set()

    def put_back(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in kept:
            return match.group(0)
        used.add(name)
        return f"<!-- lablink:keep {name} -->\n{kept[name]}<!-- /lablink:keep -->"

    merged = BLOCK.sub(put_back, new)
    orphans = [name for name in kept if name not in used]
    if orphans:
        extra = "\n\n".join(
            f"<!-- lablink:keep {name} -->\n{kept[name]}<!-- /lablink:keep -->" for name in orphans
        )
        merged = merged.rstrip("\n") + "\n\n## Kept from an earlier build\n\n" + extra + "\n"
    return merged
