"""Delivery that loses nothing: send each write, spool it to disk while the server is away.

Every write the SDK makes on behalf of a run (creating it, point batches, summary
values, tags, notes, artifacts, the final status) is an *op*: a small JSON-ready dict.
``Outbox.deliver`` sends an op through the transport; ``classify`` sorts what can go
wrong, the same way for both transports:

- an *outage* (a 503, a refused connection, a locked or restarting database): the op,
  and every op after it, is appended to ``<spool_dir>/<run_id>.jsonl``; one WARNING
  says so. The outbox retries with backoff and, once the server answers, replays the
  file in order and deletes it.
- a *failure* (a 500: a server bug, an unexpected database error): the op is spooled
  and retried up to ``MAX_TRIES`` times, then set aside in
  ``<spool_dir>/failed/<run_id>.jsonl`` with a WARNING, and the ops behind it flow on.
- a *refusal* (a 4xx: bad data, a run that has ended; an artifact file that is gone):
  logged and dropped at once, since retrying could never succeed.

Point batches carry a run-scoped ``seq`` and the server ingests by ``(run, seq)``
idempotently, so a replay never doubles a point. When the run ends while the server is
unreachable it does not wait: the spool stays for later.

A spool left behind (the process ended while the server was still away) is replayed by
``replay_all``, which ``lablink.init`` runs in the background for the same server and
``lablink sync`` runs on demand. A
run holds an exclusive ``flock`` on its spool while it lives, so ``replay_all`` never
touches the spool of a run that is still running in another process.
"""

from lablink.sdk.spool.ops import (
    FAILED_DIR,
    FAILURE,
    MAX_TRIES,
    OUTAGE,
    REFUSAL,
    SPOOL_VERSION,
    OpLog,
    apply,
    blob_op,
    classify,
    is_transient,
)
from lablink.sdk.spool.outbox import MAX_BACKOFF, MIN_BACKOFF, Outbox
from lablink.sdk.spool.replay import ReplayReport, replay_all, replay_in_background, target_of

__all__ = [
    "FAILED_DIR",
    "FAILURE",
    "MAX_BACKOFF",
    "MAX_TRIES",
    "MIN_BACKOFF",
    "OUTAGE",
    "REFUSAL",
    "SPOOL_VERSION",
    "OpLog",
    "Outbox",
    "ReplayReport",
    "apply",
    "blob_op",
    "classify",
    "is_transient",
    "replay_all",
    "replay_in_background",
    "target_of",
]
