"""``lablink server`` as a real child process, queried by ``lablink runs ls`` over HTTP."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
from cli_support import Seeded, lablink_command, run_lablink, stop, wait_for_healthz

import lablink
from helpers import free_port, make_settings
from lablink.core.lab import Lab
from oidc_provider import CLIENT_ID, CLIENT_SECRET, Person, Provider


@pytest.fixture
def server_process(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("server-log") / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*lablink_command(), "server", "--port", str(port), "--home", str(seeded.home)],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            try:
                wait_for_healthz(url, proc)
            except AssertionError:
                stop(proc)
                raise AssertionError(log.read_text(errors="replace")[-2000:]) from None
            yield url
        finally:
            stop(proc)
    assert proc.returncode is not None


def test_runs_ls_against_a_real_server(server_process: str, seeded: Seeded) -> None:
    env = {"LABLINK_SERVER": server_process, "LABLINK_HOME": "/nonexistent/not-used"}
    result = run_lablink("runs", "ls", "--project", "vision", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {r["id"] for r in data["runs"]} == {seeded.ids["base"], seeded.ids["hot"]}

    shown = run_lablink("runs", "show", seeded.ids["base"], "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["git"]["dirty"] is True

    bad = run_lablink("runs", "ls", "--filter", "metrics.val/acc >", env=env)
    assert bad.returncode == 1
    assert "^" in bad.stderr and "Traceback" not in bad.stderr

    tagged = run_lablink("--server", server_process, "runs", "tag", seeded.ids["hot"], "remote")
    assert tagged.returncode == 0, tagged.stderr
    assert "remote" in tagged.stdout


def test_server_port_in_use_is_a_clear_error(seeded: Seeded) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_lablink("server", "--port", str(port), "--home", str(seeded.home))
        edge = run_lablink(
            "server",
            "--port",
            str(port),
            "--upstream",
            "http://127.0.0.1:9",
            "--home",
            str(seeded.home),
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "pick another port with --port" in result.stderr
    assert edge.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in edge.stderr


def test_a_port_out_of_range_is_a_usage_error(seeded: Seeded) -> None:
    from lablink.server.app import check_address

    result = run_lablink("server", "--port", "99999", "--home", str(seeded.home))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--port" in result.stderr and "65535" in result.stderr
    with pytest.raises(lablink.InvalidInput, match="port 70000 is not a TCP port"):
        check_address("127.0.0.1", 70000)  # what the API callers of serve() get


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--upstream", "origin:8500"], "--upstream 'origin:8500' is not a server URL"),
        (["--upstream", "ftp://origin"], "is not a server URL"),
        (["--upstream", "http://127.0.0.1:9", "--cache-size", "lots"], "'lots' is not a size"),
        (["--upstream", "http://127.0.0.1:9", "--cache-size", "0"], "'0' is not a size"),
    ],
)
def test_a_bad_edge_setting_is_a_clear_error(seeded: Seeded, args: list[str], message: str) -> None:
    result = run_lablink("server", "--port", str(free_port()), "--home", str(seeded.home), *args)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert message in result.stderr


def test_a_bad_single_sign_on_setting_is_a_clear_error(
    seeded: Seeded, tmp_path_factory: pytest.TempPathFactory
) -> None:
    secret = tmp_path_factory.mktemp("oidc") / "secret"
    secret.write_text("s3cret\n")
    base = ["server", "--port", str(free_port()), "--home", str(seeded.home)]
    issuer = ["--oidc-issuer", "http://127.0.0.1:9"]
    cases = [
        (
            [*issuer, "--oidc-client-id", "x", "--oidc-client-secret-file", str(secret)],
            {},
            "single sign-on (--oidc-issuer) needs --auth required or proxy",
        ),
        (issuer, {}, "--oidc-issuer needs --oidc-client-id and --oidc-client-secret-file"),
        (
            [*issuer, "--oidc-client-id", "x", "--oidc-client-secret-file", str(secret) + "x"],
            {},
            "cannot read --oidc-client-secret-file",
        ),
        ([], {"LABLINK_OIDC_CLIENT_ID": "x"}, "an OIDC client id or secret file is set"),
    ]
    for args, env, message in cases:
        result = run_lablink(*base, "--auth", "off", *args, env=env)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert message in " ".join(result.stderr.split()), result.stderr


def test_the_server_offers_single_sign_on_through_the_provider(
    seeded: Seeded, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import httpx

    with Lab(make_settings(seeded.home)) as lab:
        lab.people.add_user("root", "ana", "ana@lab.org", admin=True)
    secret = tmp_path_factory.mktemp("oidc") / "secret"
    secret.write_text(CLIENT_SECRET + "\n")
    provider = Provider(Person("sub-ana", "ana@lab.org")).start()
    port = free_port()
    args = ["--oidc-issuer", provider.url, "--oidc-client-id", CLIENT_ID]
    args += ["--oidc-client-secret-file", str(secret), "--oidc-name", "Lab Login"]
    proc = subprocess.Popen(
        [*lablink_command(), "server", "--port", str(port), "--home", str(seeded.home), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_healthz(url, proc)
        with httpx.Client(base_url=url, timeout=10) as browser:
            assert "Sign in with Lab Login" in browser.get("/signin").text
            start = browser.get("/signin/oidc", params={"next": "/me"})
            approved = httpx.get(start.headers["location"], timeout=10)
            back = browser.get(approved.headers["location"].removeprefix(url))
            assert back.status_code == 303, back.text
            assert 'data-role="me">ana<' in browser.get("/me").text
    finally:
        stop(proc)
        provider.stop()
