"""tui.screens.rows_compositor: a partial paint cropped band by band writes exactly what
Textual's own partial paint writes, and leaves the widgets between the changed rows alone."""

from __future__ import annotations

from functools import partial

from rich.console import Console
from textual._compositor import Compositor
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.geometry import Region
from textual.widgets import Label, Static

from tui.screens.prompt_paint import PromptScreen
from tui.screens.rows_compositor import RowsCompositor, row_bands


def test_bands_group_regions_whose_rows_overlap():
    top, chart, metrics = Region(0, 0, 80, 1), Region(20, 3, 40, 15), Region(61, 5, 19, 8)
    strip, tail = Region(0, 19, 80, 2), Region(10, 20, 5, 1)
    assert row_bands([strip, metrics, top, chart, tail]) == [
        [top],
        [chart, metrics],
        [strip, tail],
    ]
    assert row_bands([]) == []


class Form(App):
    """A status line, a column of 18 labels beside a chart and a figure, a strip at the foot:
    the Train pane's shape."""

    CSS = """
    #form { width: 20; }
    #chart { width: 1fr; height: 18; }
    #figure { width: 12; }
    """

    def get_default_screen(self):
        return PromptScreen(id="_default")

    def compose(self) -> ComposeResult:
        yield Static("status 0", id="status")
        with Horizontal(id="top"):
            with Vertical(id="form"):
                for i in range(18):
                    yield Label(f"field {i}")
            yield Static("chart 0\n" * 5, id="chart")
            yield Static("fig 0", id="figure")
        yield Static("strip 0", id="strip")


def written(update) -> str:
    console = Console(width=80, color_system="truecolor", force_terminal=True, legacy_windows=False)
    with console.capture() as capture:
        console.print(update, end="")
    return capture.get()


def count_asks(widgets) -> dict[str, list[int]]:
    """Each widget's requests for lines from now on, by its id (or its text): their heights."""
    asked: dict[str, list[int]] = {}
    for widget in widgets:
        real = widget.render_lines
        name = widget.id or str(widget.render())

        def counted(crop, _real=real, _name=name):
            asked.setdefault(_name, []).append(crop.height)
            return _real(crop)

        widget.render_lines = counted
    return asked


def paint_both_ways(compositor, asked: dict) -> list[tuple[str, dict, str, dict]]:
    """From now on each partial paint is made twice, ours then Textual's own on the same
    changes: what each writes and which widgets each asks for lines (ours is painted)."""
    painted: list[tuple[str, dict, str, dict]] = []

    def both_ways():
        dirty = compositor._dirty_regions.copy()
        ours = RowsCompositor.render_partial_update(compositor)
        ours_asked = dict(asked)
        asked.clear()
        compositor._dirty_regions.update(dirty)
        compositor._render_chops = partial(Compositor._render_chops, compositor)
        theirs = Compositor.render_partial_update(compositor)
        del compositor._render_chops
        painted.append((written(ours), ours_asked, written(theirs), dict(asked)))
        asked.clear()
        return ours

    compositor.render_partial_update = both_ways
    return painted


async def test_the_same_output_as_textuals_own_and_the_form_is_not_visited():
    app = Form()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        compositor = app.screen._compositor
        assert isinstance(compositor, RowsCompositor)
        painted = paint_both_ways(compositor, count_asks(app.query(Label)))
        for n in range(1, 4):
            app.query_one("#status", Static).update(f"status {n}", layout=False)
            app.query_one("#figure", Static).update(f"fig {n}", layout=False)
            app.query_one("#strip", Static).update(f"strip {n}", layout=False)
            await pilot.pause()
            ours, ours_asked, theirs, their_asked = painted[-1]
            assert ours == theirs and f"status {n}" in ours and f"strip {n}" in ours
            assert ours_asked == {}  # the labels lie between the changed rows: not asked
            assert len(their_asked) == 18  # Textual's own asks every one of them
        await pilot.pause()
        rows = [strip.text for strip in compositor.render_strips()]
        assert rows[0].startswith("status 3") and rows[-1].startswith("strip 3")
        assert "fig 3" in rows[1]


async def test_a_widget_is_asked_only_for_the_changed_rows_it_shows():
    """Only the figure changes: Textual's own paint asks the status line and the strip (their
    clip, the screen, meets the crop) and the whole of every container; ours asks the figure
    alone (it hides the containers behind it). What is written is the same."""
    app = Form()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        widgets = (app.screen, *app.query("#status, #strip, #top, #figure"))
        painted = paint_both_ways(app.screen._compositor, count_asks(widgets))
        app.query_one("#figure", Static).update("fig 9", layout=False)
        await pilot.pause()
        ours, ours_asked, theirs, their_asked = painted[-1]
        assert ours == theirs and "fig 9" in ours
        assert ours_asked == {"figure": [1]}  # the containers behind it: not asked at all
        assert their_asked["status"] == [1] and their_asked["strip"] == [1]
        assert their_asked["_default"] == [24] and their_asked["top"] == [22]


async def test_bands_are_joined_where_that_visits_no_more_widgets():
    app = Form()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        compositor = app.screen._compositor
        status, strip = Region(0, 0, 80, 1), Region(0, 23, 80, 1)
        label_a, label_b = Region(0, 2, 7, 1), Region(0, 4, 7, 1)
        screen = compositor.size.region
        # the status row and the strip, with the form between: kept apart
        assert compositor._crops(row_bands([status, strip]), screen) == [status, strip]
        # two labels of the form, a row apart: joined (the same containers hold both)
        joined = compositor._crops(row_bands([label_a, label_b]), screen)
        assert joined == [Region(0, 2, 7, 3)]


def test_textual_still_has_what_rows_compositor_relies_on():
    for name in (
        "render_partial_update",
        "_render_chops",
        "_get_renders",
        "_regions_to_spans",
        "cuts",
        "visible_widgets",
    ):
        assert hasattr(Compositor, name), name
