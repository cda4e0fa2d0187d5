"""The inspection ops (core/inspection/ops.py) through the engine's own dispatch, in process:
argument checks, clear errors, and initial weights taken afresh for a new session."""

from __future__ import annotations

import io
import json

import pytest

from core.engine import Engine
from core.protocol import Request


@pytest.fixture
def engine():
    return Engine(io.StringIO())


def call(engine: Engine, op: str, **args) -> dict:
    """Run one request through the engine's own dispatch; return the decoded reply."""
    engine._handle(("req", Request(1, op, args), None))
    lines = engine.out.getvalue().strip().splitlines()
    return json.loads(lines[-1])


def test_lesson_refuses_bad_sizes(engine):
    reply = call(engine, "lesson_embedding_linear", V=1_000_000, d=1000)
    assert not reply["ok"] and "too large" in reply["error"]["message"]
    reply = call(engine, "lesson_embedding_linear", V=10, d=4, index=10)
    assert not reply["ok"] and "outside the vocabulary 0…9" in reply["error"]["message"]
    reply = call(engine, "lesson_embedding_linear", V=0)
    assert not reply["ok"] and reply["error"]["type"] == "RequestError"


def test_initial_weights_reset_with_a_new_session(engine, make_session, corpus_file, single_thread):
    engine.session = make_session("mini", corpus_file)
    assert call(engine, "summary", batch_size=1)["ok"]
    engine.session.trainer.train_step_detailed()
    assert call(engine, "weight_stats", name="hidden.weight")["result"]["moved"]["norm"] > 0
    engine.session = make_session("mini", corpus_file)  # configure / reset / load
    reply = call(engine, "weight_stats", name="hidden.weight")
    assert reply["result"]["moved"]["norm"] == 0.0


def test_ops_report_bad_input_clearly(engine, make_session, corpus_file, single_thread):
    reply = call(engine, "summary")
    assert not reply["ok"] and "no model is configured" in reply["error"]["message"]
    engine.session = make_session("mini", corpus_file)
    reply = call(engine, "weight_stats", name="nope.weight")
    assert reply["error"]["type"] == "ConfigError"
    assert "no parameter 'nope.weight'" in reply["error"]["message"]
    assert "embedding.weight" in reply["error"]["hint"]
    reply = call(engine, "summary", depth=-1)
    assert reply["error"]["type"] == "RequestError" and "depth" in reply["error"]["message"]
    reply = call(engine, "lesson_linear_forward", layer="embedding")
    assert "not a Linear layer" in reply["error"]["message"]
    assert "hidden, output" in reply["error"]["hint"]
    ok = call(engine, "summary", depth=1, batch_size=2)
    assert ok["ok"] and len(ok["result"]["rows"]) == 5
