"""The pane tabs under the status bar: each pane's name and key, the shown one lit, and a bar
under them that marks it. A click on a name shows that pane.

Two rows drawn through the line API. Textual's ``TabbedContent`` drew the same, but a switch
restyled its tab widgets, scrolled the tab row and animated the bar's move for 0.4 s: about
4 ms of each pane switch before the new pane's layout could start, and a repaint every frame
for the animation after it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.style import Style
from textual import events
from textual.message import Message
from textual.reactive import reactive

from core.i18n import _
from tui.widgets.rows import Row, Rows

BAR, LEFT_END, RIGHT_END = "━", "╸", "╺"


class PaneTabs(Rows):
    DEFAULT_CSS = """
    PaneTabs {
        height: 2;
        width: 1fr;
    }
    PaneTabs > .pane-tabs--tab {
        color: $foreground 50%;
    }
    PaneTabs > .pane-tabs--active {
        color: $foreground;
    }
    PaneTabs > .pane-tabs--bar {
        color: $foreground 10%;
    }
    PaneTabs > .pane-tabs--lit {
        color: $block-cursor-background;
    }
    PaneTabs:ansi > .pane-tabs--tab {
        text-style: dim;
    }
    PaneTabs:ansi > .pane-tabs--active {
        text-style: bold;
    }
    """
    COMPONENT_CLASSES = {"pane-tabs--tab", "pane-tabs--active", "pane-tabs--bar", "pane-tabs--lit"}

    class Chosen(Message):
        """A pane's name was clicked."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    active: reactive[str] = reactive("", repaint=False)

    def __init__(self, panes: Sequence[tuple[str, str]], active: str, *, id: str | None = None):
        super().__init__(id=id)
        self.panes = list(panes)  # (key, name): the names marked N_, translated here
        self.labels = self._labels()
        self.set_reactive(PaneTabs.active, active)

    def _labels(self) -> list[tuple[str, str]]:
        """ "Summary F1": each pane's name in the current language and the key that shows it."""
        return [(key, f"{_(title)} F{n}") for n, (key, title) in enumerate(self.panes, 1)]

    def relabel(self) -> None:
        self.labels = self._labels()
        self.changed()

    def watch_active(self) -> None:
        self.changed()

    def spans(self) -> list[tuple[int, int, str]]:
        """Each name's first and past-last column on screen, and its pane (one blank either
        side); in a terminal too narrow for all of them, shifted left to show the lit one."""
        out, x = [], 0
        for key, label in self.labels:
            out.append((x + 1, x + 1 + cell_len(label), key))
            x += cell_len(label) + 2
        end = next((b for _a, b, key in out if key == self.active), 0)
        shift = max(0, end + 1 - self.size.width)
        return [(a - shift, b - shift, key) for a, b, key in out]

    def rows(self, width: int, height: int) -> list[Row]:
        background = self.background_colors[1]

        def style(name: str) -> str:  # the colour blended over the background ($foreground 50%)
            styles = self.get_component_styles(f"pane-tabs--{name}")
            rich = self.get_component_rich_style(f"pane-tabs--{name}", partial=True)
            color = (background + styles.color).rich_color
            return str(Style(color=color, bold=rich.bold, dim=rich.dim))

        tab, lit_tab, bar, lit = style("tab"), style("active"), style("bar"), style("lit")
        spans = self.spans()
        skip = 1 - spans[0][0]  # columns cut at the left to show the lit name
        names: Row = []
        for key, label in self.labels:
            piece = f" {label} "
            cut, skip = piece[skip:], max(0, skip - len(piece))
            if cut:
                names.append((cut, lit_tab if key == self.active else tab))
        start, end = next(((a, b) for a, b, key in spans if key == self.active), (0, 0))
        under: Row = []
        if end > 0:
            under.append((BAR * max(0, start - 1) + (LEFT_END if start > 0 else ""), bar))
            under.append((BAR * (end - max(0, start)), lit))
            under.append((RIGHT_END + BAR * max(0, width - end - 1), bar))
        else:
            under.append((BAR * width, bar))
        return [names, under]

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self.spans():
            if start - 1 <= event.x <= end:
                self.post_message(self.Chosen(key))
                return
