"""Reading JSON lines from an asyncio stream without holding an over-long line in memory."""

from __future__ import annotations

import asyncio


async def read_stream_line(stream: asyncio.StreamReader) -> bytes | None:
    """The next line (b"" at end of output), or None for a line longer than the stream's
    limit, which is skipped up to its end without holding it in memory."""
    try:
        return await stream.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial  # the last line, without its newline (b"" at the end)
    except asyncio.LimitOverrunError as exc:
        await stream.readexactly(exc.consumed)
    while True:  # drop the rest of the long line
        try:
            await stream.readuntil(b"\n")
            return None
        except asyncio.LimitOverrunError as exc:
            await stream.readexactly(exc.consumed)
        except asyncio.IncompleteReadError:
            return None
