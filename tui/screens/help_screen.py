"""The help screen: every key of the app and of each pane."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.screens.prompt_paint import PromptPaint


class HelpScreen(ModalScreen[None], PromptPaint):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        lines = ["[b]torchdeck keys[/b]   (esc closes)", ""]
        for title, keys in self.sections:
            lines.append(f"[b]{title}[/b]")
            lines += [f"  {key:<14} {desc}" for key, desc in keys]
            lines.append("")
        with VerticalScroll(id="help-body"):
            yield Static("\n".join(lines), markup=True)

    def action_dismiss(self) -> None:
        self.dismiss(None)
