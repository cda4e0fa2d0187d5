"""Requests the engine cannot take, over its real protocol (core/engine.py's dispatch and the
contract's checks): each bad request gets an error reply, garbage on stdin gets error events, and
the engine lives on.

One engine is shared by the module (the fixtures are in conftest.py).
"""

from __future__ import annotations

import asyncio

import pytest

from core.client import EngineClient
from core.errors import EngineError
from tests.core.engine_helpers import EVENT_TIMEOUT

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def assert_alive(client: EngineClient, pid: int) -> None:
    status = await client.request("status", timeout=EVENT_TIMEOUT)
    assert status["protocol"] == 3
    assert status["state"] in ("idle", "finished", "stopped")
    assert client.running and client.pid == pid


# -- bad requests --------------------------------------------------------------------------------

MISSING = "/nonexistent/torchdeck/corpus.txt"

BAD_REQUESTS = [
    (
        "frobnicate",
        {},
        "RequestError",
        "unknown op 'frobnicate'",
        "ops are: attach, cancel, complete, configure, evaluate, exec, explain, generate, hello, language, "
        "lesson_embedding_linear, "
        "lesson_linear_forward, load, model_source, playground_reset, predict, predict_layers, "
        "reset, save, "
        "shutdown, status, summary, train_pause, train_resume, train_start, train_step, "
        "train_stop, weight_stats",
    ),
    (
        "status",
        {"verbose": True},
        "RequestError",
        "status: unknown argument(s) verbose",
        "status takes: no arguments",
    ),
    (
        "configure",
        {"lr": "fast"},
        "RequestError",
        "configure: 'lr' must be a number, got 'fast'",
        "give 'lr' as a number",
    ),
    (
        "configure",
        {"batch_size": 8.5},
        "RequestError",
        "configure: 'batch_size' must be an integer, got 8.5",
        "give 'batch_size' as an integer",
    ),
    (
        "configure",
        {"batch_size": True},
        "RequestError",
        "configure: 'batch_size' must be an integer, got True",
        "give 'batch_size' as an integer",
    ),
    (
        "configure",
        {"preset": 3},
        "RequestError",
        "configure: 'preset' must be a string, got 3",
        "give 'preset' as a string",
    ),
    (
        "configure",
        {"lr": 0},
        "RequestError",
        "configure: 'lr' = 0.0 is out of range",
        "'lr' must be a number in (0, 10], e.g. 0.001",
    ),
    (
        "configure",
        {"lr": -0.5},
        "RequestError",
        "configure: 'lr' = -0.5 is out of range",
        "'lr' must be a number in (0, 10], e.g. 0.001",
    ),
    (
        "configure",
        {"batch_size": 0},
        "RequestError",
        "configure: 'batch_size' = 0 is out of range",
        "'batch_size' must be an integer ≥ 1",
    ),
    (
        "configure",
        {"preset": "transformer-xl"},
        "ConfigError",
        "unknown preset 'transformer-xl'",
        "choose one of: mini, mlp, gpt, parabola",
    ),
    (
        "configure",
        {"preset": "mini", "corpus": MISSING},
        "CorpusError",
        f"corpus file not found: {MISSING}",
        "check the path",
    ),
    (
        "configure",
        {"preset": "mini", "model": {"n_embd": 0}},
        "ConfigError",
        "n_embd must be a positive integer, got 0",
        "set n_embd to 1 or more",
    ),
    (
        "configure",
        {"preset": "mini", "train": {"warmup": 5}},
        "ConfigError",
        "no training setting warmup",
        "training settings are:",
    ),
    (
        "configure",
        {"preset": "parabola", "block_size": 4},
        "ConfigError",
        "the parabola preset has no context length",
        "leave block_size out",
    ),
    (
        "configure",
        {"preset": "mini", "device": "tpu"},
        "ConfigError",
        "unknown device 'tpu'",
        "use one of: auto, cpu",
    ),
    ("predict", {}, "RequestError", "predict: missing argument 'text'", "give 'text' as a string"),
    (
        "predict",
        {"text": "a", "temperature": 101},
        "RequestError",
        "predict: 'temperature' = 101.0 is out of range",
        "'temperature' must be 0 (greedy) or in [0.01, 100]",
    ),
    (
        "predict",
        {"text": "a", "temperature": 0.001},
        "RequestError",
        "predict: 'temperature' = 0.001 is out of range",
        "'temperature' must be 0 (greedy) or in [0.01, 100]",
    ),
    (
        "generate",
        {"max_new": -1},
        "RequestError",
        "generate: 'max_new' = -1 is out of range",
        "'max_new' must be an integer in [0, 1000000]",
    ),
    (
        "load",
        {"path": "/nonexistent/run"},
        "CheckpointError",
        "no checkpoint at /nonexistent/run/checkpoint.pt",
        "give a checkpoint file or a run folder",
    ),
]


@pytest.mark.parametrize(
    "op, args, type_, message, hint",
    BAD_REQUESTS,
    ids=[f"{op}-{'-'.join(map(str, a.values())) or 'noargs'}"[:60] for op, a, *_ in BAD_REQUESTS],
)
async def test_bad_request_gets_an_error_reply_and_the_engine_lives(
    engine, op, args, type_, message, hint
):
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
