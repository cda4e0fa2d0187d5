"""The engine process over its real protocol, driven through core.client.EngineClient: the ready
event, interrupts, the shutdown op, and library prints that cannot corrupt the protocol
(core/engine.py's loop, I/O and signals). Bad requests are in test_engine_requests.py.

One engine is shared by the module (the fixtures are in conftest.py); tests that kill, close or
replace an engine start their own. Every test on the shared engine leaves training stopped.
"""

from __future__ import annotations

import asyncio
import os
import platform
import time
from importlib.metadata import version

import pytest

from core.client import EXITED, EngineClient
from core.errors import EngineError
from tests.core.engine_helpers import (
    EVENT_TIMEOUT,
    TEXT,
    collect,
    is_progress_at,
    is_state,
    mini,
    stderr_with,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


# -- the ready event ---------------------------------------------------------------------------


async def test_ready_event_carries_protocol_and_versions(engine):
    info = engine.ready_info
    assert info["protocol"] == 3
    assert info["torch"] == version("torch")
    assert info["python"] == platform.python_version()
    assert info["pid"] == engine.pid
    assert info["threads"] == 1  # --threads 1 reached torch
    assert info["presets"] == ["gpt", "mini", "mlp", "parabola"]
    assert isinstance(info["cuda"], bool)


# -- interrupt -----------------------------------------------------------------------------------


async def test_interrupt_stops_a_long_request(engine, corpus):
    await engine.request("configure", mini(corpus))
    task = asyncio.create_task(
        engine.request("generate", prompt="the ", max_new=1_000_000, stream=False, seed=1)
    )
    await asyncio.sleep(0.5)  # let the engine start generating
    assert not task.done()
    t0 = time.perf_counter()
    # A SIGINT landing between requests only counts for a request arriving within 0.5 s;
    # repeat until it stops.
    while not task.done() and time.perf_counter() - t0 < 10:
        engine.interrupt()
        await asyncio.wait({task}, timeout=0.5)
    elapsed = time.perf_counter() - t0
    if not task.done():
        engine.kill()  # it would generate for minutes; the next test gets a new engine
        pytest.fail("SIGINT did not stop generate within 10 s")
    with pytest.raises(EngineError) as info:
        task.result()
    assert elapsed < 3.0, f"interrupt took {elapsed:.2f} s"
    assert info.value.type == "Interrupted"
    assert info.value.message == "interrupted by the user"
    assert "the engine is fine" in info.value.hint
    stopped = await engine.next_event("generate_stopped", timeout=EVENT_TIMEOUT)
    assert 0 < len(stopped.data["text"]) < 1_000_000
    assert set(stopped.data["text"]) <= set(TEXT)
    # the engine keeps answering
    assert (await engine.request("status"))["state"] == "idle"
    result = await engine.request("generate", prompt="the ", max_new=5, stream=False, seed=1)
    assert len(result["text"]) == 5


async def test_interrupt_while_the_engine_starts_does_not_kill_it():
    client = EngineClient(nice=0, threads=1)
    await client.start(wait_ready=False)
    try:
        await asyncio.sleep(0.3)  # past interpreter start-up (~0.06 s), inside torch import
        assert client.ready_info is None, "the engine was ready too soon for this test"
        signals = 0
        while client.ready_info is None and client.running:
            client.interrupt()
            signals += 1
            await asyncio.sleep(0.1)
        assert signals >= 1
        ready = await client.wait_ready(EVENT_TIMEOUT)  # EngineDied if a SIGINT killed it
        assert ready["protocol"] == 3
        # the engine takes an interrupt that came less than 0.5 s before a request as meant for
        # it (core.engine: the person pressed ctrl+c as they sent it): the last one sent above
        # may be that recent, so the status is asked once that window has passed
        await asyncio.sleep(0.6)
        assert (await client.request("status"))["state"] == "idle"
    finally:
        await client.close()


async def test_interrupt_pauses_training(engine, corpus):
    await engine.request("configure", mini(corpus))
    await engine.request("train_start")
    await collect(engine, is_progress_at(1))
    engine.interrupt()
    events = await collect(engine, is_state("paused"))
    assert events[-1].data["reason"] == "interrupted"
    assert (await engine.request("status"))["state"] == "paused"


# -- the engine's own end, and its stdout kept for the protocol ---------------------------------


async def test_shutdown_op_ends_the_engine(fresh_engine):
    client = fresh_engine
    pid = client.pid
    assert await client.request("shutdown") == {"bye": True}
    # it exits by itself, with its stdin still open
    assert await asyncio.wait_for(client.proc.wait(), EVENT_TIMEOUT) == 0
    ev = await client.next_event(EXITED, timeout=EVENT_TIMEOUT)
    assert ev.data["returncode"] == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_library_prints_cannot_corrupt_the_protocol(noisy_engine, corpus):
    client = noisy_engine
    info = await client.request("configure", mini(corpus))
    assert info["vocab_size"] == 28
    status = await client.request("status")
    assert status["session"]["preset"] == "mini"
    result = await client.request("predict", text="the")
    assert len(result["top"]) == 10
    tail = await stderr_with(client, "LIBRARY NOISE via print in op_status")
    assert "LIBRARY NOISE via print in op_configure" in tail
    assert "LIBRARY NOISE via sys.stdout" in tail
    assert "LIBRARY NOISE via fd 1" in tail
    assert "[client] unreadable engine line" not in tail  # every stdout line was protocol
    assert client.running
