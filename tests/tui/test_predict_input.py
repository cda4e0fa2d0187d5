"""The Predict box with a newline or a tab in its text (a generated text appended, the top
character accepted): one line, each such character one mark, the cursor where it belongs."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tui.widgets.predict_input import PredictInput


class Box(App):
    def compose(self) -> ComposeResult:
        yield PredictInput(id="box")


async def test_a_newline_and_a_tab_are_one_mark_each_and_the_box_stays_whole():
    app = Box()
    async with app.run_test(size=(40, 5)) as pilot:
        box = app.query_one(PredictInput)
        box.set_text("def f():\n\treturn")
        await pilot.pause()
        rows = [strip.text for strip in app.screen._compositor.render_strips()]
        assert rows[1] == "▊  def f():↵⇥return" + " " * 20 + "▎"  # both edges in place
        assert len(rows) == 5 and all(len(row) == 40 for row in rows)
        assert box.value == "def f():\n\treturn"  # the text itself is unchanged
        assert box.cursor_position == len(box.value)
        await pilot.press("left", "left", "left", "left", "left", "left", "left")
        await pilot.press("x")
        assert box.value == "def f():\nx\treturn"
