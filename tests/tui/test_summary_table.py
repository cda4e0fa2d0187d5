"""The layer table on its own: the cursor's keys and scrolling, selection by enter and by click,
a refill that keeps the cursor's row, and a refill with the same rows that draws nothing."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from tui.widgets.summary_table import SummaryTable


def rows(n: int, prefix: str = "layer") -> list[tuple[str, tuple[Text, ...]]]:
    return [
        (
            f"{prefix}:l{i}",
            (
                Text(f"l{i}: Linear"),
                Text("[4, 8]"),
                Text(f"{i * 10:,}", justify="right"),
                Text("yes"),
                Text("1.0%", justify="right"),
                Text("--", justify="right"),
            ),
        )
        for i in range(n)
    ]


class TableApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        yield SummaryTable(id="t")

    def on_summary_table_row_selected(self, event: SummaryTable.RowSelected) -> None:
        self.selected.append(event.key)


async def test_columns_are_padded_and_numbers_right_aligned():
    app = TableApp()
    async with app.run_test(size=(60, 10)):
        table = app.query_one(SummaryTable)
        table.set_rows(rows(12))
        lines = table.text().splitlines()
        assert lines[0] == " Layer        Output  Params  Train  Share  Mult-adds"
        assert lines[1] == " l0: Linear   [4, 8]       0  yes     1.0%         --"
        assert lines[12] == " l11: Linear  [4, 8]     110  yes     1.0%         --"
        assert table.virtual_size.height == 13  # the header and 12 rows


async def test_keys_move_the_cursor_and_keep_it_in_view():
    app = TableApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(SummaryTable)
        table.set_rows(rows(30))
        table.focus()
        await pilot.press("down", "down")
        assert table.cursor_key() == "layer:l2"
        await pilot.press("pagedown")
        assert table.cursor_row == 2 + 8  # a page: the rows in view under the header, less one
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_key() == "layer:l29"
        assert table.scroll_offset.y == 30 - 9  # the last row is the bottom one in view
        assert table.render_line(9).text.startswith(" l29: Linear")
        assert table.render_line(0).text.startswith(" Layer")  # the header stays on top
        await pilot.press("home")
        await pilot.pause()
        assert (table.cursor_row, table.scroll_offset.y) == (0, 0)
        await pilot.press("up")
        assert table.cursor_row == 0  # no further than the first row


async def test_enter_and_a_click_select_a_row():
    app = TableApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(SummaryTable)
        table.set_rows(rows(5))
        table.focus()
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.selected == ["layer:l1"]
        await pilot.click(SummaryTable, offset=(3, 4))  # the 4th row under the header
        await pilot.pause()
        assert app.selected == ["layer:l1", "layer:l3"] and table.cursor_row == 3
        await pilot.click(SummaryTable, offset=(3, 0))  # the header selects nothing
        await pilot.pause()
        assert app.selected == ["layer:l1", "layer:l3"]


async def test_a_refill_keeps_the_cursors_row_and_the_same_rows_draw_nothing():
    app = TableApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(SummaryTable)
        table.set_rows(rows(5))
        table.move_cursor(row=3)
        await pilot.pause()
        laid = table._layout()
        table.set_rows(rows(5))  # a reload of an unchanged model
        assert table._layout() is laid and table.cursor_row == 3
        more = rows(5)
        more.insert(1, ("weight:l0.weight", (Text("  · weight"),) + (Text(""),) * 5))
        table.set_rows(more)  # a layer expanded above the cursor: it stays on l3
        assert table.cursor_key() == "layer:l3" and table.cursor_row == 4
        assert table.get_row_index("weight:l0.weight") == 1
        assert table.get_row("layer:l3")[2].plain == "30"
        table.set_rows(rows(2))  # its row gone, and no layer encloses it: the first row
        assert table.cursor_row == 0
        table.clear()
        assert table.row_count == 0 and table.cursor_key() is None
        assert table.render_line(1).text.strip() == ""


def tree(names: list[str]) -> list[tuple[str, tuple[Text, ...]]]:
    return [(f"layer:{name}", (Text(name or "GPT"),) + (Text(""),) * 5) for name in names]


async def test_a_row_that_goes_leaves_the_cursor_on_its_nearest_enclosing_layer():
    app = TableApp()
    async with app.run_test(size=(60, 10)):
        table = app.query_one(SummaryTable)
        deep = ["", "blocks", "blocks.0", "blocks.1", "blocks.1.attn", "blocks.1.attn.qkv"]
        table.set_rows(tree(deep + ["ln_f"]))
        table.move_cursor(row=table.get_row_index("layer:blocks.1.attn.qkv"))
        table.set_rows(tree(["", "blocks", "blocks.0", "blocks.1", "ln_f"]))  # depth lowered
        assert table.cursor_key() == "layer:blocks.1"
        table.set_rows(tree(["", "ln_f"]))
        assert table.cursor_key() == "layer:"


async def test_with_a_horizontal_scrollbar_the_cursor_stays_in_view():
    """A table wider than its box shows a horizontal scrollbar, which takes a row of the view:
    End, PageDown and Down keep the cursor's row above it."""
    app = TableApp()
    async with app.run_test(size=(30, 10)) as pilot:
        table = app.query_one(SummaryTable)
        table.set_rows(rows(30))
        table.focus()
        await pilot.pause()
        assert table.show_horizontal_scrollbar
        shown = table.scrollable_content_region.height - 1  # rows under the header
        assert shown == 10 - 1 - 1
        await pilot.press("end")
        await pilot.pause()
        assert table.render_line(shown).text.startswith(" l29: Linear")
        await pilot.press("home", "pagedown")
        await pilot.pause()
        row = table.cursor_row
        assert table.scroll_offset.y <= row < table.scroll_offset.y + shown
        assert len(table.render_line(1).text) == table.scrollable_content_region.width
