"""The five-step trainer (core/training.py's Trainer): clipping, divergence and the per-step
report, the fast and detailed steps alike."""

from __future__ import annotations

import math
import re

import pytest
import torch

from core import device as devices
from core.errors import ConfigError

pytestmark = pytest.mark.usefixtures("single_thread")


def _norm(tensors) -> float:
    return math.sqrt(sum(float(t.double().pow(2).sum()) for t in tensors))


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
    session = make_session(
        "mini",
        corpus_file,
        optimizer="sgd",
        schedule="constant",
        weight_decay=0.0,
        lr=0.05,
        grad_clip=grad_clip,
        steps=5,
    )
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
        with torch.no_grad(), devices.autocast(trainer.device, trainer.dtype):
            model.train()  # in the run's precision (bf16 on a CPU that computes it natively)
            expected_loss = model(x, y)[1].item()
        before = [p.detach().clone() for p in params]
        d = trainer.train_step_detailed()
        assert d.step == n
        assert d.loss == pytest.approx(expected_loss, rel=1e-6)
        assert d.grad_norm == pytest.approx(_norm(p.grad for p in params), rel=1e-5)
        assert d.update_norm == pytest.approx(
            _norm(p.detach() - b for p, b in zip(params, before)), rel=1e-5
        )
        assert d.update_norm > 0
        assert d.grads_cleared == (0 if n == 1 else len(params))
        assert d.history_len == n
        assert d.parabola is None
        assert set(d.to_dict()) == {
            "step",
            "lr",
            "grads_cleared",
            "loss",
            "grad_norm",
            "clipped",
            "update_norm",
            "history_len",
            "kept",
            "parabola",
        }
        assert d.kept == n  # no report in between: every step's loss waits on the device
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
