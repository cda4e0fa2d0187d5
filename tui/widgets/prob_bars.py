"""Probability bars for the next character: one row per candidate, the winner highlighted,
whitespace drawn visibly, each with its probability in percent and its id."""

from __future__ import annotations

import textwrap

from textual.reactive import reactive

from core.contract import TopChar
from core.i18n import _
from tui.format import visible_char
from tui.widgets.rows import Row, Rows

EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(fraction: float, width: int) -> str:
    """A bar of ``fraction`` × ``width`` cells drawn with eighth blocks."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS[part] if part else "")).ljust(width)


class ProbBars(Rows):
    DEFAULT_CSS = "ProbBars { height: 1fr; min-height: 3; }"

    top: reactive[list[TopChar]] = reactive(list, always_update=True)
    """The candidates, most likely first."""
    vocab_size: reactive[int] = reactive(0)
    note: reactive[str] = reactive("")

    def watch_top(self) -> None:
        self.changed()

    def watch_vocab_size(self) -> None:
        self.changed()

    def watch_note(self) -> None:
        self.changed()

    def relabel(self) -> None:
        self.changed()  # the rows are kept until something changes: the language has

    def rows(self, width: int, height: int) -> list[Row]:
        if not self.top:  # the note wrapped at words: nothing of it cut at 80 columns
            # the pane's note: its own translation, or a text marked N_ translated here
            note = _(self.note) if self.note else _("no prediction yet")
            lines = textwrap.wrap(note, max(10, width)) or [""]
            return [[(line, "dim")] for line in lines]
        head = _("next character")
        if self.vocab_size:
            head = _("next character  (uniform 1/{vocab} = {percent:.2f}%)").format(
                vocab=self.vocab_size, percent=100 / self.vocab_size
            )
        out: list[Row] = [[(head[:width], "dim")]]
        bar_w = max(5, width - 20)
        best = self.top[0].prob
        for n, item in enumerate(self.top[: max(1, height - 1)]):
            winner = n == 0 and best > 0
            label = visible_char(item.char)
            out.append(
                [
                    (f" {label} ", "bold reverse" if winner else ""),
                    (" " if len(label) == 1 else "", ""),
                    (bar(item.prob, bar_w), "bold green" if winner else "green"),
                    (f" {100 * item.prob:5.1f}%", "bold" if winner else ""),
                    (f" {item.id:>4}", "dim"),
                ]
            )
        return out
