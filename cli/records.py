"""What headless ``torchdeck train`` writes about a run: the live progress line, the plain
one-line record, the ``metrics.jsonl`` record, and the closing verdict on the loss.

No torch and no I/O. Any number may arrive as a float, as None (not measured), or, once a run
diverges, as one of the strings ``"nan"``, ``"inf"``, ``"-inf"`` (the protocol sends non-finite
floats as strings): every formatter here takes all of them. :class:`MetricsFile` writes the
records and survives a full disk.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
from collections.abc import Callable
from pathlib import Path

from core.contract import TrainProgress
from core.fmt import fmt_duration, fmt_rate
from core.progress import as_float as as_float
from core.progress import merge as merge


def is_finite(v) -> bool:
    f = as_float(v)
    return f is not None and math.isfinite(f)


def num(v, spec: str = ".4f") -> str:
    """``0.1234`` for a number, ``nan``/``inf``/``-inf`` as they are, ``--`` when unknown."""
    f = as_float(v)
    if f is None:
        return "--"
    return format(f, spec) if math.isfinite(f) else str(f)


def _rate(v) -> str:
    f = as_float(v)
    return fmt_rate(f if f is not None and math.isfinite(f) else None)


def progress_line(p: TrainProgress, val, width: int = 24) -> str:
    step, steps = p.step, p.steps
    filled = int(width * min(1.0, step / max(1, steps)))
    bar = "█" * filled + "░" * (width - filled)
    return (
        f"{bar} {step}/{steps}  loss {num(p.loss)}  val {num(val)}  "
        f"{_rate(p.tokens_per_s)} tok/s  ETA {fmt_duration(as_float(p.eta_s))}"
    )


def plain_record(p: TrainProgress) -> str:
    parts = [f"step={p.step}/{p.steps}", f"loss={num(p.loss)}"]
    if p.val_loss is not None:
        parts.append(f"val_loss={num(p.val_loss)}")
    parts += [
        f"lr={num(p.lr, '.3g')}",
        f"tokens_per_s={num(p.tokens_per_s or 0, '.0f')}",
        f"elapsed_s={num(p.elapsed_s or 0, '.1f')}",
    ]
    if p.parabola:
        x = p.parabola
        parts += [f"{k}={num(x.get(k))}" for k in ("x", "f", "grad", "optimum")]
    return " ".join(parts)


def metrics_record(p: TrainProgress) -> dict:
    rec = {
        "step": p.step,
        "train_loss": p.loss,
        "lr": p.lr,
        "grad_norm": p.grad_norm,
        "tokens_per_s": p.tokens_per_s,
        "elapsed_s": p.elapsed_s,
    }
    if p.val_loss is not None:
        rec["val_loss"] = p.val_loss
    if p.parabola:
        rec["parabola"] = p.parabola
    return rec


def loss_warning(start, finals: dict, vocab_size: int | None, lr) -> str | None:
    """A warning when a finished run ended worse than it began. ``start`` is the first step's
    loss; ``finals`` the last train and validation losses by name. The rule: a final loss above
    the starting loss *and*, for a language model, above ln(vocab size), the loss of a uniform
    guess over the characters (an untrained model starts about there). Worse than both means
    training made the model worse than knowing nothing, almost always a learning rate that is
    too high; a short run that has not got far yet, or noise on a plateau, stays below one."""
    f0 = as_float(start)
    if f0 is None or not math.isfinite(f0):
        return None
    uniform = math.log(vocab_size) if vocab_size and vocab_size > 1 else None
    for name, value in finals.items():
        f1 = as_float(value)
        if f1 is None or not math.isfinite(f1) or f1 <= f0:
            continue
        if uniform is not None and f1 <= uniform:
            continue
        guess = (
            f" and than a uniform guess over the {vocab_size} characters "
            f"(ln {vocab_size} = {uniform:.2f})"
            if uniform is not None
            else ""
        )
        return (
            f"warning: the final {name} loss {num(f1, '.4g')} is worse than at the start "
            f"({num(f0, '.4g')}){guess}: the learning rate {num(lr, 'g')} is probably too "
            "high; the checkpoint was saved, but try a smaller --lr"
        )
    return None


class MetricsFile:
    """``metrics.jsonl``, appended one record a line. A failed write (a full disk, a vanished
    folder) is said once in one sentence; the run goes on without records."""

    def __init__(self, path: Path, say: Callable[[str], None]) -> None:
        self.path = path
        self.say = say
        self.fh = None
        try:
            self.fh = open(path, "a", encoding="utf-8")
        except OSError as exc:
            self._failed(exc)

    def write(self, record: dict) -> None:
        if self.fh is None:
            return
        try:
            self.fh.write(json.dumps(record) + "\n")
            self.fh.flush()
        except OSError as exc:
            self._failed(exc)

    def close(self) -> None:
        if self.fh is not None:
            with contextlib.suppress(OSError):
                self.fh.close()
            self.fh = None

    def _failed(self, exc: OSError) -> None:
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        reason = "the disk is full" if full else (exc.strerror or str(exc))
        self.say(
            f"warning: cannot write {self.path}: {reason}; training goes on without metrics records"
        )
        self.close()
