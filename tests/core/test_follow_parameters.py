"""core.optim.follow_parameters: after a Playground cell edits the live model, the optimizer
updates the model's own trainable parameters, each kept one with its state."""

from __future__ import annotations

import pytest
import torch

from core.optim import follow_parameters

pytestmark = pytest.mark.usefixtures("single_thread")


def _optimized(trainer) -> list[torch.Tensor]:
    return [p for group in trainer.optimizer.param_groups for p in group["params"]]


def test_nothing_changed_keeps_the_optimizer(make_session, corpus_file):
    s = make_session("mini", corpus_file)
    optimizer = s.trainer.optimizer
    s.trainer.train_step_detailed()
    with torch.no_grad():
        s.model.hidden.weight.mul_(0.5)  # values change, the parameters are the same
    assert follow_parameters(s.trainer) is None
    assert s.trainer.optimizer is optimizer


def test_a_replaced_layer_trains_and_the_others_keep_their_moments(make_session, corpus_file):
    s = make_session("mini", corpus_file)  # n_embd 16, n_hidden 32
    s.trainer.train_step_detailed()
    old = s.trainer.optimizer
    kept = {name: old.state[p]["exp_avg"].clone() for name, p in s.model.named_parameters()}
    embedding_state = old.state[s.model.embedding.weight]
    s.model.hidden = torch.nn.Sequential(torch.nn.Linear(16, 24), torch.nn.Linear(24, 32))
    changed = follow_parameters(s.trainer)
    assert changed == {
        "added": ["hidden.0.weight", "hidden.0.bias", "hidden.1.weight", "hidden.1.bias"],
        "removed": 2,
        "tensors": 7,
    }
    optimized = _optimized(s.trainer)
    assert len(optimized) == 7
    assert {id(p) for p in optimized} == {id(p) for p in s.model.parameters()}
    assert s.trainer.params == [p for p in s.model.parameters()]
    new_state = s.trainer.optimizer.state
    assert new_state[s.model.embedding.weight] is embedding_state
    assert torch.equal(new_state[s.model.output.weight]["exp_avg"], kept["output.weight"])
    assert s.model.hidden[0].weight not in new_state  # starts with none
    # matrices decay, vectors do not, as make_optimizer groups them
    decays = {
        id(p): g["weight_decay"] for g in s.trainer.optimizer.param_groups for p in g["params"]
    }
    assert decays[id(s.model.hidden[0].weight)] == s.trainer.config.weight_decay
    assert decays[id(s.model.hidden[0].bias)] == 0.0
    before = s.model.hidden[0].weight.detach().clone()
    s.trainer.train_step_detailed()
    assert not torch.equal(s.model.hidden[0].weight, before)  # the new layer trains


def test_a_frozen_weight_leaves_the_optimizer(make_session, corpus_file):
    s = make_session("mini", corpus_file)
    s.model.embedding.weight.requires_grad_(False)
    changed = follow_parameters(s.trainer)
    assert changed == {"added": [], "removed": 1, "tensors": 4}
    assert all(p is not s.model.embedding.weight for p in _optimized(s.trainer))
    s.model.embedding.weight.requires_grad_(True)
    assert follow_parameters(s.trainer) == {
        "added": ["embedding.weight"],
        "removed": 0,
        "tensors": 5,
    }
