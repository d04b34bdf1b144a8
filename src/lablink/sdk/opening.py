"""A new run's ``create`` op, made by its sender thread after ``lablink.init`` returns.

``init`` only checks the run's fields, redacts its config and mints its id:
the git calls, the package listing, the GPU probe and the round trip to the server
(about 50 ms together) happen here, in the run's sender thread, before any other op
of the run is sent. Points logged meanwhile wait in the run's buffer, so the order the
server sees is unchanged: the run, its diff, the redaction note, then everything else.

A server that refuses the run (no access to the project, say) cannot make ``init``
raise any more: the refusal is logged as an ERROR and every op of the run is set aside
in ``<spool_dir>/failed/<run_id>.jsonl`` (``Outbox.refuse``), so nothing is lost.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lablink.sdk.spool import REFUSAL, Outbox, blob_op, classify
from lablink.settings import Settings

if TYPE_CHECKING:
    from lablink.sdk.capture import Capture

logger = logging.getLogger("lablink.sdk")

_capturing = threading.Lock()
_last: dict[tuple[object, ...], tuple[float, Capture]] = {}


@dataclasses.dataclass
class Opening:
    """What ``init`` knows of a new run; ``send`` captures the rest and creates it.

    ``config`` is redacted already; ``secrets`` names the kinds of secrets found in it.
    """

    settings: Settings
    project: str
    name: str | None
    config: dict[str, Any]
    tags: list[str]
    policy: dict[str, Any] | None
    secrets: list[str]
    cwd: Path = dataclasses.field(default_factory=Path.cwd)
    asked: float = dataclasses.field(default_factory=time.monotonic)  # when init ran

    def send(self, outbox: Outbox) -> None:
        """Capture git state, command, host, packages and GPUs, then create the run.

        Never raises for a server that is away (the op is spooled) or that refuses the
        run (``Outbox.refuse``).
        """
        from lablink.homedir import own_paths
        from lablink.sdk.capture import REDACTED_TAG, Capture

        settings = self.settings
        try:
            # lablink's own files must never count as the user's uncommitted changes
            own = own_paths(
                settings.home, settings.spool_dir, settings.cache_dir, settings.blobs, settings.db
            )
            # secrets in argv and the diff are redacted here, before anything leaves
            captured = shared_capture(self.cwd, own, settings.capture_exclude, self.asked)
        except Exception as exc:  # capture never fails a run
            logger.warning(
                "lablink: could not capture where run %s comes from: %s", outbox.run_id, exc
            )
            captured = Capture({})
        if self.secrets:
            captured.redacted["config"] = self.secrets
        tags = [*self.tags, REDACTED_TAG] if captured.redacted else list(self.tags)
        if self.policy:
            captured.fields["watch"] = self.policy
        op: dict[str, Any] = {"op": "create", "run_id": outbox.run_id, "project": self.project}
        op.update(name=self.name, config=self.config, tags=tags, capture=captured.fields)
        try:
            outbox.deliver(op)  # spools if the server is away
        except Exception as exc:
            if classify(exc) != REFUSAL:
                raise
            outbox.refuse(op, exc)
        if captured.diff is not None:
            outbox.deliver(blob_op(outbox.run_id, captured.diff))
        note = captured.redaction_note()
        if note:
            outbox.deliver({"op": "note", "run_id": outbox.run_id, "text": note, "outcome": None})


def shared_capture(cwd: Path, own: Sequence[Path], exclude: Sequence[str], asked: float) -> Capture:
    """A capture of ``cwd`` begun after ``asked`` (monotonic): this run's own, or one
    another run of the process began later, while this one waited.

    One capture at a time per process: a burst of runs (a sweep started from one
    script) shares a few captures instead of running git and the secret scan for
    each run at once, which would slow the training loop the threads share a process
    with. Each still sees the tree as it was after its own ``init``.
    """
    from lablink.sdk.capture import Capture, capture

    key = (str(cwd), tuple(map(str, own)), tuple(exclude))
    with _capturing:
        known = _last.get(key)
        if known is None or known[0] < asked:
            began = time.monotonic()
            known = (began, capture(cwd=cwd, own=own, exclude=exclude))
            _last.clear()
            _last[key] = known
    found = known[1]
    # each run adds its own fields (its watch policy, the config's secrets)
    return Capture(dict(found.fields), found.diff, {}, dict(found.redacted))
