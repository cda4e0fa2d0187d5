"""Figures beside the chart: step / total, tokens/s, learning rate, gradient norm, elapsed, ETA;
for the parabola preset, x, f(x), x.grad and the distance to the optimum. In a job of several
ranks, the rank count under tokens/s (the whole job's rate) and each rank's milliseconds per
step, a slow one marked in colour and named in words."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

if TYPE_CHECKING:
    from core.contract import TrainProgress
from tui.format import fmt_duration, fmt_loss, fmt_num, fmt_rate

LISTED_RANKS = 4  # up to this many ranks each one's time shows; more: the fastest and slowest
SLOW_STYLE = "bold red"
VALUE_COLUMNS = 11  # what the metrics column leaves for a value at its 20 cells


def rank_rows(d: TrainProgress) -> list[tuple[str, str | Text]]:
    """The rows of a job of several ranks: how many, each rank's step time, the slow one."""
    # one rule for the app and the CLI; loaded with the first report (it loads the contract)
    from core.progress import rank_ms_text, slow_rank

    ranks = f"{d.world_size} ranks"  # under tok/s: the rate is the whole job's
    if len(ranks) + 4 <= VALUE_COLUMNS:
        ranks = f"all {ranks}"
    rows: list[tuple[str, str | Text]] = [("", ranks)]
    times = list(d.rank_ms or [])
    if not times:
        return rows
    slow = slow_rank(times)
    text = Text()
    if len(times) <= LISTED_RANKS:
        for i, value in enumerate(times):
            if i:
                text.append(" · ")
            marked = slow is not None and i == slow[0]
            text.append(rank_ms_text([value]), style=SLOW_STYLE if marked else "")
    else:
        low, high = rank_ms_text([min(times)]), rank_ms_text([max(times)])
        text.append(f"{low}–")
        text.append(high, style=SLOW_STYLE if slow else "")
    rows.append(("rank ms", text))
    if slow is not None:
        words = f"rank {slow[0]} {slow[1]:.1f}×"
        if len(words) > VALUE_COLUMNS:
            words = f"rank {slow[0]}"
        rows.append(("slow", Text(words, style=SLOW_STYLE)))
    return rows


class TrainMetrics(Widget):
    DEFAULT_CSS = "TrainMetrics { height: auto; }"

    data: reactive[TrainProgress | None] = reactive(None, always_update=True)
    """The latest train_progress event (or the new model's step and total)."""
    val_loss: reactive[float | None] = reactive(None)

    _rows = 0  # rows drawn last time: a change of height needs a new layout (height: auto)

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
        if d is not None and d.world_size and d.world_size > 1:
            rows += rank_rows(d)
        rows += [
            ("lr", fmt_num(d and d.lr)),
            ("‖grad‖", fmt_num(d and d.grad_norm)),
            ("elapsed", fmt_duration(d and d.elapsed_s)),
            ("ETA", fmt_duration(d and d.eta_s)),
        ]
        for label, value in rows:
            table.add_row(label, value)
        if len(rows) != self._rows:
            if self._rows:
                self.call_after_refresh(self.refresh, layout=True)
            self._rows = len(rows)
        return table
