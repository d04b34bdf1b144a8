"""Move runs from a source into a sink, resumably and idempotently.

Each run is written in a fixed order: the run with its origin tag, params and tags,
numbered batches of points, artifacts, its end, and last the ``import.complete`` tag.
A second pass skips complete runs and finishes the others: a batch lablink already
holds is ignored by its number, an artifact already stored by its name, and a run that
was already ended had all its points (they come before the end).
"""

from __future__ import annotations

import itertools
import logging
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from lablink.errors import Forbidden, LablinkError, ServiceUnavailable, Unauthorized
from lablink.importers.model import COMPLETE_TAG, END_STATUSES, SourceRun, Summary, Tally
from lablink.importers.sink import PER_CALL, Landed, Sink

logger = logging.getLogger(__name__)

# Errors about the sink as a whole (access, an unreachable server), not about one run.
_FATAL = (Unauthorized, Forbidden, ServiceUnavailable)
# Called after each run with (project, origin, outcome): the CLI advances its bar.
Progress = Callable[[str, str, str], None]


def import_runs(
    sink: Sink,
    runs: Iterable[SourceRun],
    origin_tag: str,
    project_of: Callable[[str], str],
    summary: Summary | None = None,
    progress: Progress | None = None,
    experiments: Mapping[str, Mapping[str, str]] | None = None,
    links: Sequence[str] = (),
) -> Summary:
    """Import every run into the experiment ``project_of(run.experiment)`` names.

    ``experiments`` (source name -> its tags) are made first, those without runs too.
    A tag in ``links`` names another run by its source id (``mlflow.parentRunId``); it
    is rewritten to that run's lablink id when that run was imported before it.
    A run that fails (a value lablink refuses, a file that cannot be read) is counted
    and named in ``summary.problems``; the others are imported.
    """
    summary = summary or Summary()
    made: dict[str, tuple[str, dict[str, Landed]]] = {}
    ids: dict[str, str] = {}  # source id -> lablink id of every run imported so far

    def experiment(project: str, tags: Mapping[str, str]) -> None:
        eid = sink.ensure_experiment(project, tags)
        made[project] = (eid, sink.landed(eid, origin_tag))
        ids.update((origin, landed.run_id) for origin, landed in made[project][1].items())

    for name, tags in (experiments or {}).items():
        summary.tally(project_of(name))
        experiment(project_of(name), tags)
    for run in runs:
        project = project_of(run.experiment)
        tally = summary.tally(project)
        try:
            if project not in made:
                experiment(project, {})
            eid, landed = made[project]
            run.tags = {k: ids.get(v, v) if k in links else v for k, v in run.tags.items()}
            outcome = _import_one(sink, eid, run, origin_tag, landed.get(run.origin), tally, ids)
        except _FATAL:
            raise  # no later run would fare better: stop with the error itself
        except Exception as error:
            # a source library raises its own errors (MlflowException, OSError); one run
            # that cannot be read or stored must not stop the others
            tally.failed += 1
            outcome = "failed"
            text = str(error) if isinstance(error, LablinkError) else _first_line(error)
            summary.problems.append(f"{run.experiment}/{run.name or run.origin}: {text}")
            logger.info("import of %s failed: %s", run.origin, error)
        summary.problems.extend(run.warnings)  # filled while its points were read
        if progress is not None:
            progress(project, run.origin, outcome)
    return summary


def _import_one(
    sink: Sink,
    eid: str,
    run: SourceRun,
    origin_tag: str,
    landed: Landed | None,
    tally: Tally,
    ids: dict[str, str],
) -> str:
    if landed is not None and landed.complete:
        tally.skipped += 1
        return "skipped"
    if landed is None:
        tags = {**run.tags, origin_tag: run.origin}
        run_id = sink.create_run(eid, run.name, run.start_ms, run.user, tags)
        ids[run.origin] = run_id
        still_open = True
    else:
        run_id, still_open = landed.run_id, landed.open
    # a new run got its tags when it was made; a resumed one gets them again
    for params, tags in _paired(run.params, run.tags if landed is not None else {}):
        sink.log(run_id, params, tags)
    tally.params += len(run.params)
    tally.tags += len(run.tags)
    if still_open:  # an ended run got every point before it was ended
        for seq, series in enumerate(run.batches(), start=1):
            tally.points += sink.log_points(run_id, seq, series)
    have = sink.artifact_names(run_id)
    for artifact in run.artifacts():
        if artifact.name in have:
            continue
        with tempfile.TemporaryDirectory(prefix="lablink-import-") as tmp:
            size = sink.put_artifact(run_id, artifact.name, artifact.fetch(Path(tmp)))
        tally.artifacts += 1
        tally.bytes += size
    if still_open:
        status = run.status if run.status in END_STATUSES else "KILLED"
        sink.finish(run_id, status, run.end_ms)
    sink.log(run_id, {}, {COMPLETE_TAG: "true"})
    if landed is None:
        tally.imported += 1
        return "imported"
    tally.completed += 1
    return "completed"


def _paired(
    params: Mapping[str, str], tags: Mapping[str, str]
) -> Iterable[tuple[dict[str, str], dict[str, str]]]:
    """Params and tags in calls of at most ``PER_CALL`` of each."""
    p, t = iter(params.items()), iter(tags.items())
    while True:
        some_p = dict(itertools.islice(p, PER_CALL))
        some_t = dict(itertools.islice(t, PER_CALL))
        if not some_p and not some_t:
            return
        yield some_p, some_t


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:300] if lines else ''}"
