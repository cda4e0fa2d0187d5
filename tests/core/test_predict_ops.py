"""The predict ops (core/predict_ops.py) over the real protocol, driven through
core.client.EngineClient: predict while training, the math and a layer's activations, and
cancelling a generation by its id.

One engine is shared by the module (the fixtures are in conftest.py). Every test leaves training
stopped.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from core.errors import EngineError
from tests.core.engine_helpers import EVENT_TIMEOUT, TEXT, collect, is_progress_at, mini

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_predict_answers_while_training(engine, corpus):
    await engine.request("configure", mini(corpus))
    await engine.request("train_start")
    await collect(engine, is_progress_at(1))
    t0 = time.perf_counter()
    result = await engine.request("predict", text="the lazy d", k=4, timeout=EVENT_TIMEOUT)
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.0, f"predict took {elapsed:.2f} s during training"
    assert result["tokens"] == list("the lazy d")
    assert result["step"] >= 1
    assert result["vocab_size"] == 28
    assert len(result["top"]) == 4
    assert {t["char"] for t in result["top"]} <= set(TEXT)
    probs = [t["prob"] for t in result["top"]]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6
    status = await engine.request("status")
    assert status["state"] == "running"
    # and training goes on after the answer
    await collect(engine, is_progress_at(result["step"] + 1))


async def test_predict_with_math_and_a_layer_over_the_protocol(engine, corpus):
    await engine.request("configure", mini(corpus))
    layers = await engine.request("predict_layers")
    assert [x["name"] for x in layers["layers"]] == ["embedding", "hidden", "activation", "output"]
    assert layers["output_layer"] == "output"
    r = await engine.request(
        "predict", text="the lazy", math=True, layer="activation", units=4, positions=3
    )
    assert r["math"]["output"]["allclose"] is True
    assert r["math"]["output"]["max_abs_diff"] < 1e-5
    assert r["activations"]["chars"] == list("azy")
    assert len(r["activations"]["units"]) == 4
    with pytest.raises(EngineError) as info:
        await engine.request("predict", text="the", layer="nope")
    assert info.value.type == "ConfigError" and "output" in info.value.hint
    with pytest.raises(EngineError) as info:
        await engine.request("predict", text="the", units=0)
    assert "units" in info.value.message


async def test_cancel_stops_a_generation_by_its_id(engine, corpus):
    await engine.request("configure", mini(corpus))
    gen_id = engine.next_id
    task = asyncio.create_task(
        engine.request("generate", prompt="the ", max_new=1_000_000, stream=True, seed=3)
    )
    first = await engine.next_event("generate_token", timeout=EVENT_TIMEOUT)
    assert first.data["id"] == gen_id and first.data["index"] == 0
    t0 = time.perf_counter()
    cancelled = await engine.request("cancel", id=gen_id, timeout=EVENT_TIMEOUT)
    result = await asyncio.wait_for(task, EVENT_TIMEOUT)
    assert time.perf_counter() - t0 < 3.0
    assert cancelled == {"id": gen_id}
    assert result["stopped"] is True and 0 < len(result["text"]) < 1_000_000
    stopped = await engine.next_event("generate_stopped", timeout=EVENT_TIMEOUT)
    assert stopped.data == {"id": gen_id, "text": result["text"]}
    # a cancel for a finished or unknown id changes nothing; the next generation runs whole
    await engine.request("cancel", id=gen_id)
    again = await engine.request("generate", prompt="the ", max_new=7, stream=False, seed=3)
    assert len(again["text"]) == 7 and again["stopped"] is False
    n = min(7, len(result["text"]))
    assert again["text"][:n] == result["text"][:n]  # same seed, same characters
