"""``lablink.init``: capture where a run comes from, create it, start its threads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lablink.checks.names import new_run_id
from lablink.checks.run_fields import check_new_run
from lablink.sdk import hooks
from lablink.sdk.connect import make_transport
from lablink.sdk.run import Run
from lablink.sdk.spool import Outbox, blob_op, replay_in_background, target_of
from lablink.sdk.transport import Transport
from lablink.settings import SETTINGS, Settings

_SETTING_NAMES = frozenset(key.name for key in SETTINGS)


def init(
    project: str,
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (),
    notes: str | None = None,
    *,
    watch: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
    transport: Transport | None = None,
    finish_timeout: float = 30.0,
    **overrides: Any,
) -> Run:
    """Start a tracked run; use the result as a context manager or call ``finish()``.

    Captures git state (with the dirty diff), the command, host, user, Python,
    installed packages and GPUs without being asked.

    Args:
        project: the project's name (letters, digits, ``. _ -``).
        name: a readable name; default: the run id.
        config: hyperparameters, nested dicts allowed (flattened for filters).
        tags: tags to start with.
        notes: a first note on the run.
        watch: watchdog policy for this run, over the ``[watch]`` table of the
            repository's lablink.toml (see docs/watchdog.md).
        settings: resolved settings; default: ``Settings.load(overrides)``.
        transport: talk through this transport (default: from the settings).
        finish_timeout: seconds ``finish()`` waits for a server that is away.
        **overrides: any setting by name (``server=``, ``home=``, ``db=``,
            ``heartbeat_interval=``, ...), above environment and config files.

    Raises:
        InvalidInput: a bad project name, tag or config (nothing is recorded).
    """
    unknown = set(overrides) - _SETTING_NAMES
    if unknown:
        raise TypeError(f"init() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    settings = settings or Settings.load(overrides)
    owns = transport is None
    transport = transport if transport is not None else make_transport(settings)
    try:
        run = _create(transport, settings, project, name, config or {}, tags, watch, owns)
    except BaseException:
        if owns:
            transport.close()
        raise
    run._finish_timeout = finish_timeout
    hooks.register(run)
    run._start()
    run._replayer = replay_in_background(transport)
    if notes:
        run.note(notes)
    return run


def _create(
    transport: Transport,
    settings: Settings,
    project: str,
    name: str | None,
    config: Mapping[str, Any],
    tags: Sequence[str],
    watch: Mapping[str, Any] | None,
    owns_transport: bool,
) -> Run:
    from lablink.checks.watch_policy import merge, parse_policy
    from lablink.homedir import make_home_above, own_paths
    from lablink.sdk.capture import REDACTED_TAG, capture

    run_id = new_run_id()
    # The server's own checks, here: a run it would refuse must not wait in the spool.
    check_new_run(project, name, config, tags, run_id)
    # The repository's [watch] table with this run's overrides over it; the
    # server puts its own [watch] under both. Checked here so a typo fails at init.
    policy = merge(settings.project_config.get("watch") or {}, watch or {})
    if policy:
        parse_policy(policy)
    # lablink's own files must never count as the user's uncommitted changes
    own = own_paths(
        settings.home, settings.spool_dir, settings.cache_dir, settings.blobs, settings.db
    )
    make_home_above(settings.spool_dir)  # the spool only knows mkdir
    # secrets in argv, the diff and the config are redacted here, before anything leaves
    captured = capture(own=own, exclude=settings.capture_exclude, config=config)
    config = captured.config
    tags = [*tags, REDACTED_TAG] if captured.redacted else list(tags)
    if policy:
        captured.fields["watch"] = policy
    outbox = Outbox(transport, run_id, Path(settings.spool_dir), target_of(transport))
    op: dict[str, Any] = {"op": "create", "run_id": outbox.run_id, "project": project}
    op.update(name=name, config=dict(config), tags=list(tags), capture=captured.fields)
    outbox.deliver(op)  # raises for bad input; spools if the server is away
    if captured.diff is not None:
        outbox.deliver(blob_op(outbox.run_id, captured.diff))
    run = Run(transport, settings, outbox, project, name or outbox.run_id, config, owns_transport)
    note = captured.redaction_note()
    if note:
        run.note(note)
    return run
