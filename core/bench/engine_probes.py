"""The engine, headless: its training loop against the bare loop, prediction latency idle and
while training, and a short quality run, all through ``core.client``."""

from __future__ import annotations

import asyncio
import random
import statistics
import time

from core.bench.bare_loop import BareLoop
from core.bench.plan import FULL_QUALITY_STEPS, TARGETS, Plan
from core.bench.stats import percentile, ratios, spread
from core.client import EngineClient
from core.contract.settings import GPT

PREDICT_TEXT = (
    "def forward(self, x):\n    return self.proj(self.act(self.fc(x))) + x\nclass Net(nn.Module):"
)[:64]  # one keystroke's context: 64 characters


async def engine_window(
    client: EngineClient, resume: bool, warmup: float, window: float, tokens_per_step: int
) -> tuple[float, float]:
    """Train for ``warmup`` + ``window`` seconds; tokens/s between the progress events that
    bracket the window, timed on arrival (each one follows a finished step), and s/step."""
    client.drain_events()
    await client.request("train_resume" if resume else "train_start")
    started = time.perf_counter()
    first = last = None
    while True:
        ev = await client.next_event("train_progress", timeout=120)
        now = time.perf_counter()
        if first is None:
            if now - started >= warmup:
                first = (now, ev.data["step"])
            continue
        last = (now, ev.data["step"])
        if now - first[0] >= window and last[1] > first[1]:
            break
    await client.request("train_pause")
    client.drain_events()
    steps = last[1] - first[1]
    seconds = last[0] - first[0]
    return steps * tokens_per_step / seconds, seconds / steps


async def configure(
    client: EngineClient, model: dict, train: dict, device: str, steps: int | None = None
) -> dict:
    args = {"preset": GPT, "device": device, "model": model, "train": train}
    if steps:
        args["steps"] = steps
    return await client.request("configure", args)


async def measure_overhead(
    client: EngineClient,
    bare: BareLoop,
    plan: Plan,
    device: str = "cpu",
    eager: BareLoop | None = None,
) -> dict | tuple[dict, dict]:
    """train_overhead: the engine's training loop against the bare loop computing as it does,
    alternating. With ``eager`` (the bare loop in plain fp32, not compiled), speedup_vs_eager
    too: the engine at its default settings against that loop, from the same engine windows,
    the three taking turns (the order rotates each round)."""
    info = await configure(
        client, plan.model, {**plan.train, "eval_interval": 0}, device, steps=1_000_000
    )
    tokens_per_step = info["train_config"]["batch_size"] * info["block_size"]
    engine, base, plain, step_s = [], [], [], []
    warmup, window = plan.overhead_warmup_s, plan.overhead_window_s
    turns = ["bare", "engine", *(["eager"] if eager is not None else [])]
    for r in range(plan.overhead_rounds):
        for which in turns[r % len(turns) :] + turns[: r % len(turns)]:
            if which == "bare":
                base.append(bare.tokens_per_s(warmup, window))
            elif which == "eager":
                plain.append(eager.tokens_per_s(warmup, window))
            else:
                rate, per_step = await engine_window(
                    client, bool(engine), warmup, window, tokens_per_step
                )
                engine.append(rate)
                step_s.append(per_step)
    await client.request("train_stop")
    figure = spread(ratios(engine, base))
    figure.update(
        engine_tokens_per_s=round(statistics.median(engine)),
        bare_tokens_per_s=round(statistics.median(base)),
        step_ms=round(statistics.median(step_s) * 1000, 2),
        precision=info.get("precision"),
        compile=info.get("compile"),
        target=TARGETS["train_overhead"],
    )
    figure["met"] = figure["median"] >= figure["target"]
    if eager is None:
        return figure
    speedup = spread(ratios(engine, plain))
    speedup.update(
        engine_tokens_per_s=figure["engine_tokens_per_s"],
        eager_tokens_per_s=round(statistics.median(plain)),
        precision=info.get("precision"),
        compile=info.get("compile"),
        target=TARGETS["speedup_vs_eager"],
    )
    speedup["met"] = speedup["median"] >= speedup["target"]
    return figure, speedup


async def measure_predict(client: EngineClient, plan: Plan, step_ms: float) -> dict:
    """predict_ms: one keystroke's prediction (64 characters of context), idle and while
    training, timed from the request to its reply."""
    await configure(client, plan.model, {**plan.train, "eval_interval": 0}, "cpu", steps=1_000_000)

    async def one() -> float:
        started = time.perf_counter()
        await client.request("predict", text=PREDICT_TEXT, k=10)
        return (time.perf_counter() - started) * 1000

    for _ in range(3):  # the first calls allocate
        await one()
    idle = [await one() for _ in range(plan.predict_n)]
    await client.request("train_start")
    await client.next_event("train_progress", timeout=120)
    await asyncio.sleep(plan.warmup_s)
    rng = random.Random(0)
    training = []
    for _ in range(plan.predict_n):
        # land at a random point of a step, as a person typing would
        await asyncio.sleep(rng.uniform(0.3, 1.3) * step_ms / 1000)
        training.append(await one())
    await client.request("train_stop")
    client.drain_events()
    idle_p95, train_p95 = percentile(idle, 95), percentile(training, 95)
    steps = train_p95 / step_ms
    return {
        "idle": {"p50": round(percentile(idle, 50), 2), "p95": round(idle_p95, 2), "n": len(idle)},
        "training": {
            "p50": round(percentile(training, 50), 2),
            "p95": round(train_p95, 2),
            "n": len(training),
        },
        "step_ms": round(step_ms, 2),
        "training_p95_steps": round(steps, 2),
        "target_idle_p95": TARGETS["predict_idle_p95_ms"],
        "target_training_p95_steps": TARGETS["predict_training_p95_steps"],
        "met": idle_p95 <= TARGETS["predict_idle_p95_ms"]
        and steps <= TARGETS["predict_training_p95_steps"],
    }


async def measure_quality(client: EngineClient, plan: Plan) -> dict:
    """quality: the gpt preset at its defaults on the default corpus, ``quality_steps`` steps
    (a run of that length: the schedule decays over it), timed end to end; then the same run in
    plain fp32 eager, which the defaults' validation loss may not exceed by more than
    ``TARGETS["quality_delta"]``."""
    figure = await _quality_run(client, plan, {})
    plain = await _quality_run(client, plan, {"precision": "fp32", "compile": False})
    figure["fp32_eager"] = {k: plain[k] for k in ("val_loss", "wall_s", "tokens_per_s")}
    if figure["val_loss"] is not None and plain["val_loss"] is not None:
        figure["val_loss_delta"] = round(figure["val_loss"] - plain["val_loss"], 4)
        figure["target_delta"] = TARGETS["quality_delta"]
        figure["met"] = figure["val_loss_delta"] <= TARGETS["quality_delta"]
    return figure


async def _quality_run(client: EngineClient, plan: Plan, settings: dict) -> dict:
    info = await configure(
        client, plan.model, {**plan.train, **settings}, "cpu", steps=plan.quality_steps
    )
    tokens_per_step = info["train_config"]["batch_size"] * info["block_size"]
    client.drain_events()
    started = time.perf_counter()
    await client.request("train_start")
    val = train = None
    while True:
        ev = await client.next_event(timeout=600)
        if ev.event == "train_progress":
            train = ev.data["loss"]
            if ev.data.get("val_loss") is not None:
                val = ev.data["val_loss"]
        elif ev.event == "train_state" and ev.data["state"] in ("finished", "diverged"):
            state = ev.data["state"]
            break
    wall = time.perf_counter() - started
    client.drain_events()
    steps = plan.quality_steps
    return {
        "steps": steps,
        "full": steps >= FULL_QUALITY_STEPS and not plan.quick,
        "state": state,
        "precision": info.get("precision"),
        "compile": info.get("compile"),
        "wall_s": round(wall, 3),
        "tokens_per_s": round(steps * tokens_per_step / wall),
        "val_loss": round(val, 4) if val is not None else None,
        "train_loss": round(train, 4) if train is not None else None,
        "wall_s_2000_estimate": round(wall * FULL_QUALITY_STEPS / steps, 1),
    }
