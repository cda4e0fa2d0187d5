"""The engine process over its real protocol, driven through core.client.EngineClient.

One engine is shared by the module (starting one imports torch, ~1.5 s); tests that kill, close
or replace an engine start their own. Every test on the shared engine leaves training stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import platform
import signal
import sys
import time
from importlib.metadata import version

import pytest
import pytest_asyncio

from core.client import EXITED, EngineClient
from core.errors import EngineDied, EngineError
from core.protocol import Event

pytestmark = pytest.mark.asyncio(loop_scope="module")

TEXT = "the quick brown fox jumps over the lazy dog. " * 100  # 4,500 chars, 28 distinct
EVENT_TIMEOUT = 30.0  # generous: the box has 2 cores and the engine runs beside pytest


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("corpus") / "fox.txt"
    path.write_text(TEXT, encoding="utf-8")
    return str(path)


def mini(corpus: str, **overrides) -> dict:
    conf = {"preset": "mini", "corpus": corpus, "device": "cpu", "block_size": 16,
            "batch_size": 8, "model": {"n_embd": 8, "n_hidden": 16}, "steps": 1_000_000}
    conf.update(overrides)
    return conf


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_engine():
    client = EngineClient(nice=0, threads=1)
    await client.start(timeout=60)
    yield client
    await client.close()


@pytest_asyncio.fixture(loop_scope="module")
async def engine(shared_engine):
    """The shared engine, with old events drained; training is stopped after the test."""
    client = shared_engine
    if not client.running:  # a failed test killed it; do not fail every test after it
        await client.restart(timeout=60)
    client.drain_events()
    yield client
    with contextlib.suppress(EngineDied):  # a test that killed it has failed already
        state = (await client.request("status", timeout=EVENT_TIMEOUT))["state"]
        if state in ("running", "paused"):
            await client.request("train_stop", timeout=EVENT_TIMEOUT)
    client.drain_events()


@pytest_asyncio.fixture(loop_scope="module")
async def fresh_engine():
    """An engine of its own, for tests that close, kill or corrupt it."""
    client = EngineClient(nice=0, threads=1)
    await client.start(timeout=60)
    yield client
    await client.close()


async def collect(client: EngineClient, until, timeout: float = EVENT_TIMEOUT) -> list[Event]:
    """Every event up to and including the first one for which ``until(event)`` is true."""
    events: list[Event] = []

    async def run():
        while True:
            ev = await client.next_event()
            events.append(ev)
            if until(ev):
                return

    try:
        await asyncio.wait_for(run(), timeout)
    except (asyncio.TimeoutError, TimeoutError):
        pytest.fail(f"no matching event within {timeout} s; got {[e.event for e in events]}; "
                    f"engine stderr:\n{client.stderr_text()}")
    return events


def progress(events: list[Event]) -> list[dict]:
    return [e.data for e in events if e.event == "train_progress"]


def is_progress_at(step: int):
    return lambda ev: ev.event == "train_progress" and ev.data["step"] >= step


def is_state(state: str):
    return lambda ev: ev.event == "train_state" and ev.data["state"] == state


async def step_now(client: EngineClient) -> int:
    return (await client.request("status", timeout=EVENT_TIMEOUT))["session"]["step"]


async def stderr_with(client: EngineClient, text: str) -> str:
    """The client's stderr tail once it holds ``text`` (the stderr reader runs on its own)."""
    deadline = time.monotonic() + EVENT_TIMEOUT
    while text not in client.stderr_text():
        if time.monotonic() > deadline:
            pytest.fail(f"{text!r} never reached stderr:\n{client.stderr_text()}")
        await asyncio.sleep(0.02)
    return client.stderr_text()


async def assert_alive(client: EngineClient, pid: int) -> None:
    status = await client.request("status", timeout=EVENT_TIMEOUT)
    assert status["protocol"] == 1
    assert status["state"] in ("idle", "finished", "stopped")
    assert client.running and client.pid == pid


# -- the ready event ---------------------------------------------------------------------------


async def test_ready_event_carries_protocol_and_versions(engine):
    info = engine.ready_info
    assert info["protocol"] == 1
    assert info["torch"] == version("torch")
    assert info["python"] == platform.python_version()
    assert info["pid"] == engine.pid
    assert info["threads"] == 1  # --threads 1 reached torch
    assert info["presets"] == ["gpt", "mini", "mlp", "parabola"]
    assert isinstance(info["cuda"], bool)


# -- training ------------------------------------------------------------------------------------


async def test_configure_reports_the_session(engine, corpus):
    info = await engine.request("configure", mini(corpus, seed=3, lr=0.02))
    assert info["preset"] == "mini"
    assert info["device"] == "cpu"
    assert info["vocab_size"] == 28
    # embedding 28×8, hidden 8×16+16, output 16×28+28
    assert info["params"] == 28 * 8 + 8 * 16 + 16 + 16 * 28 + 28
    assert info["model_config"] == {"vocab_size": 28, "n_embd": 8, "n_hidden": 16,
                                    "block_size": 16}
    assert info["train_config"]["lr"] == 0.02
    assert info["train_config"]["seed"] == 3
    assert info["train_config"]["batch_size"] == 8
    assert info["corpus"] == {"source": corpus, "chars": 4500, "vocab_size": 28,
                              "train_chars": 4050, "val_chars": 450}
    assert (info["step"], info["steps"], info["block_size"]) == (0, 1_000_000, 16)
    ev = await engine.next_event("train_state", timeout=EVENT_TIMEOUT)
    assert ev.data == {"state": "idle", "reason": "configured", "step": 0}
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


async def test_pause_stops_steps_and_train_step_advances_by_one(engine, corpus):
    await engine.request("configure", mini(corpus))
    await engine.request("train_start")
    await collect(engine, is_progress_at(1))
    paused = await engine.request("train_pause")
    assert paused["state"] == "paused"
    step = paused["step"]
    assert step >= 1
    events = await collect(engine, is_state("paused"))
    assert events[-1].data == {"state": "paused", "reason": "paused by request", "step": step}
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
    assert events[-1].data == {"state": "finished", "reason": "reached step 80", "step": 80}
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
    assert loaded["model_config"] == {"vocab_size": 28, "n_embd": 8, "n_hidden": 16,
                                      "block_size": 16}
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


# -- bad requests --------------------------------------------------------------------------------

MISSING = "/nonexistent/torchdeck/corpus.txt"

BAD_REQUESTS = [
    ("frobnicate", {}, "RequestError", "unknown op 'frobnicate'",
     "ops are: cancel, complete, configure, evaluate, exec, generate, lesson_embedding_linear, "
     "lesson_linear_forward, load, playground_reset, predict, predict_layers, reset, save, "
     "shutdown, status, summary, train_pause, train_resume, train_start, train_step, "
     "train_stop, weight_stats"),
    ("status", {"verbose": True}, "RequestError", "status: unknown argument(s) verbose",
     "status takes: no arguments"),
    ("configure", {"lr": "fast"}, "RequestError", "configure: 'lr' must be a number, got 'fast'",
     "give 'lr' as a number"),
    ("configure", {"batch_size": 8.5}, "RequestError",
     "configure: 'batch_size' must be an integer, got 8.5", "give 'batch_size' as an integer"),
    ("configure", {"batch_size": True}, "RequestError",
     "configure: 'batch_size' must be an integer, got True", "give 'batch_size' as an integer"),
    ("configure", {"preset": 3}, "RequestError", "configure: 'preset' must be a string, got 3",
     "give 'preset' as a string"),
    ("configure", {"lr": 0}, "RequestError", "configure: 'lr' = 0.0 is out of range",
     "'lr' must be a number in (0, 10], e.g. 0.001"),
    ("configure", {"lr": -0.5}, "RequestError", "configure: 'lr' = -0.5 is out of range",
     "'lr' must be a number in (0, 10], e.g. 0.001"),
    ("configure", {"batch_size": 0}, "RequestError", "configure: 'batch_size' = 0 is out of range",
     "'batch_size' must be an integer ≥ 1"),
    ("configure", {"preset": "transformer-xl"}, "ConfigError", "unknown preset 'transformer-xl'",
     "choose one of: mini, mlp, gpt, parabola"),
    ("configure", {"preset": "mini", "corpus": MISSING}, "CorpusError",
     f"corpus file not found: {MISSING}", "check the path"),
    ("configure", {"preset": "mini", "model": {"n_embd": 0}}, "ConfigError",
     "n_embd must be a positive integer, got 0", "set n_embd to 1 or more"),
    ("configure", {"preset": "mini", "train": {"warmup": 5}}, "ConfigError",
     "no training setting warmup", "training settings are:"),
    ("configure", {"preset": "parabola", "block_size": 4}, "ConfigError",
     "the parabola preset has no context length", "leave block_size out"),
    ("configure", {"preset": "mini", "device": "tpu"}, "ConfigError", "unknown device 'tpu'",
     "use one of: auto, cpu"),
    ("predict", {}, "RequestError", "predict: missing argument 'text'",
     "give 'text' as a string"),
    ("predict", {"text": "a", "temperature": 101}, "RequestError",
     "predict: 'temperature' = 101.0 is out of range",
     "'temperature' must be 0 (greedy) or in [0.01, 100]"),
    ("predict", {"text": "a", "temperature": 0.001}, "RequestError",
     "predict: 'temperature' = 0.001 is out of range",
     "'temperature' must be 0 (greedy) or in [0.01, 100]"),
    ("generate", {"max_new": -1}, "RequestError", "generate: 'max_new' = -1 is out of range",
     "'max_new' must be an integer in [0, 1000000]"),
    ("load", {"path": "/nonexistent/run"}, "CheckpointError",
     "no checkpoint at /nonexistent/run/checkpoint.pt", "give a checkpoint file or a run folder"),
]


@pytest.mark.parametrize("op, args, type_, message, hint", BAD_REQUESTS,
                         ids=[f"{op}-{'-'.join(map(str, a.values())) or 'noargs'}"[:60]
                              for op, a, *_ in BAD_REQUESTS])
async def test_bad_request_gets_an_error_reply_and_the_engine_lives(engine, op, args, type_,
                                                                     message, hint):
    pid = engine.pid
    with pytest.raises(EngineError) as info:
        await engine.request(op, args, timeout=EVENT_TIMEOUT)
    err = info.value
    assert err.type == type_
    assert err.message == message
    assert err.hint.startswith(hint), err.hint
    await assert_alive(engine, pid)


async def test_garbage_on_stdin_gives_error_events_and_the_engine_lives(engine):
    pid = engine.pid
    garbage = [
        (b"this is not json\n", "protocol line is not JSON: Expecting value at column 1"),
        (b"[1, 2, 3]\n", "protocol line is not a JSON object"),
        (b'{"op": "status"}\n', "request has no integer 'id'"),
        (b'{"event": "ready", "data": {}}\n', "the engine takes requests only"),
        (b"\xff\xfe\x00garbage\n", "protocol line is not UTF-8 (byte 0)"),
    ]
    for raw, _ in garbage:
        engine.proc.stdin.write(raw)
    engine.proc.stdin.write(b"\n   \n")  # blank lines are skipped without a word
    await engine.proc.stdin.drain()
    errors = []
    for _ in garbage:
        ev = await engine.next_event("error", timeout=EVENT_TIMEOUT)
        errors.append(ev.data)
    assert [e["message"] for e in errors] == [m for _, m in garbage]
    assert all(e["type"] == "RequestError" and e["hint"] for e in errors)
    await assert_alive(engine, pid)
    assert not [e for e in engine.drain_events() if e.event == "error"]


async def test_a_bad_request_with_an_id_gets_a_reply_to_that_id(engine):
    pid = engine.pid
    reply = asyncio.get_running_loop().create_future()
    engine._pending[999_999] = reply  # a request written by hand, as another client would
    engine.proc.stdin.write(b'{"id": 999999, "op": "status", "args": [1]}\n')
    await engine.proc.stdin.drain()
    got = await asyncio.wait_for(reply, EVENT_TIMEOUT)
    assert got.id == 999_999 and not got.ok
    assert got.error.type == "RequestError"
    assert got.error.message == "request 'args' is not an object"
    await assert_alive(engine, pid)
    assert not [e for e in engine.drain_events() if e.event == "error"]


# -- interrupt -----------------------------------------------------------------------------------


async def test_interrupt_stops_a_long_request(engine, corpus):
    await engine.request("configure", mini(corpus))
    task = asyncio.create_task(engine.request("generate", prompt="the ", max_new=1_000_000,
                                              stream=False, seed=1))
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
        assert ready["protocol"] == 1
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


# -- engines of their own ------------------------------------------------------------------------


async def test_unconfigured_engine_then_close_leaves_no_process(fresh_engine):
    client = fresh_engine
    first = await client.next_event(timeout=EVENT_TIMEOUT)
    assert first.event == "ready" and first.data["protocol"] == 1
    assert await client.request("status") == {"state": "idle", "protocol": 1, "session": None}
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


# An engine whose ops print to stdout the way careless library code does: through print(),
# through sys.stdout and straight to file descriptor 1.
NOISY_ENGINE = r"""
import os, sys
from core import engine

def noisy(op, handler):
    def wrapper(args):
        print("LIBRARY NOISE via print in", op)
        sys.stdout.write("LIBRARY NOISE via sys.stdout\n")
        sys.stdout.flush()
        os.write(1, b"LIBRARY NOISE via fd 1\n")
        return handler(args)
    return wrapper

_init = engine.Engine.__init__

def init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    for op in ("status", "configure"):
        handler, spec = self.ops[op]
        self.ops[op] = (noisy("op_" + op, handler), spec)

engine.Engine.__init__ = init
sys.exit(engine.main(["--nice", "0", "--threads", "1"]))
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def noisy_engine_process():
    client = EngineClient([sys.executable, "-c", NOISY_ENGINE])
    await client.start(timeout=60)
    yield client
    await client.close()


@pytest_asyncio.fixture(loop_scope="module")
async def noisy_engine(noisy_engine_process):
    """The noisy engine, started again if a test before killed it."""
    client = noisy_engine_process
    if not client.running:
        await client.restart(timeout=60)
    client.drain_events()
    return client


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


async def test_client_reports_unreadable_engine_lines():
    """The check above means something: a corrupt stdout line does show in stderr_tail."""
    fake = ('import sys\nprint(\'{"event": "ready", "data": {"protocol": 1}}\', flush=True)\n'
            'print("not a protocol line", flush=True)\nsys.stdin.read()\n')
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
    assert ready["protocol"] == 1
    assert client.running and client.pid != old_pid and ready["pid"] == client.pid
    status = await client.request("status")
    assert status["session"] is None  # a new engine: nothing survived the kill
    info2 = await client.request("configure", preset="parabola", device="cpu")
    assert info2["params"] == 1


async def test_predict_with_math_and_a_layer_over_the_protocol(engine, corpus):
    await engine.request("configure", mini(corpus))
    layers = await engine.request("predict_layers")
    assert [x["name"] for x in layers["layers"]] == ["embedding", "hidden", "activation",
                                                     "output"]
    assert layers["output_layer"] == "output"
    r = await engine.request("predict", text="the lazy", math=True, layer="activation",
                             units=4, positions=3)
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
    task = asyncio.create_task(engine.request("generate", prompt="the ", max_new=1_000_000,
                                              stream=True, seed=3))
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
