"""The ``[team]`` and ``[oncall]`` tables of ``lablink.toml``, checked for shape.

::

    [team.ana]
    email = "ana@lab.org"            # creates the user if missing
    tz = "Europe/London"
    hours = ["09:00-17:30", "Fri 09:00-13:00"]
    focus = ["Tue,Thu 13:00-16:00"]
    away = ["2026-12-24..2027-01-02"]
    contacts = ["json://alerts.lab.org/hook"]

    [oncall.research]
    members = ["ana", "kenji", "lucia"]
    handoff = "Mon 09:00"            # or "09:00" with daily = true
    tz = "UTC"
    follow_the_sun = true
    escalate_after = "15m"
    fallback = "lucia"
    projects = ["resnet"]           # default: every project

Values are checked here for their types; ``core/team.py`` parses them as the CLI does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lablink.errors import InvalidInput

PERSON_KEYS = {"email", "tz", "hours", "focus", "away", "contacts"}
ROTATION_KEYS = {
    "members",
    "handoff",
    "daily",
    "tz",
    "follow_the_sun",
    "escalate_after",
    "fallback",
    "projects",
}


def read_config(
    config: Mapping[str, Any],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """People and rotations from a parsed ``lablink.toml``.

    Raises:
        InvalidInput: a table or value of the wrong shape, named ``team.NAME.KEY``.
    """
    team = _table(config.get("team", {}), "team")
    oncall = _table(config.get("oncall", {}), "oncall")
    people: dict[str, dict[str, Any]] = {}
    for name, entry in team.items():
        entry = _table(entry, f"team.{name}")
        _known(entry, PERSON_KEYS, f"team.{name}")
        if "tz" not in entry or "hours" not in entry:
            raise InvalidInput(
                f"team.{name}: needs tz and hours", 'tz = "Europe/London", hours = ["09:00-17:30"]'
            )
        people[name] = {
            "email": _opt_str(entry.get("email"), f"team.{name}.email"),
            "tz": _str(entry["tz"], f"team.{name}.tz"),
            "hours": _strs(entry["hours"], f"team.{name}.hours"),
            "focus": _strs(entry.get("focus", []), f"team.{name}.focus"),
            "away": _strs(entry.get("away", []), f"team.{name}.away"),
            "contacts": _strs(entry.get("contacts", []), f"team.{name}.contacts"),
        }
    rotations: dict[str, dict[str, Any]] = {}
    for name, entry in oncall.items():
        entry = _table(entry, f"oncall.{name}")
        _known(entry, ROTATION_KEYS, f"oncall.{name}")
        field = f"oncall.{name}"
        rotations[name] = {
            "members": _strs(entry.get("members", []), f"{field}.members"),
            "handoff": _str(entry.get("handoff", "Mon 09:00"), f"{field}.handoff"),
            "daily": _bool(entry.get("daily", False), f"{field}.daily"),
            "tz": _str(entry.get("tz", "UTC"), f"{field}.tz"),
            "follow_sun": _bool(entry.get("follow_the_sun", False), f"{field}.follow_the_sun"),
            "escalate_after": _str(entry.get("escalate_after", "15m"), f"{field}.escalate_after"),
            "fallback": _opt_str(entry.get("fallback"), f"{field}.fallback"),
            "projects": _strs(entry.get("projects", []), f"{field}.projects"),
        }
    return people, rotations


def _table(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{field}: must be a table", f"write [{field}.NAME] sections")
    return dict(value)


def _known(entry: Mapping[str, Any], keys: set[str], field: str) -> None:
    unknown = sorted(set(entry) - keys)
    if unknown:
        raise InvalidInput(
            f"{field}: unknown key {unknown[0]!r}", f"known keys: {', '.join(sorted(keys))}"
        )


def _str(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: must be a string")
    return value


def _opt_str(value: Any, field: str) -> str | None:
    return None if value is None else _str(value, field)


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{field}: must be true or false")
    return value


def _strs(value: Any, field: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{field}: must be a string or a list of strings")
    return list(value)
