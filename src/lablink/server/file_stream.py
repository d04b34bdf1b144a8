"""A response that streams a file already opened, and closes it whatever happens.

Routes open the file before answering, so a missing blob is a 404 rather than a broken
stream. A generator's own ``with`` block cannot close that file when the client leaves
before the first chunk: the generator never starts, and the file waits for the garbage
collector. This response closes it when the response ends, however it ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import IO

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

CHUNK = 1024 * 1024


class FileStream(StreamingResponse):
    """Streams ``handle`` in chunks read off the event loop; closes it at the end."""

    def __init__(
        self,
        handle: IO[bytes],
        media_type: str = "application/octet-stream",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.handle = handle
        super().__init__(_chunks(handle), media_type=media_type, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.handle.close()


async def _chunks(handle: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := await run_in_threadpool(handle.read, CHUNK):
        yield chunk
