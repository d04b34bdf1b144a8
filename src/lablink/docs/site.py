"""The whole docs tree: render it from facts, then write it or compare it with the disk."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from lablink.docs import keep
from lablink.docs.cards import datasheet, datasheet_path, model_card, model_path
from lablink.docs.experiments import experiment_log
from lablink.docs.facts import LabFacts
from lablink.docs.history import history_page, index_page
from lablink.docs.lineage import lineage_page
from lablink.docs.markdown import HEADER, slug
from lablink.docs.templating import Templates

PROJECTS = re.compile(r"<!-- lablink:projects ?(?P<names>[^>]*?) ?-->")


def render(facts: LabFacts, templates: Templates | None = None) -> dict[str, str]:
    """Relative path -> text of every generated page (kept blocks still empty).

    ``templates`` None uses lablink's own; every page is rendered before any is written,
    so a template error leaves the docs as they were.
    """
    templates = templates or Templates()
    pages = {
        f"experiments/{slug(project)}.md": templates.render(
            "experiments.md.j2", experiment_log(project, facts.project_runs(project))
        )
        for project in facts.projects
    }
    for run, artifact in facts.models():
        if run.project in facts.projects:
            context = model_card(run, artifact, facts)
            pages[model_path(run, artifact)] = templates.render("model_card.md.j2", context)
    for name, versions in facts.datasets().items():
        context = datasheet(name, versions, facts)
        pages[datasheet_path(name)] = templates.render("datasheet.md.j2", context)
    lineage = lineage_page(facts, facts.projects)
    pages["lineage.md"] = templates.render("lineage.md.j2", lineage)
    pages["HISTORY.md"] = templates.render("HISTORY.md.j2", history_page(facts))
    index = index_page(facts.projects, sorted(pages))
    pages["index.md"] = templates.render("index.md.j2", index)
    return dict(sorted(pages.items()))


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def generated_files(out: Path) -> list[str]:
    """The files under ``out`` a build wrote (they start with the generated marker)."""
    found = []
    for path in sorted(out.rglob("*.md")):
        text = _read(path)
        if text is not None and text.startswith(HEADER):
            found.append(path.relative_to(out).as_posix())
    return found


def built_projects(out: Path) -> list[str] | None:
    """The projects the last build covered (from its index page), or None without one."""
    text = _read(out / "index.md")
    match = PROJECTS.search(text or "")
    return match.group("names").split() if match else None


def with_kept(out: Path, pages: Mapping[str, str]) -> dict[str, str]:
    """The pages with the hand-written blocks of the files already in ``out`` put back."""
    return {path: keep.merge(text, _read(out / path)) for path, text in pages.items()}


def stale(out: Path, pages: Mapping[str, str]) -> list[str]:
    """Paths under ``out`` that differ from ``pages``, are missing, or are no longer built."""
    merged = with_kept(out, pages)
    changed = [path for path, text in merged.items() if _read(out / path) != text]
    gone = [path for path in generated_files(out) if path not in merged]
    return sorted(changed + gone)


def write(out: Path, pages: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """Write the pages that changed and remove generated pages no longer built.

    Every page is rendered and merged first and each file is replaced atomically (a
    temporary file renamed over it), so a failure leaves no page half-written.
    Returns the paths written and the paths removed.
    """
    merged = with_kept(out, pages)
    written = []
    for path, text in merged.items():
        target = out / path
        if _read(target) == text:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".lablink-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, target)
        written.append(path)
    removed = [path for path in generated_files(out) if path not in merged]
    for path in removed:
        (out / path).unlink()
    return written, removed
