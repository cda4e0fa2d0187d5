"""The training and checkpoint ops (core/train_ops.py) over the real protocol, driven through
core.client.EngineClient: configure, training progress, pause/resume/step/stop, the parabola,
save and load, and a failed configure that keeps the session.

One engine is shared by the module (the fixtures are in conftest.py). Every test leaves training
stopped.
"""

from __future__ import annotations

import asyncio
import math

import pytest

from core.client import EngineClient
from core.errors import EngineError
from core.protocol import Event
from tests.core.engine_helpers import (
    EVENT_TIMEOUT,
    collect,
    is_progress_at,
    is_state,
    mini,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


def progress(events: list[Event]) -> list[dict]:
    return [e.data for e in events if e.event == "train_progress"]


async def step_now(client: EngineClient) -> int:
    return (await client.request("status", timeout=EVENT_TIMEOUT))["session"]["step"]


# -- configure and training --------------------------------------------------------------------


async def test_configure_reports_the_session(engine, corpus):
    info = await engine.request("configure", mini(corpus, seed=3, lr=0.02))
    assert info["preset"] == "mini"
    assert info["device"] == "cpu"
    assert info["vocab_size"] == 28
    # embedding 28×8, hidden 8×16+16, output 16×28+28
    assert info["params"] == 28 * 8 + 8 * 16 + 16 + 16 * 28 + 28
    assert info["model_config"] == {"vocab_size": 28, "n_embd": 8, "n_hidden": 16, "block_size": 16}
    assert info["train_config"]["lr"] == 0.02
    assert info["train_config"]["seed"] == 3
    assert info["train_config"]["batch_size"] == 8
    assert info["corpus"] == {
        "source": corpus,
        "chars": 4500,
        "vocab_size": 28,
        "train_chars": 4050,
        "val_chars": 450,
    }
    assert (info["step"], info["steps"], info["block_size"]) == (0, 1_000_000, 16)
    ev = await engine.next_event("train_state", timeout=EVENT_TIMEOUT)
    assert ev.data == {"state": "idle", "reason": "configured", "step": 0, "client": 1}
    status = await engine.request("status")
    assert status["state"] == "idle"
    assert status["session"] == info


async def test_train_progress_loss_falls(engine, corpus):
    await engine.request("configure", mini(corpus))
    started = await engine.request("train_start")
    assert started == {"state": "running", "step": 0, "steps": 1_000_000}
    events = await collect(engine, is_progress_at(400))
    await engine.request("train_stop")

    assert [e.data["state"] for e in events if e.event == "train_state"] == ["idle", "running"]
    reports = progress(events)
    assert len(reports) >= 2
    losses: dict[int, float] = {}
    expected_first = 1
    for r in reports:
        # consecutive reports cover consecutive steps, one loss per step
        assert r["first_step"] == expected_first
        assert len(r["losses"]) == r["step"] - r["first_step"] + 1
        assert r["loss"] == pytest.approx(sum(r["losses"]) / len(r["losses"]))
        assert r["steps"] == 1_000_000 and r["state"] == "running"
        assert r["tokens_per_s"] == pytest.approx(r["steps_per_s"] * 8 * 16)
        assert r["grad_norm"] > 0 and r["lr"] > 0
        losses.update(zip(range(r["first_step"], r["step"] + 1), r["losses"]))
        expected_first = r["step"] + 1
    early = sum(losses[s] for s in range(1, 21)) / 20
    late_steps = [s for s in losses if s > 300]
    late = sum(losses[s] for s in late_steps) / len(late_steps)
    assert early > math.log(28) * 0.9  # starts near uniform over 28 characters (3.33)
    assert late < early * 0.5, (early, late)  # the repetitive text is learned


async def test_pause_stops_steps_and_train_step_advances_by_one(engine, corpus):
    await engine.request("configure", mini(corpus))
    await engine.request("train_start")
    await collect(engine, is_progress_at(1))
    paused = await engine.request("train_pause")
    assert paused["state"] == "paused"
    step = paused["step"]
    assert step >= 1
    events = await collect(engine, is_state("paused"))
    assert events[-1].data == {
        "state": "paused",
        "reason": "paused by request",
        "step": step,
        "client": 1,
    }
    assert await step_now(engine) == step
    await asyncio.sleep(0.6)
    assert await step_now(engine) == step
    assert not [e for e in engine.drain_events() if e.event == "train_progress"]

    detail = await engine.request("train_step")
    assert detail["step"] == step + 1
    assert detail["grads_cleared"] == 5  # embedding, hidden weight+bias, output weight+bias
    assert 0 < detail["loss"] < 10 and math.isfinite(detail["loss"])
    assert detail["grad_norm"] > 0
    assert detail["update_norm"] > 0
    # linear warm-up over 100 steps, then a cosine over a million steps (still ≈ the peak)
    assert detail["lr"] == pytest.approx(0.01 * min(1.0, (step + 1) / 100), rel=1e-3)
    assert detail["parabola"] is None
    assert await step_now(engine) == step + 1
    ev = await engine.next_event("train_progress", timeout=EVENT_TIMEOUT)
    assert ev.data["step"] == step + 1 and ev.data["first_step"] == step + 1
    assert ev.data["losses"] == [pytest.approx(detail["loss"])]
    assert ev.data["state"] == "paused"

    resumed = await engine.request("train_resume")
    assert resumed == {"state": "running", "step": step + 1}
    with pytest.raises(EngineError) as info:
        await engine.request("train_step")
    assert info.value.type == "ConfigError"
    assert info.value.message == "training is running"

    stopped = await engine.request("train_stop")
    assert stopped["state"] == "stopped"
    await asyncio.sleep(0.4)
    assert await step_now(engine) == stopped["step"]
    assert (await engine.request("status"))["state"] == "stopped"


async def test_first_train_step_reports_each_phase(engine, corpus):
    await engine.request("configure", mini(corpus))
    detail = await engine.request("train_step")
    assert detail["step"] == 1
    assert detail["grads_cleared"] == 0  # nothing to clear before the first backward
    assert detail["lr"] == pytest.approx(0.01 / 100)  # first warm-up step of 100
    assert detail["loss"] == pytest.approx(math.log(28), abs=0.5)
    assert detail["grad_norm"] > 0 and detail["update_norm"] > 0
    assert detail["history_len"] == 1
    assert detail["clipped"] is (detail["grad_norm"] > 1.0)
    second = await engine.request("train_step")
    assert second["step"] == 2
    assert second["grads_cleared"] == 5


async def test_pause_and_resume_need_the_right_state(engine, corpus):
    await engine.request("configure", mini(corpus))
    with pytest.raises(EngineError) as info:
        await engine.request("train_pause")
    assert info.value.type == "ConfigError"
    assert info.value.message == "training is not running (it is idle)"
    with pytest.raises(EngineError) as info:
        await engine.request("train_resume")
    assert info.value.message == "training is not paused (it is idle)"
    assert "train_start" in info.value.hint


async def test_parabola_through_the_engine(engine):
    info = await engine.request("configure", preset="parabola", device="cpu")
    assert info["params"] == 1 and info["steps"] == 80
    await engine.request("train_start")
    events = await collect(engine, is_state("finished"))
    assert events[-1].data == {
        "state": "finished",
        "reason": "reached step 80",
        "step": 80,
        "client": 0,
    }
    reports = progress(events)
    assert sum(len(r["losses"]) for r in reports) == 80
    last = reports[-1]
    assert last["step"] == 80
    p = last["parabola"]
    # x ← x − 0.01·(6x − 2) from x = −1: x_80 = 1/3 − (4/3)·0.94^80 ≈ 0.3239
    assert p["x"] == pytest.approx(1 / 3 - 4 / 3 * 0.94**80, abs=1e-4)
    assert abs(p["x"] - 0.3239) <= 0.001
    assert p["optimum"] == pytest.approx(1 / 3)
    assert p["distance"] == pytest.approx(abs(p["x"] - 1 / 3))
    assert p["f"] == pytest.approx(3 * p["x"] ** 2 - 2 * p["x"] + 3)
    # the gradient was taken one step earlier, at grad_at: f'(x) = 6x − 2
    assert p["grad"] == pytest.approx(6 * p["grad_at"] - 2, abs=1e-5)
    assert p["x"] == pytest.approx(p["grad_at"] - 0.01 * p["grad"], abs=1e-6)
    assert last["lr"] == 0.01
    with pytest.raises(EngineError) as err:
        await engine.request("train_start")
    assert err.value.type == "ConfigError"
    assert err.value.message == "the run has finished at step 80"
    with pytest.raises(EngineError) as err:
        await engine.request("predict", text="x")
    assert err.value.message == "the parabola preset is not a language model"


async def test_save_and_load_give_identical_predictions(engine, corpus, tmp_path):
    await engine.request("configure", mini(corpus, steps=150))
    await engine.request("train_start")
    await collect(engine, is_state("finished"))
    before = await engine.request("predict", text="over the l", k=5)
    saved = await engine.request("save", path=str(tmp_path / "run"))
    assert saved == {"path": str(tmp_path / "run" / "checkpoint.pt"), "step": 150}
    assert (tmp_path / "run" / "checkpoint.pt").is_file()

    await engine.request("configure", mini(corpus, seed=99))  # other weights
    other = await engine.request("predict", text="over the l", k=5)
    assert other["top"] != before["top"]

    engine.drain_events()
    loaded = await engine.request("load", path=saved["path"], device="cpu")
    assert loaded["preset"] == "mini" and loaded["step"] == 150
    assert loaded["model_config"] == {
        "vocab_size": 28,
        "n_embd": 8,
        "n_hidden": 16,
        "block_size": 16,
    }
    assert loaded["history"]["train"]["steps"][-1] == 150
    after = await engine.request("predict", text="over the l", k=5)
    assert after["top"] == before["top"]  # the same characters with the same probabilities
    assert after["loss"] == before["loss"]
    ev = await collect(engine, is_state("idle"))
    assert ev[-1].data["reason"] == "loaded"


async def test_failed_configure_keeps_the_previous_session(engine, corpus):
    good = await engine.request("configure", mini(corpus, seed=5))
    with pytest.raises(EngineError):
        await engine.request("configure", mini(corpus, preset="nope"))
    status = await engine.request("status")
    assert status["session"] == good
