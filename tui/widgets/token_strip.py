"""The token strip: the typed characters, each above its vocabulary id; characters outside the
vocabulary are marked in red with a ? for an id. Shows the end of the text that fits."""

from __future__ import annotations

from rich.cells import cell_len
from textual.reactive import reactive

from core.i18n import _
from tui.format import visible_char
from tui.widgets.rows import Row, Rows


class TokenStrip(Rows):
    DEFAULT_CSS = "TokenStrip { height: 2; }"

    strip: reactive[list] = reactive(list, always_update=True)
    """[[char, id or None], ...] for the end of the text, as the engine sent it."""
    total: reactive[int] = reactive(0)
    """How many characters the whole text has."""

    def watch_strip(self) -> None:
        self.changed()

    def watch_total(self) -> None:
        self.changed()

    def rows(self, width: int, height: int) -> list[Row]:
        if not self.strip:
            hint = _("type below: each character becomes an id, the ids go through the model")
            return [[(hint, "dim")]]
        width = max(width, 10)
        cells: list[tuple[str, str, bool]] = []
        used = 0
        hidden = self.total > len(self.strip)
        for ch, ident in reversed(self.strip):
            label = visible_char(ch)
            ident_s = "?" if ident is None else str(ident)
            w = max(cell_len(label), len(ident_s)) + 1
            if used + w > width - 2:
                hidden = True
                break
            cells.append((label, ident_s, ident is None))
            used += w
        cells.reverse()
        top: Row = [("…", "dim")] if hidden else []
        bottom: Row = [(" ", "dim")] if hidden else []
        for label, ident_s, unknown in cells:
            w = max(cell_len(label), len(ident_s))
            top.append(
                (label + " " * (w - cell_len(label)), "bold white on red" if unknown else "bold")
            )
            top.append((" ", ""))
            bottom.append((ident_s.rjust(w), "red" if unknown else "cyan"))
            bottom.append((" ", ""))
        return [top, bottom]
