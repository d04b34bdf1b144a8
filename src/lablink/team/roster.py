"""The roster as the routing and scheduling code sees it: parsed, in memory, no I/O."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any

from lablink.team.hours import Week
from lablink.team.rotation import Override, Rotation


@dataclasses.dataclass(frozen=True)
class Contact:
    """An apprise URL and the same with its secrets masked (what people are shown)."""

    url: str
    label: str


@dataclasses.dataclass(frozen=True)
class Member:
    """One teammate: their user, their week and how to reach them."""

    name: str
    email: str | None
    display_name: str | None
    week: Week
    contacts: tuple[Contact, ...]
    source: str
    updated_at: float

    def to_dict(self, at: float | None = None) -> dict[str, Any]:
        """A JSON-ready dict with masked contacts, their local time and state at ``at``."""
        at = time.time() if at is None else at
        return {
            "name": self.name,
            "email": self.email,
            "display_name": self.display_name,
            **self.week.describe(),
            "contacts": [c.label for c in self.contacts],
            "source": self.source,
            "updated_at": self.updated_at,
            "local_time": f"{self.week.local(at):%a %H:%M %Z}",
            "state": self.week.state(at),
        }


@dataclasses.dataclass(frozen=True)
class Roster:
    """Everyone, every rotation and the overrides still to come, read at one time."""

    members: Mapping[str, Member]
    rotations: Sequence[Rotation]
    overrides: Sequence[Override]

    @property
    def empty(self) -> bool:
        """No team is configured: alerts go to the ``[notify]`` channels."""
        return not self.members and not self.rotations

    @property
    def weeks(self) -> dict[str, Week]:
        """Each member's week by name."""
        return {name: m.week for name, m in self.members.items()}

    def find(self, who: str | None) -> Member | None:
        """The member with this user name or e-mail (a run's owner is often an e-mail)."""
        if not who:
            return None
        found = self.members.get(who)
        if found is not None:
            return found
        lowered = who.lower()
        for member in self.members.values():
            if member.email and member.email.lower() == lowered:
                return member
        return None
