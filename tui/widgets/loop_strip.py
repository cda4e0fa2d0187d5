"""The five steps of the training loop as a strip (LESSONS.md L2). Stepping one step at a time
fills each box with what that step just did."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

if TYPE_CHECKING:
    from core.contract import StepDetail
from tui.format import fmt_num

PHASES = ("zero_grad", "forward+loss", "backward", "step", "monitor")


class LoopStrip(Widget):
    DEFAULT_CSS = "LoopStrip { height: 3; }"

    detail: reactive[StepDetail | None] = reactive(None)
    """The last single step's detail from the engine (train_step), or None."""
    running: reactive[bool] = reactive(False)

    def render(self) -> Table:
        d = self.detail
        if d is None:
            notes = ["clear .grad", "loss = f(x)", "fill .grad", "θ -= lr·∇", "keep loss"]
        else:
            p = d.parabola
            loss_note = f"loss {fmt_num(d.loss, 4)}"
            if p:
                loss_note = f"f({p['x']:.4f})={p['f']:.4f}"
            grad_note = f"‖g‖ {fmt_num(d.grad_norm)}" + (" clip" if d.clipped else "")
            if p:
                grad_note = f"x.grad {p['grad']:.4f}"
            notes = [
                f"{d.grads_cleared} grads",
                loss_note,
                grad_note,
                f"‖Δθ‖ {fmt_num(d.update_norm)}",
                f"step {d.step}",
            ]
        table = Table.grid(expand=True)
        for _ in PHASES:
            table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        style = "bold green" if self.running else ("bold cyan" if d else "bold")
        table.add_row(*[Text(f"{i + 1}·{name}", style=style) for i, name in enumerate(PHASES)])
        table.add_row(*[Text(n, style="dim" if d is None else "") for n in notes])
        return table
