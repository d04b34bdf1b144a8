"""Pure rules: token strings, roles, names. Properties over generated input."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lablink.errors import InvalidInput, Unauthorized
from lablink.identity import (
    ROLES,
    allows,
    check_email,
    check_name,
    format_token,
    hash_secret,
    lower_role,
    new_token_parts,
    parse_token,
    secret_matches,
)

TOKEN = re.compile(r"ll_[a-z0-9]{8}_[A-Za-z0-9_-]{43}")


def test_a_new_token_reads_back_and_has_the_greppable_shape() -> None:
    seen = set()
    for _ in range(200):
        prefix, secret = new_token_parts()
        text = format_token(prefix, secret)
        assert TOKEN.fullmatch(text)
        assert parse_token(text) == (prefix, secret)
        seen.add(prefix)
    assert len(seen) == 200  # 36**8 prefixes: a collision here means a broken generator


@given(st.text(max_size=120))
def test_any_text_is_either_a_token_or_unauthorized(text: str) -> None:
    try:
        prefix, secret = parse_token(text)
    except Unauthorized as error:
        assert error.message == "malformed token"
    else:
        assert format_token(prefix, secret) == text


@pytest.mark.parametrize(
    "text",
    ["", "ll_", "ll_abcdefgh", "ll_abcdefgh_", "ll_ABCDEFGH_" + "x" * 43, "xx_abcdefgh_" + "x" * 43,
     "ll_abcdefg_" + "x" * 43, "ll_abcdefgh_short", "ll_abcdefgh_" + "x" * 40 + "!!!", None, 12],
)  # fmt: skip
def test_malformed_tokens_are_unauthorized(text: object) -> None:
    with pytest.raises(Unauthorized, match="malformed token"):
        parse_token(text)


@given(st.text(min_size=1, max_size=60), st.text(min_size=1, max_size=60))
def test_only_the_same_secret_matches_its_hash(a: str, b: str) -> None:
    stored = hash_secret(a)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", stored)
    assert secret_matches(a, stored)
    assert secret_matches(b, stored) == (a == b)


@given(st.sampled_from([*ROLES, None]), st.sampled_from([*ROLES, None]))
def test_lower_role_is_the_weaker_and_symmetric(a: str | None, b: str | None) -> None:
    low = lower_role(a, b)
    assert low in (a, b) and low == lower_role(b, a)
    for needed in ROLES:
        assert allows(low, needed) == (allows(a, needed) and allows(b, needed))


def test_roles_are_ordered_viewer_member_admin() -> None:
    assert allows("admin", "member") and allows("member", "viewer") and allows("viewer", "viewer")
    assert not allows("viewer", "member") and not allows(None, "viewer")
    with pytest.raises(InvalidInput, match="not one of"):
        allows("admin", "owner")


@pytest.mark.parametrize("name", ["", " ana", "ana bob", "-ana", "a" * 101, "ana/../x", "ana\n"])
def test_bad_user_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="not valid"):
        check_name(name)


@pytest.mark.parametrize("email", ["", "ana", "@lab.org", "ana@", "a b@lab.org", "a@b@c"])
def test_bad_emails_are_refused(email: str) -> None:
    with pytest.raises(InvalidInput, match="not an e-mail"):
        check_email(email)
