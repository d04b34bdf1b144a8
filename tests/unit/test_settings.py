"""Settings precedence: overrides > LABLINK_* > lablink.toml > user config > default."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lablink.errors import InvalidInput
from lablink.settings import SETTINGS, Settings, parse_bool, parse_size


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_precedence_of_the_four_layers(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    write(repo / "lablink.toml", "[lablink]\nheartbeat_interval = 3\nflush_interval = 0.25\n")
    user = write(
        tmp_path / "user.toml",
        "[lablink]\nheartbeat_interval = 7\nuser = 'u@x'\nbuffer_points = 12\n",
    )
    env = {"LABLINK_CONFIG": str(user), "LABLINK_FLUSH_INTERVAL": "0.75"}
    s = Settings.load({"heartbeat_interval": 1.5}, env, repo)
    assert s.heartbeat_interval == 1.5  # override beats the project file
    assert s.flush_interval == 0.75  # environment beats the project file
    assert s.user == "u@x" and s.buffer_points == 12  # user file fills the rest
    assert s.home == repo / ".lablink"  # default home at the git root
    assert s.db == f"sqlite:///{repo / '.lablink' / 'lablink.db'}"


def test_home_outside_git_is_in_the_user_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    s = Settings.load({}, {"LABLINK_CONFIG": str(tmp_path / "none.toml")}, tmp_path)
    assert s.home == tmp_path / "h" / ".lablink"


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="LABLINK_SYSTEM_METRICS"):
        Settings.load({}, {"LABLINK_SYSTEM_METRICS": "maybe"}, tmp_path)


def test_postgres_urls_get_the_psycopg_driver(tmp_path: Path) -> None:
    s = Settings.load({"db": "postgres://h/db", "home": str(tmp_path)}, {}, tmp_path)
    assert s.db == "postgresql+psycopg://h/db"


def test_every_key_has_help_and_an_env_name() -> None:
    assert all(k.help and k.env.startswith("LABLINK_") for k in SETTINGS)


@given(st.sampled_from(["1", "true", "YES", "on"]), st.sampled_from(["0", "false", "No", "off"]))
def test_booleans_are_strict(yes: str, no: str) -> None:
    assert parse_bool(yes) is True and parse_bool(no) is False


def test_booleans_reject_anything_else() -> None:
    with pytest.raises(ValueError, match="true or false"):
        parse_bool("2")


def test_sizes() -> None:
    assert parse_size("50GB") == 50 * 1000**3
    assert parse_size("512MiB") == 512 * 1024**2
    assert parse_size("1000") == 1000


def test_format_size_uses_the_units_parse_size_reads() -> None:
    from lablink.settings import format_size

    assert format_size(512) == "512 B"
    assert format_size(3_400) == "3.4 kB"
    assert format_size(50 * 1000**3) == "50.0 GB"
    assert format_size(2 * 1000**4) == "2.0 TB"
    assert parse_size(format_size(50 * 1000**3).replace(" ", "")) == 50 * 1000**3


def test_single_sign_on_settings_come_from_the_project_file_and_the_environment(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    write(
        repo / "lablink.toml",
        "[lablink]\noidc_issuer = 'https://login.lab.org'\noidc_client_id = 'lablink'\n"
        "oidc_create_users = true\noidc_new_user_projects = ['vision', ' ']\n",
    )
    env = {"LABLINK_CONFIG": str(tmp_path / "none.toml"), "LABLINK_OIDC_NAME": "Lab Login"}
    s = Settings.load({}, env, repo)
    assert (s.oidc_issuer, s.oidc_client_id, s.oidc_name) == (
        "https://login.lab.org",
        "lablink",
        "Lab Login",
    )
    assert s.oidc_create_users is True and s.oidc_new_user_projects == ("vision",)
    env["LABLINK_OIDC_NEW_USER_PROJECTS"] = "a, b"
    env["LABLINK_OIDC_CREATE_USERS"] = "no"
    s = Settings.load({}, env, repo)
    assert s.oidc_new_user_projects == ("a", "b") and s.oidc_create_users is False
    write(repo / "lablink.toml", "[lablink]\noidc_new_user_projects = 3\n")
    with pytest.raises(InvalidInput, match="oidc_new_user_projects must be a list"):
        Settings.load({}, {"LABLINK_CONFIG": str(tmp_path / "none.toml")}, repo)
