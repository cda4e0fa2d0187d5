"""tui.widgets.rows: a plain Rows widget hands its lines to the compositor itself, and they are
exactly the lines Textual's styles cache would have made (through the app's line filters, for
any crop); a widget with a style that changes its lines' look takes Textual's way."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widget import Widget

from core.contract import TopChar
from tui.widgets.info_line import InfoLine
from tui.widgets.prob_bars import ProbBars
from tui.widgets.rows import Rows, plain_styles
from tui.widgets.token_strip import TokenStrip

TOP = [
    TopChar(char=c, id=i, prob=p) for i, (c, p) in enumerate([("e", 0.5), (" ", 0.3), ("\n", 0.2)])
]


class Boxed(Rows):
    DEFAULT_CSS = "Boxed { height: 5; border: round red; padding: 0 1; }"

    def rows(self, width: int, height: int):
        return [[("boxed", "bold"), (" row", "italic cyan")]]


class Dimmed(Rows):
    DEFAULT_CSS = "Dimmed { height: 2; background: blue 40%; }"

    def rows(self, width: int, height: int):
        return [[("dim on blue", "dim"), (" green", "green")]]


class Four(App):
    CSS = "ProbBars { height: 6; } TokenStrip { background: $panel; }"

    def compose(self) -> ComposeResult:
        yield ProbBars()
        yield TokenStrip()
        yield Dimmed()
        yield Boxed()


def textuals(widget: Rows, crop: Region) -> list[list]:
    """The lines through Textual's styles cache (a fresh one: nothing cached from before)."""
    widget._styles_cache.clear()
    return [list(strip) for strip in Widget.render_lines(widget, crop)]


def ours(widget: Rows, crop: Region) -> list[list]:
    return [list(strip) for strip in widget.render_lines(crop)]


async def test_plain_rows_give_textuals_lines_for_any_crop():
    app = Four()
    async with app.run_test(size=(60, 20)) as pilot:
        bars, strip = app.query_one(ProbBars), app.query_one(TokenStrip)
        bars.vocab_size, bars.top = 65, TOP
        strip.strip, strip.total = [["h", 7], ["é", None], ["\n", 0]], 3
        await pilot.pause()
        assert app.get_line_filters()  # the app's own filters are in the lines
        for widget in (bars, strip, app.query_one(Dimmed)):
            assert plain_styles(widget)
            width, height = widget.size
            for crop in (
                Region(0, 0, width, height),  # all of it
                Region(0, 1, width, height - 1),  # rows cut off above
                Region(3, 0, width - 10, 1),  # columns cut off
            ):
                assert ours(widget, crop) == textuals(widget, crop), (type(widget), crop)
        shown = "".join(seg.text for seg in ours(bars, Region(0, 1, 60, 1))[0])
        assert shown.startswith(" e ") and "50.0%" in shown


async def test_a_border_or_padding_takes_textuals_way():
    app = Four()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        boxed = app.query_one(Boxed)
        lines = [strip.text for strip in boxed.render_lines(Region(0, 0, 60, 5))]
        assert not plain_styles(boxed)
        assert lines[0].startswith("╭") and lines[1].startswith("│ boxed row")


async def test_an_ancestors_opacity_or_a_new_style_is_seen():
    app = Four()
    async with app.run_test(size=(60, 20)) as pilot:
        dimmed = app.query_one(Dimmed)
        await pilot.pause()
        assert plain_styles(dimmed)
        app.screen.styles.opacity = 0.5  # blended by Textual, not handed on as built
        await pilot.pause()
        assert not plain_styles(dimmed)
        crop = Region(0, 0, 60, 2)
        assert ours(dimmed, crop) == textuals(dimmed, crop)
        app.screen.styles.opacity = 1.0
        dimmed.styles.padding = (0, 2)  # a style of its own: Textual's way from now on
        await pilot.pause()
        assert not plain_styles(dimmed)
        assert dimmed.render_lines(crop)[0].text.startswith("  dim on blue")


class Info(App):
    def compose(self) -> ComposeResult:
        yield InfoLine()


async def test_the_info_line_leaves_out_whole_figures_and_cuts_a_message():
    app = Info()
    async with app.run_test(size=(30, 4)) as pilot:
        info = app.query_one(InfoLine)
        info.show_parts(["'ñ' unknown", "loss 2.75", "8.1 ms"], "bold red")
        await pilot.pause()
        assert info.text() == "'ñ' unknown · loss 2.75"  # 8.1 ms left out whole: 30 columns
        first, rest = list(info.render_lines(Region(0, 0, 30, 1))[0])[:2]
        assert (
            first.text == "'ñ' unknown"
            and first.style.bold
            and rest.text.rstrip() == " · loss 2.75"
        )
        assert not rest.style.bold
        info.show_message("predict: layer 9 is out of range: this model has 4", "bold red")
        await pilot.pause()
        assert info.text() == "predict: layer 9 is out of ra…"
        info.clear()
        await pilot.pause()
        assert info.text() == ""
