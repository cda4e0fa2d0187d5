"""Two training reports made one: what a headless run does with a save's own report, and what
the engine does for a client on a slow link (reports over its byte budget are merged, never
dropped). Imports no torch and no UI library."""

from __future__ import annotations

import math
from dataclasses import replace

from core.contract.ops import TrainProgress


def as_float(v) -> float | None:
    """A reported number as a float (nan and inf included); None when it is not a number."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def merge(earlier: TrainProgress, later: TrainProgress) -> TrainProgress:
    """One report for the steps of two: the losses of both, the mean over them, the later pace,
    the latest validation loss and sample either one carried."""
    losses = list(earlier.losses) + list(later.losses)
    values = [as_float(v) for v in losses]
    if losses and all(v is not None for v in values):
        loss = sum(values) / len(values)
        loss = loss if math.isfinite(loss) else str(loss)
    else:
        loss = later.loss
    val = later.val_loss if later.val_loss is not None else earlier.val_loss
    val_step = later.val_step if later.val_loss is not None else earlier.val_step
    return replace(
        later,
        first_step=earlier.first_step,
        losses=losses,
        loss=loss,
        val_loss=val,
        val_step=val_step,
        sample=later.sample if later.sample is not None else earlier.sample,
    )


def merge_dicts(earlier: dict, later: dict) -> dict:
    """``merge`` on two ``train_progress`` events' data."""
    return merge(TrainProgress.from_dict(earlier), TrainProgress.from_dict(later)).to_dict()
