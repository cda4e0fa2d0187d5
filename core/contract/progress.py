"""What a run tells its clients as it goes: the ``train_progress`` event and the detail of one
step's five phases (LESSONS.md L2), both for a step taken by hand (``train_step``'s reply) and
for the latest step of each report while a run goes (``TrainProgress.detail``). Imports no torch
and no UI library."""

from __future__ import annotations

from dataclasses import dataclass

from core.contract.base import Contract, arg, nested, optional


@dataclass(frozen=True)
class StepDetail(Contract):
    """What each of the five steps did in one step: ``optimizer.zero_grad()``, forward and loss,
    ``loss.backward()``, ``optimizer.step()``, monitor.

    A step taken by hand reads every figure back. While a run goes, each report carries its
    latest step's detail from what the report reads back anyway (no extra sync per step): the
    update's size is not measured there (``update_norm`` None; the step shows its lr)."""

    step: int = 0
    lr: float = 0.0
    grads_cleared: int = 0  # 1. parameters whose .grad zero_grad set to None (0 at the first)
    loss: float = 0.0  # 2. after the forward pass
    grad_norm: float = 0.0  # 3. after backward (before clipping)
    clipped: bool = False
    update_norm: float | None = None  # 4. ‖θ_after − θ_before‖; None: not measured (a run)
    history_len: int = 0  # 5. monitor: points in the loss history
    # 5. monitor: the step losses waiting on the device for the next report, this one's too
    # (each report reads them back in one sync; 1 when stepping by hand)
    kept: int | None = optional()
    # the parabola preset: x, f(x) and x.grad as backward left them (x before the step moves
    # it: f(x) is the loss), the optimum and the distance to it, and x_after, where the step
    # put x
    parabola: dict | None = None


@dataclass(frozen=True)
class TrainProgress(Contract):
    """The ``train_progress`` event: the losses since the last report and the run's pace.

    ``loss`` is the mean of ``losses``: the steps ``first_step`` to ``step``, those since the
    last report (:func:`loss_window`)."""

    step: int = 0
    first_step: int = 0
    losses: list = arg(kind=list, factory=list)
    loss: float | str | None = None  # a string ("nan", "inf") once the run diverges
    grad_norm: float | str | None = None
    lr: float | None = None
    val_loss: float | str | None = None
    val_step: int | None = None
    parabola: dict | None = optional()
    steps: int = 0
    steps_per_s: float | None = None
    tokens_per_s: float | None = None
    elapsed_s: float | None = None
    eta_s: float | None = None
    state: str = ""
    sample: str | None = optional()
    # set on a slow link only: each of ``losses`` is the mean of this many steps' losses
    stride: int | None = optional()
    # a job of several ranks only: how many, and each rank's milliseconds per step of its own
    # work (the part no rank waits on another for: a slow rank shows)
    world_size: int | None = optional()
    rank_ms: list | None = optional()
    rows: list | None = optional()  # the metrics rows of these steps (core.metric_log)
    detail: StepDetail | None = nested(StepDetail)  # the five phases of the latest step


def loss_window(progress: TrainProgress) -> int:
    """How many steps ``progress.loss`` is the mean of (0: none, a report of rows only)."""
    if not progress.losses or not progress.first_step:
        return 0
    return max(0, progress.step - progress.first_step + 1)


COMPILE_STATES = ("started", "done", "failed")


@dataclass(frozen=True)
class CompileState(Contract):
    """The ``compile`` event: torch.compile of the training step's forward pass began (the
    engine answers nothing until it ends: tens of seconds on a cold cache), finished, or failed
    (``message`` says why in one line; training goes on eager, the same step)."""

    state: str = "started"  # one of COMPILE_STATES
    step: int = 0  # the step being compiled
    seconds: float = 0.0  # done, failed: how long compiling took
    message: str = ""  # failed: what went wrong, and that the run goes on eager
