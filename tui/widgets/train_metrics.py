"""Figures beside the chart: step / total, tokens/s, learning rate, gradient norm, elapsed, ETA;
for the parabola preset, x, f(x), x.grad with what its sign and size mean in words (LESSONS.md
L2), and the distance to the optimum. In a job of several ranks, the rank count under tokens/s
(the whole job's rate) and each rank's milliseconds per step, a slow one marked in colour and
named in words."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from core.i18n import _, ngettext

if TYPE_CHECKING:
    from core.contract import TrainProgress
from tui.format import fmt_duration, fmt_loss, fmt_num, fmt_rate
from tui.widgets.step_notes import grad_words

LISTED_RANKS = 4  # up to this many ranks each one's time shows; more: the fastest and slowest
SLOW_STYLE = "bold red"
VALUE_COLUMNS = 11  # what the metrics column leaves for a value at its 20 cells


def rank_rows(d: TrainProgress) -> list[tuple[str, str | Text]]:
    """The rows of a job of several ranks: how many, each rank's step time, the slow one."""
    # one rule for the app and the CLI; loaded with the first report (it loads the contract)
    from core.progress import rank_ms_text, slow_rank

    n = d.world_size
    ranks = ngettext("{n} rank", "{n} ranks", n).format(n=n)  # under tok/s: the whole job's
    every = ngettext("all {n} rank", "all {n} ranks", n).format(n=n)
    if cell_len(every) <= VALUE_COLUMNS:
        ranks = every
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
    rows.append((_("rank ms"), text))
    if slow is not None:
        words = _("rank {rank} {ratio}×").format(rank=slow[0], ratio=f"{slow[1]:.1f}")
        if cell_len(words) > VALUE_COLUMNS:
            words = _("rank {rank}").format(rank=slow[0])
        rows.append((_("slow"), Text(words, style=SLOW_STYLE)))
    return rows


class TrainMetrics(Widget):
    DEFAULT_CSS = "TrainMetrics { height: auto; }"

    data: reactive[TrainProgress | None] = reactive(None, always_update=True)
    """The latest train_progress event (or the new model's step and total)."""
    val_loss: reactive[float | None] = reactive(None)

    _rows = 0  # rows drawn last time: a change of height needs a new layout (height: auto)

    def render(self) -> Group:
        d = self.data
        rows: list[tuple[str, str | Text]] = [
            (_("step"), "0/-" if d is None else f"{d.step}/{d.steps}")
        ]
        p = d and d.parabola
        split = 0  # the rows above the gradient's words
        if p:
            rows += [
                ("x", _fixed(p["x"])),
                ("f(x)", _fixed(p["f"])),
                ("x.grad", _fixed(p.get("grad"))),
            ]
            split = len(rows)
            rows += [
                (_("optimum"), _fixed(p["optimum"])),
                (_("distance"), _fixed(p["distance"])),
            ]
        else:
            rows += [
                (_("loss"), fmt_loss(d and d.loss)),
                (_("val"), fmt_loss(self.val_loss)),
                ("tok/s", fmt_rate(d and d.tokens_per_s)),
            ]
        if d is not None and d.world_size and d.world_size > 1:
            rows += rank_rows(d)
        rows += [
            ("lr", fmt_num(d and d.lr)),
            ("‖grad‖", fmt_num(d and d.grad_norm)),
            (_("elapsed"), fmt_duration(d and d.elapsed_s)),
            (_("ETA"), fmt_duration(d and d.eta_s)),
        ]
        label_width = max(cell_len(label) for label, _value in rows)
        # under x.grad, across both columns: what its sign and size mean (L2)
        words = grad_words(p.get("grad"), self.size.width - 2) if p else ""
        if words:
            parts = [
                _grid(rows[:split], label_width, self.size.width),
                Text(f"↳ {words}"),
                _grid(rows[split:], label_width, self.size.width),
            ]
        else:
            parts = [_grid(rows, label_width, self.size.width)]
        height = len(rows) + (1 if words else 0)
        if height != self._rows:
            if self._rows:
                self.call_after_refresh(self.refresh, layout=True)
            self._rows = height
        return Group(*parts)


def _fixed(value) -> str:
    """A parabola figure to four decimals ("nan" and the like as they came)."""
    if isinstance(value, (int, float)) and math.isfinite(value):
        return f"{value:.4f}"
    return fmt_num(value)


def _grid(rows: list[tuple[str, str | Text]], label_width: int, width: int) -> Table | Text:
    """The rows as two columns, labels dim, as Rich's ``Table.grid(padding=(0, 1))`` draws
    them: each value padded to the widest in its own style. Drawn as lines of text where every
    value fits on its row (a table costs ~2 ms a report to lay out, in each paint while
    training); a value too wide for the column wraps in a table."""
    values = [Text(value) if isinstance(value, str) else value for _label, value in rows]
    value_width = max((v.cell_len for v in values), default=0)
    if label_width + 1 + value_width > width > 0:
        table = Table.grid(padding=(0, 1))
        table.add_column(style="dim", width=label_width)
        table.add_column()
        for label, value in rows:
            table.add_row(label, value)
        return table
    lines = Text(no_wrap=True, overflow="crop")
    for i, ((label, _cell), value) in enumerate(zip(rows, values)):
        if i:
            lines.append("\n")
        lines.append(label + " " * (label_width + 1 - cell_len(label)), "dim")
        lines.append_text(_padded(value, value_width))
    return lines


def _padded(value: Text, width: int) -> Text:
    """``value`` padded to ``width`` cells; the padding takes its whole-text style, as a table
    cell's does."""
    value = value.copy()
    value.pad_right(width - value.cell_len)
    if value.style:  # the base style as a span, so it survives being appended to the lines
        value.stylize(value.style, 0, len(value))
        value.style = ""
    return value
