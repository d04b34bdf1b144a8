"""Typer's help renderer loaded without rich's Markdown parser or rich's tracebacks.

``typer.rich_utils`` draws every help page, and imports ``rich.markdown`` (markdown-it,
Pygments) and ``rich.traceback`` (attrs, ``rich.pretty``) at its top: a third of the
instructions of ``lablink --help``. ``install`` adds an import hook that, when
``typer.rich_utils`` is first imported (by whichever help or error path needs it), runs
it with stand-ins for those two modules: ``LiteMarkdown`` renders plain help prose
itself and imports the real ``Markdown`` for anything else; ``Traceback`` imports
rich's when Typer asks for one (our app turns pretty exceptions off). The stand-ins
leave ``sys.modules`` once ``typer.rich_utils`` is loaded, so any other import gets the
real modules.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lablink.cli.markdown_lite import LiteMarkdown

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

TARGET = "typer.rich_utils"


class Traceback:
    """Stand-in for ``rich.traceback.Traceback``: builds rich's when one is asked for."""

    @classmethod
    def from_exception(cls, *args: Any, **kwargs: Any) -> Any:
        from rich.traceback import Traceback as RichTraceback

        return RichTraceback.from_exception(*args, **kwargs)


STAND_INS: dict[str, dict[str, Any]] = {
    "rich.markdown": {"Markdown": LiteMarkdown},
    "rich.traceback": {"Traceback": Traceback},
}


class _Loader:
    """Runs the real loader of ``typer.rich_utils`` with the stand-ins importable."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        module: types.ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        added: list[tuple[str, types.ModuleType]] = []
        for name, attributes in STAND_INS.items():
            if name not in sys.modules:  # already loaded for real: Typer may use it
                stand_in = types.ModuleType(name, "Stand-in while typer.rich_utils loads.")
                stand_in.__dict__.update(attributes)
                sys.modules[name] = stand_in
                added.append((name, stand_in))
        try:
            self.loader.exec_module(module)
        except ImportError:
            # A Typer that wants more of these modules than the stand-ins offer: load
            # it again with the real ones
            _remove(added)
            self.loader.exec_module(module)
        finally:
            _remove(added)


def _remove(added: list[tuple[str, types.ModuleType]]) -> None:
    """Take the stand-ins out of ``sys.modules`` (not a real module imported since)."""
    for name, stand_in in added:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]


class _Finder:
    """A meta-path finder for ``typer.rich_utils`` alone; it leaves after one use."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: Any = None
    ) -> ModuleSpec | None:
        if fullname != TARGET:
            return None
        uninstall()
        from importlib.util import find_spec

        spec = find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _Loader(spec.loader)  # type: ignore[assignment]
        return spec


_FINDER = _Finder()


def install() -> None:
    """Load ``typer.rich_utils`` with the stand-ins when it is first imported.
    Idempotent; nothing to do once it is loaded."""
    if TARGET not in sys.modules and _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
    """Remove the hook (it is removed by itself when it has done its job)."""
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
