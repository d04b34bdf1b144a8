"""The name and run-id rules of ``checks/names.py`` and the run checks of ``run_fields``."""

from __future__ import annotations

import string
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lablink.checks import widths
from lablink.checks.names import (
    check_name,
    check_project,
    check_run_id,
    is_name,
    is_run_id,
    new_run_id,
)
from lablink.checks.run_fields import check_new_run, check_tag, run_name
from lablink.errors import InvalidInput

NAME_CHARS = string.ascii_letters + string.digits + "._-"


@pytest.mark.parametrize("name", ["vision", "a", "A.b_c-9", "0start", "a" * widths.NAME])
def test_good_names(name: str) -> None:
    assert is_name(name)
    assert check_project(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".hidden",
        "-x",
        "_x",
        "a" * (widths.NAME + 1),
        "a b",
        "a/b",
        "vision\n",  # a trailing newline: no ``$``-style loophole
        "a\x00",
        "a\x7f",
        "é",
        "\uff56\uff49\uff53\uff49\uff4f\uff4e",  # "vision" in fullwidth letters
        "٣",  # an Arabic-Indic digit: \d and str.isdigit would take it
        "a\u2028",
        None,
        5,
        b"vision",
    ],
)
def test_bad_names_are_refused_naming_the_rule(name: object) -> None:
    assert not is_name(name)
    with pytest.raises(InvalidInput, match="invalid project name") as err:
        check_project(name)
    assert err.value.hint is not None and "letters, digits" in err.value.hint


def test_the_noun_and_example_are_the_callers() -> None:
    with pytest.raises(InvalidInput, match="invalid dataset name") as err:
        check_name("a b", "dataset name", "cifar-mini")
    assert err.value.hint is not None and err.value.hint.endswith("e.g. cifar-mini")


@given(st.text(max_size=210))
def test_a_name_is_exactly_ascii_name_characters_up_to_the_width(text: str) -> None:
    expected = (
        1 <= len(text) <= widths.NAME
        and all(c in NAME_CHARS for c in text)
        and text[0] not in "._-"
    )
    assert is_name(text) is expected


@pytest.mark.parametrize("run_id", ["abcd", "a1_-", "x" * widths.RUN_ID, "0123456789ab"])
def test_good_run_ids(run_id: str) -> None:
    assert is_run_id(run_id)
    assert check_run_id(run_id) == run_id


@pytest.mark.parametrize(
    "run_id",
    ["", "abc", "x" * (widths.RUN_ID + 1), "ab.cd", "ab cd", "abcd\n", "abcé", "٣٣٣٣", None, 1234],
)
def test_bad_run_ids(run_id: object) -> None:
    assert not is_run_id(run_id)
    with pytest.raises(InvalidInput, match="invalid run id"):
        check_run_id(run_id)


def test_new_run_ids_are_valid_twelve_hex_characters() -> None:
    ids = {new_run_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(is_run_id(i) and len(i) == 12 and set(i) <= set("0123456789abcdef") for i in ids)


@pytest.mark.parametrize("tag", ["a\x00b", "a\ud800", "a b", "", " ", "t" * (widths.TAG + 1), 5])
def test_tags_the_server_refuses_are_refused(tag: object) -> None:
    with pytest.raises(InvalidInput, match="tag"):
        check_tag(tag)


def test_run_names_are_measured_before_stripping_as_the_server_does() -> None:
    assert run_name(None, "abcd") == "abcd"
    assert run_name("   ", "abcd") == "abcd"
    assert run_name(" x ", "abcd") == "x"
    assert run_name("n" * widths.RUN_NAME, "abcd") == "n" * widths.RUN_NAME
    with pytest.raises(InvalidInput, match="characters long"):
        run_name(" " + "n" * widths.RUN_NAME, "abcd")
    for bad in ("a\x00", "a\udfff", 5):
        with pytest.raises(InvalidInput, match="run name"):
            run_name(bad, "abcd")  # type: ignore[arg-type]


def test_a_new_run_is_checked_whole() -> None:
    params, tags, name = check_new_run("p", None, {"m": {"d": 1}}, ["t"], "abcd")
    assert (params, tags, name) == ({"m.d": 1}, ["t"], "abcd")
    for config in ({"a": 2**63}, {"a": "\x00"}, {"a": {"b": "\ud800"}}):
        with pytest.raises(InvalidInput, match="config"):
            check_new_run("p", None, config, [], "abcd")


def test_the_shared_checks_import_nothing_heavy() -> None:
    modules = ("names", "run_fields", "json_value", "widths", "routes", "keys", "wire_numbers")
    code = (
        "import sys\n"
        + "".join(f"import lablink.checks.{m}\n" for m in modules)
        + "heavy = {'sqlalchemy', 'fastapi', 'starlette', 'pydantic', 'numpy', 'httpx'}\n"
        + "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
