"""The five-step trainer: schedule, optimizer groups, clipping, divergence, config checks,
loss history and the per-step report."""

from __future__ import annotations

import math
import re

import pytest
import torch

from core.errors import ConfigError
from core.models import build_model, make_config
from core.training import (
    PRESET_TRAIN_DEFAULTS,
    LossHistory,
    TrainConfig,
    lr_at,
    make_optimizer,
    make_train_config,
)

pytestmark = pytest.mark.usefixtures("single_thread")


def _norm(tensors) -> float:
    return math.sqrt(sum(float(t.double().pow(2).sum()) for t in tensors))


# -- learning-rate schedule -----------------------------------------------------------------------


def test_warmup_is_linear_from_lr_over_warmup_to_lr():
    cfg = TrainConfig(steps=100, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    assert [lr_at(cfg, s) for s in range(10)] == pytest.approx(
        [1e-3 * (s + 1) / 10 for s in range(10)], rel=1e-12)
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
    model = build_model("gpt", make_config("gpt", vocab_size=20, n_layer=1, n_head=2, n_embd=8,
                                           block_size=8))
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


# -- gradient clipping ----------------------------------------------------------------------------


def test_clipping_reports_the_norm_before_clipping_and_clips_the_update(make_session):
    # parabola at x = −1: the gradient is −8; clipped to norm 1, plain SGD moves x by 0.01
    session = make_session("parabola", grad_clip=1.0)
    detail = session.trainer.train_step_detailed()
    assert detail.grad_norm == 8.0
    assert detail.clipped is True
    assert session.model.x.grad.item() == pytest.approx(-1.0, rel=1e-5)
    assert detail.update_norm == pytest.approx(0.01, rel=1e-5)
    assert session.model.x.item() == pytest.approx(-0.99, rel=1e-6)


def test_no_clipping_below_the_threshold(make_session):
    session = make_session("parabola", grad_clip=10.0)
    detail = session.trainer.train_step_detailed()
    assert detail.grad_norm == 8.0 and detail.clipped is False
    assert detail.update_norm == pytest.approx(0.08, rel=1e-5)
    assert session.model.x.item() == pytest.approx(-0.92, rel=1e-6)


def _sgd_language_session(make_session, corpus_file, grad_clip):
    session = make_session("mini", corpus_file, optimizer="sgd", schedule="constant",
                           weight_decay=0.0, lr=0.05, grad_clip=grad_clip, steps=5)
    with torch.no_grad():
        session.model.output.weight.mul_(30)  # large logits: a gradient norm well above 1
    return session


def test_clipping_at_one_on_a_language_model(make_session, corpus_file):
    session = _sgd_language_session(make_session, corpus_file, grad_clip=1.0)
    params = session.trainer.params
    before = [p.detach().clone() for p in params]
    detail = session.trainer.train_step_detailed()
    assert detail.grad_norm > 1.5 and detail.clipped
    assert _norm(p.grad for p in params) == pytest.approx(1.0, rel=1e-4)  # clipped in place
    moved = _norm(p.detach() - b for p, b in zip(params, before))
    assert moved == pytest.approx(0.05 * 1.0, rel=1e-4)  # SGD: lr × clipped norm
    assert detail.update_norm == pytest.approx(moved, rel=1e-6)


def test_without_clipping_the_update_follows_the_raw_gradient(make_session, corpus_file):
    session = _sgd_language_session(make_session, corpus_file, grad_clip=0.0)
    params = session.trainer.params
    before = [p.detach().clone() for p in params]
    detail = session.trainer.train_step_detailed()
    assert not detail.clipped
    raw = _norm(p.grad for p in params)
    assert raw > 1.5
    assert detail.grad_norm == pytest.approx(raw, rel=1e-5)
    moved = _norm(p.detach() - b for p, b in zip(params, before))
    assert moved == pytest.approx(0.05 * raw, rel=1e-4)


def test_clipped_and_unclipped_report_the_same_raw_norm(make_session, corpus_file):
    clipped = _sgd_language_session(make_session, corpus_file, grad_clip=1.0)
    free = _sgd_language_session(make_session, corpus_file, grad_clip=0.0)
    a, b = clipped.trainer.train_step_detailed(), free.trainer.train_step_detailed()
    assert a.loss == b.loss
    assert a.grad_norm == pytest.approx(b.grad_norm, rel=1e-5)
    # the fast path reports the same pre-clip norm
    fast = _sgd_language_session(make_session, corpus_file, grad_clip=1.0)
    fast.trainer.train_step()
    assert fast.trainer.flush()["grad_norm"] == pytest.approx(a.grad_norm, rel=1e-5)


# -- divergence -----------------------------------------------------------------------------------

DIVERGED = re.compile(r"the loss became (nan|inf) at step (\d+): training diverged")


def test_nan_model_marks_the_run_diverged(make_session, corpus_file):
    session = make_session("mini", corpus_file, steps=10)
    trainer = session.trainer
    trainer.train_step()
    trainer.train_step()
    assert trainer.flush()["step"] == 2 and trainer.diverged is None
    with torch.no_grad():
        session.model.output.bias.fill_(float("nan"))
    trainer.train_step()
    report = trainer.flush()
    assert math.isnan(report["losses"][0])
    assert trainer.diverged == "the loss became nan at step 3: training diverged"
    trainer.train_step()
    trainer.flush()
    assert trainer.diverged == "the loss became nan at step 3: training diverged"  # first kept


def test_huge_lr_diverges_with_the_first_bad_step_named(make_session):
    # x ← x − 10·(6x − 2) = −59x + 20: |x| grows ~59× a step until float32 overflows
    session = make_session("parabola", lr=10.0)
    trainer = session.trainer
    while not trainer.done:
        trainer.train_step()
    losses = trainer.flush()["losses"]
    first_bad = next(i for i, v in enumerate(losses) if not math.isfinite(v))
    assert 5 < first_bad < 40
    m = DIVERGED.fullmatch(trainer.diverged)
    assert m, trainer.diverged
    assert int(m.group(2)) == first_bad + 1
    assert m.group(1) == str(losses[first_bad])


def test_finite_training_is_not_diverged(make_session):
    session = make_session("parabola")
    for _ in range(10):
        session.trainer.train_step()
    session.trainer.flush()
    assert session.trainer.diverged is None


# -- config validation ----------------------------------------------------------------------------


@pytest.mark.parametrize("values, name, want", [
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
    ({"seed": -1}, "seed", "an integer ≥ 0"),
    ({"min_lr_ratio": 1.5}, "min_lr_ratio", "in [0, 1]"),
    ({"weight_decay": 1.0}, "weight_decay", "in [0, 1)"),
    ({"weight_decay": -0.1}, "weight_decay", "in [0, 1)"),
    ({"beta1": 1.0}, "beta1", "in [0, 1)"),
    ({"beta2": -0.5}, "beta2", "in [0, 1)"),
    ({"grad_clip": -1.0}, "grad_clip", "≥ 0 (0 turns clipping off)"),
    ({"grad_clip": float("nan")}, "grad_clip", "≥ 0 (0 turns clipping off)"),
    ({"optimizer": "adam"}, "optimizer", "one of adamw, sgd"),
    ({"schedule": "linear"}, "schedule", "one of cosine, constant"),
])
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


# -- loss history ---------------------------------------------------------------------------------


def test_loss_history_keeps_every_point_below_capacity():
    h = LossHistory(capacity=100)
    for s in range(1, 51):
        h.append(s, s * 0.5)
    assert h.steps == list(range(1, 51))
    assert h.values == [s * 0.5 for s in range(1, 51)]
    assert h.stride == 1 and len(h) == 50


def test_loss_history_stays_bounded_and_averages_buckets():
    cap = 8
    h = LossHistory(capacity=cap)
    n = 1000
    for s in range(1, n + 1):
        h.append(s, float(s))
        assert len(h) < cap
    # halved at 8, 16, 32, ..., 512 appends: buckets of 128 steps, the partial one pending
    assert h.stride == 128
    assert h.steps == [128, 256, 384, 512, 640, 768, 896]
    # each point is the mean of the steps in its bucket: (first + last) / 2
    assert h.values == [(s - h.stride + 1 + s) / 2 for s in h.steps]
    assert h.values[:2] == [64.5, 192.5]


def test_loss_history_bucket_means_survive_many_compactions():
    h = LossHistory(capacity=16)
    gen = torch.Generator().manual_seed(0)
    values = torch.rand(5000, generator=gen, dtype=torch.float64).tolist()
    for s, v in enumerate(values, start=1):
        h.append(s, v)
    assert len(h) < 16
    assert all(b - a == h.stride for a, b in zip(h.steps, h.steps[1:]))
    for step, value in zip(h.steps, h.values):
        bucket = values[step - h.stride:step]
        assert value == pytest.approx(sum(bucket) / h.stride, rel=1e-12)


def test_loss_history_constant_values_stay_constant():
    h = LossHistory(capacity=4)
    for s in range(1, 301):
        h.append(s, 2.5)
    assert set(h.values) == {2.5}


def test_loss_history_round_trips_through_a_dict():
    h = LossHistory(capacity=8)
    for s in range(1, 30):
        h.append(s, s / 3)
    back = LossHistory.from_dict(h.to_dict())
    assert (back.steps, back.values, back.stride, back.capacity) == (h.steps, h.values,
                                                                     h.stride, h.capacity)
    with pytest.raises(ValueError, match="differ in length"):
        LossHistory.from_dict({"steps": [1, 2], "values": [0.5]})


# -- the per-step report --------------------------------------------------------------------------


def test_detailed_step_reports_loss_grad_norm_and_update_consistently(make_session, corpus_file):
    session = make_session("gpt", corpus_file, steps=10, grad_clip=0.0)
    trainer, model = session.trainer, session.model
    params = trainer.params
    for n in range(1, 4):
        # the batch the step will draw, from a copy of the trainer's generator
        g = torch.Generator()
        g.set_state(trainer.generator.get_state())
        x, y = session.data.get_batch("train", trainer.config.batch_size, trainer.block_size, g)
        with torch.no_grad():
            model.train()
            expected_loss = model(x, y)[1].item()
        before = [p.detach().clone() for p in params]
        d = trainer.train_step_detailed()
        assert d.step == n
        assert d.loss == pytest.approx(expected_loss, rel=1e-6)
        assert d.grad_norm == pytest.approx(_norm(p.grad for p in params), rel=1e-5)
        assert d.update_norm == pytest.approx(
            _norm(p.detach() - b for p, b in zip(params, before)), rel=1e-5)
        assert d.update_norm > 0
        assert d.grads_cleared == (0 if n == 1 else len(params))
        assert d.history_len == n
        assert d.parabola is None
        assert set(d.to_dict()) == {"step", "lr", "grads_cleared", "loss", "grad_norm",
                                    "clipped", "update_norm", "history_len", "parabola"}
    report = trainer.flush()
    assert report["first_step"] == 1 and report["step"] == 3
    assert trainer.train_history.steps == [1, 2, 3]
    assert trainer.flush() is None  # nothing new since the last flush


def test_detailed_and_fast_steps_train_identically(make_session, corpus_file):
    a = make_session("mlp", corpus_file, steps=10)
    b = make_session("mlp", corpus_file, steps=10)
    detailed = [a.trainer.train_step_detailed().loss for _ in range(5)]
    for _ in range(5):
        b.trainer.train_step()
    fast = b.trainer.flush()["losses"]
    assert fast == pytest.approx(detailed, rel=1e-6)
    assert a.trainer.flush()["losses"] == pytest.approx(detailed, rel=1e-6)
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)


def test_flush_reports_mean_and_validation(make_session, corpus_file):
    session = make_session("mini", corpus_file, steps=6, eval_interval=3, eval_batches=2)
    trainer = session.trainer
    for _ in range(2):
        trainer.train_step()
    r = trainer.flush()
    assert r["val_loss"] is None and r["loss"] == pytest.approx(sum(r["losses"]) / 2)
    trainer.train_step()
    r = trainer.flush()
    assert r["first_step"] == 3 and len(r["losses"]) == 1
    assert r["val_loss"] is not None and math.isfinite(r["val_loss"])
    assert trainer.val_history.steps == [3]
    assert trainer.evaluate() == trainer.evaluate()  # the same fixed validation batches
    while not trainer.done:
        trainer.train_step()
    assert trainer.flush()["step"] == 6
    assert trainer.val_history.steps == [3, 6]
    assert trainer.train_history.steps == list(range(1, 7))


def test_every_validation_loss_is_kept_at_the_step_it_was_measured(make_session, corpus_file):
    # the engine flushes on a timer, so one flush can cover several evaluations
    session = make_session("mini", corpus_file, steps=7, eval_interval=2, eval_batches=2)
    trainer = session.trainer
    measured = []
    for _ in range(7):
        trainer.train_step()
        if trainer.step % 2 == 0 or trainer.step == 7:
            measured.append(trainer.last_val)
    report = trainer.flush()
    assert trainer.val_history.steps == [2, 4, 6, 7]
    assert trainer.val_history.values == measured
    assert len(set(measured)) == 4  # really four different measurements
    assert report["val_loss"] == measured[-1] == trainer.evaluate()


def test_training_without_a_corpus_explains_why(make_session, corpus_file):
    session = make_session("mini", corpus_file)
    session.trainer.data = None
    with pytest.raises(ConfigError, match="no training text is loaded"):
        session.trainer.train_step()


def test_sgd_decays_matrices_only():
    from core.models import build_model, make_config
    from core.training import make_optimizer, make_train_config

    model = build_model("mini", make_config("mini", vocab_size=10))
    opt = make_optimizer(model, make_train_config("mini", optimizer="sgd", weight_decay=0.1))
    assert isinstance(opt, torch.optim.SGD)
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    for name, p in model.named_parameters():
        assert (id(p) in decayed) == (p.dim() >= 2), name


def test_steps_train_even_when_gradients_were_left_switched_off(corpus_file, make_session):
    """A playground cell's torch.set_grad_enabled(False), or an interrupt inside a no_grad
    block, must not break training: each step turns gradients on for itself."""
    s = make_session("mini", corpus_file, seed=0)
    t = s.trainer
    before = [p.detach().clone() for p in t.params]
    torch.set_grad_enabled(False)
    try:
        t.train_step()
        detail = t.train_step_detailed()
        assert not torch.is_grad_enabled()  # the global mode is the caller's: left as it was
    finally:
        torch.set_grad_enabled(True)
    assert t.step == 2 and detail.grad_norm > 0
    assert all(not torch.equal(p, b) for p, b in zip(t.params, before))
