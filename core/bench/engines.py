"""The bench's engines: detached ones, as ``torchdeck`` now runs them, each listening in a
private runtime folder under the bench's temporary folder (never beside the person's own
engines) and always ended afterwards; and a client that counts the bytes it receives."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from core import runtime
from core.client import EngineClient
from core.transport import end_process, spawn_detached

RUNTIME_ENV = "TORCHDECK_RUNTIME_DIR"
IDLE_TIMEOUT_S = 30.0  # an engine a crashed probe left behind, idle, ends on its own after this


@contextlib.contextmanager
def private_runtime(folder: Path) -> Iterator[Path]:
    """``TORCHDECK_RUNTIME_DIR`` is ``folder`` while inside (for this process and the engines it
    spawns); every engine still listening there is ended on the way out."""
    before = os.environ.get(RUNTIME_ENV)
    os.environ[RUNTIME_ENV] = str(folder)
    try:
        runtime.runtime_dir()  # made 0700 here
        yield folder
    finally:
        try:
            end_engines(folder)
        finally:
            if before is None:
                os.environ.pop(RUNTIME_ENV, None)
            else:
                os.environ[RUNTIME_ENV] = before


async def spawn(run_dir: Path, nice: int = 10, threads: int = 0) -> Path:
    """A detached engine (call inside ``private_runtime``); its socket once it listens."""
    return await spawn_detached(
        nice=nice, threads=threads, run_dir=str(run_dir), idle_timeout=IDLE_TIMEOUT_S
    )


def detached_client(run_dir: Path, nice: int = 10, threads: int = 0) -> EngineClient:
    """A client that starts its own detached engine, as the app's does (``torchdeck``)."""
    return EngineClient(spawn=lambda: spawn(run_dir, nice, threads))


async def shutdown(path: Path | str, timeout: float = 30.0) -> None:
    """Ask the engine at ``path`` to shut down (a run in progress is saved where autosave points)
    and wait until its process has gone; SIGKILL if it has not after ``timeout`` seconds."""
    pid = _pid_of(Path(path))
    client = EngineClient(socket_path=str(path), role="probe")
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.start(), timeout)
        await client.close(timeout=timeout, shutdown=True)
    if pid is not None:
        await asyncio.to_thread(end_process, pid, timeout)


def end_engines(folder: Path, grace: float = 10.0) -> list[int]:
    """End every engine that still listens in ``folder`` (SIGTERM: it saves and exits; SIGKILL
    after ``grace`` seconds) and remove the sockets of dead ones. Returns the pids ended."""
    ended = []
    if not folder.is_dir():
        return ended
    for path in sorted(folder.glob(f"engine-*{runtime.SUFFIX}")):
        pid = _pid_of(path)
        if runtime.is_stale(path) or pid is None:
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        end_process(pid, grace)
        ended.append(pid)
        with contextlib.suppress(OSError):
            path.unlink()
    return ended


def _pid_of(path: Path) -> int | None:
    try:
        return int(runtime.engine_id_of(path))
    except ValueError:
        return None


class _Counted:
    """An asyncio stream reader that notes (arrival time, bytes) of each line read from it."""

    def __init__(self, stream: asyncio.StreamReader, lines: list[tuple[float, int]]) -> None:
        self._stream = stream
        self._lines = lines

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        try:
            data = await self._stream.readuntil(separator)
        except asyncio.IncompleteReadError as exc:
            self._note(len(exc.partial))
            raise
        self._note(len(data))
        return data

    async def readexactly(self, n: int) -> bytes:
        data = await self._stream.readexactly(n)
        self._note(len(data))
        return data

    def _note(self, size: int) -> None:
        if size:
            self._lines.append((time.perf_counter(), size))


class CountingClient(EngineClient):
    """A plain ``EngineClient`` whose socket reader is wrapped to count what arrives: each
    line's arrival time (``time.perf_counter``) and size in bytes, newline included."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lines: list[tuple[float, int]] = []

    async def _read_stdout(self, stream, *rest) -> None:
        await super()._read_stdout(_Counted(stream, self.lines), *rest)

    def received(self, start: float, end: float) -> tuple[int, int]:
        """Lines and bytes that arrived in [start, end)."""
        sizes = [n for t, n in self.lines if start <= t < end]
        return len(sizes), sum(sizes)
