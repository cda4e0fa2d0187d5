"""The asyncio client the UI (and the headless CLI) uses to drive an engine.

Imports no torch and no UI library. Three ways to reach an engine: a pipe child (the default:
``python -m core.engine`` on stdin/stdout), a Unix socket (``socket_path``, or ``spawn``, a
coroutine that starts a detached engine and returns its socket), or a command whose stdin and
stdout lead to one (``argv`` with a ``role``: ``ssh host torchdeck bridge``). On a socket or a
command the client greets the engine with ``hello`` (protocol version, role, byte budget) and
interrupts with the ``interrupt`` op; a pipe child is signalled. Sends requests and awaits their
replies, and yields unsolicited events. If the engine goes away, every waiting request fails
with :class:`EngineDied` and an ``engine_exited`` event (with the last stderr lines) arrives.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any

from core import runtime
from core.client_reader import EXITED, READY, EngineReader
from core.errors import EngineDied, EngineError, ProtocolMismatch, TorchdeckError
from core.i18n import _
from core.protocol import Event, Reply, Request, encode
from core.transport import engine_command, process_stopped, start_process

if TYPE_CHECKING:
    from core.contract import Contract

__all__ = ["EXITED", "READY", "EngineClient"]


class EngineClient(EngineReader):
    def __init__(
        self,
        argv: list[str] | None = None,
        *,
        nice: int = 10,
        threads: int = 0,
        env: dict[str, str] | None = None,
        stderr_lines: int = 60,
        socket_path: str | None = None,
        spawn=None,
        role: str | None = None,
        budget: int = 0,
    ) -> None:
        self.argv = argv or engine_command(nice, threads)
        self.env = env
        self.socket_path = socket_path
        self.spawn = spawn  # async () -> socket path: start a detached engine
        self.role = role or ("ui" if socket_path or spawn else None)  # None: a pipe child
        self.budget = budget
        self.info: dict[str, Any] | None = None  # the engine's hello reply (EngineInfo)
        self.mismatch: ProtocolMismatch | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self._writer = None
        self._sock_closed: asyncio.Event | None = None
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
        self._spawned = False
        self._exited = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        if self._exited.is_set():
            return False
        if self.proc is not None:
            return self.proc.returncode is None
        return self._writer is not None

    @property
    def pid(self) -> int | None:
        if self.proc is not None and self.role is None:
            return self.proc.pid
        return (self.ready_info or {}).get("pid") if self.proc is None else None

    async def start(self, wait_ready: bool = True, timeout: float = 120.0) -> dict | None:
        """Start (or connect to) the engine; by default wait for ``ready`` and return its data."""
        self._closing = False
        self._ready = asyncio.Event()
        self._exited = asyncio.Event()
        self.ready_info = self.info = self.mismatch = None
        self.stderr_tail.clear()
        if self.spawn is not None or self.socket_path is not None:
            await self._connect_socket()
        else:
            await self._start_process()
        if wait_ready:
            return await self.wait_ready(timeout)
        return None

    async def _start_process(self) -> None:
        self.proc = await start_process(self.argv, self.env)
        self._writer = self.proc.stdin
        err_task = asyncio.create_task(self._read_stderr(self.proc))
        out_task = asyncio.create_task(
            self._read_stdout(self.proc.stdout, self.proc.wait, err_task, self._ready)
        )
        self._tasks = [out_task, err_task]

    async def _connect_socket(self) -> None:
        if self.spawn is not None and (self.socket_path is None or self._spawned):
            self.socket_path = str(await self.spawn())
            self._spawned = True
        try:
            reader, writer = await asyncio.open_unix_connection(self.socket_path, limit=1 << 24)
        except (ConnectionRefusedError, FileNotFoundError):
            raise TorchdeckError(
                _("no engine listens at {path} (it has ended)").format(path=self.socket_path),
                _("torchdeck ls lists the running engines"),
            ) from None
        try:  # the engine side checks the client's user; this side, the engine's
            runtime.check_peer(writer.get_extra_info("socket"), self.socket_path)
        except TorchdeckError:
            writer.close()
            raise
        self.proc = None
        self._writer = writer

        async def gone() -> None:
            return None

        out_task = asyncio.create_task(self._read_stdout(reader, gone, None, self._ready))
        self._tasks = [out_task]

    async def wait_ready(self, timeout: float = 120.0) -> dict:
        ready = asyncio.create_task(self._ready.wait())
        exited = asyncio.create_task(self._exited.wait())
        done, _pending = await asyncio.wait(
            {ready, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        ready.cancel()
        exited.cancel()
        if self._ready.is_set():
            return self.ready_info or {}
        if self.mismatch is not None:
            raise self.mismatch
        if self._exited.is_set():
            raise EngineDied(self.returncode, self.stderr_text())
        raise TimeoutError(
            _("the engine did not become ready within {seconds} s").format(seconds=f"{timeout:.0f}")
        )

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc is not None else None

    async def close(self, timeout: float = 5.0, shutdown: bool | None = None) -> int | None:
        """Leave the engine. A pipe child is asked to shut down (and killed if it does not exit
        in ``timeout`` seconds); an engine on a socket or behind a command is shut down only
        with ``shutdown`` (otherwise it goes on, a run in progress with it)."""
        if self.proc is None and self._writer is None:
            return None
        self._closing = True
        if shutdown is None:
            shutdown = self.role is None
        if self.running and shutdown:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.request("shutdown"), timeout=timeout / 2)
        with contextlib.suppress(Exception):
            self._writer.close()
        proc = self.proc
        if proc is not None and proc.returncode is None:
            try:
                await asyncio.wait_for(proc.wait(), timeout=timeout / 2)
            except (asyncio.TimeoutError, TimeoutError):
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                # its pipes may outlive it (a shared ssh connection): never wait for ever
                with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                    await asyncio.wait_for(proc.wait(), timeout=5.0)
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=1.0)
        self._writer = None
        return self.returncode

    async def restart(self, timeout: float = 120.0) -> dict | None:
        await self.close(shutdown=True)
        return await self.start(timeout=timeout)

    def interrupt(self) -> None:
        """Interrupt the request the engine is handling: it ends with an ``Interrupted`` error
        (training, if running, pauses). A pipe child gets SIGINT; any other engine the
        ``interrupt`` op, which its reader handles at once."""
        if not self.running:
            return
        if self.proc is not None and self.role is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGINT)
            return
        req_id = self._next_id
        self._next_id += 1
        with contextlib.suppress(Exception):
            self._writer.write(encode(Request(req_id, "interrupt", {})).encode("utf-8"))

    def kill(self) -> None:
        """Kill the engine (a local one only; a remote engine's command is killed)."""
        if not self.running:
            return
        with contextlib.suppress(ProcessLookupError, TypeError):
            if self.proc is not None:
                self.proc.kill()
            elif self.pid:
                os.kill(self.pid, signal.SIGKILL)

    @property
    def stopped(self) -> bool:
        """Whether the engine process is stopped (SIGSTOP, a debugger); Linux only, else
        False."""
        return bool(self.pid) and self.running and process_stopped(self.pid)

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
        return await self.call_now(args, timeout)

    def call_now(self, args: Contract | str, timeout: float | None = None) -> Awaitable[Any]:
        """``call``, its request written before this returns (see ``send``); an engine that
        is not running raises EngineDied where the result is awaited."""
        from core.contract.ops import read_result  # ~50 ms of dataclasses, not at start-up

        op = args if isinstance(args, str) else args.OP
        payload = {} if isinstance(args, str) else args.to_dict(drop_unset=True)
        try:
            sent = self.send(op, payload, timeout)
        except EngineDied as exc:
            sent = _raise_later(exc)

        async def typed() -> Any:
            return read_result(op, await sent)

        return typed()

    async def request(
        self,
        op: str,
        args: dict[str, Any] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Send one request and return its result; EngineError on an error reply."""
        return await self.send(op, {**(args or {}), **kwargs}, timeout)

    def send(
        self, op: str, args: dict[str, Any] | None = None, timeout: float | None = None
    ) -> Awaitable[dict[str, Any]]:
        """Write one request before returning (a keystroke's request goes out ahead of the
        frame that echoes the key) and return an awaitable of its result, as ``request``."""
        if not self.running:
            raise EngineDied(self.returncode, self.stderr_text())
        req_id = self._next_id
        self._next_id += 1
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[req_id] = future
        self._sent_at[req_id] = time.monotonic()
        try:
            self._writer.write(encode(Request(req_id, op, args or {})).encode("utf-8"))
        except (BrokenPipeError, ConnectionResetError, AttributeError):
            pass  # drain() raises it again, in the awaitable
        return self._reply(req_id, future, timeout)

    async def _reply(self, req_id: int, future: asyncio.Future, timeout: float | None) -> dict:
        try:
            await self._writer.drain()
        except (BrokenPipeError, ConnectionResetError, AttributeError):
            self._pending.pop(req_id, None)
            self._sent_at.pop(req_id, None)
            await self._exited.wait()
            raise EngineDied(self.returncode, self.stderr_text()) from None
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


async def _raise_later(exc: Exception) -> Any:
    """An awaitable that raises ``exc``: a request that could not be sent, as awaited."""
    raise exc
