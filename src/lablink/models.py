"""Plain records shared by the store, core, SDK and server. No I/O here."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from lablink.deprecation import deprecated_attribute

# preempted: SIGTERMed from outside (a scheduler taking the machine back); restartable
RUN_STATUSES: tuple[str, ...] = (
    "running",
    "finished",
    "failed",
    "crashed",
    "killed",
    "timed_out",
    "preempted",
)
ENDED_STATUSES = frozenset(RUN_STATUSES) - {"running"}
OUTCOMES: tuple[str, ...] = ("positive", "negative", "inconclusive")
_T = TypeVar("_T")


@dataclasses.dataclass(frozen=True)
class GitInfo:
    """The code version a run was started from."""

    commit: str | None = None
    branch: str | None = None
    remote: str | None = None
    dirty: bool = False
    diff_digest: str | None = None


@dataclasses.dataclass(frozen=True)
class MetricSummary:
    """Per run and key: the last point, the extremes and an explicit summary value."""

    key: str
    count: int
    last_step: int | None
    last_value: float | None
    min_value: float | None
    max_value: float | None
    summary_value: float | None = None

    @property
    def value(self) -> float | None:
        """What ``metrics.<key>`` means in filters: the summary if set, else the last value."""
        return self.summary_value if self.summary_value is not None else self.last_value


@dataclasses.dataclass(frozen=True)
class Note:
    """A note on a run; ``outcome`` marks negative results for the experiment log."""

    text: str
    author: str
    created_at: float
    outcome: str | None = None


@dataclasses.dataclass(frozen=True)
class Artifact:
    """A file attached to a run, stored once by content hash."""

    run_id: str
    name: str
    kind: str
    digest: str
    size: int
    created_at: float


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """Everything recorded about one run: what ``Client.runs()`` and ``Client.run()`` return.

    Named apart from ``lablink.Run``, the live handle ``lablink.init()`` returns.
    """

    id: str
    project: str
    name: str
    user: str
    status: str
    created_at: float
    ended_at: float | None
    heartbeat_at: float | None
    git: GitInfo
    command: Sequence[str]
    host: str | None
    python_version: str | None
    packages: Mapping[str, str]
    gpus: Sequence[str]
    config: Mapping[str, Any]
    params: Mapping[str, Any]
    tags: Sequence[str]
    summary: Mapping[str, Any]
    metrics: Mapping[str, MetricSummary]
    notes: Sequence[Note]
    outcome: str | None
    status_reason: str | None
    inputs: Sequence[Mapping[str, Any]] = ()
    stop_requested: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (or to the last heartbeat while running)."""
        end = self.ended_at or self.heartbeat_at
        return None if end is None else max(0.0, end - self.created_at)

    def elapsed(self, now: float) -> float | None:
        """Seconds the run has taken: to ``now`` while it runs, else its ``duration``.

        A running run's heartbeat may not have moved yet (or its clock is behind), so
        its duration alone reads ``0.0s``; what a person wants is the time since start.
        """
        if self.status == "running":
            return max(0.0, now - self.created_at)
        return self.duration

    def to_dict(self, fields: Iterable[str] | None = None) -> dict[str, Any]:
        """A JSON-ready dict of copies; NaN and inf stay floats (the JSON layer encodes them).

        ``fields`` (keys of the dict, ``duration`` included) keeps only those, in that
        order: what a list asked with ``fields=`` answers.
        """
        return {name: _RUN_DICT[name](self) for name in (RUN_KEYS if fields is None else fields)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """Rebuild a RunRecord from ``to_dict`` output (what the HTTP API returns)."""
        if not data.keys() >= _REQUIRED_RUN:
            # the TypeError that names the missing field, as before
            return cls(**{k: data[k] for k in _RUN_ORDER if k in data})
        values = {k: v for k, v in data.items() if k in _RUN_FIELDS}
        if len(values) < len(_RUN_ORDER):  # a list asked with ``fields=`` sends fewer
            values.update(_PLAIN_BLANKS)
            values.update(data)
            for name, make in _FRESH_BLANKS:
                if name not in data:
                    values[name] = make()
            values.pop("duration", None)
        git = data.get("git")
        values["git"] = _NO_GIT if git is None else GitInfo(**git)
        values["metrics"] = {k: metric_from_dict(m) for k, m in data.get("metrics", {}).items()}
        values["notes"] = [Note(**n) for n in data.get("notes", ())]
        return built(cls, values)


@dataclasses.dataclass(frozen=True)
class NewRun:
    """One run for ``Client.create_runs`` (a batch of runs: importers, sweeps).

    ``id`` defaults to a fresh run id; ``capture`` holds the fields ``lablink.init``
    gathers (``git_commit``, ``host``, ``command``, ...) when the caller knows them.
    """

    project: str
    name: str | None = None
    config: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    tags: Sequence[str] = ()
    id: str | None = None
    capture: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class History:
    """One metric's points in step order: three parallel lists."""

    run_id: str
    key: str
    steps: list[int]
    values: list[float]
    times: list[float]
    total: int
    downsampled: bool

    def __len__(self) -> int:
        return len(self.steps)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        """Rebuild from ``to_dict`` output."""
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


# What a field of a RunRecord holds when a list left it out (``fields=``).
_BLANK_RUN: dict[str, Any] = {
    "user": "",
    "ended_at": None,
    "heartbeat_at": None,
    "git": GitInfo,
    "command": list,
    "host": None,
    "python_version": None,
    "packages": dict,
    "gpus": list,
    "config": dict,
    "params": dict,
    "tags": list,
    "summary": dict,
    "metrics": dict,
    "notes": list,
    "outcome": None,
    "status_reason": None,
    "inputs": tuple,
    "stop_requested": None,
}


def _plain(value: Any) -> Any:
    """A copy of JSON-like data (as ``dataclasses.asdict`` copies it, for less)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    return value


def _metric_dict(m: MetricSummary) -> dict[str, Any]:
    return {
        "key": m.key,
        "count": m.count,
        "last_step": m.last_step,
        "last_value": m.last_value,
        "min_value": m.min_value,
        "max_value": m.max_value,
        "summary_value": m.summary_value,
    }


def _git_dict(g: GitInfo) -> dict[str, Any]:
    return {
        "commit": g.commit,
        "branch": g.branch,
        "remote": g.remote,
        "dirty": g.dirty,
        "diff_digest": g.diff_digest,
    }


# How each key of ``RunRecord.to_dict`` is made; written out, since ``dataclasses.asdict``
# was most of the cost of answering a list of runs.
_RUN_DICT: dict[str, Callable[[RunRecord], Any]] = {
    **{
        f.name: operator.attrgetter(f.name)
        for f in dataclasses.fields(RunRecord)
        if f.name
        not in {"git", "command", "packages", "gpus", "config", "params", "tags", "summary"}
        | {"metrics", "notes", "inputs"}
    },
    "git": lambda r: _git_dict(r.git),
    "command": lambda r: list(r.command),
    "packages": lambda r: dict(r.packages),
    "gpus": lambda r: list(r.gpus),
    "config": lambda r: _plain(dict(r.config)),
    "params": lambda r: _plain(dict(r.params)),
    "tags": lambda r: list(r.tags),
    "summary": lambda r: _plain(dict(r.summary)),
    "metrics": lambda r: {k: _metric_dict(m) for k, m in r.metrics.items()},
    "notes": lambda r: [dataclasses.asdict(n) for n in r.notes],
    "inputs": lambda r: [dict(i) for i in r.inputs],
    "duration": operator.attrgetter("duration"),
}
_RUN_ORDER = tuple(f.name for f in dataclasses.fields(RunRecord))
_RUN_FIELDS = frozenset(_RUN_ORDER)
_REQUIRED_RUN = _RUN_FIELDS - _BLANK_RUN.keys()
# git, metrics and notes are rebuilt from what was sent, or blank, in ``from_dict``
_PLAIN_BLANKS = {k: v for k, v in _BLANK_RUN.items() if not callable(v)}
_FRESH_BLANKS = tuple(
    (k, v) for k, v in _BLANK_RUN.items() if callable(v) and k not in ("git", "metrics", "notes")
)
_NO_GIT = GitInfo()  # frozen: one instance serves every run that left git out
# The keys of ``RunRecord.to_dict``, in order.
RUN_KEYS = (*(f.name for f in dataclasses.fields(RunRecord)), "duration")


def run_field_getter(name: str) -> Callable[[RunRecord], Any]:
    """What makes key ``name`` of ``RunRecord.to_dict`` from a record (copies, as there)."""
    return _RUN_DICT[name]


def blank_value(name: str) -> Any:
    """What field ``name`` of a RunRecord holds when a list left it out (a fresh empty)."""
    blank = _BLANK_RUN[name]
    return blank() if callable(blank) else blank


@dataclasses.dataclass(frozen=True)
class Project:
    """A project and what the projects page shows about it."""

    name: str
    created_at: float
    run_count: int
    active_runs: int
    last_activity: float | None


@dataclasses.dataclass(frozen=True)
class Event:
    """A row of the event log that live views follow (new points, status changes)."""

    id: int
    project: str
    run_id: str | None
    kind: str
    payload: Mapping[str, Any]
    created_at: float


# -- versioned datasets ----------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a dataset; its files are listed by its manifest blob."""

    dataset: str
    version: int
    digest: str  # of the manifest, e.g. "blake3:<hex>"
    algorithm: str  # of the files' digests
    files: int
    size: int
    message: str | None
    created_by: str
    created_at: float
    parents: tuple[str, ...] = ()  # "name@vN" this version was made from
    source_run: str | None = None
    source_command: str | None = None
    profile_digest: str | None = None  # of the tables' profile blob, if any
    schema_ref: str | None = None  # "events@v2": the schema every table file passed

    @property
    def ref(self) -> str:
        """``name@vN``."""
        return f"{self.dataset}@v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with ``ref``."""
        out = dataclasses.asdict(self)
        out["parents"] = list(self.parents)
        out["ref"] = self.ref
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetVersion:
        """Rebuild from ``to_dict`` output, ignoring unknown fields."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["parents"] = tuple(values.get("parents") or ())
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class DatasetSummary:
    """A dataset and its latest version, as ``lablink data ls`` lists it."""

    name: str
    versions: int
    latest: int
    files: int
    size: int
    created_by: str
    created_at: float
    updated_at: float


@dataclasses.dataclass(frozen=True)
class Incident:
    """One watchdog rule firing on one run: open → acknowledged → resolved."""

    id: int
    run_id: str
    project: str
    run_name: str
    kind: str
    rule: str
    severity: str
    state: str
    title: str
    evidence: Mapping[str, Any]
    action: str
    count: int
    reopened: int
    opened_by: str
    opened_at: float
    last_seen_at: float
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None
    resolution_note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = dataclasses.asdict(self)
        out["evidence"] = dict(self.evidence)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Incident:
        """Rebuild from ``to_dict`` output (what the HTTP API returns)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


REVIEW_STATES: tuple[str, ...] = ("pending", "approved", "rejected", "revoked")
REVIEW_ACTIONS: tuple[str, ...] = ("request", "comment", "approve", "reject", "revoke")


@dataclasses.dataclass(frozen=True)
class ReviewEvent:
    """One immutable entry of a review's log: who did what, when, with which note.

    ``verified`` is True when the server's authentication proved who ``actor`` is.
    """

    id: int
    at: float
    actor: str
    action: str
    note: str | None
    verified: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Review:
    """The review of one dataset version: the stored report, its state and its log."""

    id: int
    dataset: str
    version: int
    author: str  # who made the version: never its approver on a team server
    requested_by: str
    requested_at: float
    reviewers: tuple[str, ...]
    options: Mapping[str, Any]
    report: Mapping[str, Any]
    report_status: str
    approvals_needed: int
    state: str
    updated_at: float
    events: tuple[ReviewEvent, ...] = ()

    @property
    def ref(self) -> str:
        """``name@vN`` of the version under review."""
        return f"{self.dataset}@v{self.version}"

    @property
    def approvers(self) -> tuple[str, ...]:
        """Who approves now: approvals in order, less those revoked since."""
        return approvers(self.events)

    def to_dict(self, report: bool = True) -> dict[str, Any]:
        """A JSON-ready dict (without the report's body when ``report`` is False)."""
        out = dataclasses.asdict(self)
        out["reviewers"] = list(self.reviewers)
        out["options"] = dict(self.options)
        out["events"] = [e.to_dict() for e in self.events]
        out["ref"] = self.ref
        out["approvers"] = list(self.approvers)
        out["summary"] = str(self.report.get("summary", ""))
        if report:
            out["report"] = dict(self.report)
        else:
            del out["report"]
        return out


def approvers(events: Sequence[ReviewEvent]) -> tuple[str, ...]:
    """The live approvals of a log: an approve adds its actor; a revoke by an approver
    withdraws theirs, and one by anyone else (a server admin) withdraws them all."""
    live: list[str] = []
    for event in events:
        if event.action == "approve" and event.actor not in live:
            live.append(event.actor)
        elif event.action == "revoke":
            live = [a for a in live if a != event.actor] if event.actor in live else []
    return tuple(live)


# Renamed in 0.2: ``Run`` was both this record and the live SDK handle.
_RENAMED = {"Run": ("lablink.models", "RunRecord")}


def __getattr__(name: str) -> Any:
    return deprecated_attribute(__name__, name, _RENAMED)


def built(cls: type[_T], values: dict[str, Any]) -> _T:
    """An instance of the frozen dataclass ``cls`` holding ``values``, which must name
    every field of ``cls`` (in field order) and nothing else.

    The generated ``__init__`` of a frozen dataclass sets each field through
    ``object.__setattr__``: for a list of thousands of runs that was the larger part of
    building them. ``__eq__``, ``__hash__`` and ``repr`` read the fields, so
    the instance is the same as one ``cls(**values)`` makes. ``values`` becomes the
    instance's own ``__dict__`` (copying it was half the cost of a 5,000-run list), so
    the caller hands over a fresh dict and keeps no hold of it.
    """
    obj = object.__new__(cls)
    _set_attr(obj, "__dict__", values)
    return obj


_set_attr = object.__setattr__  # past the frozen dataclass's own __setattr__


def metric_from_dict(data: Mapping[str, Any]) -> MetricSummary:
    """A ``MetricSummary`` from its ``to_dict`` form (``summary_value`` may be absent)."""
    return built(
        MetricSummary,
        {
            "key": data["key"],
            "count": data["count"],
            "last_step": data["last_step"],
            "last_value": data["last_value"],
            "min_value": data["min_value"],
            "max_value": data["max_value"],
            "summary_value": data.get("summary_value"),
        },
    )
