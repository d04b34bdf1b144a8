"""A sweep file (``sweep.yaml``): the command, the space, the metric, the budget.

Read strictly: an unknown key, an empty space, a distribution that does not exist or
bounds that do not make sense is an ``InvalidInput`` naming the key and the fix, before
anything is created. The shape::

    name: lr-search               # letters, digits, . _ - ; the sweep's id starts with it
    project: vision               # default: [launch] project, else "default"
    command: python train.py --lr ${lr}   # a string (split like a shell) or a list
    args: false                   # true: also append --name=value for every param
    method: tpe                   # grid | random | tpe
    metric: {name: val/loss, goal: minimize}
    space:
      lr: {distribution: loguniform, low: 1.0e-4, high: 1.0e-1}
      layers: {distribution: int, low: 1, high: 4}
      optimizer: {distribution: choice, values: [adam, sgd]}
      batch: [32, 64]             # a list is a choice
    budget: {trials: 20, time: 2h}
    parallel: 2
    seed: 0
    launch: {timeout: 30m, grace: 10s, restarts: 0}   # per trial, like lablink launch
    watch: {diverge_factor: 3, diverge_steps: 20}     # the watchdog rule on the metric
"""

from __future__ import annotations

import itertools
import math
import re
import shlex
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lablink.checks.durations import parse_duration
from lablink.errors import InvalidInput

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DISTRIBUTIONS = ("uniform", "loguniform", "int", "choice")
MAX_GRID = 10_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Uniform(_Strict):
    """A float drawn evenly from [low, high]."""

    distribution: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _bounds(self) -> Uniform:
        _check_bounds(self.low, self.high)
        return self


class LogUniform(_Strict):
    """A float drawn evenly on a log scale from [low, high], both above zero."""

    distribution: Literal["loguniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _bounds(self) -> LogUniform:
        _check_bounds(self.low, self.high)
        if self.low <= 0:
            raise ValueError("loguniform needs low > 0; use uniform for ranges that reach 0")
        return self


class IntRange(_Strict):
    """An integer from [low, high] in steps of ``step`` (``log``: on a log scale)."""

    distribution: Literal["int"]
    low: int
    high: int
    step: int = 1
    log: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> IntRange:
        _check_bounds(self.low, self.high)
        if self.step < 1:
            raise ValueError("step must be 1 or more")
        if self.log and (self.low < 1 or self.step != 1):
            raise ValueError("log needs low >= 1 and step 1")
        return self


class Choice(_Strict):
    """One of ``values`` (numbers, text, booleans)."""

    distribution: Literal["choice"]
    values: list[str | int | float | bool | None] = Field(min_length=1)

    @field_validator("values")
    @classmethod
    def _distinct(cls, values: list[Any]) -> list[Any]:
        if len({repr(v) for v in values}) != len(values):
            raise ValueError("values repeat; list each value once")
        return values


Param = Annotated[Uniform | LogUniform | IntRange | Choice, Field(discriminator="distribution")]


class Metric(_Strict):
    """The metric a trial's run reports and which way is better."""

    name: str = Field(min_length=1)
    goal: Literal["minimize", "maximize"]


class Budget(_Strict):
    """How many trials (grid: default the whole grid) and how long to start new ones."""

    trials: int | None = Field(default=None, ge=1)
    time: str | float | None = None

    @field_validator("time")
    @classmethod
    def _time(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            try:
                parse_duration(value, "budget.time")
            except InvalidInput as exc:
                raise ValueError(f"{exc.message}; {exc.hint}") from None
        return value


class LaunchLimits(_Strict):
    """Per-trial limits, as ``lablink launch`` takes them."""

    timeout: str | float | None = None
    grace: str | float | None = None
    restarts: int | None = Field(default=None, ge=0)


class SweepSpec(_Strict):
    """A validated sweep file."""

    name: str
    project: str | None = None
    command: str | list[str]
    args: bool = False
    method: Literal["grid", "random", "tpe"]
    metric: Metric
    space: dict[str, Param]
    budget: Budget = Budget()
    parallel: int = Field(default=1, ge=1, le=64)
    seed: int = 0
    launch: LaunchLimits = LaunchLimits()
    watch: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use letters, digits, '.', '_' or '-' (up to 64), starting alnum")
        return value

    @field_validator("space", mode="before")
    @classmethod
    def _lists_are_choices(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: {"distribution": "choice", "values": v} if isinstance(v, list) else v
                for k, v in value.items()
            }
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SweepSpec:
        if not self.space:
            raise ValueError("space: no parameters; name at least one, e.g. lr: [0.1, 0.01]")
        for key in self.space:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_.-]*$", key):
                raise ValueError(f"space: parameter name {key!r}: use letters, digits, _ . -")
        words = self.argv()
        used = {m for w in words for m in PLACEHOLDER.findall(w)}
        unknown = sorted(used - set(self.space))
        if unknown:
            raise ValueError(
                f"command: ${{{unknown[0]}}} is not a parameter of space "
                f"(known: {', '.join(sorted(self.space))})"
            )
        if not words:
            raise ValueError("command: empty; give the command a trial runs")
        if self.method == "grid":
            ranged = [k for k, p in self.space.items() if not isinstance(p, Choice)]
            if ranged:
                raise ValueError(
                    f"space.{ranged[0]}: a grid needs a list of values; "
                    "use method random or tpe for ranges"
                )
            if self.grid_size() > MAX_GRID:
                raise ValueError(f"space: the grid has {self.grid_size()} points, over {MAX_GRID}")
        elif self.budget.trials is None:
            raise ValueError(f"budget.trials: method {self.method} needs a number of trials")
        unknown_watch = sorted(set(self.watch) - {"diverge_factor", "diverge_steps", "nan"})
        if unknown_watch:
            raise ValueError(
                f"watch.{unknown_watch[0]}: unknown; known: nan, diverge_factor, diverge_steps"
            )
        return self

    # -- derived ------------------------------------------------------------------------
    def argv(self) -> list[str]:
        """The command as words (placeholders still in)."""
        return shlex.split(self.command) if isinstance(self.command, str) else list(self.command)

    def grid(self) -> dict[str, list[Any]]:
        """Each param's values, for a grid."""
        return {k: list(p.values) for k, p in self.space.items() if isinstance(p, Choice)}

    def grid_size(self) -> int:
        """How many points the grid has."""
        return math.prod(len(v) for v in self.grid().values())

    def trials(self) -> int:
        """The trial budget: given, or the whole grid."""
        if self.budget.trials is not None:
            return self.budget.trials
        return self.grid_size()

    def time_limit(self) -> float | None:
        """Seconds after which no new trial starts (this invocation), or None."""
        return None if self.budget.time is None else parse_duration(self.budget.time, "time")

    def command_for(self, params: dict[str, Any]) -> list[str]:
        """The trial's command: placeholders filled, ``--name=value`` appended if asked."""
        words = [PLACEHOLDER.sub(lambda m: _text(params[m.group(1)]), w) for w in self.argv()]
        if self.args:
            words += [f"--{k}={_text(v)}" for k, v in params.items()]
        return words

    def watch_policy(self) -> dict[str, Any]:
        """The watchdog rule on the metric: NaN (and divergence, if set) stop the trial."""
        rule = {"metric": self.metric.name, "nan": True, "action": "stop", **self.watch}
        return {"rules": {"sweep": rule}}

    def to_json(self) -> dict[str, Any]:
        """A plain dict (what is stored with every trial)."""
        return self.model_dump(mode="json")


def _check_bounds(low: float, high: float) -> None:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("low and high must be finite numbers")
    if low >= high:
        raise ValueError(f"low ({low}) must be below high ({high})")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_spec(data: Any, where: str = "sweep file") -> SweepSpec:
    """A ``SweepSpec`` from parsed YAML/JSON.

    Raises:
        InvalidInput: naming the first bad key and what to write instead.
    """
    if not isinstance(data, dict):
        raise InvalidInput(f"{where}: expected a mapping of keys (name, command, space, ...)")
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(*_explain(exc, where)) from None


def load_spec(path: Path) -> SweepSpec:
    """Read and validate a sweep file.

    Raises:
        InvalidInput: the file is missing, not YAML, or not a valid sweep.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path}: not valid YAML: {exc}") from None
    return parse_spec(data, str(path))


_HINTS = {
    "extra_forbidden": "remove it; known keys are listed in docs/launch.md (Sweeps)",
    "union_tag_invalid": f"distribution must be one of {', '.join(DISTRIBUTIONS)}",
    "union_tag_not_found": f"give distribution: one of {', '.join(DISTRIBUTIONS)}",
    "missing": "add it",
    "literal_error": "",
}


def _explain(exc: ValidationError, where: str) -> tuple[str, str | None]:
    """The first error as ``(message, hint)``, the key as a dotted path."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"] if not _is_branch(p)]
    key = ".".join(loc) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        message = f"{where}: unknown key {key!r}"
    elif kind == "union_tag_invalid":
        tag = (err.get("ctx") or {}).get("tag")
        message = f"{where}: {key}.distribution: no distribution {tag!r}"
    elif kind == "missing":
        message = f"{where}: {key} is missing"
    else:
        text = str(err["msg"]).removeprefix("Value error, ")
        message = f"{where}: {key}: {text}" if loc else f"{where}: {text}"
    hint = _HINTS.get(kind)
    if kind == "union_tag_invalid" or (kind == "literal_error" and loc[-1:] == ["method"]):
        hint = _HINTS["union_tag_invalid"] if kind != "literal_error" else None
    return message, hint or None


def _is_branch(part: Any) -> bool:
    """pydantic names the union branch it tried (``uniform``, ``function-after[...]``)."""
    text = str(part)
    return text in (*DISTRIBUTIONS, "str", "float", "bool", "none") or text.startswith(
        ("function-", "list[")
    )


def all_grid_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every point of a grid spec, for counting and tests."""
    grid = spec.grid()
    return [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]
