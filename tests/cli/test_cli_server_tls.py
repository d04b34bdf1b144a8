"""``lablink server --tls-cert/--tls-key`` and the warning for an open, tokenless server."""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from cli_support import Seeded, lablink_command, run_lablink, stop

import lablink
from helpers import free_port
from lablink.server.listen import check_tls, exposure_warning, is_loopback
from tlscerts import Certs, make_certs


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    return make_certs(tmp_path / "certs")


def wait_for_https(url: str, ca: Path, proc: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    """Poll ``url/healthz`` over TLS, trusting ``ca``, until it answers."""
    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(log.read_text(errors="replace")[-2000:])
        try:
            return httpx.get(f"{url}/healthz", verify=context, timeout=2)
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer: {log.read_text(errors='replace')[-2000:]}")


@pytest.mark.parametrize("edge", [False, True], ids=["server", "edge"])
def test_server_speaks_https(seeded: Seeded, certs: Certs, tmp_path: Path, edge: bool) -> None:
    port = free_port()
    args = [*lablink_command(), "server", "--port", str(port), "--home", str(seeded.home)]
    args += ["--tls-cert", str(certs.cert), "--tls-key", str(certs.key)]
    if edge:
        args += ["--upstream", "http://127.0.0.1:9"]
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT)
        try:
            url = f"https://127.0.0.1:{port}"
            assert wait_for_https(url, certs.ca, proc, log).status_code == 200
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                httpx.get(f"{url}/healthz", timeout=5)  # certifi's CAs don't know ours
        finally:
            stop(proc)
    out = log.read_text(errors="replace")
    assert f"https://127.0.0.1:{port}" in out
    assert "WARNING" not in out  # loopback: no warning


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("cert-only", "--tls-cert needs --tls-key too"),
        ("key-only", "--tls-key needs --tls-cert too"),
        ("missing", "cannot be read"),
        ("swapped", "are not a usable pair"),
        ("not-pem", "are not a usable pair"),
    ],
)
def test_bad_tls_files_are_clear_errors(
    seeded: Seeded, certs: Certs, tmp_path: Path, which: str, message: str
) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    flags = {
        "cert-only": ["--tls-cert", str(certs.cert)],
        "key-only": ["--tls-key", str(certs.key)],
        "missing": ["--tls-cert", str(tmp_path / "none.pem"), "--tls-key", str(certs.key)],
        "swapped": ["--tls-cert", str(certs.key), "--tls-key", str(certs.cert)],
        "not-pem": ["--tls-cert", str(junk), "--tls-key", str(junk)],
    }[which]
    result = run_lablink("server", "--port", str(free_port()), "--home", str(seeded.home), *flags)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert message in result.stderr


def test_a_key_for_another_certificate_is_refused(certs: Certs, tmp_path: Path) -> None:
    other = make_certs(tmp_path / "other")
    with pytest.raises(lablink.InvalidInput, match="not a usable pair"):
        check_tls(str(certs.cert), str(other.key))
    assert check_tls(None, None) is None


def test_an_open_host_without_a_token_prints_a_warning(seeded: Seeded) -> None:
    # the port is taken, so the server stops right after its checks: nothing is exposed
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["server", "--host", "0.0.0.0", "--port", str(port), "--home", str(seeded.home)]
        open_ = run_lablink(*args)
        with_token = run_lablink("--token", "t0ken", *args)
    assert open_.returncode == 1 and "cannot listen on" in open_.stderr
    assert "WARNING" in open_.stderr and "requires NO API token" in open_.stderr
    assert "WARNING" not in with_token.stderr and "cannot listen on" in with_token.stderr


@pytest.mark.parametrize(
    ("host", "auth", "warns"),
    [
        ("127.0.0.1", False, False),
        ("127.0.0.2", False, False),
        ("::1", False, False),
        ("[::1]", False, False),
        ("localhost", False, False),
        ("0.0.0.0", False, True),
        ("::", False, True),
        ("192.168.1.10", False, True),
        ("0.0.0.0", True, False),
    ],
)
def test_exposure_warning(host: str, auth: bool, warns: bool) -> None:
    warning = exposure_warning(host, 8500, auth)
    assert (warning is not None) is warns
    if warning:
        assert f"{host}:8500" in warning and "LABLINK_TOKEN" in warning


def test_is_loopback_resolves_names() -> None:
    assert is_loopback("LOCALHOST")
    assert not is_loopback("no-such-host.invalid")
