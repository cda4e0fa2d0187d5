"""The client (core/client.py) around a real engine process: close leaves no process, unreadable
engine lines are reported, and a killed engine is reported and restarted.

Each test has an engine of its own (the fixtures are in conftest.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from core.client import EXITED, EngineClient
from core.errors import EngineDied, EngineError
from tests.core.engine_helpers import EVENT_TIMEOUT, mini, stderr_with

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_unconfigured_engine_then_close_leaves_no_process(fresh_engine):
    client = fresh_engine
    first = await client.next_event(timeout=EVENT_TIMEOUT)
    assert first.event == "ready" and first.data["protocol"] == 3
    status = await client.request("status")
    engine = status.pop("engine")
    assert status == {"state": "idle", "protocol": 3, "session": None}
    # a pipe child: its one client is the process that started it, and it serves no socket
    assert engine["pid"] == client.pid and engine["clients"] == 1 and engine["client"] == 1
    assert engine["socket"] == "" and not engine["detached"] and engine["state"] == "idle"
    for op, args in (("predict", {"text": "a"}), ("train_start", {}), ("save", {"path": "x"})):
        with pytest.raises(EngineError) as info:
            await client.request(op, args)
        assert info.value.type == "ConfigError"
        assert info.value.message == "no model is configured yet"
        assert "configure" in info.value.hint

    pid = client.pid
    code = await client.close()
    assert code == 0
    assert client.proc.returncode == 0
    assert not client.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    ev = await client.next_event(EXITED, timeout=EVENT_TIMEOUT)
    assert ev.data["expected"] is True and ev.data["returncode"] == 0
    with pytest.raises(EngineDied):
        await client.request("status")


async def test_client_reports_unreadable_engine_lines():
    """The check above means something: a corrupt stdout line does show in stderr_tail."""
    fake = (
        'import sys\nprint(\'{"event": "ready", "data": {"protocol": 1}}\', flush=True)\n'
        'print("not a protocol line", flush=True)\nsys.stdin.read()\n'
    )
    client = EngineClient([sys.executable, "-c", fake])
    assert (await client.start(timeout=30)) == {"protocol": 1}
    try:
        tail = await stderr_with(client, "[client] unreadable")
        assert "[client] unreadable engine line: protocol line is not JSON" in tail
        assert client.running
    finally:
        await client.close(timeout=2)


async def test_killed_engine_is_reported_and_restart_brings_it_back(noisy_engine, corpus):
    client = noisy_engine
    await client.request("configure", mini(corpus))
    await client.request("status")  # puts "LIBRARY NOISE" lines in its stderr
    client.drain_events()
    old_pid = client.pid
    task = asyncio.create_task(client.request("generate", max_new=1_000_000, stream=False))
    await asyncio.sleep(0.5)
    assert not task.done()
    os.kill(old_pid, signal.SIGKILL)
    with pytest.raises(EngineDied) as info:
        await asyncio.wait_for(task, EVENT_TIMEOUT)
    assert info.value.returncode == -signal.SIGKILL
    assert info.value.message == f"the engine exited (code {-signal.SIGKILL})"
    assert "LIBRARY NOISE" in info.value.stderr_tail
    ev = await client.next_event(EXITED, timeout=EVENT_TIMEOUT)
    assert ev.data["expected"] is False
    assert ev.data["returncode"] == -signal.SIGKILL
    assert "LIBRARY NOISE via fd 1" in ev.data["stderr_tail"]
    assert not client.running
    with pytest.raises(EngineDied):
        await client.request("status")

    ready = await client.restart(timeout=60)
    assert ready["protocol"] == 3
    assert client.running and client.pid != old_pid and ready["pid"] == client.pid
    status = await client.request("status")
    assert status["session"] is None  # a new engine: nothing survived the kill
    info2 = await client.request("configure", preset="parabola", device="cpu")
    assert info2["params"] == 1
