"""The SDK and the client log to a server that speaks TLS, trusting a private CA."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sdk_support import FAST

import lablink
from helpers import free_port
from lablink.core.lab import Lab
from lablink.server.app import create_app
from lablink.server.listen import check_tls
from lablink.settings import Settings
from tlscerts import Certs, make_certs


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    return make_certs(tmp_path / "certs")


@pytest.fixture
def tls_server(lab: Lab, certs: Certs) -> Iterator[str]:
    """``create_app(lab)`` over HTTPS on loopback, with uvicorn's TLS as ``serve`` sets it."""
    tls = check_tls(str(certs.cert), str(certs.key))
    assert tls is not None
    port = free_port()
    config = uvicorn.Config(
        create_app(lab),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        ssl_certfile=tls.cert,
        ssl_keyfile=tls.key,
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "TLS server did not start"
        time.sleep(0.02)
    yield f"https://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_sdk_logs_through_tls_with_ssl_cert_file(
    tls_server: str,
    certs: Certs,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca))
    monkeypatch.chdir(tmp_path)
    remote = dataclasses.replace(settings, server=tls_server, spool_dir=tmp_path / "spool", **FAST)
    with lablink.init("tls", config={"lr": 0.1}, settings=remote) as run:
        for step in range(5):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
    with lablink.Client(settings=remote) as client:  # httpx, the CLI's client
        stored = client.run(run.id)
        assert stored.status == "finished"
        assert list(client.history(run.id, "loss").steps) == [0, 1, 2, 3, 4]
    assert not list((tmp_path / "spool").glob("**/*.jsonl"))  # nothing left waiting


def test_an_untrusted_certificate_is_refused(
    tls_server: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    remote = dataclasses.replace(settings, server=tls_server)
    with (
        lablink.Client(settings=remote) as client,
        pytest.raises(lablink.ServiceUnavailable, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.projects()


def test_a_missing_ssl_cert_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lablink.sdk.wire import connection_pool

    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "nope.pem"))
    with pytest.raises(lablink.InvalidInput, match="cannot load the certificates in SSL_CERT_FILE"):
        connection_pool("https://127.0.0.1:8500")
