"""``HttpSink``: imported runs written to a lablink server.

What only MLflow has (experiments, string params, key/value tags, start and end in
milliseconds) goes through the server's MLflow-compatible API, which maps it exactly as
it does for an MLflow client; points go through lablink's own batch endpoint, which
ingests each numbered batch once, and files through its streamed blob upload. The
server decides who owns the runs (the token's user), as for any other write.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from lablink import errors
from lablink.importers.model import COMPLETE_TAG, Series
from lablink.importers.sink import Landed, Sink
from lablink.sdk.http import HttpTransport
from lablink.sdk.wire import auth_headers, ssl_context, unreachable
from lablink.settings import Settings

MLFLOW_API = "/api/2.0/mlflow"
_ERRORS: dict[int, type[errors.LablinkError]] = {
    400: errors.InvalidInput,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    413: errors.PayloadTooLarge,
}
_OPEN = ("RUNNING", "SCHEDULED")


class HttpSink(Sink):
    """A lablink server, as the configured user."""

    def __init__(self, settings: Settings) -> None:
        self.transport = HttpTransport(settings)
        self.server = (settings.server or "").rstrip("/")
        headers = {k.decode(): v.decode() for k, v in auth_headers(settings).items()}
        verify: Any = ssl_context() if self.server.startswith("https:") else True
        self.client = httpx.Client(
            base_url=self.server + MLFLOW_API, headers=headers, timeout=120, verify=verify
        )
        self.label = f"the lablink server at {self.server}"

    def close(self) -> None:
        self.client.close()
        self.transport.close()

    def _call(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        try:
            answer = self.client.request(method, path, json=body, params=params)
        except httpx.HTTPError as exc:
            raise unreachable(self.server, exc) from exc
        if answer.status_code >= 400:
            try:
                message = str(answer.json().get("message"))
            except ValueError:
                message = answer.text[:300]
            cls = _ERRORS.get(answer.status_code, errors.ServiceUnavailable)
            raise cls(f"{self.label}: {message}")
        return answer.json()

    def ensure_experiment(self, name: str, tags: Mapping[str, str]) -> str:
        pairs = [{"key": k, "value": v} for k, v in tags.items()]
        try:
            found = self._call("GET", "/experiments/get-by-name", params={"experiment_name": name})
        except errors.NotFound:
            made = self._call("POST", "/experiments/create", {"name": name, "tags": pairs})
            return str(made["experiment_id"])
        eid = str(found["experiment"]["experiment_id"])
        have = {t["key"] for t in found["experiment"].get("tags", [])}
        for key, value in tags.items():
            if key not in have:
                body = {"experiment_id": eid, "key": key, "value": value}
                self._call("POST", "/experiments/set-experiment-tag", body)
        return eid

    def landed(self, experiment_id: str, origin_tag: str) -> dict[str, Landed]:
        out: dict[str, Landed] = {}
        token = None
        while True:
            body: dict[str, Any] = {
                "experiment_ids": [experiment_id],
                "max_results": 1000,
                "run_view_type": "ALL",
            }
            if token:
                body["page_token"] = token
            page = self._call("POST", "/runs/search", body)
            for run in page.get("runs", []):
                tags = {t["key"]: t.get("value", "") for t in run.get("data", {}).get("tags", [])}
                if origin_tag in tags:
                    info = run["info"]
                    out[tags[origin_tag]] = Landed(
                        info["run_id"], info["status"] in _OPEN, tags.get(COMPLETE_TAG) == "true"
                    )
            token = page.get("next_page_token")
            if not token:
                return out

    def create_run(
        self,
        experiment_id: str,
        name: str | None,
        start_ms: int | None,
        user: str | None,
        tags: Mapping[str, str],
    ) -> str:
        body: dict[str, Any] = {
            "experiment_id": experiment_id,
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        if name:
            body["run_name"] = name
        if start_ms is not None:
            body["start_time"] = start_ms
        if user:
            body["user_id"] = user  # honoured only by a server without auth
        return str(self._call("POST", "/runs/create", body)["run"]["info"]["run_id"])

    def log(self, run_id: str, params: Mapping[str, str], tags: Mapping[str, str]) -> None:
        self._call(
            "POST",
            "/runs/log-batch",
            {
                "run_id": run_id,
                "params": [{"key": k, "value": v} for k, v in params.items()],
                "tags": [{"key": k, "value": v} for k, v in tags.items()],
            },
        )

    def log_points(self, run_id: str, seq: int, series: Series) -> int:
        return int(self.transport.log_batch(run_id, seq, series)["points"])

    def artifact_names(self, run_id: str) -> set[str]:
        return {a.name for a in self.transport.list_artifacts(run_id)}

    def put_artifact(self, run_id: str, name: str, path: Path) -> int:
        return self.transport.upload_artifact(run_id, path, name, "file").size

    def finish(self, run_id: str, status: str, end_ms: int | None) -> None:
        body: dict[str, Any] = {"run_id": run_id, "status": status}
        if end_ms is not None:
            body["end_time"] = end_ms
        self._call("POST", "/runs/update", body)
