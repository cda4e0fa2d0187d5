"""The help screen: every key of the app and of each pane, in two columns: the keys, and what
they do wrapped under itself (a hanging indent) at whatever width the box has. The box is as wide
as the terminal allows up to 100 columns and scrolls by PageUp/PageDown, ↑/↓, Home/End."""

from __future__ import annotations

import textwrap

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from core import i18n
from core.i18n import N_, _
from tui.screens.prompt_paint import PromptPaint

KEY_WIDTH = 14  # the key column; tests/tui/test_help_keys.py keeps every key within it
INDENT = 2 + KEY_WIDTH + 1  # where a description starts, and its wrapped lines


def merged(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A row without a key goes on with the description above it (the app's own list breaks
    long descriptions that way)."""
    out: list[tuple[str, str]] = []
    for key, desc in rows:
        if not key and out:
            out[-1] = (out[-1][0], f"{out[-1][1]} {desc}")
        else:
            out.append((key, desc))
    return out


def help_text(sections: list[tuple[str, list[tuple[str, str]]]], width: int) -> Text:
    """The sections as lines of less than ``width`` cells (a blank at the right: no word runs
    into the edge), each description wrapped at word boundaries under its own first word.
    Titles and descriptions are translated here (msgids in, the current language out)."""
    room = max(16, width - INDENT - 1)
    text = Text()
    text.append(_("torchdeck keys"), style="bold")
    text.append("   " + _("(esc closes · PgUp/PgDn scroll)") + "\n")
    for title, rows in sections:
        text.append(f"\n{i18n._(title)}\n", style="bold")
        for key, desc in merged(rows):
            lines = textwrap.wrap(" ".join(i18n._(desc).split()), room) or [""]
            text.append(f"  {key:<{KEY_WIDTH}} {lines[0]}\n")
            for line in lines[1:]:
                text.append(" " * INDENT + line + "\n")
    text.rstrip()
    return text


class HelpKeys(Static):
    """The key list, laid out again for the width it is given."""

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.sections = sections

    def render(self) -> Text:
        return help_text(self.sections, self.size.width)

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(help_text(self.sections, width).plain.splitlines())


class HelpScreen(ModalScreen[None], PromptPaint):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen #help-body {
        width: 90%; max-width: 100; height: 80%;
        background: $panel; border: round $primary; padding: 0 1;
    }
    """
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", N_("Close"))]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield HelpKeys(self.sections)

    def action_dismiss(self) -> None:
        self.dismiss(None)
