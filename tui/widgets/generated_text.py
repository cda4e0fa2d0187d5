"""The Predict pane's generated-text view: the end of the prompt dimmed, the characters streamed
after it in bold, and a cursor while they still come; a hint while there is nothing yet. The pane
runs the generate request and feeds this view its streamed characters; a generation taller than
the view scrolls (PageUp/PageDown), and the view follows its end while at the end."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from core.i18n import _


class GeneratedText(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.prompt = ""  # the text the generation continues
        self.text = ""  # the characters generated so far
        self.generating = False
        self.length: int | None = None  # the hint's count, once drawn

    def start(self, prompt: str) -> None:
        self.prompt, self.text, self.generating = prompt, "", True

    def add(self, chars: str) -> None:
        self.text += chars

    def finish(self, text: str | None) -> None:
        """The generation ended; ``text`` is all it generated, when the reply came."""
        self.generating = False
        if text is not None:
            self.text = text  # the whole text, even if a streamed character was missed

    def clear(self) -> None:
        self.text = ""

    def show(self, length: int) -> None:
        """Draw the view; the hint, shown while there is no text, says g streams ``length``.
        A view scrolled to its end (the pane's side view scrolls it) stays at the end, so
        that the newest characters show while they come."""
        scroller = self.parent
        if scroller is not None and scroller.scroll_y >= scroller.max_scroll_y:
            scroller.scroll_end(animate=False)  # after the next refresh: at the new end
        self._draw(length)

    def relabel(self) -> None:
        if self.length is not None:
            self._draw(self.length)  # the hint in the language of the moment

    def _draw(self, length: int) -> None:
        self.length = length
        if not self.text and not self.generating:
            hint = _(
                "generated text appears here: ctrl+g (in the box) or g streams {length} "
                "characters after yours; esc or x stops; enter in the box appends them to your "
                "text"
            )
            self.update(f"[dim]{hint.format(length=length)}[/dim]")
            return
        shown = Text()
        shown.append(self.prompt[-80:], style="dim")
        shown.append(self.text, style="bold")
        if self.generating:
            shown.append("▌", style="blink")
        self.update(shown)
