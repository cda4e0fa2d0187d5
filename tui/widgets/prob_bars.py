"""Probability bars for the next character: one row per candidate, the winner highlighted,
whitespace drawn visibly, each with its probability in percent and its id."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from core.contract import TopChar
from tui.format import visible_char

EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(fraction: float, width: int) -> str:
    """A bar of ``fraction`` × ``width`` cells drawn with eighth blocks."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS[part] if part else "")).ljust(width)


class ProbBars(Widget):
    DEFAULT_CSS = "ProbBars { height: 1fr; min-height: 3; }"

    top: reactive[list[TopChar]] = reactive(list, always_update=True)
    """The candidates, most likely first."""
    vocab_size: reactive[int] = reactive(0)
    note: reactive[str] = reactive("")

    def render(self) -> Text:
        if not self.top:
            return Text.from_markup(f"[dim]{self.note or 'no prediction yet'}[/dim]")
        width = self.size.width
        rows = max(1, self.size.height - 1)
        bar_w = max(5, width - 20)
        text = Text()
        head = "next character"
        if self.vocab_size:
            head += f"  (uniform 1/{self.vocab_size} = {100 / self.vocab_size:.2f}%)"
        text.append(head[:width] + "\n", style="dim")
        best = self.top[0].prob
        for n, item in enumerate(self.top[:rows]):
            winner = n == 0 and best > 0
            label = visible_char(item.char)
            style = "bold reverse" if winner else ""
            text.append(f" {label} ", style=style)
            text.append(" " if len(label) == 1 else "")
            text.append(bar(item.prob, bar_w), style="bold green" if winner else "green")
            text.append(f" {100 * item.prob:5.1f}%", style="bold" if winner else "")
            text.append(f" {item.id:>4}", style="dim")
            if n < min(rows, len(self.top)) - 1:
                text.append("\n")
        return text
