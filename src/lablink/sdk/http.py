"""``HttpTransport``: the SDK and CLI talking to a lablink server over its REST API.

Requests are JSON encoded with ``json.dumps`` (NaN and Infinity travel as bare tokens,
which the server's decoder accepts) and answers are decoded with ``json.loads`` for the
same reason. An error answer carries ``{"error": {"code", "message", "hint"}}``; the
typed ``LablinkError`` is rebuilt from it, so callers catch the same class as with the
direct transport. A server that cannot be reached raises ``ServiceUnavailable``.
Requests go over ``sdk/wire.py`` (``httpcore``), which keeps the SDK light.
"""

from __future__ import annotations

import array
import hashlib
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from lablink import errors
from lablink.checks.batchwire import CONTENT_TYPE as BATCH_CONTENT_TYPE
from lablink.checks.batchwire import encode_batch
from lablink.checks.routes import API_PREFIX
from lablink.gcpause import gc_paused
from lablink.models import Artifact, History, Incident, NewRun, Project, RunRecord
from lablink.run_columns import page_of
from lablink.sdk.transport import Transport
from lablink.sdk.wire import (
    Answer,
    Params,
    Wire,
    auth_headers,
    check_server_url,
    error_from_answer,
)
from lablink.settings import Settings

CHUNK = 1024 * 1024
API = API_PREFIX


def has_api_suffix(server: str) -> bool:
    """Whether a server URL already ends with the API prefix the transport adds."""
    return server.rstrip("/").endswith(API)


def suffix_hint(server: str) -> str:
    """What to do when the server URL ends with ``/api/v1``: drop the suffix."""
    base = server.rstrip("/")[: -len(API)]
    return f"the server URL ends with {API}, which lablink adds itself: use {base} instead"


class HttpTransport(Transport):
    """Speaks lablink's REST API.

    Args:
        settings: ``server`` is the base URL; ``token`` (a bearer token) and ``user``
            (sent as ``X-Lablink-User``) go with every request.
    """

    def __init__(self, settings: Settings) -> None:
        if not settings.server:
            raise errors.InvalidInput("HttpTransport needs a server URL", "set LABLINK_SERVER")
        check_server_url(settings.server)
        self.settings = settings
        self.user = settings.user
        self.wire = Wire(settings.server, API, auth_headers(settings))

    def close(self) -> None:
        self.wire.close()

    # -- plumbing -----------------------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Params | None = None,
        content: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        if body is not None:
            try:
                content = json.dumps(body, separators=(",", ":")).encode()
            except (TypeError, ValueError) as exc:
                raise errors.InvalidInput(
                    f"cannot send {path}: {exc}", "use numbers, text, booleans, lists and dicts"
                ) from exc
            headers = {"Content-Type": "application/json", **(headers or {})}
        answer = self.wire.request(method, path, params=params, content=content, headers=headers)
        if answer.status >= 400:
            error = error_from_answer(answer.status, answer.content)
            if answer.status == 404 and has_api_suffix(self.settings.server or ""):
                error.hint = suffix_hint(self.settings.server or "")
            raise error
        return answer

    def _json(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        response = self._send(method, path, body, params)
        return json.loads(response.content) if response.content else None

    def _run_answer(self, answer: Any, run_id: str) -> RunRecord:
        """The run from an answer that holds one, else fetched (answers may be shorter)."""
        if isinstance(answer, Mapping) and "id" in answer and "project" in answer:
            return RunRecord.from_dict(answer)
        return self.get_run(run_id)

    # -- runs -------------------------------------------------------------------------
    def create_run(
        self,
        project: str,
        name: str | None,
        config: Mapping[str, Any],
        tags: Sequence[str],
        run_id: str | None,
        capture: Mapping[str, Any],
    ) -> RunRecord:
        body = {
            "project": project,
            "name": name,
            "config": dict(config),
            "tags": list(tags),
            "id": run_id,
            "capture": dict(capture),
        }
        return RunRecord.from_dict(self._json("POST", "/runs", body))

    def create_runs(self, runs: Sequence[NewRun]) -> list[str]:
        body = {
            "runs": [
                {
                    "project": run.project,
                    "name": run.name,
                    "config": dict(run.config),
                    "tags": list(run.tags),
                    "id": run.id,
                    "capture": dict(run.capture),
                }
                for run in runs
            ]
        }
        return [str(rid) for rid in self._json("POST", "/runs/batch", body)["ids"]]

    def get_run(self, ref: str) -> RunRecord:
        return RunRecord.from_dict(self._json("GET", f"/runs/{_seg(ref)}"))

    def search_runs(
        self,
        project: str | None,
        filter: str | None,
        sort: str | None,
        descending: bool,
        limit: int,
        offset: int,
        fields: Sequence[str] | None = None,
    ) -> tuple[list[RunRecord], int]:
        # config=true: the server leaves configs out of lists unless asked, and a RunRecord
        # from the SDK carries its config and params on both transports
        params: dict[str, Any] = {"desc": str(descending).lower(), "limit": limit}
        # form=columns: a list per field, not an object per run (run_columns.py); an
        # older server ignores it and answers rows
        params.update(offset=offset, config="true", form="columns")
        if fields is not None:
            params["fields"] = ",".join(fields)
        for name, value in (("project", project), ("filter", filter), ("sort", sort)):
            if value is not None:
                params[name] = value
        response = self._send("GET", "/runs", params=params)
        with gc_paused():  # thousands of dicts and records, none of them garbage
            return page_of(_loads(response.content))

    def list_projects(self) -> list[Project]:
        answer = self._json("GET", "/projects")
        return [_record(Project, p) for p in answer["projects"]]

    def finish_run(self, run_id: str, status: str, reason: str | None) -> RunRecord:
        answer = self._json(
            "POST", f"/runs/{_seg(run_id)}/finish", {"status": status, "reason": reason}
        )
        return self._run_answer(answer, run_id)

    def merge_config(self, run_id: str, config: Mapping[str, Any]) -> RunRecord:
        answer = self._json("POST", f"/runs/{_seg(run_id)}/config", {"config": dict(config)})
        return self._run_answer(answer, run_id)

    def request_stop(self, run_id: str, reason: str) -> RunRecord:
        answer = self._json("POST", f"/runs/{_seg(run_id)}/stop", {"reason": reason})
        return self._run_answer(answer, run_id)

    def heartbeat(
        self,
        run_id: str,
        system: Mapping[str, float] | None,
        seq: int | None,
        take_restart: bool = False,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"system": dict(system) if system else None, "seq": seq}
        if take_restart:  # left out otherwise: an older server refuses unknown fields
            body["take_restart"] = True
        return dict(self._json("POST", f"/runs/{_seg(run_id)}/heartbeat", body) or {})

    def log_batch(self, run_id: str, seq: int, metrics: Mapping[str, Any]) -> dict[str, Any]:
        path = f"/runs/{_seg(run_id)}/batches"
        try:  # packed floats: several times cheaper than JSON for both sides
            packed = encode_batch(seq, metrics)
        except (TypeError, ValueError, OverflowError, KeyError):
            # odd values: let the server's JSON checks name the problem
            return dict(self._json("POST", path, {"seq": seq, "metrics": metrics}))
        response = self._send(
            "POST", path, content=packed, headers={"Content-Type": BATCH_CONTENT_TYPE}
        )
        return dict(json.loads(response.content))

    def set_summary(self, run_id: str, summary: Mapping[str, Any]) -> None:
        self._json("POST", f"/runs/{_seg(run_id)}/summary", dict(summary))

    def tag(self, run_id: str, add: Sequence[str], remove: Sequence[str]) -> RunRecord:
        body = {"add": list(add), "remove": list(remove)}
        return self._run_answer(self._json("POST", f"/runs/{_seg(run_id)}/tags", body), run_id)

    def note(self, run_id: str, text: str, outcome: str | None) -> RunRecord:
        body = {"text": text, "outcome": outcome}
        return self._run_answer(self._json("POST", f"/runs/{_seg(run_id)}/notes", body), run_id)

    def add_input(self, run_id: str, kind: str, ref: str, digest: str | None) -> None:
        body = {"kind": kind, "ref": ref, "digest": digest}
        self._json("POST", f"/runs/{_seg(run_id)}/inputs", body)

    def history(
        self,
        run_id: str,
        key: str,
        max_points: int | None,
        step_min: int | None,
        step_max: int | None,
    ) -> History:
        params: dict[str, Any] = {"key": key, "format": "binary"}
        for name, value in (
            ("max_points", max_points),
            ("step_min", step_min),
            ("step_max", step_max),
        ):
            if value is not None:
                params[name] = value
        response = self._send("GET", f"/runs/{_seg(run_id)}/history", params=params)
        return _decode_history(response, run_id, key)

    def compare(self, run_ids: Sequence[str]) -> dict[str, Any]:
        return dict(self._json("GET", "/compare", params=[("run", r) for r in run_ids]))

    # -- blobs and artifacts ------------------------------------------------------------
    def has_blob(self, digest: str) -> bool:
        """Whether the server already stores ``digest`` (uploads are skipped then)."""
        try:
            self._send("HEAD", f"/blobs/{digest}")
        except errors.NotFound:
            return False
        return True

    def put_blob(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if not self.has_blob(digest):
            self._send("PUT", f"/blobs/{digest}", content=data, headers=_OCTETS)
        return digest

    def upload_artifact(self, run_id: str, path: Path, name: str, kind: str) -> Artifact:
        digest = _file_digest(path)
        if not self.has_blob(digest):
            # streamed from disk: a large checkpoint is never read into memory whole
            with open(path, "rb") as fh:
                self._send("PUT", f"/blobs/{digest}", content=_chunks(fh), headers=_OCTETS)
        body = {"name": name, "kind": kind, "digest": digest}
        artifact: Artifact = _record(
            Artifact, self._json("POST", f"/runs/{_seg(run_id)}/artifacts", body)
        )
        return artifact

    def project_artifacts(self, project: str, kind: str | None = None) -> list[Artifact]:
        params = {"kind": kind} if kind is not None else None
        answer = self._json("GET", f"/projects/{_seg(project)}/artifacts", params=params)
        return [_record(Artifact, a) for a in answer["artifacts"]]

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        answer = self._json("GET", f"/runs/{_seg(run_id)}/artifacts")
        return [_record(Artifact, a) for a in answer["artifacts"]]

    def artifact_page(
        self, run_id: str, prefix: str, after: str | None, limit: int
    ) -> list[Artifact]:
        params: dict[str, Any] = {"prefix": prefix, "limit": limit}
        if after is not None:
            params["after"] = after
        answer = self._json("GET", f"/runs/{_seg(run_id)}/artifacts", params=params)
        return [_record(Artifact, a) for a in answer["artifacts"]]

    def download_blob(self, digest: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        h = hashlib.sha256()
        try:
            with self.wire.stream("GET", f"/blobs/{digest}") as (answer, pieces):
                if answer.status >= 400:
                    raise error_from_answer(answer.status, b"".join(pieces))
                with open(tmp, "wb") as out:
                    for chunk in pieces:
                        h.update(chunk)
                        out.write(chunk)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if "sha256:" + h.hexdigest() != digest:
            tmp.unlink(missing_ok=True)
            raise errors.Conflict(f"downloaded bytes do not match {digest}", "download again")
        os.replace(tmp, dest)
        return dest

    # -- incidents ----------------------------------------------------------------------
    def list_incidents(self, open_only: bool, run: str | None, limit: int) -> list[Incident]:
        params: dict[str, Any] = {"open": str(open_only).lower(), "limit": limit}
        if run is not None:
            params["run"] = run
        answer = self._json("GET", "/incidents", params=params)
        return [Incident.from_dict(i) for i in answer["incidents"]]

    def get_incident(self, incident_id: int) -> dict[str, Any]:
        return dict(self._json("GET", f"/incidents/{int(incident_id)}"))

    def ack_incident(self, incident_id: int) -> Incident:
        return Incident.from_dict(self._json("POST", f"/incidents/{int(incident_id)}/ack", {}))

    def resolve_incident(self, incident_id: int, note: str | None) -> Incident:
        body = {"note": note}
        path = f"/incidents/{int(incident_id)}/resolve"
        return Incident.from_dict(self._json("POST", path, body))


_OCTETS = {"Content-Type": "application/octet-stream"}


def _seg(value: str) -> str:
    """One URL path segment, escaped."""
    from urllib.parse import quote

    return quote(value, safe="")


def _record(cls: Any, data: Mapping[str, Any]) -> Any:
    """A dataclass from an answer, ignoring fields this client does not know."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def _chunks(fh: Any) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK):
        yield chunk


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in _chunks(fh):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _decode_history(response: Answer, run_id: str, key: str) -> History:
    """Read the binary history: int64 steps, then float64 times and values, little-endian.

    JSON would spend seconds encoding a million floats; this keeps NaN and ±inf exact.
    """
    n = int(response.headers["x-lablink-points"])
    body = response.content

    def column(i: int, code: str) -> array.array[Any]:
        packed = array.array(code)
        packed.frombytes(body[i * 8 * n : (i + 1) * 8 * n])
        if sys.byteorder == "big":
            packed.byteswap()
        return packed

    steps: list[int] = column(0, "q").tolist()
    times: list[float] = column(1, "d").tolist()
    values_: list[float] = column(2, "d").tolist()
    return History(
        run_id=response.headers.get("x-lablink-run", run_id),
        key=key,
        steps=steps,
        values=values_,
        times=times,
        total=int(response.headers["x-lablink-total"]),
        downsampled=response.headers["x-lablink-downsampled"] == "true",
    )


def _loads(content: bytes) -> Any:
    """A large answer decoded by orjson, a third faster than ``json``; one that orjson
    refuses (NaN and Infinity tokens, integers past 64 bits) by ``json``."""
    import orjson  # here: only large answers need it, and the SDK starts light

    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return json.loads(content)
