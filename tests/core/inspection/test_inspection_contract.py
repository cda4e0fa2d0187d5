"""The inspection ops' typed results (core/contract/inspect.py) on real sessions: the engine
answers with them, and they carry the wire format unchanged, key for key and in the same order
(``Result.from_dict(reply).to_dict() == reply``), for the mini model and GPT (tied weights, a
Linear without bias, attention), before and after a training step."""

from __future__ import annotations

import io
import json

import pytest

from core.contract import RESULTS
from core.contract.inspect import (
    EmbeddingLessonResult,
    ForwardLessonResult,
    GradStats,
    LayerRow,
    Moved,
    SummaryResult,
    TensorStats,
    WeightRow,
    WeightStatsResult,
)
from core.engine import Engine
from core.inspection import engine_ops
from core.protocol import Request

OPS = ("summary", "weight_stats", "lesson_embedding_linear", "lesson_linear_forward")


@pytest.fixture
def engine():
    return Engine(io.StringIO())


def reply_result(engine: Engine, op: str, **args) -> dict:
    """One request through the engine's own dispatch: the reply's ``result`` as JSON decoded."""
    engine._handle(("req", Request(1, op, args), None))
    reply = json.loads(engine.out.getvalue().strip().splitlines()[-1])
    assert reply["ok"], reply
    return reply["result"]


def assert_round_trip(op: str, result: dict):
    """The typed result reads the reply and writes it back byte for byte."""
    typed = RESULTS[op].from_dict(result)
    assert typed.to_dict() == result
    assert json.dumps(typed.to_dict()) == json.dumps(result)  # same keys, same order
    return typed


def test_the_four_ops_have_typed_results():
    assert [RESULTS[op] for op in OPS] == [
        SummaryResult,
        WeightStatsResult,
        EmbeddingLessonResult,
        ForwardLessonResult,
    ]
    for op in OPS:
        RESULTS[op].from_dict({})  # every field has a default


@pytest.mark.parametrize(
    "preset, weight, linear",
    [("mini", "hidden.weight", "output"), ("gpt", "lm_head.weight", "lm_head")],
)
def test_real_replies_round_trip(
    engine, make_session, corpus_file, single_thread, preset, weight, linear
):
    engine.session = make_session(preset, corpus_file)
    requests = [
        ("summary", {}),
        ("summary", {"depth": 1, "batch_size": 2}),
        ("weight_stats", {"name": weight, "bins": 16}),
        ("lesson_embedding_linear", {"V": 50, "d": 8}),
        ("lesson_embedding_linear", {"V": 50, "d": 8, "index": 3, "reinit": True, "tie": True}),
        ("lesson_linear_forward", {}),
        ("lesson_linear_forward", {"layer": linear, "seed": 2, "rows": 2}),
    ]
    before = {}
    for op, args in requests:
        before.setdefault(op, assert_round_trip(op, reply_result(engine, op, **args)))

    summary = before["summary"]
    assert isinstance(summary.rows[0], LayerRow) and summary.rows[0].name == ""
    assert isinstance(summary.rows[1].weights[0], WeightRow)
    assert summary.totals.params == sum(r.params for r in summary.rows if r.depth == 1)
    assert summary.preset == preset and summary.input_shape == [8, 16]
    stats = before["weight_stats"]
    assert isinstance(stats.stats, TensorStats) and len(stats.stats.counts) == 16
    assert stats.grad is None and stats.moved.norm == 0.0  # no step taken yet
    assert before["lesson_embedding_linear"].lookup.allclose
    assert before["lesson_linear_forward"].allclose

    engine.session.trainer.train_step_detailed()  # now there is a gradient, and movement
    result = reply_result(engine, "weight_stats", name=weight)
    after = assert_round_trip("weight_stats", result)
    assert isinstance(after.grad, GradStats) and isinstance(after.moved, Moved)
    assert after.moved.norm > 0 and after.step == 1
    assert_round_trip("summary", reply_result(engine, "summary"))


def test_gpt_tied_and_bias_free_parts_survive(engine, make_session, corpus_file, single_thread):
    engine.session = make_session("gpt", corpus_file)
    summary = assert_round_trip("summary", reply_result(engine, "summary"))
    assert ["wte.weight", "lm_head.weight"] in summary.totals.tied
    head = next(r for r in summary.rows if r.name == "lm_head")
    assert head.shared_params and not head.params and not head.weights[0].counted_here
    forward = assert_round_trip(
        "lesson_linear_forward", reply_result(engine, "lesson_linear_forward", layer="lm_head")
    )
    assert not forward.has_bias and forward.shapes["b"] is None
    wte = reply_result(engine, "weight_stats", name="wte.weight")
    assert assert_round_trip("weight_stats", wte).tied_to == ["lm_head.weight"]


def test_engine_handlers_return_the_typed_results(engine, make_session, corpus_file):
    engine.session = make_session("mini", corpus_file)
    handlers = engine_ops(engine)
    for op, args, kind in [
        ("summary", {}, SummaryResult),
        ("weight_stats", {"name": "hidden.bias"}, WeightStatsResult),
        ("lesson_embedding_linear", {"V": 20, "d": 4}, EmbeddingLessonResult),
        ("lesson_linear_forward", {}, ForwardLessonResult),
    ]:
        handler, spec = handlers[op]
        assert isinstance(handler(spec.from_args(op, args)), kind)
