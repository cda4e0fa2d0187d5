"""The asyncio client the UI (and the headless CLI) uses to drive the engine process.

Imports no torch and no UI library. Starts ``python -m core.engine`` as a subprocess with pipes,
sends requests and awaits their replies, and yields unsolicited events. If the engine exits
unexpectedly, every waiting request fails with :class:`EngineDied` and an ``engine_exited``
event (with the tail of the engine's stderr) is delivered.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from core.errors import EngineDied, EngineError
from core.protocol import MAX_LINE_BYTES, Event, Reply, Request, decode, encode

if TYPE_CHECKING:
    from core.contract import Contract

EXITED = "engine_exited"
READY = "ready"


def engine_command(nice: int = 10, threads: int = 0) -> list[str]:
    cmd = [sys.executable, "-m", "core.engine", "--nice", str(nice)]
    if threads:
        cmd += ["--threads", str(threads)]
    return cmd


class EngineClient:
    def __init__(
        self,
        argv: list[str] | None = None,
        *,
        nice: int = 10,
        threads: int = 0,
        env: dict[str, str] | None = None,
        stderr_lines: int = 60,
    ) -> None:
        self.argv = argv or engine_command(nice, threads)
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.ready_info: dict[str, Any] | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=stderr_lines)
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._pending: dict[int, asyncio.Future] = {}
        self._sent_at: dict[int, float] = {}  # time.monotonic() each pending request was sent
        self.last_heard = 0.0  # time.monotonic() of the engine's latest line (any line)
        self._next_id = 1
        self._tasks: list[asyncio.Task] = []
        self._ready = asyncio.Event()
        self._closing = False
        self._exited = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and not self._exited.is_set()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def start(self, wait_ready: bool = True, timeout: float = 120.0) -> dict | None:
        """Start the engine; by default wait for its ``ready`` event and return its data."""
        self._closing = False
        self._ready = asyncio.Event()
        self._exited = asyncio.Event()
        self.ready_info = None
        self.stderr_tail.clear()
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            limit=1 << 24,
            start_new_session=True,  # a Ctrl-C in the terminal reaches the UI, not the engine
        )
        err_task = asyncio.create_task(self._read_stderr(self.proc))
        out_task = asyncio.create_task(
            self._read_stdout(self.proc, err_task, self._ready, self._exited)
        )
        self._tasks = [out_task, err_task]
        if wait_ready:
            return await self.wait_ready(timeout)
        return None

    async def wait_ready(self, timeout: float = 120.0) -> dict:
        ready = asyncio.create_task(self._ready.wait())
        exited = asyncio.create_task(self._exited.wait())
        done, _ = await asyncio.wait(
            {ready, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        ready.cancel()
        exited.cancel()
        if self._ready.is_set():
            return self.ready_info or {}
        if self._exited.is_set():
            raise EngineDied(self.proc.returncode if self.proc else None, self.stderr_text())
        raise TimeoutError(f"the engine did not become ready within {timeout:.0f} s")

    async def close(self, timeout: float = 5.0) -> int | None:
        """Ask the engine to shut down; kill it if it does not exit in ``timeout`` seconds."""
        proc = self.proc
        if proc is None:
            return None
        self._closing = True
        if proc.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.request("shutdown"), timeout=timeout / 2)
            with contextlib.suppress(Exception):
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), timeout=timeout / 2)
            except (asyncio.TimeoutError, TimeoutError):
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=1.0)
        return proc.returncode

    async def restart(self, timeout: float = 120.0) -> dict | None:
        await self.close()
        return await self.start(timeout=timeout)

    def interrupt(self) -> None:
        """SIGINT the engine: the request it is handling ends with an ``Interrupted`` error
        (training, if running, pauses)."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGINT)

    def kill(self) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    @property
    def stopped(self) -> bool:
        """Whether the engine process is stopped (SIGSTOP, a debugger); Linux only, else
        False."""
        if self.proc is None or self.proc.returncode is not None:
            return False
        try:
            with open(f"/proc/{self.proc.pid}/stat", encoding="ascii") as fh:
                return fh.read().rsplit(")", 1)[1].split()[0] in ("T", "t")
        except (OSError, IndexError):
            return False

    def oldest_pending_s(self, now: float | None = None) -> float | None:
        """How long the oldest request still without a reply has waited, or None."""
        if not self._sent_at:
            return None
        return (time.monotonic() if now is None else now) - min(self._sent_at.values())

    def stderr_text(self) -> str:
        return "\n".join(self.stderr_tail)

    # -- requests and events -------------------------------------------------------------------

    @property
    def next_id(self) -> int:
        """The id the next request will carry (to cancel a generation by its id)."""
        return self._next_id

    async def call(self, args: Contract | str, timeout: float | None = None) -> Any:
        """Send a typed request (or the bare name of an op without arguments) and return the
        typed result the contract names for that op (``RESULTS``); EngineError on an error
        reply. An argument left unset (None) is not sent: the engine applies its default."""
        from core.contract.ops import read_result  # ~50 ms of dataclasses, not at start-up

        op = args if isinstance(args, str) else args.OP
        payload = {} if isinstance(args, str) else args.to_dict(drop_unset=True)
        return read_result(op, await self.request(op, payload, timeout=timeout))

    async def request(
        self,
        op: str,
        args: dict[str, Any] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Send one request and return its result; EngineError on an error reply."""
        if not self.running:
            raise EngineDied(self.proc.returncode if self.proc else None, self.stderr_text())
        req_id = self._next_id
        self._next_id += 1
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[req_id] = future
        self._sent_at[req_id] = time.monotonic()
        payload = {**(args or {}), **kwargs}
        try:
            self.proc.stdin.write(encode(Request(req_id, op, payload)).encode("utf-8"))
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            self._pending.pop(req_id, None)
            self._sent_at.pop(req_id, None)
            await self._exited.wait()
            raise EngineDied(self.proc.returncode, self.stderr_text()) from None
        try:
            reply: Reply = await asyncio.wait_for(future, timeout) if timeout else await future
        finally:
            self._pending.pop(req_id, None)
            self._sent_at.pop(req_id, None)
        if reply.ok:
            return reply.result or {}
        err = reply.error
        raise EngineError(err.type, err.message, err.hint)

    async def next_event(self, name: str | None = None, timeout: float | None = None) -> Event:
        """The next event (of type ``name``, skipping others), or TimeoutError."""

        async def wait() -> Event:
            while True:
                ev = await self._events.get()
                if name is None or ev.event == name:
                    return ev

        return await asyncio.wait_for(wait(), timeout)

    async def events(self) -> AsyncIterator[Event]:
        while True:
            yield await self._events.get()

    def drain_events(self) -> list[Event]:
        """Every event already received, without waiting."""
        out = []
        while not self._events.empty():
            out.append(self._events.get_nowait())
        return out

    # -- readers -------------------------------------------------------------------------------

    async def _read_stdout(
        self,
        proc: asyncio.subprocess.Process,
        err_task: asyncio.Task,
        ready: asyncio.Event,
        exited: asyncio.Event,
    ) -> None:
        try:
            while True:
                line = await _read_line(proc.stdout)
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
            await proc.wait()
            # let the stderr reader catch the last lines before reporting them
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(err_task), timeout=1.0)
            exited.set()
            died = EngineDied(proc.returncode, self.stderr_text())
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(died)
            self._events.put_nowait(
                Event(
                    EXITED,
                    {
                        "returncode": proc.returncode,
                        "expected": self._closing,
                        "stderr_tail": self.stderr_text(),
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
            if msg.event == EXITED or (msg.event == READY and ready.is_set()):
                # the client makes engine_exited itself, and an engine is ready once: a line
                # like this was written by someone else (a playground cell)
                raise ValueError(f"a forged {msg.event!r} event, ignored")
            if msg.event == READY:
                self.ready_info = msg.data
                ready.set()
            self._events.put_nowait(msg)
        else:
            raise ValueError("a request from the engine, ignored")

    async def _read_stderr(self, proc: asyncio.subprocess.Process) -> None:
        while True:
            line = await proc.stderr.readline()
            if not line:
                return
            self.stderr_tail.append(line.decode("utf-8", "replace").rstrip("\n"))


async def _read_line(stream: asyncio.StreamReader) -> bytes | None:
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
