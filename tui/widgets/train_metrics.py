"""Figures beside the chart: step / total, tokens/s, learning rate, gradient norm, elapsed, ETA;
for the parabola preset, x, f(x), x.grad and the distance to the optimum."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from textual.reactive import reactive
from textual.widget import Widget

if TYPE_CHECKING:
    from core.contract import TrainProgress
from tui.format import fmt_duration, fmt_loss, fmt_num, fmt_rate


class TrainMetrics(Widget):
    DEFAULT_CSS = "TrainMetrics { height: auto; }"

    data: reactive[TrainProgress | None] = reactive(None, always_update=True)
    """The latest train_progress event (or the new model's step and total)."""
    val_loss: reactive[float | None] = reactive(None)

    def render(self) -> Table:
        d = self.data
        table = Table.grid(padding=(0, 1))
        table.add_column(style="dim")
        table.add_column()
        rows = [("step", "0/-" if d is None else f"{d.step}/{d.steps}")]
        p = d and d.parabola
        if p:
            rows += [
                ("x", f"{p['x']:.4f}"),
                ("f(x)", f"{p['f']:.4f}"),
                ("x.grad", fmt_num(p.get("grad"), 4)),
                ("optimum", f"{p['optimum']:.4f}"),
                ("distance", f"{p['distance']:.4f}"),
            ]
        else:
            rows += [
                ("loss", fmt_loss(d and d.loss)),
                ("val", fmt_loss(self.val_loss)),
                ("tok/s", fmt_rate(d and d.tokens_per_s)),
            ]
        rows += [
            ("lr", fmt_num(d and d.lr)),
            ("‖grad‖", fmt_num(d and d.grad_norm)),
            ("elapsed", fmt_duration(d and d.elapsed_s)),
            ("ETA", fmt_duration(d and d.eta_s)),
        ]
        for label, value in rows:
            table.add_row(label, value)
        return table
