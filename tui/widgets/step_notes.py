"""The words of the five-step strip (LESSONS.md L2), each cut to the room it has: a step's
detail (``StepDetail``) as five short notes, and what the sign and size of the parabola's
``x.grad`` mean. Every function here picks the longest wording that fits ``width`` cells,
written out by hand from the longest down to the shortest: nothing is cut mid-word at 80
columns, and a wide terminal gets whole sentences."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.cells import cell_len

from tui.format import fmt_num

if TYPE_CHECKING:
    from core.contract import StepDetail

PHASES = ("zero_grad", "forward+loss", "backward", "step", "monitor")
# the calls as the course writes them, where a cell has the room
CALLS = ("optimizer.zero_grad()", "forward + loss", "loss.backward()", "optimizer.step()")
IDLE = ("clear .grad", "loss = f(x)", "fill .grad", "θ -= lr·∇", "keep loss")
NEAR_ZERO = 0.1
"""|x.grad| below this is "near zero": the parabola's x.grad is 6·(x − 1/3), so x is within
0.017 of the optimum (it starts at −8, x = −1; the seed's 80 steps at lr 0.01 end at −0.056)."""


def fit(variants: list[str], width: int) -> str:
    """The first of ``variants`` (longest first) that fits ``width`` cells; the last one cut
    with an ellipsis when none does."""
    for text in variants:
        if cell_len(text) <= width:
            return text
    last = variants[-1]
    if width <= 0:
        return ""
    while cell_len(last) > width - 1:
        last = last[:-1]
    return last + "…"


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def grad_phrases(grad) -> list[str]:
    """What the sign and size of x.grad mean (L2), longest first: a negative gradient pushes x
    up, a positive one down, near zero x is near the optimum. [] for no gradient (or a
    non-finite one)."""
    if not _finite(grad):
        return []
    if grad == 0:
        return ["0: x is at the optimum", "0: at the optimum", "0: optimum", "0"]
    if abs(grad) < NEAR_ZERO:
        return ["≈0: x is near the optimum", "≈0: near the optimum", "≈0: near optimum", "≈0"]
    if grad < 0:
        return ["negative: pushes x up", "<0: pushes x up", "<0: x goes up", "x up"]
    return ["positive: pushes x down", ">0: pushes x down", ">0: x goes down", "x down"]


def grad_words(grad, width: int = 30) -> str:
    """``grad_phrases`` cut to ``width`` cells: the longest wording that fits."""
    phrases = grad_phrases(grad)
    return fit(phrases, width) if phrases else ""


def phase_label(i: int, width: int) -> str:
    """The heading of phase ``i``: the course's call where it fits, its short name if not."""
    names = [f"{i + 1}·{CALLS[i]}"] if i < len(CALLS) else []
    return fit([*names, f"{i + 1}·{PHASES[i]}", f"{i + 1}"], width)


def _num(value, spec: str) -> str:
    return format(value, spec) if _finite(value) else fmt_num(value)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "es")


def step_notes(d: StepDetail | None, width: int) -> list[str]:
    """The five notes under the headings, each fitting ``width`` cells: what zero_grad
    cleared, the loss, the gradient, the step (its change, or the lr when a run does not
    measure it), what monitoring kept. None: the idle notes (what each step does)."""
    if d is None:
        return [fit([note], width) for note in IDLE]
    return [
        fit(_cleared(d), width),
        fit(_loss(d), width),
        _backward(d, width),
        fit(_step(d), width),
        fit(_monitor(d), width),
    ]


def _cleared(d: StepDetail) -> list[str]:
    n = d.grads_cleared
    if not n:
        return ["no .grad yet: nothing to clear", "nothing to clear", "none to clear", "0"]
    return [f"{n} .grad set to None", f"{n} .grad → None", f"{n} cleared", f"{n}"]


def _loss(d: StepDetail) -> list[str]:
    p = d.parabola
    if p:
        x, f = p["x"], p["f"]
        return [
            f"loss = f({_num(x, '.4f')}) = {_num(f, '.4f')}",
            f"f({_num(x, '.2f')})={_num(f, '.3f')}",
            f"f(x)={fmt_num(f)}",
        ]
    return [
        f"loss {_num(d.loss, '.4f')} (cross-entropy)",
        f"loss {_num(d.loss, '.4f')}",
        f"loss {fmt_num(d.loss)}",
        fmt_num(d.loss),
    ]


def _backward(d: StepDetail, width: int) -> str:
    p = d.parabola
    if p:
        g = p.get("grad")
        numbers = [f"x.grad {_num(g, '.4f')}", f"x.grad {_num(g, '.2f')}"]
        # beside the number, only wordings that say what its sign means (not "x up")
        worded = [f"{n} {w}" for w in grad_phrases(g)[:3] for n in numbers]
        return fit([*worded, *numbers, f"x.grad {fmt_num(g)}", fmt_num(g)], width)
    norm = fmt_num(d.grad_norm, 4)
    clip = ", then clipped" if d.clipped else ""
    short = " clip" if d.clipped else ""
    return fit(
        [
            f"‖grad‖ {norm}{clip}",
            f"‖grad‖ {norm}{short}",
            f"‖g‖ {fmt_num(d.grad_norm)}{short}",
            f"‖g‖ {fmt_num(d.grad_norm)}",
        ],
        width,
    )


def _step(d: StepDetail) -> list[str]:
    lr = fmt_num(d.lr)
    p = d.parabola
    after = p.get("x_after") if p else None
    if p and after is not None:
        x = p["x"]
        moved = after - x if _finite(after) and _finite(x) else None
        return [
            f"lr {lr}: x {_num(x, '.4f')} → {_num(after, '.4f')}",
            f"x {_num(x, '.4f')}→{_num(after, '.4f')}",
            f"x {_num(x, '.2f')}→{_num(after, '.2f')}",
            f"Δx {_num(moved, '+.3g')}",
        ]
    if d.update_norm is not None:
        size = fmt_num(d.update_norm)
        return [f"lr {lr}, ‖Δθ‖ {size}", f"‖Δθ‖ {size}", size]
    return [f"θ -= lr·∇ at lr {lr}", f"lr {lr}", lr]


def _monitor(d: StepDetail) -> list[str]:
    n = 1 if d.kept is None else d.kept
    return [
        f"kept {_plural(n, 'loss')} · history {d.history_len}",
        f"kept {_plural(n, 'loss')}",
        f"kept {n}",
        f"+{n}",
    ]
