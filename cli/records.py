"""What headless ``torchdeck train`` writes about a run: the live progress line, the plain
one-line record, and the closing verdict on the loss (the engine writes ``metrics.jsonl``).

No torch and no I/O. Any number may arrive as a float, as None (not measured), or, once a run
diverges, as one of the strings ``"nan"``, ``"inf"``, ``"-inf"`` (the protocol sends non-finite
floats as strings): every formatter here takes all of them.
"""

from __future__ import annotations

import math

from core.contract import CompileState, TrainProgress
from core.fmt import fmt_duration, fmt_rate
from core.progress import as_float as as_float
from core.progress import merge as merge
from core.progress import rank_ms_text, slow_rank

LINE_COLUMNS = 80  # the tty line fits an 80-column terminal (a wrapped line is not redrawn)


def speed_words(info) -> str:
    """How the steps compute, for the run's first line: ``bf16 · compiled``."""
    return info.precision + (" · compiled" if info.compile else "")


def compile_line(data: dict) -> str:
    """A ``compile`` event (a CompileState) as the line a headless run prints."""
    state = CompileState.from_dict(data)
    if state.state == "started":
        return (
            f"compiling the training step (torch.compile) at step {state.step}: the first "
            "run takes tens of seconds, a later one reads the cache"
        )
    if state.state == "done":
        return f"compiled in {state.seconds:.1f} s; training goes on compiled"
    return f"warning: {state.message}"


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


def ranks_words(p: TrainProgress) -> str:
    """``2 ranks``, with ``, r1 slow`` when rank 1 is slow; "" for a single process."""
    if not p.world_size or p.world_size < 2:
        return ""
    slow = slow_rank(p.rank_ms)
    return f"{p.world_size} ranks" + (f", r{slow[0]} slow" if slow else "")


def progress_line(p: TrainProgress, val, width: int = 24) -> str:
    """The tty line, at most :data:`LINE_COLUMNS` wide: the bar shrinks to make room (and is left
    out under 6 cells), the text is cut last."""
    step, steps = p.step, p.steps
    parts = [
        f"{step}/{steps}",
        f"loss {num(p.loss)}",
        f"val {num(val)}",
        f"{_rate(p.tokens_per_s)} tok/s",
        ranks_words(p),
        f"ETA {fmt_duration(as_float(p.eta_s))}",
    ]
    text = "  ".join(x for x in parts if x)
    width = min(width, LINE_COLUMNS - 1 - len(text))
    if width < 6:
        return text if len(text) <= LINE_COLUMNS else text[: LINE_COLUMNS - 1] + "…"
    filled = int(width * min(1.0, step / max(1, steps)))
    return "█" * filled + "░" * (width - filled) + " " + text


def plain_record(p: TrainProgress) -> str:
    parts = [f"step={p.step}/{p.steps}", f"loss={num(p.loss)}"]
    if p.val_loss is not None:
        parts.append(f"val_loss={num(p.val_loss)}")
    parts += [
        f"lr={num(p.lr, '.3g')}",
        f"tokens_per_s={num(p.tokens_per_s or 0, '.0f')}",
    ]
    if p.world_size and p.world_size > 1:  # tokens_per_s is the whole job's
        parts.append(f"ranks={p.world_size}")
        if p.rank_ms:
            parts.append(f"rank_ms={rank_ms_text(p.rank_ms, ',')}")
        slow = slow_rank(p.rank_ms)
        if slow:
            parts.append(f"slow_rank={slow[0]}")
    parts.append(f"elapsed_s={num(p.elapsed_s or 0, '.1f')}")
    if p.parabola:
        x = p.parabola
        parts += [f"{k}={num(x.get(k))}" for k in ("x", "f", "grad", "optimum")]
    return " ".join(parts)


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


def summary_lines(run, path: str | None) -> list[str]:
    """The last lines of a finished headless run (``cli.headless.TrainRun``): where it ended,
    its pace, the parabola's answer, and a warning when training made the model worse."""
    d = run.last
    elapsed = d.elapsed_s if is_finite(d.elapsed_s) else 0.0
    trained = d.step - run.start_step
    rate = (
        f" · {fmt_rate(trained * run.tokens_per_step / elapsed)} tok/s"
        if elapsed > 0 and run.tokens_per_step
        else ""
    )
    lines = [
        f"done: step {d.step} · train loss {num(d.loss)} · val loss "
        f"{num(run.last_val)} · {elapsed:.1f} s{rate} · checkpoint {path}"
    ]
    if d.parabola:
        p = d.parabola
        lines.append(
            f"parabola: x = {num(p.get('x'))} (optimum {num(p.get('optimum'))}, distance "
            f"{num(p.get('distance'))}), f(x) = {num(p.get('f'))}"
        )
    warning = loss_warning(
        run.first_loss,
        {"train": d.loss, "validation": run.last_val},
        run.info.vocab_size if run.info.is_language_model else None,
        run.info.train_config.get("lr"),
    )
    if warning:
        lines.append(warning)
    return lines
