"""The layer table (core/inspection/summary.py), in process: totals with tied weights counted
once, frozen parameters, multiply-adds counted by hand, depth, and a trace that leaves the model
alone."""

from __future__ import annotations

import pytest
import torch

from core.inspection.summary import summarize
from core.models import count_parameters


@pytest.mark.parametrize("preset", ["mini", "mlp", "gpt", "parabola"])
def test_totals_equal_model_parameters(make_session, corpus_file, single_thread, preset):
    s = make_session(preset, corpus_file if preset != "parabola" else None)
    summary = summarize(s, batch_size=2)
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
    summary = summarize(s, batch_size=1)
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
    summary = summarize(s, batch_size=1)
    n = s.model.embedding.weight.numel()
    assert summary["totals"]["frozen"] == n
    assert summary["totals"]["trainable"] == count_parameters(s.model) - n
    rows = {r["name"]: r for r in summary["rows"]}
    assert rows["embedding"]["trainable"] == "no" and rows[""]["trainable"] == "partly"


def test_mult_adds_match_a_hand_count_for_mini(make_session, corpus_file, single_thread):
    s = make_session("mini", corpus_file)  # n_embd 16, n_hidden 32, block 16
    B, T, V = 3, s.block_size, s.model_config.vocab_size
    d, h = s.model_config.n_embd, s.model_config.n_hidden
    summary = summarize(s, batch_size=B)
    assert summary["totals"]["macs"] == B * T * (d * h + h * V)
    assert summary["totals"]["macs_attention"] == 0
    assert summary["output_shape"] == [B, T, V]
    # outputs kept for backward: embedding, hidden, ReLU, output, in float32
    assert summary["totals"]["activation_bytes"] == 4 * B * T * (d + h + h + V)


def test_mult_adds_match_a_hand_count_for_gpt(make_session, corpus_file, single_thread):
    s = make_session("gpt", corpus_file, model={"n_layer": 2})
    c = s.model_config
    B, T, C, L, V = 2, c.block_size, c.n_embd, c.n_layer, c.vocab_size
    summary = summarize(s, batch_size=B)
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
    rows = summarize(s, batch_size=1, depth=1)["rows"]
    assert {r["depth"] for r in rows} == {0, 1}
    assert [r["name"] for r in rows] == ["", "wte", "wpe", "drop", "blocks", "ln_f", "lm_head"]


def test_summary_leaves_the_model_mode_and_rng_alone(make_session, corpus_file, single_thread):
    s = make_session("gpt", corpus_file, model={"dropout": 0.1})
    s.model.train()
    state = torch.get_rng_state()
    summarize(s, batch_size=1)
    assert s.model.training
    assert torch.equal(state, torch.get_rng_state())
