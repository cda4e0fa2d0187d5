"""The pane tabs: the names with their keys, a bar that marks the shown pane and follows a
switch, and a click on a name that shows its pane."""

from __future__ import annotations

from tests.tui.test_key_footer import fake_app, ready
from tui.widgets.pane_tabs import PaneTabs


async def test_the_bar_marks_the_shown_pane_and_follows_a_switch():
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        tabs = app.query_one(PaneTabs)
        names, bar = tabs.text().splitlines()
        assert names == " Summary F1  Train F2  Playground F3  Predict F4"
        assert bar == "━" * 12 + "╸" + "━" * 8 + "╺" + "━" * 58  # under "Train F2"
        await pilot.press("4")
        await pilot.pause()
        assert app.active_pane == "predict" and tabs.active == "predict"
        names, bar = tabs.text().splitlines()
        start = names.index("Predict F4")
        assert bar[start - 1 : start + 11] == "╸" + "━" * 10 + "╺"
        await pilot.press("escape", "1")
        await pilot.pause()
        assert tabs.text().splitlines()[1].startswith("╸" + "━" * 10 + "╺")  # Summary, at 1


async def test_a_click_on_a_name_shows_its_pane():
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        tabs = app.query_one(PaneTabs)
        x = tabs.text().index("Playground F3")
        await pilot.click(PaneTabs, offset=(x + 2, 0))
        await pilot.pause()
        assert app.active_pane == "playground" and tabs.active == "playground"
        assert app.focused is app.panes["playground"].focus_target()
        await pilot.click(PaneTabs, offset=(79, 0))  # past the last name: nothing
        await pilot.pause()
        assert app.active_pane == "playground"


async def test_in_a_narrow_terminal_the_names_shift_to_show_the_shown_one():
    app = fake_app()
    async with app.run_test(size=(40, 24)) as pilot:
        await ready(pilot)
        tabs = app.query_one(PaneTabs)
        assert tabs.text().splitlines()[0].startswith(" Summary F1  Train F2")  # fits: no shift
        await pilot.press("4")
        await pilot.pause()
        names, bar = tabs.text().splitlines()
        assert names.endswith("Predict F4") and len(names) <= 40
        start = names.index("Predict F4")
        assert bar[start - 1 : start + 11] == "╸" + "━" * 10 + "╺"[: 40 - start - 10]
        x = names.index("Playground F3")
        await pilot.click(PaneTabs, offset=(x + 1, 0))  # a click finds the shifted name
        await pilot.pause()
        assert app.active_pane == "playground"


async def test_a_new_theme_redraws_the_tabs_in_its_colours():
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        tabs = app.query_one(PaneTabs)
        colours = {str(seg.style.color) for seg in tabs.render_line(1)}
        assert len(colours) == 2  # the bar, and its lit part
        app.theme = "textual-light"
        await pilot.pause()
        assert {str(seg.style.color) for seg in tabs.render_line(1)} != colours
        app.theme = "ansi-dark"
        await pilot.pause()
        names = tabs.render_line(0)
        lit = next(seg for seg in names if "Train F2" in seg.text)
        other = next(seg for seg in names if "Summary F1" in seg.text)
        assert lit.style.bold and other.style.dim  # no colours to tell them apart in ANSI
