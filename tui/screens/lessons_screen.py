"""The lesson list (key L, palette "Lessons"): L1–L4 with the pane each happens in and how far
the learner has got; enter opens one, c closes the panel, escape leaves things as they were."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.lessons.content import LESSONS
from tui.screens.prompt_paint import PromptPaint

PANE_NAMES = {"summary": "Summary", "train": "Train", "playground": "Playground"}


class LessonsScreen(ModalScreen[str | None], PromptPaint):
    """Dismisses with a lesson's key, "restart:KEY" (its ticks cleared), "close" (hide the
    panel), or None on escape."""

    DEFAULT_CSS = """
    LessonsScreen { align: center middle; }
    #lessons-box { width: 76; max-width: 100%; height: auto; max-height: 90%;
                   background: $panel; border: round $primary; padding: 0 1; }
    #lessons-list { height: auto; max-height: 12; }
    #lessons-note { height: auto; color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "dismiss_none", "Close"),
        Binding("c", "close_panel", "Close the lesson panel"),
        Binding("r", "restart", "Start the lesson again"),
    ]

    def __init__(self, progress: dict[str, str], current: str | None) -> None:
        super().__init__()
        self.progress = progress  # lesson key → "2/4"
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="lessons-box"):
            yield Static(
                "[b]Lessons[/b]  enter opens · r starts again · c closes the panel · esc back"
            )
            yield OptionList(
                *(
                    Option(
                        f"{x.key}  {x.title}  ({PANE_NAMES[x.pane]}, {self.progress[x.key]})",
                        id=x.key,
                    )
                    for x in LESSONS
                ),
                id="lessons-list",
            )
            yield Static(
                "Each lesson opens its pane and model, then lists its steps under the panes: "
                "they tick as you do them, with the course's numbers beside the live ones. "
                "Your place in each lesson is kept.",
                id="lessons-note",
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.focus()
        keys = [x.key for x in LESSONS]
        if self.current in keys:
            options.highlighted = keys.index(self.current)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_restart(self) -> None:
        index = self.query_one(OptionList).highlighted
        if index is not None:
            self.dismiss(f"restart:{LESSONS[index].key}")

    def action_close_panel(self) -> None:
        self.dismiss("close")

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
