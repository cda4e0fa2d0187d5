"""The Summary pane's layer table: one row per layer down to a chosen depth, with the weight
tensors of an expanded layer listed under it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from core.contract.inspect import LayerRow, SummaryResult
from core.fmt import fmt_count, fmt_macs

COLUMNS = ("Layer", "Output", "Params", "Train", "Share", "Mult-adds")


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


class SummaryTable(DataTable):
    """Rows keyed ``layer:<name>`` and ``weight:<name>``; enter on a layer expands it, on a
    weight opens its statistics (the pane handles RowSelected)."""

    DEFAULT_CSS = "SummaryTable { height: 1fr; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        for label in COLUMNS:
            self.add_column(label, key=label.lower())

    def show(self, summary: SummaryResult, depth: int, expanded: set[str]) -> None:
        """Fill the table from a ``summary`` reply, keeping the cursor on the same row."""
        keep = self.cursor_key()
        self.clear()
        total = (summary.totals.params if summary.totals else 0) or 1
        for row in summary.rows:
            if row.depth > depth:
                continue
            is_open = row.name in expanded
            params = fmt_count(row.params)
            if row.shared_params and not row.params:
                params = "0 tied"
            mult = fmt_macs(row.macs) if row.macs else "--"
            self.add_row(
                layer_label(row, is_open),
                fmt_shape(row.output_shape),
                _right(params),
                row.trainable,
                _right(f"{100 * row.share:.1f}%"),
                _right(mult),
                key=f"layer:{row.name}",
            )
            if not is_open:
                continue
            for w in row.weights:
                label = Text("  " * row.depth + "  · ", style="dim")
                label.append(w.short, style="green")
                tied = ("tied: " + ", ".join(w.tied_to)) if w.tied_to else ""
                counted = w.numel if w.counted_here else 0
                self.add_row(
                    label,
                    fmt_shape(w.shape),
                    _right(fmt_count(w.numel) + ("" if w.counted_here else " =")),
                    "yes" if w.trainable else "no",
                    _right(f"{100 * counted / total:.1f}%"),
                    Text(tied, style="yellow"),
                    key=f"weight:{w.name}",
                )
        if keep is not None:
            try:
                self.move_cursor(row=self.get_row_index(keep))
            except Exception:  # the row is gone (depth lowered, layer collapsed)
                pass

    def cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None
