"""The object the root callback puts on the Typer context for every command."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from lablink.sdk.client import Client
    from lablink.settings import Settings


@dataclasses.dataclass
class State:
    """What the root callback hands every command: overrides and the resolved settings."""

    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    _settings: Settings | None = None

    def override(self, **values: Any) -> None:
        """Command-level flags (``lablink server --db``) win over the global ones."""
        if self._settings is not None:
            raise RuntimeError("settings were already resolved")
        self.overrides.update({k: v for k, v in values.items() if v is not None})

    @property
    def settings(self) -> Settings:
        """The settings, resolved once."""
        if self._settings is None:
            from lablink.settings import Settings

            self._settings = Settings.load(self.overrides)
        return self._settings

    def client(self) -> Client:
        """A client on the configured transport (HTTP with ``--server``, else embedded)."""
        from lablink.sdk.client import Client

        return Client(settings=self.settings)


def get_state(ctx: typer.Context) -> State:
    """The State of the current invocation (a fresh one when a command runs on its own)."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj
