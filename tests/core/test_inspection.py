"""The layer table, weight statistics and the L1/L3 lessons (core.inspection), in process."""

from __future__ import annotations

import io
import json
import math

import pytest
import torch

from core import inspection
from core.engine import Engine
from core.models import count_parameters
from core.protocol import Request


@pytest.fixture
def engine():
    return Engine(io.StringIO())


def call(engine: Engine, op: str, **args) -> dict:
    """Run one request through the engine's own dispatch; return the decoded reply."""
    engine._handle(("req", Request(1, op, args), None))
    lines = engine.out.getvalue().strip().splitlines()
    return json.loads(lines[-1])


@pytest.mark.parametrize("preset", ["mini", "mlp", "gpt", "parabola"])
def test_totals_equal_model_parameters(make_session, corpus_file, single_thread, preset):
    s = make_session(preset, corpus_file if preset != "parabola" else None)
    summary = inspection.summarize(s, batch_size=2)
    expected = sum(p.numel() for p in s.model.parameters())
    t = summary["totals"]
    assert t["params"] == expected == count_parameters(s.model)
    assert t["trainable"] == expected and t["frozen"] == 0
    root = summary["rows"][0]
    assert root["name"] == "" and root["params"] == expected and root["share"] == 1.0
    top = [r for r in summary["rows"] if r["depth"] == 1]
    assert sum(r["params"] for r in top) == (expected if top else 0)  # children add up
    assert t["param_bytes"] == 4 * expected and t["dtype"] == "float32"


def test_tied_weight_is_counted_once_and_named(make_session, corpus_file, single_thread):
    s = make_session("gpt", corpus_file)
    V, C = s.model_config.vocab_size, s.model_config.n_embd
    summary = inspection.summarize(s, batch_size=1)
    t = summary["totals"]
    assert t["tied"] == [["wte.weight", "lm_head.weight"]]
    assert t["naive_params"] == t["params"] + V * C  # what counting by name would say
    rows = {r["name"]: r for r in summary["rows"]}
    assert rows["wte"]["params"] == V * C and rows["wte"]["shared_params"] == 0
    assert rows["lm_head"]["params"] == 0 and rows["lm_head"]["shared_params"] == V * C
    (w,) = rows["lm_head"]["weights"]
    assert w["tied_to"] == ["wte.weight"] and not w["counted_here"]
    assert rows["wte"]["weights"][0]["counted_here"]


def test_a_frozen_parameter_is_reported(make_session, corpus_file, single_thread):
    s = make_session("mini", corpus_file)
    s.model.embedding.weight.requires_grad_(False)
    summary = inspection.summarize(s, batch_size=1)
    n = s.model.embedding.weight.numel()
    assert summary["totals"]["frozen"] == n
    assert summary["totals"]["trainable"] == count_parameters(s.model) - n
    rows = {r["name"]: r for r in summary["rows"]}
    assert rows["embedding"]["trainable"] == "no" and rows[""]["trainable"] == "partly"


def test_mult_adds_match_a_hand_count_for_mini(make_session, corpus_file, single_thread):
    s = make_session("mini", corpus_file)  # n_embd 16, n_hidden 32, block 16
    B, T, V = 3, s.block_size, s.model_config.vocab_size
    d, h = s.model_config.n_embd, s.model_config.n_hidden
    summary = inspection.summarize(s, batch_size=B)
    assert summary["totals"]["macs"] == B * T * (d * h + h * V)
    assert summary["totals"]["macs_attention"] == 0
    assert summary["output_shape"] == [B, T, V]
    # outputs kept for backward: embedding, hidden, ReLU, output, in float32
    assert summary["totals"]["activation_bytes"] == 4 * B * T * (d + h + h + V)


def test_mult_adds_match_a_hand_count_for_gpt(make_session, corpus_file, single_thread):
    s = make_session("gpt", corpus_file, model={"n_layer": 2})
    c = s.model_config
    B, T, C, L, V = 2, c.block_size, c.n_embd, c.n_layer, c.vocab_size
    summary = inspection.summarize(s, batch_size=B)
    t = summary["totals"]
    # per block: qkv C→3C, proj C→C, fc C→4C, proj 4C→C = 12·C² per position
    assert t["macs_linear"] == B * T * (L * 12 * C * C + C * V)
    # per block: QKᵀ and A·V, each B · heads · T · T · (C / heads)
    assert t["macs_attention"] == L * 2 * B * T * T * C
    assert t["macs"] == t["macs_linear"] + t["macs_attention"]
    rows = {r["name"]: r for r in summary["rows"]}
    assert rows["blocks.0.attn"]["macs"] == B * T * 4 * C * C + 2 * B * T * T * C
    assert rows["wte"]["macs"] == 0  # a lookup
    assert rows["blocks.0.ln_1"]["output_shape"] == [B, T, C]
    assert summary["input_shape"] == [B, T]


def test_depth_limits_rows(make_session, corpus_file, single_thread):
    s = make_session("gpt", corpus_file)
    rows = inspection.summarize(s, batch_size=1, depth=1)["rows"]
    assert {r["depth"] for r in rows} == {0, 1}
    assert [r["name"] for r in rows] == ["", "wte", "wpe", "drop", "blocks", "ln_f", "lm_head"]


def test_summary_leaves_the_model_mode_and_rng_alone(make_session, corpus_file,
                                                     single_thread):
    s = make_session("gpt", corpus_file, model={"dropout": 0.1})
    s.model.train()
    state = torch.get_rng_state()
    inspection.summarize(s, batch_size=1)
    assert s.model.training
    assert torch.equal(state, torch.get_rng_state())


# -- L3: Embedding vs Linear ------------------------------------------------------------------


@pytest.fixture(scope="module")
def lesson():
    return inspection.lesson_embedding_linear()  # V = 5000, d = 70, as in the seed


def test_kaiming_bound_and_measured_stds(lesson):
    theory = lesson["linear_init"]["theory"]
    assert round(theory["bound"], 4) == 0.1195 == round(1 / math.sqrt(70), 4)
    assert theory["std"] == pytest.approx(0.069, abs=5e-4)
    assert lesson["linear_init"]["stats"]["std"] == pytest.approx(0.069, rel=0.05)
    assert lesson["embedding_init"]["stats"]["std"] == pytest.approx(1.0, rel=0.05)
    assert lesson["linear_init"]["stats"]["max"] <= theory["bound"]
    assert lesson["linear_init"]["stats"]["min"] >= -theory["bound"]
    for key in ("linear_init", "embedding_init"):  # theory counts add up to the tensor size
        assert sum(lesson[key]["expected_counts"]) == pytest.approx(5000 * 70, rel=1e-3)
        assert sum(lesson[key]["stats"]["counts"]) == 5000 * 70


def test_same_shape_opposite_constructors_and_attributes(lesson):
    assert lesson["shapes"] == {"embedding": [5000, 70], "linear": [5000, 70], "same": True}
    assert lesson["constructors"] == {"embedding": "nn.Embedding(5000, 70)",
                                      "linear": "nn.Linear(70, 5000)"}
    assert set(lesson["only_embedding"]) == {"num_embeddings", "embedding_dim", "padding_idx",
                                             "max_norm", "norm_type", "scale_grad_by_freq",
                                             "sparse"}
    assert set(lesson["only_linear"]) == {"in_features", "out_features", "bias"}
    assert lesson["only_linear"]["bias"] == "Parameter [5000]"


def test_the_three_lookups_agree(lesson):
    lk = lesson["lookup"]
    assert lk["allclose"] and lk["max_abs_diff"] == 0.0
    assert lk["module"] == lk["index"] == lk["one_hot"] and len(lk["module"]) == 6
    assert lk["linear_allclose"] and lk["linear_row"] == lk["linear_one_hot"]
    assert lk["linear_call_int"]["type"] == "TypeError"
    assert "must be Tensor, not int" in lk["linear_call_int"]["message"]
    assert lk["linear_call_one_hot"]["type"] == "RuntimeError"  # [1, 5000] into in_features 70
    assert (lk["cost_lookup"], lk["cost_one_hot"]) == (70, 350_000)


def test_tying_counts_the_shared_matrix_once(lesson):
    ty = lesson["tying"]
    assert ty["before"] == 2 * 5000 * 70 + 5000
    assert ty["after"] == 5000 * 70 + 5000 and ty["naive_after"] == ty["before"]
    assert ty["same_tensor"] and ty["row_equals_lookup"]
    assert ty["saved_bytes"] == 5000 * 70 * 4
    assert round(ty["gpt2_matrix_bytes"] / 1e6) == 154  # 50,257 × 768 × 4 bytes


def test_reinit_makes_the_linear_look_like_the_embedding():
    out = inspection.lesson_embedding_linear(V=2000, d=70, reinit=True)
    assert out["linear_init"]["stats"]["std"] == pytest.approx(1.0, rel=0.05)
    assert out["linear_init"]["theory"]["kind"] == "normal"


def test_lesson_refuses_bad_sizes(engine):
    reply = call(engine, "lesson_embedding_linear", V=1_000_000, d=1000)
    assert not reply["ok"] and "too large" in reply["error"]["message"]
    reply = call(engine, "lesson_embedding_linear", V=10, d=4, index=10)
    assert not reply["ok"] and "outside the vocabulary 0…9" in reply["error"]["message"]
    reply = call(engine, "lesson_embedding_linear", V=0)
    assert not reply["ok"] and reply["error"]["type"] == "RequestError"


# -- weight statistics ------------------------------------------------------------------------


def test_weight_stats_histogram_and_init_theory(make_session, corpus_file, single_thread):
    s = make_session("mini", corpus_file)
    out = inspection.weight_stats(s, "hidden.weight", bins=20)
    w = s.model.hidden.weight.detach()
    st = out["stats"]
    assert st["mean"] == pytest.approx(w.mean().item()) and st["norm"] == pytest.approx(
        w.norm().item())
    assert sum(st["counts"]) == w.numel() and len(st["edges"]) == 21
    assert out["init"]["kind"] == "uniform"
    assert out["init"]["bound"] == pytest.approx(1 / math.sqrt(s.model_config.n_embd))
    # the histogram spans the measured min…max: a little of the theory lies outside it
    assert sum(out["init"]["expected_counts"]) == pytest.approx(w.numel(), rel=0.02)
    assert out["grad"] is None and out["moved"]["norm"] == 0.0
    emb = inspection.weight_stats(s, "embedding.weight")
    assert emb["init"]["kind"] == "normal" and emb["init"]["std"] == 1.0


def test_gpt_init_and_tied_name(make_session, corpus_file, single_thread):
    s = make_session("gpt", corpus_file)
    head = inspection.weight_stats(s, "lm_head.weight")
    assert head["tied_to"] == ["wte.weight"]
    assert head["init"]["kind"] == "normal" and head["init"]["std"] == 0.02
    proj = inspection.weight_stats(s, "blocks.0.attn.proj.weight")
    assert proj["init"]["std"] == pytest.approx(0.02 / math.sqrt(2))  # one layer
    ln = inspection.weight_stats(s, "blocks.0.ln_1.weight")
    assert ln["init"]["kind"] == "constant" and ln["stats"]["min"] == ln["stats"]["max"] == 1.0
    assert ln["init"]["expected_counts"][ln["stats"]["counts"].index(32)] == 32


def test_grad_and_distance_moved_after_training(make_session, corpus_file, single_thread):
    s = make_session("mini", corpus_file)
    w0 = s.model.output.weight.detach().clone()
    inspection.remember_initial(s)
    for _ in range(3):
        s.trainer.train_step_detailed()
    out = inspection.weight_stats(s, "output.weight")
    assert out["grad"] is not None and out["grad"]["norm"] > 0
    moved = (s.model.output.weight.detach() - w0).norm().item()
    assert out["moved"]["since_step"] == 0
    assert out["moved"]["norm"] == pytest.approx(moved) and moved > 0
    assert out["moved"]["relative"] == pytest.approx(moved / w0.norm().item())


def test_initial_weights_reset_with_a_new_session(engine, make_session, corpus_file,
                                                  single_thread):
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


# -- L1: X · Wᵀ + b ---------------------------------------------------------------------------


def test_linear_forward_by_hand_matches_the_layer(make_session, corpus_file, single_thread):
    s = make_session("gpt", corpus_file)
    out = inspection.lesson_linear_forward(s, "blocks.0.attn.qkv", seed=3, rows=2)
    assert out["layers"][0] == "blocks.0.attn.qkv" and out["layers"][-1] == "lm_head"
    assert out["shapes"] == {"X": [2, 32], "W": [96, 32], "W.T": [32, 96], "b": [96],
                             "out": [2, 96]}
    assert out["allclose"] and out["max_abs_diff"] < 1e-5
    assert out["by_hand"] == pytest.approx(out["layer_out"], abs=1e-5)
    assert out["neuron0_by_row"] == pytest.approx(out["neuron0_from_layer"], abs=1e-5)
    head = inspection.lesson_linear_forward(s, "lm_head")
    assert head["has_bias"] is False and head["shapes"]["b"] is None


def test_parabola_has_no_linear(make_session):
    s = make_session("parabola")
    with pytest.raises(Exception, match="has no Linear layer"):
        inspection.lesson_linear_forward(s)


# -- torchdeck inspect ------------------------------------------------------------------------


def test_inspect_cli_prints_the_corrected_table(capsys, corpus_file, single_thread):
    code = inspection.main(["--preset", "gpt", "--depth", "1", "--batch-size", "1",
                            "--block-size", "8", "--corpus", str(corpus_file)])
    out = capsys.readouterr().out
    assert code == 0
    assert "\x1b" not in out  # plain text
    lines = out.splitlines()
    assert any(line.startswith("└─lm_head: Linear") and "0 (tied)" in line for line in lines)
    assert "Tied (one tensor, counted once): wte.weight = lm_head.weight" in out
    assert "Input: [1, 8] (batch × context)" in out
    assert not any("└─0: Block" in line for line in lines)  # depth 1 only


def test_inspect_cli_bad_arguments(capsys):
    with pytest.raises(SystemExit) as exc:
        inspection.main(["--preset", "parabola", "--block-size", "4"])
    assert exc.value.code == 2
    assert "no context length" in capsys.readouterr().err
    assert inspection.main(["--preset", "mini", "--corpus", "/nonexistent/x.txt"]) == 2
    assert "torchdeck inspect:" in capsys.readouterr().err
