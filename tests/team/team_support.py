"""Helpers for the team suite: a settable clock and a webhook receiver per person."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from typing import Any


def utc(text: str) -> float:
    """Epoch seconds of an ISO time in UTC, ``2026-12-09T10:00``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


class Clock:
    """A clock the test moves by hand (the notifier and the team read it)."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


class Inbox:
    """A webhook receiver on 127.0.0.1; ``url(person)`` is that person's apprise URL."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, Any]]] = []
        inbox = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                inbox.got.append((self.path.strip("/"), json.loads(body or b"{}")))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, person: str) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/{person}"

    def to(self, person: str) -> list[dict[str, Any]]:
        """The bodies ``person`` received."""
        return [body for who, body in list(self.got) if who == person]

    def __enter__(self) -> Inbox:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
