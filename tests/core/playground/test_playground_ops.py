"""The playground's engine ops (core/playground/ops.py) over a real engine: exec, complete,
interrupt, a cell sent while training runs, a cell that kills the engine, restart, reset."""

from __future__ import annotations

import asyncio
import time

import pytest
import pytest_asyncio

from core.client import EngineClient
from core.errors import EngineDied, EngineError


def mini(corpus, **train) -> dict:
    """A tiny mini model on ``corpus`` on the CPU, with these training settings."""
    return {
        "preset": "mini",
        "corpus": str(corpus),
        "device": "cpu",
        "model": {"n_embd": 8, "n_hidden": 8},
        **train,
    }


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def engine():
    client = EngineClient(nice=0, threads=1)
    await client.start(timeout=120)
    yield client
    await client.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_exec_op_persists_and_binds_the_model(engine, corpus_file):
    res = await engine.request("exec", {"code": "a = 2 + 3\nprint('hi')\na * 2"})
    assert res["stdout"] == "hi\n" and res["value"]["text"] == "10" and res["error"] is None
    assert (await engine.request("exec", {"code": "a"}))["value"]["text"] == "5"
    await engine.request("configure", mini(corpus_file))
    res = await engine.request("exec", {"code": "type(model).__name__, tokenizer.vocab_size"})
    assert res["value"]["text"].startswith("(") and res["error"] is None
    res = await engine.request(
        "exec", {"code": "z = torch.ones(1, requires_grad=True) * 2\nz.backward(); z.backward()"}
    )
    assert res["error"]["type"] == "RuntimeError" and "retain_graph" in res["error"]["hint"]
    res = await engine.request("exec", {"code": "torch.empty(10**13)"})
    assert res["error"]["type"] == "MemoryGuardError" and "40.0 TB" in res["error"]["message"]
    comp = await engine.request("complete", {"code": "torch.ara", "cursor": 9})
    assert "arange" in comp["candidates"]
    with pytest.raises(EngineError, match="code"):
        await engine.request("exec", {})
    with pytest.raises(EngineError, match="memory_share"):
        await engine.request("exec", {"code": "1", "memory_share": 2})


@pytest.mark.asyncio(loop_scope="module")
async def test_interrupt_ends_an_endless_cell(engine):
    task = asyncio.create_task(engine.request("exec", {"code": "n = 0\nwhile True: n += 1"}))
    await asyncio.sleep(0.5)
    started = time.monotonic()
    engine.interrupt()
    with pytest.raises(EngineError) as info:
        await asyncio.wait_for(task, 10)
    assert info.value.type == "Interrupted"
    assert time.monotonic() - started < 2
    res = await engine.request("exec", {"code": "n > 0"})  # the engine lives, n is kept
    assert res["value"]["text"] == "True"


@pytest.mark.asyncio(loop_scope="module")
async def test_a_cell_sent_while_training_runs_between_steps(engine, corpus_file):
    await engine.request("configure", mini(corpus_file, steps=1_000_000, batch_size=4))
    await engine.request("train_start", {"report_interval": 0.05})
    try:
        # a cell queued before the first step runs at step 0 (a waiting request ends the
        # slice before the next step): wait until training has begun
        await engine.next_event("train_progress", timeout=30)
        first = await engine.request("exec", {"code": "model.training"})
        second = await engine.request("exec", {"code": "1"})
        assert first["state"] == second["state"] == "running"
        assert first["value"]["text"] == "True" and first["error"] is None
        assert 0 < first["step"] <= second["step"]  # training goes on between cells
    finally:
        await engine.request("train_stop", {})


@pytest.mark.asyncio(loop_scope="module")
async def test_a_cell_that_kills_the_engine_is_reported_and_restart_is_fresh(engine):
    await engine.request("exec", {"code": "kept = 1"})
    with pytest.raises(EngineDied) as info:
        await engine.request("exec", {"code": "import os; os._exit(1)"})
    assert info.value.returncode == 1
    await engine.restart()
    res = await engine.request("exec", {"code": "kept"})
    assert res["error"]["type"] == "NameError"
    res = await engine.request("exec", {"code": "torch.ones(2, 2).sum()"})
    assert res["value"]["text"] == "tensor(4.)"
    reset = await engine.request("playground_reset", {})
    assert {"torch", "nn", "F", "np", "model", "tokenizer", "data"} <= set(reset["names"])


@pytest.mark.asyncio(loop_scope="module")
async def test_a_cell_that_replaces_a_layer_is_trained_and_says_so(engine, corpus_file):
    await engine.request("configure", mini(corpus_file, batch_size=4))
    res = await engine.request("exec", {"code": "model.hidden.weight.shape"})
    assert res["trains"] is None  # nothing changed
    cell = "model.hidden = nn.Linear(8, 8)\nw = model.hidden.weight.detach().clone()"
    res = await engine.request("exec", {"code": cell})
    assert res["error"] is None
    assert res["trains"] == (
        "the model's parameters changed: training now updates 5 tensors; "
        "new, with no optimizer state yet: hidden.weight, hidden.bias; 2 no longer trained"
    )
    await engine.request("train_step", {})
    res = await engine.request("exec", {"code": "bool((model.hidden.weight != w).any())"})
    assert res["value"]["text"] == "True" and res["trains"] is None
