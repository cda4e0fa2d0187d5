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
    return merge_all([earlier, later])


def merge_all(reports: list[TrainProgress]) -> TrainProgress:
    """``merge`` over any number of reports, in order, in one pass (the losses are joined once,
    not once per report: a client that read nothing for a while has thousands waiting)."""
    first, last = reports[0], reports[-1]
    losses = [v for r in reports for v in r.losses]
    values = [as_float(v) for v in losses]
    if losses and all(v is not None for v in values):
        loss = sum(values) / len(values)
        loss = loss if math.isfinite(loss) else str(loss)
    else:
        loss = last.loss
    with_val = [r for r in reports if r.val_loss is not None]
    val = with_val[-1] if with_val else first
    samples = [r.sample for r in reports if r.sample is not None]
    rows = [row for r in reports for row in r.rows or ()]
    return replace(
        last,
        first_step=first.first_step,
        losses=losses,
        loss=loss,
        val_loss=val.val_loss,
        val_step=val.val_step,
        sample=samples[-1] if samples else None,
        rows=rows or None,
    )


def merge_dicts(*reports: dict) -> dict:
    """``merge_all`` on ``train_progress`` events' data."""
    return merge_all([TrainProgress.from_dict(r) for r in reports]).to_dict()


SLOW_RANK = 1.25  # a rank this many times the fastest's step time (or more) is marked slow


def slow_rank(rank_ms) -> tuple[int, float] | None:
    """The slowest rank and how many times the fastest rank's step time it takes, when that is
    :data:`SLOW_RANK` or more; None for one rank, even ranks, or times not measured."""
    times = [as_float(v) for v in rank_ms or ()]
    if len(times) < 2 or not all(t is not None and math.isfinite(t) for t in times):
        return None
    fastest, slowest = min(times), max(times)
    if fastest <= 0 or slowest < SLOW_RANK * fastest:
        return None
    return times.index(slowest), slowest / fastest


def rank_ms_text(rank_ms, sep: str = " · ") -> str:
    """Each rank's milliseconds per step: ``4.1 · 9.8`` (whole milliseconds from 100 up)."""
    out = []
    for v in rank_ms or ():
        f = as_float(v)
        if f is None or not math.isfinite(f):
            out.append("--" if f is None else str(f))
        else:
            out.append(format(f, ".1f" if f < 100 else ".0f"))
    return sep.join(out)
