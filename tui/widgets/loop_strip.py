"""The five steps of the training loop as a strip (LESSONS.md L2): zero_grad, forward+loss,
backward, step, monitor. Each box shows what that step did in the latest step: the one taken
by hand (``n``), or during a run the latest step of each progress report (about four a second,
not every step). The words are cut to the boxes' width (``tui.widgets.step_notes``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.widgets.step_notes import PHASES, phase_label, step_notes

if TYPE_CHECKING:
    from core.contract import StepDetail


def cell_widths(width: int, n: int = len(PHASES)) -> list[int]:
    """``width`` cells shared by ``n`` boxes, the first ones a cell wider when it does not
    divide evenly."""
    base, extra = divmod(max(width, 0), n)
    return [base + (1 if i < extra else 0) for i in range(n)]


class LoopStrip(Widget):
    DEFAULT_CSS = "LoopStrip { height: 2; }"

    detail: reactive[StepDetail | None] = reactive(None)
    """The latest step's detail from the engine (a ``train_step`` reply or the ``detail`` of
    a progress report), or None before any step of this model."""
    running: reactive[bool] = reactive(False)

    def render(self) -> Table:
        d = self.detail
        widths = cell_widths(self.size.width)
        room = min(widths) - 1  # a blank cell between boxes
        table = Table.grid()
        for w in widths:
            table.add_column(width=w, no_wrap=True, overflow="crop")
        style = "bold green" if self.running else ("bold cyan" if d else "bold")
        labels = [phase_label(i, room) for i in range(len(PHASES))]
        table.add_row(*[Text(label, style=style) for label in labels])
        notes = step_notes(d, room)
        table.add_row(*[Text(note, style="dim" if d is None else "") for note in notes])
        return table
