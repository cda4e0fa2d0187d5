"""Paint a change at once, leaving the loop a few milliseconds between paints.

Textual repaints a screen from a 60 Hz interval timer that its idle handler resumes when
something is dirty. Resumed after a pause, that timer fires once at once and then waits for the
tick *after* the next one (its catch-up skips a tick), so a change made shortly after a paint, as
an engine's reply to a keystroke is, reaches the terminal 17–33 ms later, and a whole layout pass
Measured in the app: the reply drawn 12 ms after the key, its frame written at 38 ms.

:class:`PromptPaint` paints from the idle handler itself when the last paint ended at least
:data:`MIN_GAP_S` ago; sooner than that, it waits out the rest of the gap with a one-shot timer,
never a whole tick. A keystroke makes two paints, its echo at once and the engine's answer some
5–10 ms later, and both must land within a 60 Hz frame; the gap leaves the loop time to read
keys and replies between paints, and changes that arrive meanwhile share the next paint.

A view that has just asked the engine for the rest of the same change (the bars for a typed
character, a cell's answer) calls :meth:`PromptPaint.hold_paint`: the screen keeps the change
unpainted until :meth:`PromptPaint.release_paint` (the answer is drawn) or a short deadline, so the
echo and its answer go out in one paint. Two paints cost a layout-and-paint each plus the gap
between them: measured, the bars came 8–13 ms after the echo. An answer slower than the hold
(the explain view's) finds its echo painted; it is painted at once, without the gap.

This overrides two private methods of ``textual.screen.Screen``; the project pins Textual, and
``tests/tui/test_prompt_paint.py`` fails if either is gone or the timing regresses.
"""

from __future__ import annotations

import asyncio
import time

from textual import events
from textual.screen import Screen

from tui.screens.rows_compositor import RowsCompositor

MIN_GAP_S = 0.004  # the least time from the end of one paint to the start of the next


class PromptPaint(Screen):
    """A screen that paints a change on its next idle rather than on its timer's next tick."""

    _last_paint = 0.0  # time.monotonic() at the end of the last paint
    _paint_call: asyncio.TimerHandle | None = None  # the one-shot wait for the gap's end
    _hold_until = 0.0  # time.monotonic(): no paint before then, unless released
    _painting = False  # within a paint (_on_timer_update)
    _answer_due = False  # an answer was drawn: the next paint does not wait out the gap

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._compositor = RowsCompositor()  # a partial paint visits the changed rows' widgets

    def hold_paint(self, seconds: float) -> None:
        """Keep what changed unpainted for ``seconds`` at most: the rest of the change (the
        engine's answer) is on its way and belongs in the same paint."""
        self._hold_until = time.monotonic() + seconds

    def _draw_ahead(self) -> None:
        """While the answer is awaited, draw the lines of what already changed (the key's
        echo), so that the paint that follows finds them drawn: the loop is idle meanwhile,
        and the text box alone took 0.5–0.8 ms of a keystroke's paint."""
        if self._layout_required:
            return  # places are about to move
        visible = self._compositor.visible_widgets
        for widget in list(self._dirty_widgets):
            if widget in visible:
                region, clip = visible[widget]
                shown = region.intersection(clip)
                if shown:
                    widget.render_lines(shown.translate(-region.offset))

    def release_paint(self) -> None:
        """The answer is drawn: paint it now, not at the hold's deadline, nor after the gap
        (an echo painted when the hold ran out may have ended a moment ago)."""
        self._answer_due = True
        if not self._hold_until and self._paint_call is None:
            return
        self._hold_until = 0.0
        if self._paint_call is not None:
            self._paint_call.cancel()
            self._paint_call = None
        self.check_idle()

    def _dirty(self) -> bool:
        return bool(
            self._layout_required
            or self._scroll_required
            or self._repaint_required
            or self._recompose_required
            or self._dirty_widgets
        )

    async def _on_idle(self, event: events.Idle) -> None:
        event.prevent_default()
        if self.app._batch_count or not self.is_current or not self._dirty():
            await Screen._on_idle(self, event)  # Textual's own: callbacks after a paint
            return
        gap = 0.0 if self._answer_due else MIN_GAP_S
        wait = max(self._last_paint + gap, self._hold_until) - time.monotonic()
        if wait <= 0:
            self._hold_until = 0.0
            self._on_timer_update()
        else:
            if self._paint_call is None:
                self._paint_call = asyncio.get_running_loop().call_later(wait, self._gap_over)
            if self._hold_until:
                self._draw_ahead()

    def _gap_over(self) -> None:
        self._paint_call = None
        self.check_idle()  # an idle event follows when the queue is empty: it paints

    def _on_timer_update(self) -> None:
        self._painting = True
        self._answer_due = False
        try:
            super()._on_timer_update()
        finally:
            self._painting = False
            self._last_paint = time.monotonic()

    def _compositor_refresh(self) -> None:
        # A paint that lays out and also repaints the whole screen (a pane switch) drew twice:
        # the regions the layout moved, then everything. The first is left to the second.
        if self._painting and self._layout_required and self._repaint_required:
            return
        super()._compositor_refresh()


class PromptScreen(PromptPaint):
    """The app's default screen. A dialog mixes :class:`PromptPaint` in after ``ModalScreen``:
    Textual's CSS knows a widget's type by its first base alone, so before it, the dialog lost
    ModalScreen's see-through background and hid the app behind it."""
