"""Runs from TensorBoard event files, read with TensorBoard's own event loader.

Every folder under the log directory that holds ``*tfevents*`` files is one run (a
sub-folder named by a time, as ``add_hparams`` of torch and tensorboardX makes, is part
of its parent's): its scalars become metric points (step and wall time), the HParams
plugin's ``session_start_info`` becomes params, and text summaries become a Markdown
artifact per tag (``tensorboard/text/<tag>.md``). A truncated or corrupt event file is read up
to the damage; the rest of it is reported, not imported.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lablink.errors import InvalidInput, NotFound
from lablink.importers.model import BATCH_POINTS, Series, SourceArtifact, SourceRun

ORIGIN_TAG = "import.tensorboard.run"
NAME_FROM = ("dir", "leaf")  # a run's name: its folder's path under DIR, or its last part
_RECORD_OVERHEAD = 16  # a TFRecord: length (8), its crc (4), data, the data's crc (4)


class TensorboardSource:
    """The run folders of one TensorBoard log directory."""

    def __init__(self, logdir: Path, project: str, name_from: str = "dir") -> None:
        try:
            import tensorboard  # noqa: F401
        except ImportError as exc:
            raise InvalidInput(
                "`lablink import tensorboard` reads with TensorBoard's event loader, "
                "which is not installed",
                "pip install 'lablink[import]' (or tensorboard)",
            ) from exc
        if not logdir.is_dir():
            raise NotFound(f"no folder {logdir}", "pass the folder TensorBoard's --logdir reads")
        if name_from not in NAME_FROM:
            raise InvalidInput(
                f"--run-name-from must be one of {', '.join(NAME_FROM)}, not {name_from!r}"
            )
        self.logdir = logdir
        self.project = project
        self.name_from = name_from
        found = sorted({p.parent for p in logdir.rglob("*tfevents*") if p.is_file()})
        if not found:
            raise NotFound(f"no TensorBoard event files (*tfevents*) under {logdir}")
        # ``add_hparams`` of torch and tensorboardX writes a run's hparams (and their
        # metrics) into a sub-folder named by the time: that is part of the parent's run
        self.parts: dict[Path, list[Path]] = {}
        for folder in found:
            if folder.parent in self.parts and _is_timestamp(folder.name):
                self.parts[folder.parent].append(folder)
            else:
                self.parts[folder] = [folder]
        self.folders = list(self.parts)

    def runs(self) -> Iterator[SourceRun]:
        """One run per folder, in path order."""
        for folder in self.folders:
            yield self._read(folder, self.parts[folder])

    def _read(self, folder: Path, parts: list[Path]) -> SourceRun:
        rel = folder.relative_to(self.logdir).as_posix()
        name = folder.resolve().name if self.name_from == "leaf" or rel == "." else rel
        reading = _RunReader()
        warnings: list[str] = []
        files = [p for part in parts for p in sorted(part.iterdir())]
        for path in (p for p in files if p.is_file() and "tfevents" in p.name):
            problem = reading.read_file(path)
            if problem:
                warnings.append(problem)
        times = reading.times
        return SourceRun(
            origin=rel,
            experiment=self.project,
            name=name,
            status="FINISHED",
            start_ms=int(min(times) * 1000) if times else None,
            end_ms=int(max(times) * 1000) if times else None,
            user=None,
            params=reading.params,
            tags={"import.source": "tensorboard"},
            batches=reading.batches,
            artifacts=reading.artifacts,
            warnings=warnings,
        )


class _RunReader:
    """The events of one run folder, gathered file by file."""

    def __init__(self) -> None:
        self.scalars: dict[str, tuple[list[int], list[float], list[float]]] = {}
        self.params: dict[str, str] = {}
        self.texts: dict[str, list[tuple[int, str]]] = {}
        self.times: list[float] = []  # the first and last wall times seen
        self._initial: dict[str, Any] = {}  # the loader's per-run metadata cache

    def read_file(self, path: Path) -> str | None:
        """Read one event file; answers a message when it is cut short."""
        from tensorboard import data_compat, dataclass_compat
        from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
        from tensorboard.compat.proto import event_pb2

        used = 0
        for raw in RawEventFileLoader(str(path)).Load():
            used += len(raw) + _RECORD_OVERHEAD
            event = data_compat.migrate_event(event_pb2.Event.FromString(raw))
            for migrated in dataclass_compat.migrate_event(event, self._initial):
                self._event(migrated)
        size = path.stat().st_size
        if used < size:  # the loader stops quietly at a truncated or corrupt record
            return (
                f"{path}: truncated or corrupt after byte {used} of {size}; "
                "the events before it were imported"
            )
        return None

    def _event(self, event: Any) -> None:
        from tensorboard.util import tensor_util

        if not event.HasField("summary"):
            return
        wall, step = float(event.wall_time), int(event.step)
        self.times = (
            [min(wall, self.times[0]), max(wall, self.times[1])] if self.times else [wall, wall]
        )
        for value in event.summary.value:
            plugin = value.metadata.plugin_data.plugin_name
            if plugin == "scalars":
                number = float(tensor_util.make_ndarray(value.tensor).item())
                steps, times, values = self.scalars.setdefault(value.tag, ([], [], []))
                steps.append(step)
                times.append(wall)
                values.append(number)
            elif plugin == "hparams":
                self._hparams(value)
            elif plugin == "text":
                text = tensor_util.make_ndarray(value.tensor)
                items = [t.decode("utf-8", "replace") for t in text.reshape(-1).tolist()]
                self.texts.setdefault(value.tag, []).append((step, "\n\n".join(items)))

    def _hparams(self, value: Any) -> None:
        from tensorboard.plugins.hparams import metadata

        content = value.metadata.plugin_data.content
        if value.tag != metadata.SESSION_START_INFO_TAG:
            return
        start = metadata.parse_session_start_info_plugin_data(content)
        for key, v in start.hparams.items():
            kind = v.WhichOneof("kind")
            if kind == "number_value":
                number = v.number_value
                integral = math.isfinite(number) and number.is_integer() and abs(number) < 2**53
                self.params[key] = str(int(number)) if integral else repr(number)
            elif kind == "bool_value":
                self.params[key] = str(v.bool_value)
            elif kind == "string_value":
                self.params[key] = v.string_value

    def batches(self) -> Iterator[Series]:
        """The scalars, by tag, at most ``BATCH_POINTS`` a batch."""
        series: Series = {}
        held = 0
        for key in sorted(self.scalars):
            steps, times, values = self.scalars[key]
            i = 0
            while i < len(steps):
                take = min(len(steps) - i, BATCH_POINTS - held)
                s = series.setdefault(key, {"steps": [], "times": [], "values": []})
                s["steps"].extend(steps[i : i + take])
                s["times"].extend(times[i : i + take])
                s["values"].extend(values[i : i + take])
                held, i = held + take, i + take
                if held >= BATCH_POINTS:
                    yield series
                    series, held = {}, 0
        if series:
            yield series

    def artifacts(self) -> Iterator[SourceArtifact]:
        """One Markdown file per text tag."""
        for tag in sorted(self.texts):
            body = "".join(f"## step {step}\n\n{text}\n\n" for step, text in self.texts[tag])
            yield SourceArtifact(f"tensorboard/text/{tag}.md", len(body), _writer(tag, body))


def _is_timestamp(name: str) -> bool:
    """``name`` is a float, as ``str(time.time())`` writes one."""
    try:
        return float(name) > 1e9
    except ValueError:
        return False


def _writer(tag: str, body: str) -> Any:
    def fetch(folder: Path) -> Path:
        path = folder / "text.md"
        path.write_text(body, encoding="utf-8")
        return path

    return fetch
