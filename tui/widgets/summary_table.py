"""The Summary pane's layer table: one row per layer down to a chosen depth, with the weight
tensors of an expanded layer listed under it. A terminal wide enough adds a seventh column, each
layer's own tensors and their shapes (a tensor's dtype and other names); one too narrow for the
columns two blanks apart (a deep layer's long name at 80 columns) sets them one apart.

Drawn through Textual's line API: each row is laid out once per change, and a repaint only
styles the rows in view. Textual's ``DataTable`` drew the same table in ~39 ms on this machine,
and drew it again on every focus change and every refill, so showing the Summary pane cost a
whole frame more than any other pane. A refill with the rows already shown changes nothing.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from core import i18n
from core.contract.inspect import LayerRow, SummaryResult
from core.fmt import fmt_count, fmt_macs
from core.i18n import N_, _, pgettext

COLUMNS = (N_("Layer"), N_("Output"), N_("Params"), "Train", N_("Share"), N_("Mult-adds"))


def heading(label: str) -> str:
    """A column's name in the current language ("Train" here is trainable, not the pane)."""
    return pgettext("trainable", "Train") if label == "Train" else i18n._(label)


WIDE = N_("Tensors")  # a seventh column, shown when the table has room for it (a wide terminal)
# a layer's trainable column as the engine says it ("--": no parameters), in words
TRAINABLE = {"yes": N_("yes"), "no": N_("no"), "partly": N_("partly")}
PAD = 1  # blank cells each side of a column; one between columns where two do not fit

Cells = tuple[Text, ...]


def fmt_shape(shape) -> str:
    return "--" if shape is None else "[" + ", ".join(str(s) for s in shape) + "]"


def layer_label(row: LayerRow, expanded: bool) -> Text:
    indent = "  " * max(0, row.depth - 1)
    mark = ("▾ " if expanded else "▸ ") if row.weights else "  "
    name = row.name.rsplit(".", 1)[-1]
    text = Text(indent + mark)
    if name:
        text.append(f"{name}: ", style="bold")
    text.append(row.type, style="cyan")
    return text


def _right(text: str) -> Text:
    return Text(text, justify="right")


def own_tensors(row: LayerRow) -> Text:
    """A layer's own tensors and their shapes, e.g. "weight [64, 32], bias [64]"; a tied one
    says which other name it has."""
    text = Text()
    for n, w in enumerate(row.weights):
        text.append(", " if n else "")
        text.append(w.short, style="green")
        text.append(f" {fmt_shape(w.shape)}")
        if w.tied_to:
            text.append(f" = {', '.join(w.tied_to)}", style="yellow")
    return text


def table_rows(summary: SummaryResult, depth: int, expanded: set[str]) -> list[tuple[str, Cells]]:
    """The rows for a ``summary`` reply: ``(key, cells)``, keys ``layer:<name>`` and
    ``weight:<name>``; the seventh cell is the ``WIDE`` column's."""
    out: list[tuple[str, Cells]] = []
    total = (summary.totals.params if summary.totals else 0) or 1
    for row in summary.rows:
        if row.depth > depth:
            continue
        is_open = row.name in expanded
        params = fmt_count(row.params)
        if row.shared_params and not row.params:
            params = _("0 tied")
        cells = (
            layer_label(row, is_open),
            Text(fmt_shape(row.output_shape)),
            _right(params),
            Text(i18n._(TRAINABLE[row.trainable]) if row.trainable in TRAINABLE else row.trainable),
            _right(f"{100 * row.share:.1f}%"),
            _right(fmt_macs(row.macs) if row.macs else "--"),
            own_tensors(row),
        )
        out.append((f"layer:{row.name}", cells))
        if not is_open:
            continue
        for w in row.weights:
            label = Text("  " * row.depth + "  · ", style="dim")
            label.append(w.short, style="green")
            counted = w.numel if w.counted_here else 0
            about = Text(w.dtype, style="dim")
            if w.tied_to:
                names = ", ".join(w.tied_to)
                about.append(
                    " · " + _("same tensor as {names}").format(names=names), style="yellow"
                )
            cells = (
                label,
                Text(fmt_shape(w.shape)),
                _right(fmt_count(w.numel) + ("" if w.counted_here else " =")),
                Text(_("yes") if w.trainable else _("no")),
                _right(f"{100 * counted / total:.1f}%"),
                Text(
                    _("tied") if w.tied_to else "", style="yellow", justify="right"
                ),  # see Tensors
                about,
            )
            out.append((f"weight:{w.name}", cells))
    return out


def _looks(rows: list[tuple[str, Cells]]) -> list:
    """What the rows look like: keys, text, styles and alignment (Text's == leaves out the
    last two)."""
    return [
        (key, [(c.plain, str(c.style), c.spans, c.justify) for c in cells]) for key, cells in rows
    ]


class SummaryTable(ScrollView, can_focus=True):
    """A header row, then one row per key; up/down/page/home/end move the cursor, enter or a
    click selects a row (``RowSelected``: the pane expands a layer or opens a weight)."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor(-1_000_000)", "First", show=False),
        Binding("end", "cursor(1_000_000)", "Last", show=False),
        Binding("enter", "select", "Select", show=False),
    ]
    COMPONENT_CLASSES = {"summary-table--header", "summary-table--cursor"}
    DEFAULT_CSS = """
    SummaryTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
    }
    SummaryTable:focus {
        background-tint: $foreground 5%;
    }
    SummaryTable > .summary-table--header {
        text-style: bold;
        background: $panel;
        color: $foreground;
    }
    SummaryTable:focus > .summary-table--header {
        background-tint: $foreground 5%;
    }
    SummaryTable > .summary-table--cursor {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
        text-style: $block-cursor-blurred-text-style;
    }
    SummaryTable:focus > .summary-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    """

    class RowSelected(Message):
        def __init__(self, table: SummaryTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> SummaryTable:
            return self.table

    cursor_row: reactive[int] = reactive(0, repaint=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows: list[tuple[str, Cells]] = []
        self._look: list = []  # _looks(self._rows), kept to compare a refill against
        self._index: dict[str, int] = {}
        self._laid: list[list[Segment]] | None = None  # header, then rows, unstyled
        self._count = len(COLUMNS)  # the columns laid out: six, or seven with ``WIDE``
        self._after = PAD  # blank cells after each column (and PAD before)
        self._styles: tuple[Style, Style, Style] | None = None  # base, header, cursor's own

    # -- contents ---------------------------------------------------------------------------

    def show(self, summary: SummaryResult, depth: int, expanded: set[str]) -> None:
        """Fill the table from a ``summary`` reply, keeping the cursor on the same row."""
        self.set_rows(table_rows(summary, depth, expanded))

    def set_rows(self, rows: list[tuple[str, Cells]]) -> None:
        look = _looks(rows)
        if look == self._look:
            return  # the same rows (a reload of an unchanged model): nothing to draw
        keep = self.cursor_key()
        self._rows, self._look = rows, look
        self._index = {key: i for i, (key, _cells) in enumerate(rows)}
        self._fit()
        self.move_cursor(row=self._nearest(keep))
        self._cursor_into_view()
        self.refresh()

    def _nearest(self, key: str | None) -> int:
        """The row of ``key``, or, if it is gone (a lower depth, a collapsed layer), of its
        nearest enclosing layer still shown; the first row if none is."""
        if key is None:
            return 0
        if key in self._index:
            return self._index[key]
        parts = key.partition(":")[2].split(".")
        for n in range(len(parts) - 1, -1, -1):
            found = self._index.get("layer:" + ".".join(parts[:n]))
            if found is not None:
                return found
        return 0

    def clear(self) -> None:
        self.set_rows([])

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def row_keys(self) -> list[str]:
        return [key for key, _cells in self._rows]

    def get_row_index(self, key: str) -> int:
        return self._index[key]

    def get_row(self, key: str) -> Cells:
        return self._rows[self._index[key]][1]

    def cursor_key(self) -> str | None:
        if not self._rows:
            return None
        return self._rows[min(self.cursor_row, len(self._rows) - 1)][0]

    def text(self) -> str:
        """The header and every row as plain text, for tests."""
        return "\n".join("".join(s.text for s in line).rstrip() for line in self._layout())

    # -- the cursor -------------------------------------------------------------------------

    def move_cursor(self, row: int) -> None:
        self.cursor_row = max(0, min(row, len(self._rows) - 1))

    def _shown(self) -> int:
        """How many rows are in view under the header (a horizontal scrollbar takes one)."""
        return max(1, self.scrollable_content_region.height - 1)

    def watch_cursor_row(self) -> None:
        self._cursor_into_view()
        self.refresh()

    def _cursor_into_view(self) -> None:
        top, shown = self.scroll_offset.y, self._shown()
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + shown:
            self.scroll_to(y=self.cursor_row - shown + 1, animate=False, immediate=True)

    def action_cursor(self, step: int) -> None:
        self.move_cursor(self.cursor_row + step)

    def action_page(self, pages: int) -> None:
        self.move_cursor(self.cursor_row + pages * max(1, self._shown() - 1))

    def action_select(self) -> None:
        key = self.cursor_key()
        if key is not None:
            self.post_message(self.RowSelected(self, key))

    def on_click(self, event: events.Click) -> None:
        if event.y < 1:  # the header
            return
        row = self.scroll_offset.y + event.y - 1
        if row < len(self._rows):
            self.move_cursor(row)
            self.action_select()

    # -- drawing ----------------------------------------------------------------------------

    def _widths(self, count: int) -> list[int]:
        widths = [cell_len(heading(label)) for label in (*COLUMNS, WIDE)[:count]]
        for _key, cells in self._rows:
            for i, cell in enumerate(cells[:count]):
                widths[i] = max(widths[i], cell.cell_len)
        return widths

    def _room(self) -> int:
        room = self.content_size.width
        if len(self._rows) + 1 > self.content_size.height:  # a vertical scrollbar takes some
            room -= self.styles.scrollbar_size_vertical
        return room

    def _choose(self) -> tuple[int, int]:
        """The columns and the blank cells after each: the six and ``WIDE`` when the rows have
        it and the table has room, else the six, one blank apart if two do not fit (a deep
        layer's long name at 80 columns; if even that does not, the table scrolls sideways)."""
        six, room = len(COLUMNS), self._room()
        tries = [(six, PAD), (six, 0)]
        if self._rows and len(self._rows[0][1]) > six:
            tries.insert(0, (six + 1, PAD))
        for count, after in tries:
            widths = self._widths(count)
            if sum(widths) + (PAD + after) * count <= room:
                return count, after
        return six, 0

    def _fit(self) -> None:
        """Lay the rows out again in the columns that fit; size the scrolling area to them."""
        self._count, self._after = self._choose()
        self._laid = None
        widths = self._widths(self._count)
        width = sum(widths) + (PAD + self._after) * self._count
        self.virtual_size = Size(width, len(self._rows) + 1)

    def on_resize(self) -> None:
        if self._choose() != (self._count, self._after):  # Tensors comes or goes, or the gaps
            self._fit()
            self.refresh()

    def _layout(self) -> list[list[Segment]]:
        """The header and the rows as segments, padded to the columns (built once a change)."""
        if self._laid is None:
            console = self.app.console
            widths = self._widths(self._count)
            names = (*COLUMNS, WIDE)[: self._count]
            lines = [tuple(Text(heading(label)) for label in names)] + [c for _key, c in self._rows]
            laid = []
            for cells in lines:
                line = Text(end="", no_wrap=True)
                for cell, width in zip(cells, widths):
                    room = width - cell.cell_len
                    left = room if cell.justify == "right" else 0
                    line.append(" " * (PAD + left))
                    line.append_text(cell)
                    line.append(" " * (self._after + room - left))
                laid.append(list(line.render(console)))
            self._laid = laid
        return self._laid

    def relabel(self) -> None:
        """The header in the language now (the pane refills the rows)."""
        self._fit()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None  # focus, a theme: the styles are worked out again

    def render_line(self, y: int) -> Strip:
        if self._styles is None:
            base = self.rich_style
            self._styles = (
                base,
                base + self.get_component_rich_style("summary-table--header"),
                self.get_component_rich_style("summary-table--cursor"),
            )
        base, header, cursor = self._styles
        width = self.scrollable_content_region.width
        laid = self._layout()
        over = None  # the cursor's colours win over a cell's own, as in Textual's DataTable
        if y == 0:
            index, style = 0, header
        else:
            row = self.scroll_offset.y + y - 1
            index, style = row + 1, base
            if row == self.cursor_row:
                style = over = base + cursor
        if index >= len(laid):
            return Strip.blank(width, base)
        x = self.scroll_offset.x
        strip = Strip(Segment.apply_style(laid[index], style, over))
        return strip.crop(x, x + width).adjust_cell_length(width, style)
