"""The log sink (issue 16): whatever a job prints comes back line for line, whichever
way a read was encoded (printable ASCII in one join, anything else line by line)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lablink.launch.logs import BIG_CHUNK_BYTES, MAX_LINE_CHARS, LogSink, read_lines
from lablink.sdk.client import Client

READS = [
    [b"plain ascii line", b"another one", b""],
    [b'a "quoted" word', b"back\\slash", b"tab\there"],
    ["unicode: naïve ✓".encode(), b"\xff\xfe not utf-8", b"carriage return\r"],
    [b"x" * (MAX_LINE_CHARS + 10)],
    [b"\x1b[31mcolour\x1b[0m", b"bell\x07"],
]


def _roundtrip(
    home: Path, reads: list[list[bytes]], blocks: bool = False
) -> list[dict[str, object]]:
    """What comes back of ``reads``, each handed over as its lines, or with ``blocks``
    as one block of them, as a local job's reader hands a read over."""
    with Client(home=str(home)) as client:
        transport = client._transport
        run = transport.create_run("logs", None, {}, [], None, {})
        sink = LogSink(transport, run.id)
        for raw in reads:
            if blocks:
                sink.block("out", b"\n".join(raw))
            else:
                sink.lines("out", raw)
        sink.close()
        return [line for _, line in read_lines(transport, run.id)]


def _expected(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").rstrip("\r")[:MAX_LINE_CHARS]


def test_every_read_comes_back_line_for_line(tmp_path: Path) -> None:
    lines = _roundtrip(tmp_path / "home", READS)
    assert [line["l"] for line in lines] == [_expected(r) for raw in READS for r in raw]
    assert {line["s"] for line in lines} == {"out"} and {line["a"] for line in lines} == {1}


def test_big_output_is_stored_in_bounded_chunks(tmp_path: Path) -> None:
    block = [b"y" * 99] * 10_000  # about 1 MB a read
    lines = _roundtrip(tmp_path / "home", [block] * 5)
    assert len(lines) == 50_000
    with Client(home=str(tmp_path / "home")) as client:
        transport = client._transport
        (run,) = transport.search_runs("logs", None, None, False, 5, 0)[0]
        sizes = [a.size for a in transport.list_artifacts(run.id) if a.kind == "log"]
    # a chunk ends with the read that fills it: at most one read (1.5 MB stored) over
    assert len(sizes) >= 2 and max(sizes) < BIG_CHUNK_BYTES + 2_000_000


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.lists(st.binary(max_size=40).filter(lambda b: b"\n" not in b), min_size=1, max_size=5),
        min_size=1,
        max_size=4,
    )
)
def test_any_bytes_round_trip(tmp_path: Path, reads: list[list[bytes]]) -> None:
    home = tmp_path / f"h{abs(hash(repr(reads)))}"
    lines = _roundtrip(home, reads)
    assert [line["l"] for line in lines] == [_expected(r) for raw in reads for r in raw]


def test_a_block_comes_back_as_its_lines(tmp_path: Path) -> None:
    lines = _roundtrip(tmp_path / "home", READS, blocks=True)
    assert [line["l"] for line in lines] == [_expected(r) for raw in READS for r in raw]


# lines about the cut-off: a block of them must take the careful path when one is over
HALF = MAX_LINE_CHARS // 2
NEAR_LIMIT = st.sampled_from(
    [0, 1, 99, HALF - 1, HALF, MAX_LINE_CHARS - 1, MAX_LINE_CHARS, MAX_LINE_CHARS + 1, 4 * HALF + 3]
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.lists(
            st.one_of(
                st.binary(max_size=40).filter(lambda b: b"\n" not in b),
                NEAR_LIMIT.map(lambda n: b"y" * n),
            ),
            min_size=1,
            max_size=5,
        ),
        min_size=1,
        max_size=3,
    )
)
def test_blocks_and_lines_store_the_same(tmp_path: Path, reads: list[list[bytes]]) -> None:
    home = tmp_path / f"h{abs(hash(repr(reads)))}"
    as_blocks = _roundtrip(home / "b", reads, blocks=True)
    as_lines = _roundtrip(home / "l", reads)
    assert [line["l"] for line in as_blocks] == [line["l"] for line in as_lines]
    assert [line["l"] for line in as_blocks] == [_expected(r) for raw in reads for r in raw]
