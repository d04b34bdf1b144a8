"""A local job's output through files that lablink reads behind it.

Through a pipe, a job that prints faster than lablink stores its output waits for
lablink: the pipe fills and the job's ``write`` blocks. So the job's stdout and stderr
are unlinked temporary files instead (appended to, as a pipe would be): the job writes
at the speed of the page cache, exactly as with ``> file``, and one thread follows the
files from here. It notes when each file grew (the lines' timestamps, right to a poll
even while it is behind), hands the complete lines over a read at a time, echoes them,
and frees what it has read (a hole punched in the file, on Linux), so a long job's
output takes disk only for what is not read yet. It runs at a lower CPU priority than
the job (``yield_to_job``): on a busy machine the job goes first.

Bounded: while the log sink holds half its ``MAX_PENDING`` bytes not stored yet, the
thread stops reading (the file holds the rest); when more than ``MAX_BEHIND`` bytes of a
stream are not read yet, it skips them and says so, in the log and on the terminal.
Nothing is dropped without a line that counts it.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import os
import sys
import tempfile
import threading
import time
from typing import IO, Any

from lablink.launch.logs import MAX_PENDING, LogSink, yield_to_job

READ_BYTES = 1 << 20  # one read of a file: one timestamp, one hand-over
MAX_BEHIND = 256 << 20  # unread bytes of a stream past which lablink skips them
PUNCH_BYTES = 16 << 20  # free the read part of a file every this many bytes
POLL_SECONDS = (0.01, 0.1)  # how often the files are looked at: while busy, while quiet
# output faster than this (a burst at memory speed) is read once it slows down
HOT_BYTES_A_SECOND = 200 << 20


class Stream:
    """One output file: what is read of it, and when it grew to which size."""

    def __init__(self, name: str, echo: IO[bytes] | None) -> None:
        self.name = name
        # closed by Tail.finish, when the job has ended
        self.file = tempfile.TemporaryFile(prefix=f"lablink-{name}-")  # noqa: SIM115
        fd = self.file.fileno()
        # appended to, as a pipe is: the job's children writing too never overwrite
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
        self.echo = echo
        self.seen = 0  # the size last looked at
        self.read = 0  # bytes read (or skipped) so far
        self.freed = 0  # bytes at the start of the file given back to the disk
        self.rest = b""  # the start of a line whose end is not read yet
        self.grew: collections.deque[tuple[float, int]] = collections.deque()

    def fileno(self) -> int:
        return self.file.fileno()


class Tail:
    """Follows a job's stdout and stderr files into ``sink``, echoing them if ``echo``.

    ``stdout``/``stderr`` are what the job is started with; ``start`` once it is;
    ``finish`` (once the job's process group is gone) reads the rest and stops.
    """

    def __init__(self, sink: LogSink, echo: bool) -> None:
        self._sink = sink
        self.streams = [
            Stream("out", _binary(sys.stdout) if echo else None),
            Stream("err", _binary(sys.stderr) if echo else None),
        ]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="lablink-output", daemon=True)

    @property
    def stdout(self) -> int:
        return self.streams[0].fileno()

    @property
    def stderr(self) -> int:
        return self.streams[1].fileno()

    def start(self) -> None:
        """Start following the files."""
        self._thread.start()

    def finish(self) -> None:
        """Read what is left (the job has ended) and stop; closes the files."""
        behind = sum(os.fstat(s.fileno()).st_size - s.read for s in self.streams)
        if behind > 16 * READ_BYTES:  # a job that printed fast: say why this takes a while
            self._say(f"lablink: storing the rest of the job's output ({behind >> 20} MB)")
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        for stream in self.streams:
            stream.file.close()

    def _follow(self) -> None:
        yield_to_job()
        quiet = POLL_SECONDS[0]
        before, then = 0, time.time()
        while True:
            last = self._stop.is_set()  # before looking: a stop means all is written
            now = time.time()
            for stream in self.streams:
                self._look(stream, now)
            # the job printing faster than any store takes it: reading now would only
            # take memory bandwidth and CPU from it; its output waits in the files
            seen = sum(s.seen for s in self.streams)
            hot = seen - before > HOT_BYTES_A_SECOND * max(now - then, POLL_SECONDS[0])
            before, then = seen, now
            if last:  # the job has ended: read it all, then stop
                while any(s.grew for s in self.streams):
                    for stream in self.streams:
                        self._read_some(stream)
                for stream in self.streams:
                    if stream.rest:
                        self._sink.block(stream.name, stream.rest, now)
                return
            # one read a stream, then the sizes again: each read keeps the time it was
            # written by, however far behind the reading is
            waiting = any(s.grew for s in self.streams)
            if waiting and not hot and self._sink.pending < MAX_PENDING // 2:
                behind = False
                for stream in self.streams:
                    behind = self._read_some(stream) or behind
                quiet = POLL_SECONDS[0]
                if behind:
                    continue  # more is written already: read on at once
                # caught up: let the next poll's worth gather, a read for many writes
                # rather than one for each (a job printing line by line)
            else:
                # nothing new, a burst, or the sink is full: look again soon, less often
                # while quiet
                quiet = POLL_SECONDS[0] if waiting else min(POLL_SECONDS[1], quiet * 2)
            self._stop.wait(quiet)

    def _look(self, stream: Stream, now: float) -> None:
        size = os.fstat(stream.fileno()).st_size
        if size <= stream.seen:
            return
        stream.seen = size
        stream.grew.append((now, size))
        behind = size - stream.read
        if behind > MAX_BEHIND:
            behind += len(stream.rest)  # the start of a line goes with the rest of it
            stream.read, stream.rest = size, b""
            stream.grew.clear()  # freed with the next read: a punch now would hold the job up
            note = (
                f"lablink: {behind} bytes of std{stream.name} skipped: the job printed "
                "faster than lablink could store it"
            )
            self._sink.block("err", note.encode(), now)
            self._say(note)

    def _read_some(self, stream: Stream) -> bool:
        """Read up to ``READ_BYTES`` of what was written by the oldest size noted;
        whether more than that was waiting (the reading is behind)."""
        if not stream.grew:
            return False
        when, size = stream.grew[0]
        data = os.pread(stream.fileno(), min(size - stream.read, READ_BYTES), stream.read)
        stream.read += len(data)
        if stream.read >= size or not data:
            stream.grew.popleft()
        if not data:
            return False
        if stream.echo is not None:
            try:
                stream.echo.write(data)
                stream.echo.flush()
            except (OSError, ValueError):  # the terminal went away: the job goes on
                stream.echo = None
        end = data.rfind(b"\n")
        if end < 0:
            stream.rest += data
            if len(stream.rest) >= READ_BYTES:  # no newline for a long while (a progress bar)
                self._sink.block(stream.name, stream.rest, when)
                stream.rest = b""
        else:
            self._sink.block(stream.name, stream.rest + data[:end], when)
            stream.rest = data[end + 1 :]
        if stream.read - stream.freed >= PUNCH_BYTES:
            self._free(stream)
        return bool(stream.grew)

    def _free(self, stream: Stream) -> None:
        """Give the read part of the file back to the disk (Linux; elsewhere it stays)."""
        upto = stream.read - stream.read % 4096
        if upto > stream.freed and _punch(stream.fileno(), stream.freed, upto - stream.freed):
            stream.freed = upto

    def _say(self, note: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(note + "\n")
            sys.stderr.flush()


def _binary(text: IO[str]) -> IO[bytes] | None:
    return getattr(text, "buffer", None)


_FALLOCATE: Any = None
_PUNCH_HOLE, _KEEP_SIZE = 0x02, 0x01  # linux/falloc.h


def _punch(fd: int, offset: int, length: int) -> bool:
    """Deallocate ``length`` bytes at ``offset`` of ``fd`` keeping its size (Linux
    ``fallocate``; Python's ``os`` has no call for it); whether it could."""
    global _FALLOCATE
    if _FALLOCATE is None:
        _FALLOCATE = False
        if sys.platform.startswith("linux"):
            import ctypes  # only once a job has printed this much

            with contextlib.suppress(OSError, AttributeError):
                libc = ctypes.CDLL(None, use_errno=True)
                call = getattr(libc, "fallocate64", None) or libc.fallocate
                call.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
                _FALLOCATE = call
    if not _FALLOCATE:
        return False
    if _FALLOCATE(fd, _PUNCH_HOLE | _KEEP_SIZE, offset, length) == 0:
        return True
    _FALLOCATE = False  # a file system without holes: the file keeps what was read
    return False
