"""What a run's steps left on the device, read back as one report.

``flush`` reads the losses and gradient norms kept since the last report (one sync), records
them in the trainer's loss history and its metrics rows (``core.metric_log``), and returns the
``train_progress`` report. In a job of several ranks, rank 0 calls the others in first and the
losses are the mean over ranks.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from core.contract.progress import StepDetail
from core.i18n import _
from core.optim import lr_at

MIB = 1 << 20


def rank_times(trainer) -> list[float] | None:
    """Each rank's milliseconds per step spent on its own work (the forward passes and the
    backward passes before the last, where no rank waits for another): a slow rank shows."""
    if trainer.dist is None:
        return None
    timed, trainer._timed = trainer._timed, []
    if timed and not isinstance(timed[0][0], float):
        timed[-1][1].synchronize()  # CUDA events: milliseconds between them
        busy = sum(a.elapsed_time(b) for a, b in timed) / 1000.0
    else:
        busy = sum(b - a for a, b in timed)
    return [1000.0 * t for t in trainer.dist.gather(busy / len(timed) if timed else 0.0)]


def memory(device: torch.device) -> dict:
    """The engine's CUDA memory in MiB: allocated now, and the peak since the model was made
    (``Trainer`` resets the peak)."""
    if device.type != "cuda":
        return {}
    return {
        "mem_alloc_mb": round(torch.cuda.memory_allocated(device) / MIB, 1),
        "mem_peak_mb": round(torch.cuda.max_memory_allocated(device) / MIB, 1),
    }


def flush(trainer, final: bool = False) -> dict | None:
    """The report of the steps since the last flush: per-step losses, their mean, the last
    gradient norm and learning rate, the validation loss if one was measured, and the metrics
    rows of those steps. Marks the run diverged on a non-finite loss. ``final`` (the run is
    stopped): the steps since the last train row get a row of their own, at the last step."""
    t = trainer
    if t.dist is not None:
        t.dist.announce("flush")
        if not t._pending_loss and not t.dist.broken and not final:
            return None  # every rank has the same number of steps pending
    if not t._pending_loss:
        rows = (
            t.log.close(t.step, t._last_grad_norm, lr_at(t.config, t.step - 1), t.tokens_per_step)
            if final
            else []
        )
        if not rows:
            return None
        return {
            "step": t.step,
            "first_step": t.step + 1,
            "losses": [],
            "loss": t._last_loss,
            "grad_norm": t._last_grad_norm,
            "lr": rows[0]["lr"],
            "val_loss": None,
            "val_step": None,
            "rows": rows,
        }
    stacked = torch.stack(t._pending_loss).float()
    ranks = None
    if t.dist is not None:
        stacked = t.dist.mean(stacked)
        ranks = rank_times(t)
    losses = stacked.tolist()
    norms = torch.stack(t._pending_norm).float().tolist()
    first = t.step - len(losses) + 1
    seconds, t._pending_s = t._pending_s[-len(losses) :], []
    t._pending_loss.clear()
    t._pending_norm.clear()
    for i, value in enumerate(losses):
        t.train_history.append(first + i, value)
    evals, t._pending_val = list(t._pending_val), []
    for val_step, val_loss in evals:  # each at the step it was measured
        t.val_history.append(val_step, val_loss)
    extra = memory(t.device)
    if ranks is not None:
        extra.update(world_size=t.world, rank_ms=[round(r, 2) for r in ranks])
    rows = t.log.rows(
        first,
        losses,
        norms,
        [lr_at(t.config, s - 1) for s in range(first, t.step + 1)],
        seconds,
        evals,
        last_step=t.config.steps,
        tokens_per_step=t.tokens_per_step,
        extra=extra,
    )
    if final:
        rows += t.log.close(t.step, norms[-1], lr_at(t.config, t.step - 1), t.tokens_per_step)
    t._last_loss = losses[-1]
    t._last_grad_norm = norms[-1]
    bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
    if bad is not None and t.diverged is None:
        t.diverged = _("the loss became {loss} at step {step}: training diverged").format(
            loss=losses[bad], step=first + bad
        )
    report = {
        "step": t.step,
        "first_step": first,
        "losses": losses,
        "loss": sum(losses) / len(losses),
        "grad_norm": norms[-1],
        "lr": lr_at(t.config, t.step - 1),
        "val_loss": evals[-1][1] if evals else None,
        "val_step": evals[-1][0] if evals else None,
        "rows": rows,
    }
    if t.is_parabola:
        report["parabola"] = t.model.state_report()
        if rows and rows[-1].get("kind") == "train" and rows[-1]["step"] == t.step:
            rows[-1]["parabola"] = report["parabola"]  # x, f(x) and its gradient where it is
    report["detail"] = latest_detail(t, losses, norms, report.get("parabola"))
    if ranks is not None:
        report["world_size"] = t.world
        report["rank_ms"] = ranks
    return report


def latest_detail(t, losses: list, norms: list, parabola: dict | None) -> StepDetail:
    """The five phases of the report's latest step (``StepDetail``) from the figures the
    report has read back: its loss and gradient norm, the lr the schedule gave it, the
    parabola's x before and after it. A step taken by hand was read in full (its update's
    size too): that detail is the one sent. Otherwise the update's size is not measured (it
    would cost a copy of the weights every step) and zero_grad's count is the parameters
    holding a gradient now: the latest backward filled the same ones the step before had
    (none before a trainer's first step)."""
    kept, history = len(losses), len(t.train_history)
    hand, t.hand_detail = t.hand_detail, None
    if hand is not None and hand.step == t.step:
        return replace(hand, kept=kept, history_len=history)
    grad_norm, clip = norms[-1], t.config.grad_clip
    held = sum(1 for p in t.params if p.grad is not None)
    return StepDetail(
        step=t.step,
        lr=lr_at(t.config, t.step - 1),
        grads_cleared=held if t.steps_taken > 1 else 0,
        loss=losses[-1],
        grad_norm=grad_norm,
        clipped=clip > 0 and grad_norm > clip,
        update_norm=None,
        history_len=history,
        kept=kept,
        parabola=None if parabola is None else before_step(t.model.config, parabola),
    )


def before_step(c, state: dict) -> dict:
    """The parabola as the latest step's backward left it, from its state after the step:
    x where the gradient was taken (``grad_at``), f there (the step's loss), and ``x_after``."""
    x = state["grad_at"]
    if x is None:  # no gradient taken yet
        return {**state, "x_after": state["x"]}
    return {
        **state,
        "x": x,
        "f": c.a * x * x + c.b * x + c.c,
        "distance": abs(x - state["optimum"]),
        "x_after": state["x"],
    }
