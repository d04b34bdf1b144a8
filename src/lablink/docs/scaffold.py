"""``lablink init``: the files a repository needs to track, gate and document its work."""

from __future__ import annotations

from pathlib import Path

from lablink.errors import InvalidInput

LABLINK_TOML = """\
# lablink settings for this repository; every key is optional (see docs/settings.md).
# Values here apply to everyone who works in the repository; LABLINK_* and flags win.

[lablink]
# server = "https://lablink.example.org"   # talk to a shared server instead of ~/.lablink
# system_metrics = true                     # sample CPU, RAM and GPU with heartbeats

[gate]
# baseline = "tags.main"                    # runs a pull request is compared with
# metrics = ["val/acc:max"]
# margin = 0.0
# alpha = 0.05

[capture]
# exclude = ["secrets/*", "*.env"]          # files never captured with a run
"""

WORKFLOW = """\
# lablink: run the tests, gate the candidate runs against the baseline, and fail when the
# generated lab docs (docs/lab) are stale against the store.
name: lablink
on:
  pull_request:
  push:
    branches: [main]
jobs:
  lablink:
    runs-on: ubuntu-latest
    env:
      LABLINK_SERVER: ${{ secrets.LABLINK_SERVER }}
      LABLINK_TOKEN: ${{ secrets.LABLINK_TOKEN }}
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - name: Install
        run: pip install lablink -e .
      - name: Gate
        run: lablink gate --report gate-report.md
      - name: Lab docs are current
        run: lablink docs check
"""

DOCS_README = """\
# Lab documentation

`lablink docs build` writes this folder from the lablink store: experiment logs,
data lineage, model cards, datasheets and `HISTORY.md`. Edit only inside
`<!-- lablink:keep NAME -->` blocks; everything else is regenerated, and CI runs
`lablink docs check` to fail when these pages are stale.

Decisions live in `decisions/` as files: `lablink decision add "Title" --why "..."`.
"""

FILES = {
    "lablink.toml": LABLINK_TOML,
    ".github/workflows/lablink.yml": WORKFLOW,
    "docs/lab/README.md": DOCS_README,
    "docs/lab/decisions/.gitkeep": "",
}


def find_repo(start: Path) -> Path:
    """The root of the git repository around ``start``.

    Raises:
        InvalidInput: ``start`` is not inside a git repository.
    """
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    raise InvalidInput(
        f"{start} is not inside a git repository",
        "lab docs live in a repository: run `git init` first, or cd into one",
    )


def init_repo(root: Path, *, force: bool = False) -> tuple[list[str], list[str]]:
    """Write the scaffold into ``root``; existing files are kept unless ``force``.

    Returns the paths written and the paths left as they were.

    Raises:
        InvalidInput: a path the scaffold needs is a folder (or under a file).
    """
    for rel in FILES:
        target = root / rel
        blocked = [p for p in (target, *target.parents) if p.is_relative_to(root)]
        if target.is_dir() or any(p.is_file() for p in blocked[1:]):
            raise InvalidInput(f"cannot write {rel}: something else is in the way")
    written, kept = [], []
    for rel, text in FILES.items():
        target = root / rel
        if target.exists() and not force:
            kept.append(rel)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(rel)
    return written, kept
