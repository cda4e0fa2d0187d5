"""tui.screens.prompt_paint: a change is painted from the screen's idle handler, not from
Textual's update timer (which waits one or two ticks once resumed); a second change within
MIN_GAP_S waits out only the rest of the gap. It overrides private methods of Textual's
Screen, so their presence is checked here too (Textual is pinned)."""

from __future__ import annotations

import asyncio
import time

from textual.app import App, ComposeResult
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tui.app import TorchdeckApp
from tui.screens import prompt_paint
from tui.screens.prompt_paint import MIN_GAP_S, PromptPaint, PromptScreen
from tui.screens.quit_screen import QuitScreen


class Small(App):
    def get_default_screen(self) -> Screen:
        return PromptScreen(id="_default")

    def compose(self) -> ComposeResult:
        yield Static("a", id="label")


def watch_paints(screen: PromptPaint) -> list[float]:
    paints: list[float] = []
    real = screen._on_timer_update

    def paint() -> None:
        paints.append(time.monotonic())
        real()

    screen._on_timer_update = paint  # what _on_idle calls (the timer holds the real one)
    return paints


async def until(check, turns: int = 200) -> int:
    """Yield to the loop until ``check()``; how many turns it took (AssertionError if never)."""
    for n in range(turns):
        if check():
            return n
        await asyncio.sleep(0)
    raise AssertionError("never happened")


def test_textual_still_has_what_prompt_paint_overrides():
    for name in ("_on_idle", "_on_timer_update", "_update_timer", "_compositor_refresh"):
        assert name in Screen.__dict__, name
    assert issubclass(QuitScreen, PromptPaint) and issubclass(QuitScreen, ModalScreen)
    assert QuitScreen._on_idle is PromptPaint._on_idle  # ModalScreen leaves them to the mixin
    assert isinstance(TorchdeckApp().get_default_screen(), PromptPaint)


async def test_a_change_paints_on_idle_without_the_update_timer():
    app = Small()
    async with app.run_test(size=(40, 5)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, PromptScreen)
        paints = watch_paints(screen)
        screen._last_paint = time.monotonic() - 1  # the last paint was long ago
        app.query_one("#label", Static).update("b")
        await until(lambda: paints)
        assert not screen._update_timer._active.is_set()  # Textual's timer was never resumed
        assert screen._paint_call is None and not screen._dirty()


async def test_a_second_change_within_the_gap_waits_only_for_the_rest_of_it():
    app = Small()
    async with app.run_test(size=(40, 5)) as pilot:
        await pilot.pause()
        screen = app.screen
        paints = watch_paints(screen)
        label = app.query_one("#label", Static)
        screen._last_paint = time.monotonic() - 1
        label.update("b")
        await until(lambda: paints)
        label.update("c")  # right after a paint: it waits out the gap
        await until(lambda: screen._paint_call is not None)
        assert len(paints) == 1 and screen._dirty()
        while len(paints) < 2:
            await asyncio.sleep(MIN_GAP_S / 4)
        assert paints[1] - paints[0] >= MIN_GAP_S * 0.9  # never sooner than the gap
        assert not screen._update_timer._active.is_set() and screen._paint_call is None


async def test_a_held_change_paints_with_its_answer_in_one_paint():
    """A key's echo waits for the engine's answer (hold_paint); release_paint paints both."""
    app = Small()
    async with app.run_test(size=(40, 5)) as pilot:
        await pilot.pause()
        screen = app.screen
        label = app.query_one("#label", Static)
        shown: list[str] = []  # what the label holds at each paint
        real = screen._on_timer_update

        def paint() -> None:
            shown.append(str(label.render()))
            real()

        screen._on_timer_update = paint
        screen._last_paint = time.monotonic() - 1
        screen.hold_paint(5.0)  # far longer than this test: only the release paints
        label.update("echo", layout=False)
        await until(lambda: screen._paint_call is not None)
        for _ in range(20):
            await asyncio.sleep(0)
        assert shown == [] and screen._dirty()  # held: the echo alone is not painted
        label.update("echo + answer", layout=False)
        screen.release_paint()
        await until(lambda: shown)
        assert shown == ["echo + answer"]  # the first paint has both
        assert screen._hold_until == 0.0


class TwoLines(Small):
    def compose(self) -> ComposeResult:
        yield Static("a", id="label")
        yield Static("-", id="answer")


async def test_while_held_the_echo_is_drawn_ahead_and_not_again_at_the_paint():
    """The loop is idle while the answer is awaited: the echo's lines are drawn then, and the
    paint that brings the answer finds them drawn (and writes them)."""
    app = TwoLines()
    async with app.run_test(size=(40, 5)) as pilot:
        await pilot.pause()
        screen = app.screen
        label, answer = app.query_one("#label", Static), app.query_one("#answer", Static)
        drawn: list[tuple[str, bool]] = []  # (widget, whether a paint was under way)
        for widget in (label, answer):
            real = widget.render_line

            def counted(y, _real=real, _id=widget.id):
                drawn.append((_id, screen._painting))
                return _real(y)

            widget.render_line = counted
        paints = watch_paints(screen)
        screen._last_paint = time.monotonic() - 1
        screen.hold_paint(5.0)
        label.update("echo", layout=False)
        await until(lambda: drawn)
        assert drawn == [("label", False)] and not paints  # drawn ahead, nothing painted
        drawn.clear()
        answer.update("answer", layout=False)
        screen.release_paint()
        await until(lambda: paints)
        await pilot.pause()
        assert ("answer", True) in drawn and ("label", True) not in drawn  # echo: not again
        rows = [strip.text for strip in screen._compositor.render_strips()]
        assert rows[0].startswith("echo") and rows[1].startswith("answer")


async def test_a_hold_ends_at_its_deadline_without_an_answer():
    app = Small()
    async with app.run_test(size=(40, 5)) as pilot:
        await pilot.pause()
        screen = app.screen
        paints = watch_paints(screen)
        screen._last_paint = time.monotonic() - 1
        start = time.monotonic()
        screen.hold_paint(0.03)
        app.query_one("#label", Static).update("echo")
        while not paints:
            await asyncio.sleep(0.002)
        assert paints[0] - start >= 0.03 * 0.9  # not before the deadline
        assert screen._hold_until == 0.0
        screen.release_paint()  # an answer after the deadline: nothing held, nothing to do
        assert screen._paint_call is None


async def test_an_answer_after_its_echo_was_painted_is_painted_without_the_gap(monkeypatch):
    """The hold ran out and the echo was painted; the answer drawn a moment later goes out at
    once, where any other change would wait out the rest of the gap. The gap is made long here
    (0.4 s) so that "at once" and "after the gap" stay apart on a loaded machine."""
    gap = 0.4
    monkeypatch.setattr(prompt_paint, "MIN_GAP_S", gap)
    app = Small()
    async with app.run_test(size=(40, 5)) as pilot:
        await pilot.pause()
        screen = app.screen
        label = app.query_one("#label", Static)
        spans: list[tuple[float, float]] = []  # each paint's start and end
        real = screen._on_timer_update

        def paint() -> None:
            start = time.monotonic()
            real()
            spans.append((start, time.monotonic()))

        screen._on_timer_update = paint
        screen._last_paint = time.monotonic() - 1
        screen.hold_paint(0.001)
        label.update("echo", layout=False)
        for _ in range(500):  # the deadline passes: the echo alone is painted
            if spans:
                break
            await asyncio.sleep(0.002)
        assert len(spans) == 1
        label.update("echo + answer", layout=False)
        screen.release_paint()
        await until(lambda: len(spans) == 2)
        assert spans[1][0] - spans[0][1] < gap / 2  # no gap after the echo's paint
        assert screen._paint_call is None and not screen._answer_due  # that paint used it
        label.update("later")  # an ordinary change: the gap again
        await until(lambda: screen._paint_call is not None)
        assert len(spans) == 2


async def test_a_layout_with_a_whole_repaint_writes_once():
    """A pane switch lays out and repaints the whole screen in one paint: Textual drew the
    regions the layout moved and then everything; one full frame is written, and it is right."""
    app = Small()
    async with app.run_test(size=(40, 5)) as pilot:
        await pilot.pause()
        screen = app.screen
        written: list[str] = []
        real_display = app._display

        def display(target, update) -> None:
            written.append(type(update).__name__)
            real_display(target, update)

        app._display = display
        paints = watch_paints(screen)
        screen._last_paint = time.monotonic() - 1
        app.query_one("#label", Static).update("a longer label")  # a layout
        screen.refresh()  # and the whole screen
        await until(lambda: paints)
        assert written == ["LayoutUpdate"]  # one full frame, no partial one before it
        strips = screen._compositor.render_strips()
        assert strips[0].text.startswith("a longer label")
        app.query_one("#label", Static).update("b")  # a layout alone: still painted
        for _ in range(500):  # after the gap between paints
            if len(paints) == 2:
                break
            await asyncio.sleep(0.002)
        assert len(written) == 2 and screen._compositor.render_strips()[0].text.startswith("b ")


async def test_every_dialog_keeps_the_app_visible_behind_it():
    """Textual's CSS knows a screen's type by its first base alone: a dialog that put PromptPaint
    first lost ModalScreen's see-through background, and the help hid the whole app."""
    from tests.tui.conftest import FakeClient
    from tui.screens.help_screen import HelpScreen
    from tui.screens.playground_recipes import RecipeScreen
    from tui.screens.run_picker import RunPicker
    from tui.screens.system_screen import SystemScreen

    for dialog in (HelpScreen, QuitScreen, RecipeScreen, RunPicker, SystemScreen):
        assert dialog.__mro__[1].__name__ == "ModalScreen", dialog
        assert dialog._on_idle is PromptPaint._on_idle, dialog
    app = TorchdeckApp(client=FakeClient())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and app.screen.styles.background.a < 1
        top = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
        first_row = "".join(seg.text for seg in top.strips[0])
        assert "●" in first_row  # the status bar shows through, dimmed
