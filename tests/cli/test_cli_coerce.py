"""The fast conversion of option values (cli/coerce.py) gives exactly what Typer's gives.

Typer's own conversion (through pydantic) is the reference: for any value, both return
the same object of the same type, or both refuse it with the same message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param

from lablink.cli import coerce
from lablink.cli.coerce import FastParam, fast_param

demo = typer.Typer()


@demo.command()
def everything(
    text: str = "",
    number: int = 50,
    real: float = 0.5,
    flag: bool = False,
    where: Path = Path("."),
    existing: Path = typer.Option(Path("."), exists=True, file_okay=False),
    texts: list[str] = typer.Option([]),
    numbers: list[int] = typer.Option([]),
    paths: list[Path] = typer.Option([]),
    ranged: int = typer.Option(1, min=0, max=9),
) -> None:
    """Every kind of parameter the fast conversion knows, and one it leaves to Typer."""


COMMAND = typer.main.get_command(demo)
PARAMS = {p.name: p for p in COMMAND.params}

# Values as they come from the command line, a default or an environment variable,
# with the spellings where Python and pydantic could disagree.
NUMBERISH = st.sampled_from(
    ["0", "-0", "+5", "007", " 5", "5 ", "1_0", "1e3", "1E-2", "5.", ".5", "inf", "nan", "0x1"]
)
DIGITS = st.from_regex(r"[+-]?[0-9]{1,25}(\.[0-9]{0,5})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)
VALUES = st.one_of(
    st.text(max_size=12),
    NUMBERISH,
    DIGITS,
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.just(Path("some/where")),
)


def outcome(runtime: Any, param: Any, value: Any) -> tuple[Any, ...]:
    """What a conversion makes of ``value``: the result with its type, or the refusal."""
    ctx = typer.Context(COMMAND)
    try:
        result = runtime.coerce(value, param=param, ctx=ctx)
    except BadParameter as error:
        return ("refused", error.format_message())
    items = result if isinstance(result, list) else [result]
    return ("ok", type(result), [(type(x), repr(x)) for x in items])


def reference(param: Any) -> Any:
    return build_runtime_param(param.type_descriptor)


def fast(param: Any) -> FastParam:
    found = fast_param(param.type_descriptor)
    assert found is not None, param.name
    return found


SINGLE = ["text", "number", "real", "flag", "where", "existing"]
MANY = ["texts", "numbers", "paths"]


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(SINGLE), value=VALUES)
def test_a_single_value_converts_as_typer_converts_it(name: str, value: Any) -> None:
    param = PARAMS[name]
    assert outcome(fast(param), param, value) == outcome(reference(param), param, value)


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(MANY),
    values=st.one_of(st.lists(VALUES, max_size=4).map(tuple), st.lists(VALUES, max_size=4)),
)
def test_repeated_values_convert_as_typer_converts_them(name: str, values: Any) -> None:
    param = PARAMS[name]
    assert outcome(fast(param), param, values) == outcome(reference(param), param, values)


@pytest.mark.parametrize("name", MANY)
def test_one_text_where_a_list_is_expected_is_refused_like_typer(name: str) -> None:
    param = PARAMS[name]
    assert outcome(fast(param), param, "a")[0] == "refused"
    assert outcome(fast(param), param, "a") == outcome(reference(param), param, "a")


def test_the_cli_uses_it_with_the_installed_typer() -> None:
    import typer.core

    import lablink.cli.main  # noqa: F401  (installs it)

    assert typer.core.build_runtime_param is coerce._build


def test_bounded_numbers_are_left_to_typer() -> None:
    assert fast_param(PARAMS["ranged"].type_descriptor) is None


def test_a_refused_value_reads_as_before_on_the_command_line(tmp_path: Path) -> None:
    env = {**os.environ, "LABLINK_HOME": str(tmp_path), "NO_COLOR": "1", "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "lablink.cli", "runs", "ls", "--limit", "many"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Invalid value for '--limit' / '-n': Input should be a valid integer" in proc.stderr
    assert "hint: see `lablink runs ls --help`" in proc.stderr
