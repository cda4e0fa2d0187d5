"""The run's metrics rows: one every ``every`` steps (and at the run's last step), one at each
evaluation. The engine sends them with its reports, keeps each signal's history for the charts
of a client that attaches, and appends them to the run's ``metrics.jsonl``: the charts and the
file hold the same figures. Imports no torch (the trainer hands it plain numbers).

A train row::

    {"kind": "train", "step": 10, "train_loss": 2.31, "lr": 0.001, "grad_norm": 0.84,
     "tokens_per_s": 13000.0, "elapsed_s": 1.9}

``train_loss`` is the mean of the steps' losses since the previous train row, ``grad_norm`` the
row's step's total gradient norm before clipping, ``tokens_per_s`` the tokens of those steps over
the seconds they took (evaluations left out), ``elapsed_s`` the seconds of training since the run
began (pauses and evaluations left out; a resumed run goes on counting). On CUDA a row also has
``mem_alloc_mb`` and ``mem_peak_mb``. An eval row: ``{"kind": "eval", "step", "val_loss",
"elapsed_s"}``. A value that is not finite is written as a string ("nan", "inf", "-inf").
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
from collections.abc import Callable

from core.history import LossHistory
from core.i18n import _

LOG_EVERY = 10  # steps between train rows unless the run says otherwise
SIGNALS = ("lr", "grad_norm", "tokens_per_s", "mem_alloc_mb", "mem_peak_mb")
SIGNAL_POINTS = 4096  # points each signal's history keeps (pairs merge beyond, extremes kept)


def _num(v: float | None):
    """A row's number: finite floats as they are, the others as their names."""
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else str(v)


def _eval_row(step: int, value: float, clock: float) -> dict:
    return {"kind": "eval", "step": step, "val_loss": _num(value), "elapsed_s": round(clock, 4)}


class MetricLog:
    """Turns the per-step figures of a report into rows and keeps each signal's history."""

    def __init__(self, every: int = LOG_EVERY) -> None:
        self.every = every
        self.elapsed = 0.0  # seconds of training so far, over every session of the run
        self.signals = {name: LossHistory(SIGNAL_POINTS) for name in SIGNALS}
        self.system: dict = {}  # the machine's latest figures, for each row (core.monitor)
        self._losses = 0.0
        self._steps = 0
        self._seconds = 0.0

    def rows(
        self,
        first: int,
        losses: list[float],
        norms: list[float],
        lrs: list[float],
        seconds: list[float],
        evals: list[tuple[int, float]],
        *,
        last_step: int,
        tokens_per_step: int,
        extra: dict | None = None,
    ) -> list[dict]:
        """The rows of steps ``first`` … ``first + len(losses) - 1`` and of their evaluations,
        in step order (an evaluation after the train row of its step). ``extra`` joins each
        train row (memory, ranks)."""
        out: list[dict] = []
        pending = sorted(evals)
        clock = self.elapsed
        for i, loss in enumerate(losses):
            step = first + i
            self._losses += loss
            self._steps += 1
            self._seconds += seconds[i]
            clock += seconds[i]
            if step % self.every == 0 or step == last_step:
                out.append(self._train_row(step, norms[i], lrs[i], clock, tokens_per_step, extra))
            while pending and pending[0][0] <= step:
                at, value = pending.pop(0)
                out.append(
                    {"kind": "eval", "step": at, "val_loss": _num(value), "elapsed_s": clock}
                )
        self.elapsed = clock
        return out

    def close(self, step: int, norm: float | None, lr: float, tokens_per_step: int) -> list[dict]:
        """The row of a window that ends before its ``every`` steps (a run stopped by hand)."""
        if not self._steps:
            return []
        return [self._train_row(step, norm, lr, self.elapsed, tokens_per_step, None)]

    def _train_row(self, step, norm, lr, clock, tokens_per_step, extra) -> dict:
        tokens_per_s = (
            tokens_per_step * self._steps / self._seconds
            if tokens_per_step and self._seconds > 0
            else None
        )
        row = {
            "kind": "train",
            "step": step,
            "train_loss": _num(self._losses / self._steps),
            "lr": lr,
            "grad_norm": _num(norm),
            "tokens_per_s": tokens_per_s,
            "elapsed_s": round(clock, 4),
        }
        row.update(self.system)
        if extra:
            row.update(extra)
        self._losses, self._steps, self._seconds = 0.0, 0, 0.0
        for name, history in self.signals.items():
            value = row.get(name)
            if isinstance(value, (int, float)):
                history.append(step, float(value))
        return row

    def state_dict(self) -> dict:
        return {
            "every": self.every,
            "elapsed_s": self.elapsed,
            "signals": {name: h.to_dict() for name, h in self.signals.items()},
        }

    def load_state_dict(self, state: dict | None) -> None:
        """A checkpoint's log; one written before rows were logged leaves it empty."""
        if not state:
            return
        self.elapsed = float(state.get("elapsed_s", 0.0))
        for name, data in state.get("signals", {}).items():
            if name in self.signals:
                self.signals[name] = LossHistory.from_dict(data)

    def histories(self) -> dict[str, dict]:
        """Each signal's history that holds points (``LossHistory.to_dict``)."""
        return {name: h.to_dict() for name, h in self.signals.items() if len(h)}


def _cut_torn_line(path: str) -> None:
    """A run killed in the middle of a write leaves a line with no newline: cut it off, so the
    next row starts a line of its own (a file that is not there, or whole, is left alone)."""
    try:
        fh = open(path, "rb+")
    except FileNotFoundError:
        return
    with fh:
        size = fh.seek(0, 2)
        if not size:
            return
        fh.seek(max(0, size - 65536))
        tail = fh.read()
        if tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n")
        fh.truncate(size - len(tail) + cut + 1 if cut >= 0 else max(0, size - len(tail)))


class MetricsFile:
    """``metrics.jsonl``, appended one row a line and flushed as written. A failed write (a full
    disk, a vanished folder) is said once through ``warn``; the run goes on without rows."""

    def __init__(self, path: str, warn: Callable[[str], None]) -> None:
        self.path = path
        self.warn = warn
        self.fh = None
        try:
            _cut_torn_line(path)
            self.fh = open(path, "a", encoding="utf-8")
        except OSError as exc:
            self._failed(exc)

    def write(self, rows: list[dict]) -> None:
        if self.fh is None or not rows:
            return
        try:
            self.fh.write("".join(json.dumps(r) + "\n" for r in rows))
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
        reason = _("the disk is full") if full else (exc.strerror or str(exc))
        self.warn(
            _("cannot write {path}: {reason}; training goes on without metrics rows").format(
                path=self.path, reason=reason
            )
        )
        self.close()
