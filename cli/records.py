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
from core.i18n import N_, _, ngettext
from core.progress import as_float as as_float
from core.progress import merge as merge
from core.progress import rank_ms_text, slow_rank

LINE_COLUMNS = 80  # the tty line fits an 80-column terminal (a wrapped line is not redrawn)


def speed_words(info) -> str:
    """How the steps compute, for the run's first line: ``bf16 · compiled``."""
    return info.precision + (" · " + _("compiled") if info.compile else "")


def first_line(info, out) -> str:
    """A headless run's first line: the model, its size, where and how it trains, the corpus,
    and the run folder ``out``."""
    corpus = info.corpus or {}
    where = ""
    if corpus.get("source"):
        where = " · " + _("corpus {source} ({chars} chars)").format(
            source=corpus.get("source"), chars=f"{corpus.get('chars', 0):,}"
        )
    ranks = ""
    if info.world_size > 1:
        ranks = " × " + _("{n} processes").format(n=info.world_size)
    params = _("{n} parameters").format(n=f"{info.params:,}")
    return (
        f"torchdeck train: {info.model_name} · {params} · {info.device}{ranks} · "
        f"{speed_words(info)}{where} · " + _("out {folder}").format(folder=out)
    )


def diverged_line(run, state, ckpt) -> str:
    """What a headless run says when its loss diverged: why, at which learning rate, what is
    kept of it, and what to try."""
    reason = state.reason.split(";")[0].strip() or _("the loss became non-finite")
    lr = num(run.info.train_config.get("lr"), "g")
    if run.saved is not None:
        said = _(
            "error: {reason} with learning rate {lr}; the weights were not saved; {path} still "
            "holds step {step}. Train again with a smaller --lr."
        )
    elif run.args.resume:
        said = _(
            "error: {reason} with learning rate {lr}; the weights were not saved; {path} is "
            "untouched. Train again with a smaller --lr."
        )
    else:
        said = _(
            "error: {reason} with learning rate {lr}; the weights were not saved. Train again "
            "with a smaller --lr."
        )
    step = run.saved[0] if run.saved is not None else None
    return said.format(reason=reason, lr=lr, path=ckpt, step=step)


def compile_line(data: dict) -> str:
    """A ``compile`` event (a CompileState) as the line a headless run prints."""
    state = CompileState.from_dict(data)
    if state.state == "started":
        return _(
            "compiling the training step (torch.compile) at step {step}: the first "
            "run takes tens of seconds, a later one reads the cache"
        ).format(step=state.step)
    if state.state == "done":
        return _("compiled in {seconds} s; training goes on compiled").format(
            seconds=f"{state.seconds:.1f}"
        )
    return _("warning: {message}").format(message=state.message)


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
    if slow:
        return _("{n} ranks, r{rank} slow").format(n=p.world_size, rank=slow[0])
    return ngettext("{n} rank", "{n} ranks", p.world_size).format(n=p.world_size)


def progress_line(p: TrainProgress, val, width: int = 24) -> str:
    """The tty line, at most :data:`LINE_COLUMNS` wide: the bar shrinks to make room (and is left
    out under 6 cells), the text is cut last."""
    from rich.cells import cell_len, set_cell_size

    step, steps = p.step, p.steps
    parts = [
        f"{step}/{steps}",
        _("loss {loss}").format(loss=num(p.loss)),
        _("val {loss}").format(loss=num(val)),
        f"{_rate(p.tokens_per_s)} tok/s",
        ranks_words(p),
        _("ETA {time}").format(time=fmt_duration(as_float(p.eta_s))),
    ]
    text = "  ".join(x for x in parts if x)
    cells = cell_len(text)
    width = min(width, LINE_COLUMNS - 1 - cells)
    if width < 6:
        return text if cells <= LINE_COLUMNS else set_cell_size(text, LINE_COLUMNS - 1) + "…"
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
        if uniform is not None:
            said = _(
                "warning: the final {name} loss {loss} is worse than at the start ({start}) "
                "and than a uniform guess over the {vocab} characters (ln {vocab} = {uniform}): "
                "the learning rate {lr} is probably too high; the checkpoint was saved, but try "
                "a smaller --lr"
            )
        else:
            said = _(
                "warning: the final {name} loss {loss} is worse than at the start ({start}): "
                "the learning rate {lr} is probably too high; the checkpoint was saved, but try "
                "a smaller --lr"
            )
        return said.format(
            name=_(name),
            loss=num(f1, ".4g"),
            start=num(f0, ".4g"),
            vocab=vocab_size,
            uniform=f"{uniform:.2f}" if uniform is not None else "",
            lr=num(lr, "g"),
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
    done = _(
        "done: step {step} · train loss {loss} · val loss {val_loss} · {seconds} s{rate} · "
        "checkpoint {path}"
    )
    lines = [
        done.format(
            step=d.step,
            loss=num(d.loss),
            val_loss=num(run.last_val),
            seconds=f"{elapsed:.1f}",
            rate=rate,
            path=path,
        )
    ]
    if d.parabola:
        p = d.parabola
        said = _("parabola: x = {x} (optimum {optimum}, distance {distance}), f(x) = {f}")
        lines.append(
            said.format(
                x=num(p.get("x")),
                optimum=num(p.get("optimum")),
                distance=num(p.get("distance")),
                f=num(p.get("f")),
            )
        )
    warning = loss_warning(
        run.first_loss,
        {N_("train"): d.loss, N_("validation"): run.last_val},
        run.info.vocab_size if run.info.is_language_model else None,
        run.info.train_config.get("lr"),
    )
    if warning:
        lines.append(warning)
    return lines
