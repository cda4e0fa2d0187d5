"""The Predict pane's text box. The keys that are not typing (tab accepts the top character,
↑/↓ temperature, ctrl+g generates, escape stops a generation or leaves the box) are the pane's
bindings; the box binds them too, hidden, so that the footer leaves them out while one types,
and hands each on to the pane's binding for the same key."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.actions import SkipAction
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Input

from core.i18n import N_, _

SHOWN_AS = str.maketrans({"\n": "↵", "\t": "⇥", "\r": "␍"})  # one cell each


def placeholder() -> str:
    """What the empty box shows, in the current language."""
    return _("type text, e.g. To be or not to b   (tab accepts the top character)")


class PredictInput(Input):
    # The text's width is the box's scrollable width. Input sets it on every key, and as a
    # reactive with layout=True that cost a layout pass of the whole screen per key (~4 ms of
    # each keystroke's paint); the box's own size never depends on it (width 100%, height 3).
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    BINDINGS = [
        Binding("tab", "to_pane", N_("Accept top"), show=False),
        Binding("up", "to_pane", N_("Temperature up"), show=False),
        Binding("down", "to_pane", N_("Temperature down"), show=False),
        Binding("ctrl+g", "to_pane", N_("Generate"), show=False),
        Binding("escape", "to_pane", N_("Stop / leave box"), show=False),
    ]

    def __init__(self, *, id: str | None = None, on_text: Callable[[], None] | None = None) -> None:
        self.on_text = on_text  # called as the text changes, in the key's own handler
        # coming back to the pane keeps the text as it was: the first key adds to it (a focus
        # that selected all of it made that key replace the whole text)
        super().__init__(placeholder=placeholder(), id=id, select_on_focus=False)

    def relabel(self) -> None:
        self.placeholder = placeholder()

    @property
    def _value(self) -> Text:
        """The text as drawn: a newline or a tab (a character the model predicts like any
        other, appended with enter or tab) as a one-cell mark, so the box stays one line and
        the cursor's place is the character's."""
        shown = self.value.translate(SHOWN_AS)
        return Text(shown, no_wrap=True, overflow="ignore", end="")

    _edit_cursor: int | None = None  # where the edit being made leaves the cursor

    @property
    def editing(self) -> bool:
        """Within an edit: its text is set, and the cursor moving now is part of it."""
        return self._edit_cursor is not None

    @property
    def chars_after_cursor(self) -> int:
        """How many characters follow the cursor, also while an edit is being made: the box
        sets its text before it moves its cursor, and ``on_text`` runs in between."""
        cursor = self.cursor_position if self._edit_cursor is None else self._edit_cursor
        return max(0, len(self.value) - cursor)

    def replace(self, text: str, start: int, end: int) -> None:
        # every edit of Input's (a key, a paste, a delete, a word deleted) comes through here
        start, end = sorted((max(0, start), min(len(self.value), end)))
        self._edit_cursor = start + len(text)
        try:
            super().replace(text, start, end)
        finally:
            self._edit_cursor = None

    def watch_value(self) -> None:
        # the pane's request for the new text goes out here, before the box's own idle hands
        # its repaint to the screen: the engine works while the echo is painted (a Changed
        # message would reach the pane two hops later, after that paint)
        if self.on_text is not None:
            self.on_text()

    def action_to_pane(self) -> None:
        raise SkipAction()  # the next binding for the key runs: the pane's

    def append_text(self, text: str) -> None:
        """Add ``text`` at the end, with the cursor after it."""
        self.set_text(self.value + text)

    def set_text(self, text: str) -> None:
        """Make ``text`` the whole content, with the cursor at its end."""
        self.replace(text, 0, len(self.value))
