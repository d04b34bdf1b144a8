"""``lablink runs artifacts`` and ``lablink runs download`` on a real embedded store."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import Cli, Seeded

from helpers import make_settings
from lablink.sdk.direct import DirectTransport


def attach(seeded: Seeded, tmp_path: Path, files: dict[str, bytes]) -> str:
    rid = seeded.ids["base"]
    transport = DirectTransport(make_settings(seeded.home))
    try:
        for name, data in files.items():
            path = tmp_path / "src" / name.replace("/", "_")
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
            transport.upload_artifact(rid, path, name, "model" if name.endswith(".pt") else "file")
    finally:
        transport.close()
    return rid


def test_list_and_download(cli: Cli, seeded: Seeded, tmp_path: Path) -> None:
    files = {"model.pt": b"weights" * 100, "plots/loss.png": b"png"}
    rid = attach(seeded, tmp_path, files)
    table = cli("runs", "artifacts", rid).stdout
    assert "model.pt" in table and "plots/loss.png" in table and "model" in table
    assert f"lablink runs download {rid} NAME -o DIR" in table
    listed = json.loads(cli("runs", "artifacts", rid, "--json").stdout)["artifacts"]
    assert sorted(a["name"] for a in listed) == sorted(files)
    one = tmp_path / "one"
    cli("runs", "download", rid, "model.pt", "-o", str(one))
    assert (one / "model.pt").read_bytes() == files["model.pt"]
    every = tmp_path / "all"
    cli("runs", "download", rid, "--output", str(every))
    assert {p.relative_to(every).as_posix(): p.read_bytes() for p in every.rglob("*.*")} == files


def test_missing_artifacts_are_clear_errors(cli: Cli, seeded: Seeded, tmp_path: Path) -> None:
    rid = seeded.ids["hot"]
    assert "has no artifacts" in cli("runs", "artifacts", rid).stdout
    none = cli("runs", "download", rid, "-o", str(tmp_path), code=1)
    assert "has no artifacts" in none.stderr
    rid = attach(seeded, tmp_path, {"a.txt": b"a"})
    wrong = cli("runs", "download", rid, "b.txt", code=1)
    assert "has no artifact 'b.txt'" in wrong.stderr
    assert f"lablink runs artifacts {rid}" in wrong.stderr
