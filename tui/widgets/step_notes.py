"""The words of the five-step strip (LESSONS.md L2), each cut to the room it has: a step's
detail (``StepDetail``) as five short notes, and what the sign and size of the parabola's
``x.grad`` mean. Every function here picks the longest wording that fits ``width`` cells,
written out by hand from the longest down to the shortest: nothing is cut mid-word at 80
columns, and a wide terminal gets whole sentences."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.cells import cell_len

from core import i18n
from core.i18n import N_, _, ngettext
from tui.format import fmt_num

if TYPE_CHECKING:
    from core.contract import StepDetail

PHASES = ("zero_grad", "forward+loss", "backward", "step", "monitor")
# the calls as the course writes them, where a cell has the room
CALLS = ("optimizer.zero_grad()", "forward + loss", "loss.backward()", "optimizer.step()")
IDLE = (N_("clear .grad"), "loss = f(x)", N_("fill .grad"), "θ -= lr·∇", N_("keep loss"))
WORDED = {"monitor": N_("monitor")}  # the phases' short names that are words, not calls
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
        return [_("0: x is at the optimum"), _("0: at the optimum"), _("0: optimum"), "0"]
    if abs(grad) < NEAR_ZERO:
        return [
            _("≈0: x is near the optimum"),
            _("≈0: near the optimum"),
            _("≈0: near optimum"),
            "≈0",
        ]
    if grad < 0:
        return [_("negative: pushes x up"), _("<0: pushes x up"), _("<0: x goes up"), _("x up")]
    return [
        _("positive: pushes x down"),
        _(">0: pushes x down"),
        _(">0: x goes down"),
        _("x down"),
    ]


def grad_words(grad, width: int = 30) -> str:
    """``grad_phrases`` cut to ``width`` cells: the longest wording that fits."""
    phrases = grad_phrases(grad)
    return fit(phrases, width) if phrases else ""


def phase_label(i: int, width: int) -> str:
    """The heading of phase ``i``: the course's call where it fits, its short name if not."""
    names = [f"{i + 1}·{CALLS[i]}"] if i < len(CALLS) else []
    name = i18n._(WORDED[PHASES[i]]) if PHASES[i] in WORDED else PHASES[i]
    return fit([*names, f"{i + 1}·{name}", f"{i + 1}"], width)


def _num(value, spec: str) -> str:
    return format(value, spec) if _finite(value) else fmt_num(value)


def step_notes(d: StepDetail | None, width: int) -> list[str]:
    """The five notes under the headings, each fitting ``width`` cells: what zero_grad
    cleared, the loss, the gradient, the step (its change, or the lr when a run does not
    measure it), what monitoring kept. None: the idle notes (what each step does)."""
    if d is None:
        return [fit([i18n._(note)], width) for note in IDLE]
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
        return [
            _("no .grad yet: nothing to clear"),
            _("nothing to clear"),
            _("none to clear"),
            "0",
        ]
    return [
        _("{n} .grad set to None").format(n=n),
        f"{n} .grad → None",
        _("{n} cleared").format(n=n),
        f"{n}",
    ]


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
        _("loss {loss} (cross-entropy)").format(loss=_num(d.loss, ".4f")),
        _("loss") + f" {_num(d.loss, '.4f')}",
        _("loss") + f" {fmt_num(d.loss)}",
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
    norm, g = fmt_num(d.grad_norm, 4), fmt_num(d.grad_norm)
    if d.clipped:
        worded = [
            _("‖grad‖ {norm}, then clipped").format(norm=norm),
            _("‖grad‖ {norm} clip").format(norm=norm),
            _("‖g‖ {norm} clip").format(norm=g),
        ]
    else:
        worded = [f"‖grad‖ {norm}", f"‖grad‖ {norm}", f"‖g‖ {g}"]
    return fit([*worded, f"‖g‖ {g}"], width)


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
    return [_("θ -= lr·∇ at lr {lr}").format(lr=lr), f"lr {lr}", lr]


def _monitor(d: StepDetail) -> list[str]:
    n = 1 if d.kept is None else d.kept
    history = d.history_len
    return [
        ngettext(
            "kept {n} loss · history {history}", "kept {n} losses · history {history}", n
        ).format(n=n, history=history),
        ngettext("kept {n} loss", "kept {n} losses", n).format(n=n),
        _("kept {n}").format(n=n),
        f"+{n}",
    ]
