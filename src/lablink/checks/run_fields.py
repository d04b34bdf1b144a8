"""What a run is made of, checked before anything is stored (no I/O).

The core runs these on every write; the SDK runs the ones for ``lablink.init`` before
it sends or spools the run, so a bad project name fails at once, online or offline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from lablink.checks import widths
from lablink.checks.json_value import check_json_value, check_text
from lablink.checks.limits import (
    MAX_CONFIG_BYTES,
    MAX_DEPTH,
    MAX_NOTE_CHARS,
    MAX_PARAMS,
    MAX_TAGS,
)
from lablink.checks.names import check_project, check_run_id
from lablink.errors import InvalidInput

# What the SDK captures about a run that the run's row keeps (the rest is ignored).
RUN_FIELDS = (
    "git_commit",
    "git_branch",
    "git_remote",
    "git_dirty",
    "git_diff_digest",
    "command",
    "host",
    "python_version",
    "packages",
    "gpus",
)


def check_tag(tag: Any) -> str:
    """``tag`` if it is non-empty text without whitespace, up to ``widths.TAG``.

    Raises:
        InvalidInput: naming the tag.
    """
    if not isinstance(tag, str) or not tag.strip() or len(tag) > widths.TAG:
        raise InvalidInput(f"invalid tag {tag!r}", f"tags are non-empty text up to {widths.TAG}")
    _safe(tag, "tag")
    if any(ch.isspace() for ch in tag):
        raise InvalidInput(f"tag {tag!r} contains whitespace", "use '-' or '_' instead of spaces")
    return tag


def check_tags(tags: Sequence[Any]) -> list[str]:
    """A run's starting tags: at most ``MAX_TAGS``, each a valid tag.

    Raises:
        InvalidInput: too many tags, or a bad one.
    """
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"a run takes at most {MAX_TAGS} tags, not {len(tags)}")
    return [check_tag(tag) for tag in tags]


def run_name(name: str | None, run_id: str) -> str:
    """The name a run is stored under: ``name`` stripped, or its id when blank.

    Raises:
        InvalidInput: not text, text a database cannot store, or longer than its column
            (counted before stripping, as the server's request field does).
    """
    if name is not None and not isinstance(name, str):
        raise InvalidInput(f"a run name is text, not {type(name).__name__}")
    if name is not None and len(name) > widths.RUN_NAME:
        raise InvalidInput(
            f"run name is {len(name)} characters long",
            f"keep run names under {widths.RUN_NAME} characters",
        )
    _safe(name or "", "run name")
    return (name or run_id).strip() or run_id


def flatten(config: Mapping[str, Any]) -> dict[str, Any]:
    """``{"model": {"depth": 50}}`` → ``{"model.depth": 50}``; lists stay values.

    Iterative, depth first in the config's order, each name built once: linear in the
    config's size at any depth.

    Raises:
        InvalidInput: nesting deeper than ``MAX_DEPTH`` levels.
    """
    flat: dict[str, Any] = {}
    stack: list[tuple[str, Iterator[tuple[Any, Any]]]] = [("", iter(config.items()))]
    while stack:
        prefix, items = stack[-1]
        for key, value in items:
            name = f"{prefix}{key}"
            if isinstance(value, Mapping) and value:
                if len(stack) >= MAX_DEPTH:
                    raise InvalidInput(
                        f"config is nested deeper than {MAX_DEPTH} levels (at {name[:200]!r})",
                        "flatten it, or log large values as artifacts",
                    )
                stack.append((name + ".", iter(value.items())))
                break
            flat[name] = value
        else:
            stack.pop()
    return flat


def check_json_object(value: Any, what: str, max_bytes: int) -> None:
    """A config or summary: JSON values a database can store, at most ``max_bytes``.

    Walked without recursion and measured once: the cost is linear in its size.

    Raises:
        InvalidInput: naming ``what`` and the first bad part.
    """
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be an object (a dict)")
    try:
        check_json_value(value, what)
    except ValueError as exc:
        raise InvalidInput(str(exc), "use numbers, text, booleans, lists and dicts") from None
    check_size(value, what, max_bytes)


def check_size(value: Mapping[str, Any], what: str, max_bytes: int) -> None:
    """Refuse ``value`` when its compact JSON is over ``max_bytes``.

    Raises:
        InvalidInput: with the size, the limit, and where large values belong.
    """
    size = len(json.dumps(value, allow_nan=True, separators=(",", ":")))
    if size > max_bytes:
        raise InvalidInput(
            f"{what} is {size} bytes as JSON; at most {max_bytes}",
            "log large values (lists, tables) as artifacts",
            limit=max_bytes,
        )


def check_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A run's config flattened into params, once it is a JSON object within the limits.

    Raises:
        InvalidInput: not a JSON object, too large, too deep, or too many params.
    """
    check_json_object(config, "config", MAX_CONFIG_BYTES)
    params = flatten(config)
    if len(params) > MAX_PARAMS:
        raise InvalidInput(
            f"config flattens to {len(params)} params; at most {MAX_PARAMS}",
            "log large values as artifacts, not config",
        )
    return params


def check_new_run(
    project: Any,
    name: str | None,
    config: Mapping[str, Any],
    tags: Sequence[Any],
    run_id: str,
) -> tuple[dict[str, Any], list[str], str]:
    """Everything about a new run that needs no store: its params, tags and name.

    Raises:
        InvalidInput: the first bad field, checked in the order the core always used.
    """
    check_project(project)
    params = check_config(config)
    checked_tags = check_tags(tags)
    check_run_id(run_id)
    return params, checked_tags, run_name(name, run_id)


def _safe(text: str, what: str) -> None:
    try:
        check_text(text)
    except ValueError as exc:
        raise InvalidInput(f"{what} {text[:40]!r}: {exc}") from None


def check_final_status(status: Any) -> str:
    """``status`` if a run may end with it.

    Raises:
        InvalidInput: listing the statuses a run may end with.
    """
    # here, not at the top: models is large, and `lablink launch` checks a new run
    # (check_new_run) before its command starts
    from lablink.models import ENDED_STATUSES

    if status not in ENDED_STATUSES:
        raise InvalidInput(
            f"cannot finish a run as {status!r}",
            "use one of " + ", ".join(sorted(ENDED_STATUSES)),
        )
    return status  # type: ignore[no-any-return]


def check_note(text: Any, outcome: Any) -> None:
    """Refuse an empty note or an unknown outcome.

    Raises:
        InvalidInput: naming which.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("a note is empty")
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidInput(
            f"a note is {len(text)} characters long; at most {MAX_NOTE_CHARS}",
            "attach long text as an artifact",
        )
    from lablink.models import OUTCOMES

    if outcome is not None and outcome not in OUTCOMES:
        raise InvalidInput(f"unknown outcome {outcome!r}", "use " + ", ".join(OUTCOMES))


def check_artifact_name(name: Any) -> str:
    """``name`` if it is a relative path without ``..``, up to ``widths.ARTIFACT_NAME``.

    Raises:
        InvalidInput: naming it.
    """
    if (
        not isinstance(name, str)
        or not name
        or len(name) > widths.ARTIFACT_NAME
        or name.startswith("/")
        or ".." in name.split("/")
    ):
        raise InvalidInput(f"invalid artifact name {name!r}", "use a relative path")
    return name
