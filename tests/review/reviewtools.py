"""Helpers for the review tests: split folders with a planted duplicate, versions by a
given author, a team of people."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from lablink.core.lab import Lab
from lablink.sdk.data import add


def split_folder(root: Path, leak: bool = True) -> Path:
    """train/ and val/ with a CSV each and PNG-named files; with ``leak``, one file of
    train/ is copied byte for byte into val/ (an exact duplicate across splits)."""
    for split, rows in (("train", range(0, 20)), ("val", range(20, 26))):
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        lines = ["patient_id,label,site"] + [f"p{i},{i % 2},s{i % 3}" for i in rows]
        (folder / "table.csv").write_text("\n".join(lines) + "\n")
        for i in rows:
            (folder / f"img{i:03d}.bin").write_bytes(bytes([i]) * (100 + i))
    if leak:
        (root / "val" / "img900.bin").write_bytes((root / "train" / "img003.bin").read_bytes())
    return root


def add_version(lab: Lab, folder: Path, name: str, author: str) -> str:
    """Push ``folder`` as the next version of ``name`` made by ``author``; its ref."""
    settings = dataclasses.replace(lab.settings, user=author)
    result = add(folder, name, settings=settings, profile=False)
    return str(result.version.ref)


def make_people(lab: Lab, *names: str) -> None:
    """Users (members of project ``vision``), each able to review."""
    for name in names:
        lab.people.add_user("root", name, f"{name}@lab.org")
        lab.people.grant("root", "vision", name, "member", create=True)


class Receiver:
    """A webhook receiver on 127.0.0.1 that records the JSON bodies posted to it."""

    def __init__(self) -> None:
        import http.server
        import json
        import threading

        self.bodies: list[dict[str, Any]] = []
        bodies = self.bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def team_settings(folder: Path, db_url: str, home: Path, toml: str, user: str) -> Any:
    """Settings resolved in ``folder`` whose lablink.toml is ``toml``."""
    from lablink.settings import Settings

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lablink.toml").write_text(toml)
    values = {"home": str(home), "db": db_url, "user": user}
    return Settings.load(overrides=values, environ={}, cwd=folder)
