"""How :class:`~core.client.EngineClient` reads an engine: its lines become replies to waiting
requests or events, a ``ready`` on a socket is answered with ``hello`` first, and when the
engine goes away every waiting request fails and an ``engine_exited`` event is made."""

from __future__ import annotations

import asyncio
import contextlib
import time

from core.errors import EngineDied, EngineError, ProtocolMismatch
from core.i18n import language
from core.protocol import MAX_LINE_BYTES, PROTOCOL_VERSION, Event, Reply, Request, decode
from core.streams import read_stream_line

EXITED = "engine_exited"
READY = "ready"


class EngineReader:
    """The readers of :class:`~core.client.EngineClient` (its state lives there)."""

    async def _read_stdout(self, stream, wait_exit, err_task, ready: asyncio.Event) -> None:
        try:
            while True:
                try:
                    line = await read_stream_line(stream)
                except (ConnectionError, OSError):
                    line = b""
                if line == b"":
                    break
                self.last_heard = time.monotonic()
                try:
                    if line is None:
                        raise ValueError(f"a line longer than {MAX_LINE_BYTES} bytes, skipped")
                    self._take(decode(line), ready)
                except Exception as exc:  # a corrupt line must not kill the reader
                    self.stderr_tail.append(f"[client] unreadable engine line: {exc}")
        finally:
            await wait_exit()
            if err_task is not None:  # let the stderr reader catch the last lines first
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(err_task), timeout=1.0)
            self._exited.set()
            died = self.mismatch or EngineDied(self.returncode, self.stderr_text())
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(died)
            self._events.put_nowait(
                Event(
                    EXITED,
                    {
                        "returncode": self.returncode,
                        "expected": self._closing,
                        "stderr_tail": self.stderr_text(),
                        "mismatch": str(self.mismatch) if self.mismatch else "",
                    },
                )
            )

    def _take(self, msg: Reply | Event | Request, ready: asyncio.Event) -> None:
        """One decoded line from the engine: a reply for its waiting request, or an event."""
        if isinstance(msg, Reply):
            future = self._pending.get(msg.id)
            if future is not None and not future.done():
                future.set_result(msg)
        elif isinstance(msg, Event):
            if msg.event == EXITED or (msg.event == READY and self.ready_info is not None):
                # the client makes engine_exited itself, and an engine is ready once: a line
                # like this was written by someone else (a playground cell)
                raise ValueError(f"a forged {msg.event!r} event, ignored")
            if msg.event == READY:
                self.ready_info = msg.data
                if self.role is None:
                    ready.set()
                    self._events.put_nowait(msg)
                else:  # greet it first: the app hears "ready" once the engine knows it
                    self._tasks.append(asyncio.create_task(self._greet(msg, ready)))
                return
            self._events.put_nowait(msg)
        else:
            raise ValueError("a request from the engine, ignored")

    async def _greet(self, ready_msg: Event, ready: asyncio.Event) -> None:
        version = ready_msg.data.get("protocol")
        if version != PROTOCOL_VERSION:
            self.mismatch = ProtocolMismatch(
                version if isinstance(version, int) else 0, PROTOCOL_VERSION
            )
            with contextlib.suppress(Exception):
                self._writer.close()
            if self.proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.terminate()
            return
        args = {"protocol": PROTOCOL_VERSION, "role": self.role, "budget": self.budget}
        args["lang"] = language()  # the engine's messages in the client's language
        try:
            self.info = await self.request("hello", args)
        except EngineError as exc:
            self.stderr_tail.append(f"[client] hello refused: {exc.message}")
            with contextlib.suppress(Exception):
                self._writer.close()
            return
        except EngineDied:
            return
        ready.set()
        self._events.put_nowait(ready_msg)

    async def _read_stderr(self, proc: asyncio.subprocess.Process) -> None:
        while True:
            line = await proc.stderr.readline()
            if not line:
                return
            self.stderr_tail.append(line.decode("utf-8", "replace").rstrip("\n"))
