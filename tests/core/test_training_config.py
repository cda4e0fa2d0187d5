"""How a run trains, before the loop (core/training.py and the contract's TrainSettings): the
learning-rate schedule, the optimizer and its weight decay, and the checks on the training
settings."""

from __future__ import annotations

import math

import pytest
import torch

from core.contract import PRESET_TRAIN_DEFAULTS
from core.errors import ConfigError
from core.models import build_model, make_config
from core.training import (
    TrainConfig,
    lr_at,
    make_optimizer,
    make_train_config,
)

pytestmark = pytest.mark.usefixtures("single_thread")


# -- learning-rate schedule -----------------------------------------------------------------------


def test_warmup_is_linear_from_lr_over_warmup_to_lr():
    cfg = TrainConfig(steps=100, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    assert [lr_at(cfg, s) for s in range(10)] == pytest.approx(
        [1e-3 * (s + 1) / 10 for s in range(10)], rel=1e-12
    )
    assert lr_at(cfg, 0) == pytest.approx(1e-4)
    assert lr_at(cfg, 9) == pytest.approx(1e-3)


def test_cosine_decays_to_min_lr_at_the_end():
    cfg = TrainConfig(steps=100, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(cfg, 10) == pytest.approx(1e-3)  # peak right after warm-up
    assert lr_at(cfg, 55) == pytest.approx(1e-4 + 0.5 * (1e-3 - 1e-4))  # half-way: the middle
    expected = 1e-4 + 0.5 * (1 + math.cos(math.pi * 22 / 90)) * 9e-4  # 22 of 90 decay steps
    assert lr_at(cfg, 32) == pytest.approx(expected)
    assert lr_at(cfg, 100) == pytest.approx(1e-4)  # the end: min_lr_ratio × lr
    assert lr_at(cfg, 250) == pytest.approx(1e-4)  # and it stays there past the end
    after_warmup = [lr_at(cfg, s) for s in range(10, 101)]
    assert all(a > b for a, b in zip(after_warmup, after_warmup[1:]))
    assert min(after_warmup) == pytest.approx(1e-4)


def test_cosine_with_zero_min_lr_ratio_ends_at_zero():
    cfg = TrainConfig(steps=50, lr=0.5, warmup_steps=0, min_lr_ratio=0.0)
    assert lr_at(cfg, 0) == 0.5
    assert lr_at(cfg, 50) == pytest.approx(0.0, abs=1e-15)


def test_constant_schedule_ignores_warmup_and_decay():
    cfg = TrainConfig(steps=100, lr=3e-3, warmup_steps=10, schedule="constant")
    assert {lr_at(cfg, s) for s in (0, 5, 10, 50, 99, 100, 1000)} == {3e-3}


def test_trainer_applies_the_scheduled_lr(corpus_file, make_session):
    session = make_session("mini", corpus_file, steps=20, warmup_steps=4, lr=1e-2)
    trainer = session.trainer
    lrs = [trainer.train_step_detailed().lr for _ in range(6)]
    assert lrs == pytest.approx([lr_at(trainer.config, s) for s in range(6)])
    assert lrs[:4] == pytest.approx([2.5e-3, 5e-3, 7.5e-3, 1e-2])
    assert all(g["lr"] == pytest.approx(lrs[-1]) for g in trainer.optimizer.param_groups)
    trainer.train_step()
    assert trainer.flush()["lr"] == pytest.approx(lr_at(trainer.config, 6))


# -- optimizer and weight decay -------------------------------------------------------------------


def test_adamw_decays_only_matrices_and_embeddings():
    model = build_model(
        "gpt", make_config("gpt", vocab_size=20, n_layer=1, n_head=2, n_embd=8, block_size=8)
    )
    cfg = TrainConfig(weight_decay=0.1)
    opt = make_optimizer(model, cfg)
    assert isinstance(opt, torch.optim.AdamW)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    params = list(model.parameters())  # the tied matrix appears once
    assert {id(p) for p in decay["params"]} == {id(p) for p in params if p.dim() >= 2}
    assert {id(p) for p in no_decay["params"]} == {id(p) for p in params if p.dim() < 2}
    assert len(decay["params"]) + len(no_decay["params"]) == len(params)
    assert any(p is model.wte.weight for p in decay["params"])
    assert any(p is model.ln_f.weight for p in no_decay["params"])


def test_adamw_decay_shrinks_matrices_and_leaves_vectors():
    """With zero gradients AdamW's update is pure decay: θ ← θ·(1 − lr·wd) for decayed ones."""
    model = build_model("mini", make_config("mini", vocab_size=10, n_embd=4, n_hidden=6))
    lr, wd = 0.1, 0.5
    opt = make_optimizer(model, TrainConfig(lr=lr, weight_decay=wd))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            assert torch.allclose(p, before[name] * (1 - lr * wd), atol=1e-7), name
        else:
            assert torch.equal(p, before[name]), name


def test_sgd_is_plain_sgd():
    model = build_model("mini", make_config("mini", vocab_size=10, n_embd=4, n_hidden=6))
    opt = make_optimizer(model, TrainConfig(optimizer="sgd", lr=0.2, weight_decay=0.0))
    assert isinstance(opt, torch.optim.SGD)
    assert opt.param_groups[0]["momentum"] == 0
    before = [p.detach().clone() for p in model.parameters()]
    grads = [torch.full_like(p, 0.5) for p in model.parameters()]
    for p, g in zip(model.parameters(), grads):
        p.grad = g
    opt.step()
    for p, b in zip(model.parameters(), before):
        assert torch.allclose(p, b - 0.2 * 0.5, atol=1e-7)


# -- config validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, name, want",
    [
        ({"lr": 0}, "lr", "a number in (0, 10], e.g. 0.001"),
        ({"lr": -1e-3}, "lr", "a number in (0, 10], e.g. 0.001"),
        ({"lr": float("inf")}, "lr", "a number in (0, 10], e.g. 0.001"),
        ({"lr": float("nan")}, "lr", "a number in (0, 10], e.g. 0.001"),
        ({"lr": 11.0}, "lr", "a number in (0, 10], e.g. 0.001"),
        ({"lr": "0.1"}, "lr", "a number in (0, 10], e.g. 0.001"),
        ({"batch_size": 0}, "batch_size", "an integer ≥ 1"),
        ({"batch_size": 2.0}, "batch_size", "an integer ≥ 1"),
        ({"steps": 0}, "steps", "an integer ≥ 1"),
        ({"steps": True}, "steps", "an integer ≥ 1"),
        ({"eval_batches": 0}, "eval_batches", "an integer ≥ 1"),
        ({"warmup_steps": -1}, "warmup_steps", "an integer ≥ 0"),
        ({"eval_interval": -5}, "eval_interval", "an integer ≥ 0"),
        ({"seed": -1}, "seed", "an integer in [0, 9223372036854775807]"),  # what torch takes
        ({"min_lr_ratio": 1.5}, "min_lr_ratio", "in [0, 1]"),
        ({"weight_decay": 1.0}, "weight_decay", "in [0, 1)"),
        ({"weight_decay": -0.1}, "weight_decay", "in [0, 1)"),
        ({"beta1": 1.0}, "beta1", "in [0, 1)"),
        ({"beta2": -0.5}, "beta2", "in [0, 1)"),
        ({"grad_clip": -1.0}, "grad_clip", "≥ 0 (0 turns clipping off)"),
        ({"grad_clip": float("nan")}, "grad_clip", "≥ 0 (0 turns clipping off)"),
        ({"optimizer": "adam"}, "optimizer", "one of adamw, sgd"),
        ({"schedule": "linear"}, "schedule", "one of cosine, constant"),
    ],
)
def test_train_config_refuses_bad_values(values, name, want):
    cfg = TrainConfig(**values)
    with pytest.raises(ConfigError) as info:
        cfg.validate()
    assert info.value.message == f"{name} = {next(iter(values.values()))!r} is out of range"
    assert info.value.hint == f"{name} must be {want}"


def test_train_config_defaults_are_valid():
    TrainConfig().validate()
    for preset in PRESET_TRAIN_DEFAULTS:
        make_train_config(preset)


def test_make_train_config_merges_preset_defaults_and_overrides():
    cfg = make_train_config("parabola", steps=10)
    assert (cfg.lr, cfg.steps, cfg.optimizer, cfg.batch_size) == (0.01, 10, "sgd", 1)
    assert make_train_config("mini").lr == 1e-2
    assert make_train_config("gpt", lr=5e-4).lr == 5e-4
    assert make_train_config("unknown-preset") == TrainConfig()


def test_make_train_config_refuses_unknown_settings_and_bad_values():
    with pytest.raises(ConfigError) as info:
        make_train_config("gpt", learning_rate=0.1, epochs=3)
    assert info.value.message == "no training setting epochs, learning_rate"
    assert "lr" in info.value.hint and "batch_size" in info.value.hint
    with pytest.raises(ConfigError, match=r"^lr = 0 is out of range"):
        make_train_config("gpt", lr=0)


def test_sgd_decays_matrices_only():
    from core.models import build_model, make_config
    from core.training import make_optimizer, make_train_config

    model = build_model("mini", make_config("mini", vocab_size=10))
    opt = make_optimizer(model, make_train_config("mini", optimizer="sgd", weight_decay=0.1))
    assert isinstance(opt, torch.optim.SGD)
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    for name, p in model.named_parameters():
        assert (id(p) in decayed) == (p.dim() >= 2), name


def test_min_lr_sets_the_floor_itself_and_may_not_pass_the_peak():
    from core.optim import make_train_config

    cfg = make_train_config("gpt", steps=100, lr=1e-3, warmup_steps=10, min_lr=2e-4)
    assert lr_at(cfg, 55) == pytest.approx(2e-4 + 0.5 * (1e-3 - 2e-4))  # half-way: the middle
    assert lr_at(cfg, 100) == pytest.approx(2e-4)  # the floor, whatever min_lr_ratio says
    with pytest.raises(ConfigError) as info:
        make_train_config("gpt", lr=1e-3, min_lr=2e-3)
    assert info.value.message == "min_lr 0.002 is above lr 0.001"
