"""What every pane shares: the app tells each pane about a new model, every engine event and an
engine restart; a pane overrides what it cares about. A pane's BINDINGS feed the help screen and
the command palette."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from textual.containers import Vertical
from textual.widget import Widget

from tui.screens.prompt_paint import PromptPaint

if TYPE_CHECKING:
    from core.contract import AttachResult, SessionInfo


# How long a change waits unpainted for the engine's answer: a prediction or a trivial cell
# takes 5–10 ms on 2 cores, and the change still reaches the screen within a 60 Hz frame.
ANSWER_HOLD_S = 0.012
# The explain view's answer (a forward and a backward pass, and a heat map to draw) takes
# 10-20 ms: an echo painted on its own meanwhile took the cores the engine needed
EXPLAIN_HOLD_S = 0.025


class Pane(Vertical, can_focus=True):
    TITLE = ""  # the heading of this pane's section in the help screen

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pending: dict[str, Callable[[], None]] = {}  # draws waiting for the pane, by key

    def draw_when_shown(self, key: str, draw: Callable[[], None]) -> None:
        """``draw()`` now if the pane is shown; else the latest draw of each ``key`` runs when
        it is next shown. A refresh of a hidden widget makes Textual remap every widget of
        every pane at the next paint: ~5 ms a progress report, felt in the pane that is shown."""
        if self.shown:
            self._pending.pop(key, None)
            draw()
        else:
            self._pending[key] = draw

    def forget_pending(self, *keys: str) -> None:
        """Drop these waiting draws (newer figures were drawn directly)."""
        for key in keys:
            self._pending.pop(key, None)

    def draw_pending(self) -> None:
        """The pane is shown: run the draws that waited for it (the app calls this)."""
        pending, self._pending = self._pending, {}
        for draw in pending.values():
            draw()

    @property
    def link(self):
        """The app's EngineLink: ``await self.link.call(PredictArgs(...))`` gives the typed
        result (``core.contract``), or None after an error reply it has shown."""
        return self.app.engine

    @property
    def shown(self) -> bool:
        """Whether this pane is the active tab (skip redraws while hidden)."""
        try:
            return self.app.active_pane == self.parent.id
        except Exception:  # not mounted yet, or the app is closing
            return False

    def configured(self, info: SessionInfo) -> None:
        """A configure, reset or load reply: a new model (or new weights) is in the engine."""

    def engine_event(self, name: str, data) -> None:
        """Any engine event: train_progress (a TrainProgress), train_state (a TrainState),
        generate_token, error… (plain dicts). Typed events are checked before they get here;
        an exception raised here is reported by the app (once per pane and event), not fatal."""

    def attached(self, result: AttachResult) -> None:
        """The app attached to a running engine (after ``configured`` with its model): its run
        state, latest report and sample, and the playground's names. Also called on a pane
        built later, with the same reply."""

    def engine_restarted(self) -> None:
        """The engine process exited or was restarted: engine-side state is gone."""

    def watch_has_focus(self, _has_focus: bool) -> None:
        """Restyle the pane alone when it gains or loses focus. Textual restyles the whole
        subtree, which took ~30 ms for the Train pane on every switch away from it; no rule in
        the app's stylesheet styles a pane's contents by the pane's focus (a test checks)."""
        self.app.stylesheet.update_nodes([self], animate=True)

    def hold_for_answer(self, seconds: float = ANSWER_HOLD_S) -> None:
        """The engine's answer to what just changed (a key's bars, a cell's value) is coming:
        paint the change with it, in one frame, unless it takes longer than ``seconds``."""
        if self.is_attached and isinstance(self.screen, PromptPaint):
            self.screen.hold_paint(seconds)

    def answer_drawn(self) -> None:
        """The answer is drawn (or will not come): paint at once."""
        if self.is_attached and isinstance(self.screen, PromptPaint):
            self.screen.release_paint()

    def relabel_key(self, key: str, description: str) -> None:
        """Give ``key``'s binding another word in the key line (space: Pause, or Resume while
        a run is paused); the action stays the same."""
        found = self._bindings.key_to_bindings.get(key)
        if found and found[0].description != description:
            self._bindings.key_to_bindings[key] = [replace(found[0], description=description)]
            self.refresh_bindings()

    def focus_target(self) -> Widget:
        """What takes the keys when the person switches to this pane (its text box, say)."""
        return self

    def pane_shown(self) -> None:
        """The person switched to this pane."""
