"""Wire identifiers are matched whole: a trailing newline is not a digest or a reference.

A pattern ending in ``$`` also matches before a final newline, so ``sha256:<hex>\\n``
once passed as a digest: the blob route answered 404 instead of 400 and ``/data/fetch``
wrote a ``missing`` frame with the newline in it, which no reader can parse.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from helpers import AppServer
from lablink.checks.names import check_project
from lablink.core.datasets.manifest import FileEntry, Manifest
from lablink.core.datasets.refs import check_name, parse_ref
from lablink.core.schemas import check_subject
from lablink.core.schemas import parse_ref as parse_schema_ref
from lablink.errors import InvalidInput
from lablink.server.edge_cache import EdgeCache
from lablink.store.blobs import check_digest

API = "/api/v1"
HEX = "ab" * 32
DIGEST = f"sha256:{HEX}"


@pytest.mark.parametrize("tail", ["\n", "\r\n", " ", "\t"])
def test_a_digest_with_trailing_whitespace_is_refused(tail: str) -> None:
    assert check_digest(DIGEST) == DIGEST
    with pytest.raises(InvalidInput, match="is not a blob id"):
        check_digest(DIGEST + tail)


def test_names_and_references_with_a_newline_are_refused() -> None:
    with pytest.raises(InvalidInput, match="invalid dataset name"):
        check_name("photos\n")
    with pytest.raises(InvalidInput, match="invalid version"):
        parse_ref("photos@v1\n")
    with pytest.raises(InvalidInput, match="invalid dataset"):
        parse_ref(f"photos@{HEX[:8]}\n")
    with pytest.raises(InvalidInput, match="invalid dataset"):
        parse_ref(f"blake3:{HEX}\n")
    assert parse_ref(" photos@v1 ").version == 1  # spaces around a typed reference are fine
    with pytest.raises(InvalidInput, match="invalid project name"):
        check_project("vision\n")
    with pytest.raises(InvalidInput, match="invalid schema subject"):
        check_subject("events\n")
    with pytest.raises(InvalidInput, match="invalid schema"):
        parse_schema_ref("events@v2\n")


def test_a_manifest_digest_with_a_newline_is_refused() -> None:
    manifest = Manifest("blake3", (FileEntry("a.txt", 1, f"blake3:{HEX}\n"),))
    with pytest.raises(InvalidInput, match="is not a blake3 id"):
        manifest.validate()


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_request"


def test_the_origin_answers_400_to_a_digest_with_a_newline(
    origin: tuple[AppServer, object],
) -> None:
    server, _ = origin
    with httpx.Client(base_url=server.url) as http:
        _refused(http.get(f"{API}/blobs/{DIGEST}%0A"))
        answer = http.post(f"{API}/data/fetch", json={"digests": [DIGEST + "\n"]})
        _refused(answer)
        _refused(http.post(f"{API}/data/missing", json={"digests": [DIGEST + "\n"]}))
        _refused(http.get(f"{API}/datasets/-/resolve", params={"ref": "photos@v1\n"}))
        _refused(http.get(f"{API}/datasets/photos/versions/v1%0A"))
        # a well-formed digest the server lacks: a clean ``missing`` frame, then ``end``
        answer = http.post(f"{API}/data/fetch", json={"digests": [DIGEST]})
        assert answer.content == f"missing {DIGEST}\nend\n".encode()


def test_an_edge_answers_400_to_a_digest_with_a_newline(
    origin: tuple[AppServer, object],
    edge_factory: Callable[..., tuple[AppServer, EdgeCache]],
) -> None:
    upstream, _ = origin
    edge, cache = edge_factory(upstream.url)
    with httpx.Client(base_url=edge.url) as http:
        _refused(http.get(f"{API}/blobs/{DIGEST}%0A"))
        _refused(http.post(f"{API}/data/fetch", json={"digests": [DIGEST + "\n"]}))
    assert cache.stats["upstream_requests"] == 0  # refused before asking upstream
