"""One line under a view: its figures joined by " · ", the last ones left out whole where the
line is too narrow (the first is always kept), or one message cut with an ellipsis. A
:class:`~tui.widgets.rows.Rows` widget: it is drawn at every keystroke in the Predict pane, where
a ``Static`` took some 0.3 ms a paint to turn its text into a line again."""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size

from tui.format import fit_parts
from tui.widgets.rows import Row, Rows


class InfoLine(Rows):
    DEFAULT_CSS = "InfoLine { height: 1; }"

    _parts: list[str] = []
    _first_style = ""  # the first figure's style (it names a problem)
    _message = ""
    _message_style = ""

    def show_parts(self, parts: list[str], first_style: str = "") -> None:
        """Figures, most important first."""
        self._parts, self._first_style, self._message = list(parts), first_style, ""
        self.changed()

    def show_message(self, message: str, style: str = "") -> None:
        """One message in place of the figures."""
        self._parts, self._message, self._message_style = [], message, style
        self.changed()

    def clear(self) -> None:
        self.show_parts([])

    def rows(self, width: int, height: int) -> list[Row]:
        if self._message:
            text = self._message
            if cell_len(text) > width:
                text = set_cell_size(text, max(0, width - 1)) + "…"
            return [[(text, self._message_style)]]
        if not self._parts:
            return []
        line = fit_parts(self._parts, width)
        first = len(self._parts[0])
        return [[(line[:first], self._first_style), (line[first:], "")]]
