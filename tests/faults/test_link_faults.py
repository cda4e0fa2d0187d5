"""Link faults: an engine of another protocol version, another user at the socket, a client that
stops reading, and detached engines left alone, hung up on, or terminated.

Each test starts the engines it needs in a runtime folder of its own (never the user's) and kills
whatever is still running at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

import pytest

from core import runtime
from core.client import EXITED, EngineClient
from core.errors import EngineDied, ProtocolMismatch, TorchdeckError
from core.transport import LOG_NAME, spawn_detached
from tests.core.engine_helpers import (
    REFUSAL,
    TEXT,
    collect,
    is_progress_at,
    mini,
    read_as_nobody,
    stderr_with,
)

TIMEOUT = 60.0  # generous: the box is small and shared, and each engine imports torch
NOBODY = 65534
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
MISMATCH = {
    999: (
        "the engine speaks protocol 999 and this torchdeck speaks 3: the client is older",
        "upgrade torchdeck on this machine (the same version on both sides), then try again",
    ),
    1: (
        "the engine speaks protocol 1 and this torchdeck speaks 3: the engine is older",
        "upgrade torchdeck on the engine's machine (the same version on both sides), then try "
        "again",
    ),
}


def gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a zombie not yet reaped counts as exited)."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0]:
            return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


async def wait_gone(pid: int, timeout: float = TIMEOUT) -> float:
    """Seconds until ``pid`` exits; fails after ``timeout``."""
    start = time.monotonic()
    while not gone(pid):
        assert time.monotonic() - start < timeout, f"engine {pid} still running"
        await asyncio.sleep(0.05)
    return time.monotonic() - start


@pytest.fixture
def detached(tmp_path, monkeypatch):
    """``start(idle_timeout)`` -> (socket path, pid, log path): a detached engine with its
    runtime folder in tmp; every one started is killed at the end if still running."""
    base = Path(tempfile.mkdtemp(prefix="torchdeck-link-"))  # short: a socket path is < 108
    os.chmod(base, 0o755)  # the uid test lets another user reach in (see there)
    monkeypatch.setenv("TORCHDECK_RUNTIME_DIR", str(base / "rt"))
    pids: list[int] = []

    async def start(idle_timeout: float = 600.0):
        run_dir = tmp_path / f"run{len(pids)}"
        path = await spawn_detached(0, 1, str(run_dir), idle_timeout)
        pids.append(int(runtime.engine_id_of(path)))
        return path, pids[-1], run_dir / LOG_NAME

    yield start
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    shutil.rmtree(base, ignore_errors=True)


async def connect(path: Path, role: str = "ui") -> EngineClient:
    client = EngineClient(socket_path=str(path), role=role)
    await client.start(timeout=TIMEOUT)
    return client


# -- another protocol --------------------------------------------------------------------------


@pytest.mark.parametrize("version", [999, 1])
async def test_an_engine_of_another_protocol_behind_a_command_is_refused_with_the_fix(version):
    fake = (
        "import json, sys\n"
        f"print(json.dumps({{'event': 'ready', 'data': {{'protocol': {version}}}}}), flush=True)\n"
        "sys.stdin.read()\n"
    )
    client = EngineClient([sys.executable, "-c", fake], role="ui")  # as ssh host ... bridge
    try:
        with pytest.raises(ProtocolMismatch) as info:
            await client.start(timeout=TIMEOUT)
        assert (info.value.message, info.value.hint) == MISMATCH[version]
        ev = await client.next_event(EXITED, timeout=TIMEOUT)
        assert ev.data["mismatch"] == str(info.value)
        assert client.info is None and not client.running
    finally:
        client.kill()
        await client.close()


async def test_an_engine_of_another_protocol_on_a_socket_hears_no_hello(tmp_path):
    heard: list[bytes] = []

    async def fake_engine(reader, writer):
        writer.write(b'{"event": "ready", "data": {"protocol": 999}}\n')
        await writer.drain()
        heard.append(await reader.read())  # until the client hangs up
        writer.close()

    server = await asyncio.start_unix_server(fake_engine, str(tmp_path / "e.sock"))
    client = EngineClient(socket_path=str(tmp_path / "e.sock"))
    try:
        with pytest.raises(ProtocolMismatch) as info:
            await client.start(timeout=TIMEOUT)
        assert (info.value.message, info.value.hint) == MISMATCH[999]
        for _ in range(200):
            if heard:
                break
            await asyncio.sleep(0.01)
        assert heard == [b""]  # the client sent nothing to an engine it cannot speak to
    finally:
        await client.close()
        server.close()


# -- another user --------------------------------------------------------------------------------


@pytest.mark.skipif(not ROOT, reason="connecting as another user needs root (setuid)")
async def test_a_connection_from_another_user_is_refused_and_logged(detached):
    path, pid, log = await detached()
    client = await connect(path)  # up, torch imported, the listener accepting
    try:
        # For this test only, open the folder and the socket to every user: what is under test
        # is the engine's own check of the peer's uid (normally the folder is 0700, the socket
        # 0600, and the other user cannot even reach it).
        os.chmod(path.parent, 0o755)
        os.chmod(path, 0o777)
        data = await asyncio.to_thread(read_as_nobody, str(path))
        assert json.loads(data) == REFUSAL
        assert f"refused a connection from uid {NOBODY}: not this engine's user" in (
            log.read_text()
        )
        status = await client.request("status", timeout=TIMEOUT)  # its own user: still served
        assert status["engine"]["clients"] == 1 and status["engine"]["detached"] is True
    finally:
        await client.close(shutdown=True)  # the shutdown op ends a detached engine
    await wait_gone(pid)
    assert not path.exists()


def serve_as_nobody(path: str) -> int:
    """A child, running as nobody, that listens at ``path`` and greets like an engine."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(path)
            sock.listen(1)
            conn, _ = sock.accept()
            conn.sendall(b'{"event": "ready", "data": {"protocol": 3}}\n')
            while conn.recv(65536):
                pass
        finally:
            os._exit(0)
    return pid


@pytest.mark.skipif(not ROOT, reason="listening as another user needs root (setuid)")
async def test_the_client_refuses_an_engine_socket_of_another_user():
    base = Path(tempfile.mkdtemp(prefix="torchdeck-peer-"))
    os.chmod(base, 0o777)  # for this test only: another user's socket, where we look
    path = base / "engine-1.sock"
    pid = serve_as_nobody(str(path))
    client = EngineClient(socket_path=str(path))
    try:
        for _ in range(500):
            if path.exists():
                break
            await asyncio.sleep(0.01)
        with pytest.raises(TorchdeckError) as info:
            await client.start(timeout=5)
        assert info.value.message == (
            f"the engine at {path} belongs to another user (uid {NOBODY}): refused"
        )
        assert not client.running
    finally:
        await client.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        shutil.rmtree(base, ignore_errors=True)


# -- a client that stops reading -----------------------------------------------------------------

# an engine whose clients may have 64 KiB waiting for them, not 16 MiB: reached in seconds
SMALL_CAP_ENGINE = (
    "import sys\nimport core.hub\ncore.hub.MAX_PENDING = 64 << 10\n"
    "from core.engine_main import main\n"
    "sys.exit(main(['--serve', '--nice', '0', '--threads', '1']))\n"
)


async def test_a_client_that_stops_reading_is_dropped_and_the_run_goes_on(tmp_path):
    corpus = tmp_path / "fox.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    env = {**os.environ, "TORCHDECK_RUNTIME_DIR": str(tmp_path / "rt")}
    owner = EngineClient([sys.executable, "-c", SMALL_CAP_ENGINE], env=env)
    await owner.start(timeout=TIMEOUT)
    path = tmp_path / "rt" / f"engine-{owner.pid}.sock"
    stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        stalled.connect(str(path))  # and never reads
        reader = await connect(path)
        await owner.request("configure", mini(str(corpus)), timeout=TIMEOUT)
        await owner.request("train_start", report_interval=0.01, timeout=TIMEOUT)
        text = await stderr_with(owner, ": it stopped reading (")
        assert "dropped client 2: it stopped reading (" in text  # the first socket client
        step = (await collect(reader, lambda e: e.event == "train_progress"))[-1].data["step"]
        await collect(reader, is_progress_at(step + 100))  # the others are served as before
        status = await reader.request("status", timeout=TIMEOUT)
        assert status["state"] == "running" and status["engine"]["clients"] == 2
        stalled.settimeout(TIMEOUT)
        while stalled.recv(1 << 16):  # what was sent before the drop, then the end
            pass
        await owner.close()  # the owner leaves: a --serve engine ends, its clients told
        assert (await reader.next_event(EXITED, timeout=TIMEOUT)).data["expected"] is False
        assert not path.exists()
    finally:
        stalled.close()
        await owner.close()


async def test_an_engine_whose_socket_folder_is_refused_says_why_without_a_traceback(tmp_path):
    folder = tmp_path / "rt"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    argv = [sys.executable, "-m", "core.engine_main", "--serve", "--nice", "0"]
    client = EngineClient(argv, env={**os.environ, "TORCHDECK_RUNTIME_DIR": str(folder)})
    try:
        with pytest.raises(EngineDied) as info:
            await client.start(timeout=TIMEOUT)
        assert info.value.returncode == 2
        assert info.value.stderr_tail.splitlines() == [
            f"torchdeck engine: the engine socket folder {folder} is open to other users "
            f"(mode 0755): refused (run chmod 700 {folder}, or remove it and let torchdeck make "
            "it again)"
        ]
    finally:
        await client.close()


# -- detached engines ----------------------------------------------------------------------------


async def test_a_detached_engine_alone_exits_after_its_idle_timeout_removing_its_socket(
    detached,
):
    path, pid, log = await detached(idle_timeout=1)
    probe = await connect(path, role="probe")  # a look does not keep it alive
    assert (await probe.request("status", timeout=TIMEOUT))["engine"]["clients"] == 0
    await wait_gone(pid)
    assert not path.exists()
    assert "no client for 1 s and no run: exiting" in log.read_text()
    assert runtime.live_sockets() == []


async def test_a_detached_engine_outlives_idle_and_sighup_while_training_and_ends_on_sigterm(
    detached, tmp_path
):
    corpus = tmp_path / "fox.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    path, pid, log = await detached(idle_timeout=1)
    client = await connect(path)
    await client.request("configure", mini(str(corpus)), timeout=TIMEOUT)
    await client.request("train_start", timeout=TIMEOUT)
    await client.close()  # no client left, but a run going
    await asyncio.sleep(2.5)  # more than the idle timeout
    os.killpg(pid, signal.SIGHUP)  # the terminal it was started from closed
    await asyncio.sleep(0.5)
    assert not gone(pid) and path.exists()
    client = await connect(path)
    first = (await client.request("status", timeout=TIMEOUT))["engine"]
    await collect(client, is_progress_at(first["step"] + 50))
    assert first["state"] == "running" and first["detached"] is True
    assert first["id"] == str(pid) and first["socket"] == str(path)
    await client.close()
    os.kill(pid, signal.SIGTERM)
    assert await wait_gone(pid, 30) < 30
    assert not path.exists()
    assert runtime.live_sockets() == []
    assert "Traceback" not in log.read_text()
