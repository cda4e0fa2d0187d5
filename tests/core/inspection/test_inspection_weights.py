"""Weight statistics (core/inspection/weights.py), in process: the histogram against the
initialisation's theory, GPT's own init and tied names, the gradient and how far a weight moved."""

from __future__ import annotations

import math

import pytest
import torch

from core.inspection.weights import remember_initial, weight_stats


def test_weight_stats_histogram_and_init_theory(make_session, corpus_file, single_thread):
    s = make_session("mini", corpus_file)
    out = weight_stats(s, "hidden.weight", bins=20)
    w = s.model.hidden.weight.detach()
    st = out["stats"]
    assert st["mean"] == pytest.approx(w.mean().item()) and st["norm"] == pytest.approx(
        w.norm().item()
    )
    assert sum(st["counts"]) == w.numel() and len(st["edges"]) == 21
    assert out["init"]["kind"] == "uniform"
    assert out["init"]["bound"] == pytest.approx(1 / math.sqrt(s.model_config.n_embd))
    # the histogram spans the measured min…max: a little of the theory lies outside it
    assert sum(out["init"]["expected_counts"]) == pytest.approx(w.numel(), rel=0.02)
    assert out["grad"] is None and out["moved"]["norm"] == 0.0
    emb = weight_stats(s, "embedding.weight")
    assert emb["init"]["kind"] == "normal" and emb["init"]["std"] == 1.0


def test_gpt_init_and_tied_name(make_session, corpus_file, single_thread):
    s = make_session("gpt", corpus_file)
    head = weight_stats(s, "lm_head.weight")
    assert head["tied_to"] == ["wte.weight"]
    assert head["init"]["kind"] == "normal" and head["init"]["std"] == 0.02
    proj = weight_stats(s, "blocks.0.attn.proj.weight")
    assert proj["init"]["std"] == pytest.approx(0.02 / math.sqrt(2))  # one layer
    ln = weight_stats(s, "blocks.0.ln_1.weight")
    assert ln["init"]["kind"] == "constant" and ln["stats"]["min"] == ln["stats"]["max"] == 1.0
    assert ln["init"]["expected_counts"][ln["stats"]["counts"].index(32)] == 32


def test_grad_and_distance_moved_after_training(make_session, corpus_file, single_thread):
    s = make_session("mini", corpus_file)
    w0 = s.model.output.weight.detach().clone()
    remember_initial(s)
    for _ in range(3):
        s.trainer.train_step_detailed()
    out = weight_stats(s, "output.weight")
    assert out["grad"] is not None and out["grad"]["norm"] > 0
    moved = (s.model.output.weight.detach() - w0).norm().item()
    assert out["moved"]["since_step"] == 0
    assert out["moved"]["norm"] == pytest.approx(moved) and moved > 0
    assert out["moved"]["relative"] == pytest.approx(moved / w0.norm().item())


def test_a_layer_a_cell_replaced_moves_from_its_own_start(make_session, corpus_file, single_thread):
    """A Playground cell may replace a layer of the live model, with another shape under the
    same name: its weights are measured from where they started, at the step they appeared."""
    s = make_session("mini", corpus_file)  # n_embd 16, n_hidden 32
    remember_initial(s)
    for _ in range(2):
        s.trainer.train_step_detailed()
    assert weight_stats(s, "hidden.weight")["moved"]["since_step"] == 0
    s.model.hidden = torch.nn.Linear(16, 24)
    s.model.output = torch.nn.Linear(24, s.tokenizer.vocab_size)
    s.trainer.optimizer.add_param_group(
        {"params": [*s.model.hidden.parameters(), *s.model.output.parameters()]}
    )
    out = weight_stats(s, "hidden.weight")
    assert out["shape"] == [24, 16]
    assert out["moved"] == {"since_step": 2, "norm": 0.0, "relative": 0.0, "max_abs": 0.0}
    w = s.model.hidden.weight.detach().clone()
    s.trainer.train_step_detailed()
    out = weight_stats(s, "hidden.weight")
    moved = (s.model.hidden.weight.detach() - w).norm().item()
    assert out["moved"]["since_step"] == 2
    assert out["moved"]["norm"] == pytest.approx(moved) and moved > 0
    assert weight_stats(s, "embedding.weight")["moved"]["since_step"] == 0  # kept its start
