"""Joining the run that ``lablink launch`` made for this process (``LABLINK_RUN_ID``).

The launcher owns the run's status: a joined ``Run`` flushes on ``finish()`` but
leaves ending the run to the launcher, which knows the exit status, the timeout and
the attempts. It tells the launcher how the code meant to end through a small JSON
file (``LABLINK_LAUNCH_STATUS``), so a traceback becomes the attempt's reason.

A local launcher starts the command while it creates the run, so the run may not be
stored yet when the code joins it: the launcher says so (``LABLINK_RUN_PENDING`` names
the run being created) and ``join`` waits for it (up to ``JOIN_WAIT`` seconds) before
anything is sent. A run that is missing without that word is a wrong ``LABLINK_RUN_ID``
(set by hand, or left over from another job's shell) and fails at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lablink.errors import NotFound
from lablink.models import RunRecord
from lablink.sdk.launched import ATTEMPT_ENV, PENDING_ENV, RUN_ENV, launched_params
from lablink.sdk.run import Run
from lablink.sdk.spool import Outbox, target_of
from lablink.sdk.transport import Transport
from lablink.settings import Settings

# Each attempt numbers its batches from its own base: a batch is idempotent by seq, so
# attempt 2 must never reuse the seqs attempt 1 already stored.
SEQ_SPAN = 1 << 40
JOIN_WAIT = 60.0  # the launcher creates the run while the command starts


def launched_run_id(environ: Mapping[str, str] | None = None) -> str | None:
    """The run a launcher made for this process, if any."""
    env = os.environ if environ is None else environ
    return env.get(RUN_ENV) or None


def attempt_number(environ: Mapping[str, str] | None = None) -> int:
    """Which attempt of a launched job this process is (1 when not launched)."""
    env = os.environ if environ is None else environ
    try:
        return max(1, int(env.get(ATTEMPT_ENV, "1")))
    except ValueError:
        return 1


def join(
    transport: Transport,
    settings: Settings,
    run_id: str,
    name: str | None,
    config: Mapping[str, Any],
    tags: Sequence[str],
    owns_transport: bool,
) -> Run:
    """A ``Run`` attached to the launched run ``run_id`` (its config and tags merged in)."""
    record = _launched_run(transport, run_id)
    config = {**config, **launched_params()}  # a sweep's values win over the code's defaults
    if tags:
        transport.tag(record.id, list(tags), [])
    if config:
        from lablink.sdk.redact import redact_config

        record = transport.merge_config(record.id, redact_config(config)[0])
    outbox = Outbox(transport, record.id, Path(settings.spool_dir), target_of(transport))
    run = Run(
        transport,
        settings,
        outbox,
        record.project,
        name or record.name,
        record.config,
        owns_transport,
    )
    attempt = attempt_number()
    run._joined = True
    run._seq = (attempt - 1) * SEQ_SPAN
    if attempt > 1:
        # a resumed attempt logs again the steps after its checkpoint: keep what is stored
        run._floors = {
            key: m.last_step for key, m in record.metrics.items() if m.last_step is not None
        }
    return run


def _launched_run(
    transport: Transport, run_id: str, environ: Mapping[str, str] | None = None
) -> RunRecord:
    """The launched run, waiting while the launcher says it is still creating it.

    Raises:
        NotFound: no such run, and no launcher is creating it (or it did not within
            ``JOIN_WAIT`` seconds).
    """
    env = os.environ if environ is None else environ
    pending = env.get(PENDING_ENV) == run_id
    until = time.monotonic() + (JOIN_WAIT if pending else 0.0)
    pause = 0.02
    while True:
        try:
            return transport.get_run(run_id)
        except NotFound:
            if time.monotonic() >= until:
                raise _missing(run_id, pending) from None
        time.sleep(pause)
        pause = min(0.5, pause * 2)


def _missing(run_id: str, pending: bool) -> NotFound:
    if pending:
        return NotFound(
            f"run {run_id} was not created by `lablink launch` within {JOIN_WAIT:.0f} s",
            "the launcher's output says why; launch the job again",
        )
    return NotFound(
        f"no run {run_id} to join: {RUN_ENV} names a run this store does not have",
        f"unset {RUN_ENV} to start a new run (it is set by `lablink launch` for the run it "
        "made), or check that the job records to the store its launcher used",
    )
