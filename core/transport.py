"""Starting a detached engine (``torchdeck engine --detach``) and finding its socket.

A detached engine is not a pipe child: it runs in its own session with its output in a log file
in the run folder, so closing the terminal (SIGHUP), or the app dying, leaves it running; the
app connects to its socket (``core.runtime``). Imports no torch and no UI library.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core import runtime
from core.errors import EngineDied, TorchdeckError
from core.i18n import _

DEFAULT_RUN_DIR = "runs/torchdeck"
LOG_NAME = "engine.log"


def engine_command(nice: int = 10, threads: int = 0) -> list[str]:
    """A pipe child engine: JSON lines on its stdin/stdout."""
    cmd = [sys.executable, "-m", "core.engine", "--nice", str(nice)]
    if threads:
        cmd += ["--threads", str(threads)]
    return cmd


def torchrun_command(nproc_per_node: int, launch: list[str] | None = None) -> list[str]:
    """torchrun's own launcher (``torch.distributed.run``, through ``core.torchrun``, which
    says a failure in one line) with its options: one box (``--standalone``) unless
    ``launch`` names the nodes and the rendezvous."""
    cmd = [sys.executable, "-m", "core.torchrun", f"--nproc-per-node={nproc_per_node}"]
    launch = list(launch or [])
    if not any(a.startswith(("--rdzv-endpoint", "--rdzv_endpoint")) for a in launch):
        cmd.append("--standalone")
    return cmd + launch


def dist_engine_command(nproc_per_node: int, nice: int = 0, threads: int = 0) -> list[str]:
    """A pipe child engine that is rank 0 of a torchrun job on this box: the other ranks follow
    it (``core.follower``); its stdin/stdout carry the protocol as a single engine's do."""
    cmd = torchrun_command(nproc_per_node) + ["-m", "core.engine_main", "--dist"]
    cmd += ["--nice", str(nice)]
    if threads:
        cmd += ["--threads", str(threads)]
    return cmd


async def start_process(argv: list[str], env: dict[str, str] | None) -> asyncio.subprocess.Process:
    """A child whose stdin/stdout carry the protocol: an engine, or a command leading to one."""
    environ = dict(os.environ if env is None else env)
    environ.setdefault("PYTHONUNBUFFERED", "1")
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environ,
        limit=1 << 24,
        start_new_session=True,  # a Ctrl-C in the terminal reaches the UI, not the engine
    )


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs. A child of this process that has exited is reaped on
    the way; a zombie (exited, another process's to reap) counts as gone."""
    with contextlib.suppress(ChildProcessError, OSError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: alive
        return True
    return True


def end_process(pid: int, grace: float = 5.0, term: bool = True) -> None:
    """End process ``pid``: SIGTERM first (unless ``term`` is False: it was asked already), then
    SIGKILL if it is still there after ``grace`` seconds."""
    if not process_alive(pid):
        return
    if term:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while process_alive(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            killed = time.monotonic() + 2.0  # a child of this process is reaped, no zombie
            while process_alive(pid) and time.monotonic() < killed:
                time.sleep(0.02)
            return
        time.sleep(0.05)


def process_stopped(pid: int) -> bool:
    """Whether process ``pid`` is stopped (SIGSTOP, a debugger); Linux only, else False."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("T", "t")
    except (OSError, IndexError):
        return False


def detached_argv(
    nice: int = 10, threads: int = 0, idle_timeout: float | None = None, run_dir: str = ""
) -> list[str]:
    argv = [sys.executable, "-m", "core.engine_main", "--detach", "--nice", str(nice)]
    if threads:
        argv += ["--threads", str(threads)]
    if idle_timeout is not None:
        argv += ["--idle-timeout", str(idle_timeout)]
    if run_dir:
        log = str(Path(run_dir).resolve() / LOG_NAME)
        argv += ["--run-dir", str(Path(run_dir).resolve()), "--log", log]
    return argv


async def spawn_detached(
    nice: int = 10,
    threads: int = 0,
    run_dir: str = DEFAULT_RUN_DIR,
    idle_timeout: float | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Start a detached engine and return its socket once it listens (before torch is
    imported: the client then waits for ``ready``). EngineDied, with the log's last lines, if
    it exits first."""
    runtime.runtime_dir()  # made (and checked) here, where its error can be shown
    folder = Path(run_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        log = open(folder / LOG_NAME, "ab")  # noqa: SIM115 - the engine keeps it
    except OSError as exc:
        raise TorchdeckError(
            _("cannot write the engine's log in {folder}: {error}").format(
                folder=folder, error=exc.strerror
            ),
            _("run torchdeck in a folder you can write"),
        ) from None
    log.write(f"--- engine started {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
    log.flush()
    environ = dict(os.environ if env is None else env)
    environ.setdefault("PYTHONUNBUFFERED", "1")
    with log:
        proc = subprocess.Popen(
            detached_argv(nice, threads, idle_timeout, run_dir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=environ,
            start_new_session=True,  # its own session: a closed terminal's SIGHUP misses it
        )
    path = runtime.socket_path(str(proc.pid))
    deadline = time.monotonic() + timeout
    while not path.exists():
        code = proc.poll()
        if code is not None:
            raise EngineDied(code, log_tail(folder / LOG_NAME))
        if time.monotonic() > deadline:
            proc.kill()
            raise TorchdeckError(
                _("the engine did not open its socket within {seconds} s").format(
                    seconds=f"{timeout:.0f}"
                ),
                _("see {path}").format(path=folder / LOG_NAME),
            )
        await asyncio.sleep(0.01)
    return path


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
