"""The playground's input box: a multi-line code editor where Enter runs the cell when the code
is complete and starts a new line when it is not (as IPython does), up/down recall earlier
cells at the first/last line, and tab asks the engine for completions."""

from __future__ import annotations

import re

from textual import events
from textual.message import Message
from textual.widgets import TextArea

from core.playground_recipes import is_complete

_WORD_BEFORE = re.compile(r"[A-Za-z_][\w.]*$|\.$")


class PlaygroundInput(TextArea):
    class CellSubmitted(Message):
        """Enter on a complete cell."""

        def __init__(self, code: str) -> None:
            super().__init__()
            self.code = code

    class CompletionRequested(Message):
        """Tab after a name or a dot: the pane asks the engine for candidates."""

        def __init__(self, code: str, cursor: int) -> None:
            super().__init__()
            self.code = code
            self.cursor = cursor

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            "", language=None, soft_wrap=True, show_line_numbers=False, tab_behavior="focus", id=id
        )
        self.cells_history: list[str] = []
        self._browse: int | None = None  # index into history while recalling
        self._draft = ""  # what was typed before recalling started

    # -- text helpers --------------------------------------------------------------------------

    @property
    def cursor_offset(self) -> int:
        row, col = self.cursor_location
        lines = self.text.split("\n")
        return sum(len(line) + 1 for line in lines[:row]) + col

    def set_code(self, code: str) -> None:
        """Replace the text and put the cursor at its end."""
        self.text = code
        self.move_cursor(self.document.end)

    def remember(self, code: str) -> None:
        if code.strip() and (not self.cells_history or self.cells_history[-1] != code):
            self.cells_history.append(code)
        self._browse = None
        self._draft = ""

    # -- keys ----------------------------------------------------------------------------------

    async def _on_key(self, event: events.Key) -> None:
        handled = False
        if event.key == "enter":
            handled = self._enter()
        elif event.key == "up":
            handled = self.cursor_location[0] == 0 and self._recall(-1)
        elif event.key == "down":
            handled = self.cursor_location[0] == self.document.line_count - 1 and self._recall(+1)
        elif event.key == "tab":
            handled = self._tab()
        if handled:
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    def _enter(self) -> bool:
        row, col = self.cursor_location
        at_end = self.cursor_location == self.document.end
        if at_end and is_complete(self.text):
            self.post_message(self.CellSubmitted(self.text))
            return True
        line = self.document.get_line(row)[:col]
        indent = re.match(r"[ \t]*", line).group(0)
        if line.rstrip().endswith((":", "(", "[", "{")):
            indent += "    "
        self.insert("\n" + indent)
        return True

    def _recall(self, direction: int) -> bool:
        if not self.cells_history:
            return False
        if self._browse is None:
            if direction > 0:
                return False
            self._draft = self.text
            self._browse = len(self.cells_history)
        target = self._browse + direction
        if target < 0:
            return True  # at the oldest: stay
        if target >= len(self.cells_history):
            self._browse = None
            self.set_code(self._draft)
            return True
        self._browse = target
        self.set_code(self.cells_history[target])
        return True

    def _tab(self) -> bool:
        row, col = self.cursor_location
        before = self.document.get_line(row)[:col]
        if _WORD_BEFORE.search(before):
            self.post_message(self.CompletionRequested(self.text, self.cursor_offset))
        else:
            self.insert(" " * (4 - len(before) % 4))
        return True

    def apply_completion(self, start: int, prefix: str, candidates: list[str]) -> None:
        """Insert the longest common continuation of ``candidates`` at the cursor."""
        if not candidates:
            return
        common = candidates[0]
        for c in candidates[1:]:
            while not c.startswith(common):
                common = common[:-1]
        if len(common) > len(prefix) and common.startswith(prefix):
            self.insert(common[len(prefix) :])
