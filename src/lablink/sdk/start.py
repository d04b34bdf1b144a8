"""``lablink.init``: check a run's fields, mint its id, start its threads.

Nothing on ``init``'s path waits for git or the server: the run's sender thread
captures where the run comes from and creates it (sdk/opening.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lablink.checks.names import new_run_id
from lablink.checks.run_fields import check_new_run
from lablink.sdk import hooks
from lablink.sdk.connect import make_transport
from lablink.sdk.run import Run
from lablink.sdk.spool import Outbox, replay_in_background, target_of
from lablink.sdk.transport import Transport
from lablink.settings import SETTINGS, Settings

logger = logging.getLogger("lablink.sdk")

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
    installed packages and GPUs without being asked. Returns in a few milliseconds:
    the capture and the run's creation on the server happen in the run's background
    thread, before any of its points are sent (``run.sync()`` waits for them).

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

    Inside a job started by ``lablink launch`` (``LABLINK_RUN_ID`` is set), this joins
    the launch's run instead of creating one; the launcher then sets its final status.

    Raises:
        InvalidInput: a bad project name, tag or config (nothing is recorded). A server
            that refuses the run later (no access to the project) is logged as an ERROR
            and the run's updates are kept in ``<spool_dir>/failed/<run_id>.jsonl``.
    """
    unknown = set(overrides) - _SETTING_NAMES
    if unknown:
        raise TypeError(f"init() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    settings = settings or Settings.load(overrides)
    owns = transport is None
    transport = transport if transport is not None else make_transport(settings)
    from lablink.sdk.join import join, launched_run_id

    joined = launched_run_id()
    try:
        if joined:  # inside `lablink launch`: the launcher made the run already
            run = join(transport, settings, joined, name, config or {}, tags, owns)
        else:
            run = _create(transport, settings, project, name, config or {}, tags, watch, owns)
    except BaseException:
        if owns:
            transport.close()
        raise
    run._finish_timeout = finish_timeout
    hooks.register(run)
    run._replayer = replay_in_background(transport)
    if notes:
        run.note(notes)
    run._start()  # last: from here on its threads share the interpreter with the caller
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
    """A new run, checked here and created by its sender thread (sdk/opening.py)."""
    from lablink.checks.watch_policy import merge, parse_policy
    from lablink.homedir import make_home_above
    from lablink.sdk.opening import Opening

    run_id = new_run_id()
    # The server's own checks, here: a run it would refuse must not wait in the spool.
    check_new_run(project, name, config, tags, run_id)
    # The repository's [watch] table with this run's overrides over it; the
    # server puts its own [watch] under both. Checked here so a typo fails at init.
    policy = merge(settings.project_config.get("watch") or {}, watch or {})
    if policy:
        parse_policy(policy)
    make_home_above(settings.spool_dir)  # the spool only knows mkdir
    # Secrets in the config are redacted here (run.config shows what is stored);
    # argv and the diff are redacted with the rest of the capture, before the create.
    config, secrets = _redacted(config)
    outbox = Outbox(transport, run_id, Path(settings.spool_dir), target_of(transport))
    run = Run(transport, settings, outbox, project, name or run_id, config, owns_transport)
    run._opening = Opening(
        settings, project, name, dict(config), list(tags), policy or None, secrets
    )
    return run


def _redacted(config: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The config with secret values replaced, and the kinds of secrets found."""
    if not config:
        return {}, []
    from lablink.sdk import redact

    try:
        clean, kinds = redact.redact_config(config)
    except Exception as exc:  # the config is the run's own data: kept, unscanned
        logger.warning("lablink: could not scan the config for secrets: %s", exc)
        return dict(config), []
    return clean, sorted(kinds)
