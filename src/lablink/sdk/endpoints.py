"""Data endpoints: probe their latency, remember it, read from the nearest healthy one.

A client may know several servers holding the same blobs: the origin and edge caches
near it (``LABLINK_DATA_ENDPOINTS=http://a:8500,http://b:8500`` or ``[data]
endpoints`` in ``lablink.toml``). ``Endpoints`` probes each one's ``/healthz``
concurrently, keeps the round-trip times in ``<cache>/endpoints.json`` for a few
minutes, and orders them nearest first; endpoints within 25% + 2 ms of the nearest
keep the order they were listed in. An endpoint that fails (refused, timed out,
an error status, a cut-off or corrupt answer) goes to the back of the line for a
minute; the caller moves on to the next one (``sdk/fetch.py``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from lablink.homedir import make_dirs

logger = logging.getLogger("lablink.sdk.data")

PROBE_TTL = 300.0  # seconds a measured latency is trusted
PROBE_TIMEOUT = 2.0
FAIL_PENALTY = 60.0  # seconds a failed endpoint stays at the back of the line
NEAR_FACTOR, NEAR_SECONDS = 1.25, 0.002  # within 25% + 2 ms of the nearest: as near
# Connecting fails fast; a read may wait for an edge cache fetching from its upstream.
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=3.0)


class Endpoints:
    """The data endpoints of one client, nearest healthy first.

    Args:
        urls: base URLs (``http://host:port``) serving the data API.
        state_file: where latencies are remembered between processes (None: nowhere).
        headers: sent with every request (user, token).
        timeout: httpx timeout of data requests.
    """

    def __init__(
        self,
        urls: Sequence[str],
        state_file: Path | None = None,
        headers: Mapping[bytes, bytes] | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        if not urls:
            raise ValueError("at least one data endpoint is needed")
        self.urls = [u.rstrip("/") for u in dict.fromkeys(urls)]
        self.state_file = state_file
        self.headers = dict(headers or {})
        self.timeout = timeout
        self._lock = threading.Lock()
        self._probing = threading.Lock()
        self._clients: dict[str, httpx.Client] = {}
        self._state: dict[str, dict[str, Any]] = self._load()

    def close(self) -> None:
        """Close every connection pool."""
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def client(self, url: str) -> httpx.Client:
        """The pooled HTTP client of one endpoint."""
        with self._lock:
            if url not in self._clients:
                self._clients[url] = httpx.Client(
                    base_url=url,
                    headers=self.headers,
                    timeout=self.timeout,
                    limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
                )
            return self._clients[url]

    # -- choosing -----------------------------------------------------------------------
    def ordered(self) -> list[str]:
        """Endpoints to try in order: healthy ones by latency, then the rest.

        Healthy endpoints within 25% + 2 ms of the nearest count as equally near and
        keep the order they were listed in.
        """
        if len(self.urls) == 1:
            return list(self.urls)
        with self._probing:  # threads asking at once share one probe
            now = time.time()
            with self._lock:
                stale = [u for u in self.urls if now - self._info(u).get("checked", 0) > PROBE_TTL]
            if stale:
                self.probe(stale)
        measured: dict[str, float] = {}  # healthy endpoints, in the order they were listed
        down: list[tuple[float, str]] = []
        with self._lock:
            for url in self.urls:
                info = self._info(url)
                latency = info.get("latency")
                if latency is not None and info.get("failed_until", 0) <= now:
                    measured[url] = float(latency)
                else:
                    down.append((float("inf") if latency is None else float(latency), url))
        last = [url for _, url in sorted(down, key=lambda item: item[0])]
        if not measured:
            return last
        # Endpoints about as near as the nearest keep the order they were listed in: a
        # millisecond of jitter must not send a client to a cold cache beside a warm one.
        near_enough = min(measured.values()) * NEAR_FACTOR + NEAR_SECONDS
        near = [url for url, latency in measured.items() if latency <= near_enough]
        far = sorted((url for url in measured if url not in near), key=measured.__getitem__)
        return near + far + last

    def latency(self, url: str) -> float | None:
        """The last measured round trip to ``url`` in seconds (None: unreachable)."""
        with self._lock:
            value = self._info(url).get("latency")
            return float(value) if value is not None else None

    def probe(self, urls: Sequence[str] | None = None) -> dict[str, float | None]:
        """Measure ``GET /healthz`` of each endpoint concurrently; remember the results."""
        urls = list(urls or self.urls)
        with concurrent.futures.ThreadPoolExecutor(len(urls)) as pool:
            results = dict(zip(urls, pool.map(self._probe_one, urls), strict=True))
        now = time.time()
        with self._lock:
            for url, latency in results.items():
                info = self._info(url)
                info.update(latency=latency, checked=now)
                if latency is not None and info.get("failed_until", 0) <= now:
                    info.pop("failed_until", None)
            self._save()
        logger.debug("probed data endpoints: %s", results)
        return results

    def _probe_one(self, url: str) -> float | None:
        started = time.perf_counter()
        try:
            response = self.client(url).get("/healthz", timeout=PROBE_TIMEOUT)
        except httpx.HTTPError:
            return None
        return time.perf_counter() - started if response.status_code == 200 else None

    def failed(self, url: str, reason: str) -> None:
        """Send ``url`` to the back of the line for a while."""
        logger.warning("lablink: data endpoint %s failed (%s); trying the next one", url, reason)
        with self._lock:
            self._info(url)["failed_until"] = time.time() + FAIL_PENALTY
            self._save()

    # -- remembered state ---------------------------------------------------------------
    def _info(self, url: str) -> dict[str, Any]:
        return self._state.setdefault(url, {})

    def _load(self) -> dict[str, dict[str, Any]]:
        if self.state_file is None or not self.state_file.is_file():
            return {}
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return (
            {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}
        )

    def _save(self) -> None:
        if self.state_file is None:
            return
        with contextlib.suppress(OSError):
            make_dirs(self.state_file.parent)
            tmp = self.state_file.with_name(f".{self.state_file.name}.{os.getpid()}")
            tmp.write_text(json.dumps(self._state, indent=1))
            os.replace(tmp, self.state_file)
