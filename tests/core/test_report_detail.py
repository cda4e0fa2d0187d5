"""Each report carries its latest step's five phases (core.report.latest_detail): what the
Train pane's five-step strip shows during a run, from the figures the report reads back anyway
(no sync per step)."""

from __future__ import annotations

import pytest
import torch

from core.contract import StepDetail, TrainProgress

pytestmark = pytest.mark.usefixtures("single_thread")


def test_a_parabola_run_reports_its_latest_step_as_backward_left_it(make_session):
    t = make_session("parabola").trainer
    t.train_step()
    first = t.flush()["detail"]
    # step 1 at x = −1: nothing to clear yet, f(−1) = 8, x.grad = 6·(−1) − 2 = −8, x += 0.08
    assert (first.step, first.grads_cleared, first.kept, first.history_len) == (1, 0, 1, 1)
    assert first.loss == 8.0 and first.grad_norm == 8.0 and first.lr == 0.01
    assert first.update_norm is None and first.clipped is False
    p = first.parabola
    assert (p["x"], p["grad_at"], p["grad"], p["f"]) == (-1.0, -1.0, -8.0, 8.0)
    assert p["x_after"] == pytest.approx(-0.92) and p["distance"] == pytest.approx(4 / 3)
    xs = []
    for _ in range(3):
        xs.append(t.model.x.item())
        t.train_step()
    report = t.flush()
    d = report["detail"]
    assert (d.step, d.grads_cleared, d.kept, d.history_len) == (4, 1, 3, 4)
    assert d.loss == report["losses"][-1] and d.grad_norm == report["grad_norm"]
    x = xs[-1]  # where step 4 took its gradient
    assert d.parabola["x"] == x and d.parabola["x_after"] == t.model.x.item()
    assert d.parabola["grad"] == pytest.approx(6 * x - 2, rel=1e-6)
    assert d.parabola["f"] == pytest.approx(d.loss, rel=1e-6)  # f there is the step's loss
    assert d.parabola["optimum"] == 1 / 3
    # the report's own parabola is after the step: x moved on
    assert report["parabola"]["x"] == d.parabola["x_after"]


def test_a_language_model_run_reports_its_latest_loss_norm_lr_and_clip(make_session, corpus_file):
    session = make_session("mini", corpus_file, steps=20, grad_clip=0.01, warmup_steps=2)
    t = session.trainer
    for _ in range(5):
        t.train_step()
    report = t.flush()
    d = report["detail"]
    assert isinstance(d, StepDetail)
    assert d.step == 5 and d.kept == 5 and d.history_len == 5
    assert d.grads_cleared == len(t.params) == 5  # embedding, hidden w+b, output w+b
    assert d.loss == report["losses"][-1] and d.grad_norm == report["grad_norm"]
    assert d.lr == report["lr"]
    assert d.clipped is True  # the norm before clipping is far above 0.01
    assert d.update_norm is None and d.parabola is None
    # it crosses the wire nested in the event, and back
    sent = TrainProgress(**report).to_dict()
    assert sent["detail"]["loss"] == d.loss and sent["detail"]["kept"] == 5
    assert TrainProgress.from_dict(sent).detail == d


def test_a_step_by_hand_reports_the_detail_it_read_in_full(make_session):
    t = make_session("parabola").trainer
    t.train_step()
    t.flush()
    hand = t.train_step_detailed()
    d = t.flush()["detail"]
    assert d == hand  # the update's size too, measured by hand
    assert d.update_norm == pytest.approx(abs(hand.parabola["x_after"] - hand.parabola["x"]))
    assert d.kept == 1 and d.history_len == 2 and d.grads_cleared == 1
    # the next run's report is built from its own steps, not the hand step's
    t.train_step()
    assert t.flush()["detail"].update_norm is None


def test_the_fast_step_reads_nothing_back(make_session, monkeypatch):
    """The detail costs no sync per step: a run's steps never read a value back."""
    t = make_session("parabola").trainer

    def read_back(self, *args, **kwargs):
        raise AssertionError("a device sync inside a training step")

    for name in ("item", "tolist", "__float__", "__bool__"):
        monkeypatch.setattr(torch.Tensor, name, read_back)
    for _ in range(3):
        t.train_step()
    monkeypatch.undo()
    assert t.flush()["detail"].step == 3
