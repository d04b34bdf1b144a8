"""Command-line values of plain types converted without pydantic.

Typer 0.2x converts every parameter through a pydantic ``TypeAdapter``, so each
command paid for importing pydantic and its plugin loader before it ran: a quarter
of ``lablink runs ls``. Here the common cases are converted directly: text, flags,
whole and decimal numbers written plainly, paths, and lists of these. A value these rules do not
accept as they stand goes to Typer's own conversion, so results and error messages
stay Typer's. With a Typer that converts otherwise (no ``build_runtime_param``),
nothing is installed.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args, get_origin

_typer_core: Any
try:  # private parts of Typer 0.2x; without them Typer converts everything itself
    import typer.core as _typer_core
    from typer._coercion import RuntimeParam as _RuntimeParam
    from typer._coercion import build_runtime_param as _typer_build
    from typer._param_types import coerce_cli_path
except ImportError:  # pragma: no cover - another Typer
    _typer_core = None

# Only what both Python and pydantic read the same way; anything else is Typer's.
_INT = re.compile(r"[+-]?[0-9]{1,18}")
_FLOAT = re.compile(r"[+-]?(?:[0-9]{1,18}\.?[0-9]{0,18}|\.[0-9]{1,18})(?:[eE][+-]?[0-9]{1,2})?")


class _Miss(Exception):
    """The fast rule does not decide this value: Typer's conversion does."""


Leaf = Callable[[Any, Any, Any], Any]  # (value, param, ctx) -> converted, or raise _Miss


def _text(value: Any, param: Any, ctx: Any) -> Any:
    if type(value) is str:
        return value
    raise _Miss


def _flag(value: Any, param: Any, ctx: Any) -> Any:
    if type(value) is bool:
        return value
    raise _Miss


def _int(value: Any, param: Any, ctx: Any) -> Any:
    if type(value) is int:  # a default
        return value
    if type(value) is str and _INT.fullmatch(value):
        return int(value)
    raise _Miss


def _float(value: Any, param: Any, ctx: Any) -> Any:
    if type(value) is float:  # a default
        return value
    if type(value) is str and _FLOAT.fullmatch(value):
        return float(value)
    raise _Miss


def _path(value: Any, param: Any, ctx: Any) -> Any:
    if type(value) is str:
        value = Path(value)  # what pydantic makes of any text for a Path
    if not isinstance(value, Path):
        raise _Miss
    try:
        return coerce_cli_path(
            value, param.type_descriptor.parameter_info, path_type=Path, param=param, ctx=ctx
        )
    except Exception:  # e.g. does not exist: Typer says so in its own words
        raise _Miss from None


def _leaf(annotation: Any, info: Any) -> Leaf | None:
    if info.parser is not None:
        return None
    if annotation is str:
        return _text
    if annotation is bool:
        return _flag
    if annotation in (int, float):
        if info.min is not None or info.max is not None or info.clamp:
            return None
        return _int if annotation is int else _float
    if annotation is Path and info.path_type is None:
        return _path
    return None


class FastParam:
    """A parameter's conversion: the fast rule, else Typer's (built on first need)."""

    def __init__(self, descriptor: Any, leaf: Leaf, many: bool) -> None:
        self.descriptor = descriptor
        self.leaf = leaf
        self.many = many
        self._typer: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        """Convert ``value`` as Typer's own runtime parameter would."""
        multi = param.multiple or param.nargs == -1
        if value is None:
            return () if multi else None
        try:
            if not self.many:
                if not multi:
                    return self.leaf(value, param, ctx)
            elif multi and isinstance(value, (list, tuple)):
                return [self.leaf(item, param, ctx) for item in value]
        except _Miss:
            pass
        if self._typer is None:
            self._typer = _typer_build(self.descriptor)
        return self._typer.coerce(value, param=param, ctx=ctx)


def fast_param(descriptor: Any) -> FastParam | None:
    """The fast conversion for a Typer type descriptor, or None where Typer's must do."""
    if descriptor.file_annotation is not None:
        return None
    annotation, info = descriptor.annotation, descriptor.parameter_info
    many = get_origin(annotation) is list
    if many:
        (annotation,) = get_args(annotation) or (None,)
    leaf = _leaf(annotation, info)
    return FastParam(descriptor, leaf, many) if leaf is not None else None


def _build(descriptor: Any) -> Any:
    fast = fast_param(descriptor)
    return fast if fast is not None else _typer_build(descriptor)


def _compatible() -> bool:
    """Whether this Typer calls conversions the way ``FastParam`` expects (0.2x)."""
    if _typer_core is None or getattr(_typer_core, "build_runtime_param", None) is None:
        return False
    try:
        coerce = list(inspect.signature(_RuntimeParam.coerce).parameters)
        path = set(inspect.signature(coerce_cli_path).parameters)
    except (TypeError, ValueError):  # pragma: no cover - another Typer
        return False
    return coerce == ["self", "value", "param", "ctx"] and {"path_type", "param", "ctx"} <= path


def install() -> None:
    """Convert plain values the fast way in every Typer command of this process.

    Typer builds a parameter's conversion on first use through ``typer.core``'s
    ``build_runtime_param``, for options it adds itself (``--help``) too; that name is
    replaced once. A Typer that converts otherwise keeps its own. Idempotent.
    """
    if _compatible():
        _typer_core.build_runtime_param = _build
