"""Old public names kept for one release, each warning once per use with its new name.

A module keeps its renamed names in a ``dict`` and forwards its ``__getattr__`` here::

    _DEPRECATED = {"Run": ("lablink.models", "RunRecord")}

    def __getattr__(name: str) -> Any:
        return deprecated_attribute(__name__, name, _DEPRECATED)

Classes keep renamed attributes with ``deprecated_property("transport", "_transport")``.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from typing import Any

REMOVED_IN = "0.3"


def warn(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new``."""
    warnings.warn(
        f"{old} is deprecated and will be removed in lablink {REMOVED_IN}; use {new}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def deprecated_attribute(module: str, name: str, renamed: Mapping[str, tuple[str, str]]) -> Any:
    """A module ``__getattr__`` body: resolve ``name`` through ``renamed``, warning."""
    if name not in renamed:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    target_module, target = renamed[name]
    warn(f"{module}.{name}", f"{target_module}.{target}")
    return getattr(importlib.import_module(target_module), target)


def deprecated_property(old: str, new: str) -> property:
    """A property ``old`` that warns and reads (and writes) the attribute ``new``."""

    def get(self: Any) -> Any:
        warn(f"{type(self).__name__}.{old}", f"{type(self).__name__}.{new}")
        return getattr(self, new)

    def set_(self: Any, value: Any) -> None:
        warn(f"{type(self).__name__}.{old}", f"{type(self).__name__}.{new}")
        setattr(self, new, value)

    return property(get, set_, doc=f"Deprecated: use ``{new}``.")
