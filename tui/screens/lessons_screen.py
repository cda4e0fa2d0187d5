"""The lesson list (key L, palette "Lessons"): L1–L4 with the pane each happens in and how far
the learner has got; enter opens one, c closes the panel, escape leaves things as they were."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from core import i18n
from core.i18n import N_, _
from tui.lessons.content import LESSONS
from tui.screens.prompt_paint import PromptPaint

PANE_NAMES = {"summary": N_("Summary"), "train": N_("Train"), "playground": N_("Playground")}


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
        Binding("escape", "dismiss_none", N_("Close")),
        Binding("c", "close_panel", N_("Close the lesson panel")),
        Binding("r", "restart", N_("Start the lesson again")),
    ]

    def __init__(self, progress: dict[str, str], current: str | None) -> None:
        super().__init__()
        self.progress = progress  # lesson key → "2/4"
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="lessons-box"):
            yield Static(self._head(), id="lessons-head")
            yield OptionList(*self._options(), id="lessons-list")
            yield Static(self._note(), id="lessons-note")

    def _head(self) -> str:
        return (
            "[b]"
            + _("Lessons")
            + "[/b]  "
            + _("enter opens · r starts again · c closes the panel · esc back")
        )

    def _note(self) -> str:
        return _(
            "Each lesson opens its pane and model, then lists its steps under the panes: "
            "they tick as you do them, with the course's numbers beside the live ones. "
            "Your place in each lesson is kept."
        )

    def _options(self) -> list[Option]:
        return [
            Option(
                f"{x.key}  {i18n._(x.title)}  ({i18n._(PANE_NAMES[x.pane])}, {self.progress[x.key]})",
                id=x.key,
            )
            for x in LESSONS
        ]

    def relabel(self) -> None:
        """The list in the new language, the same lesson highlighted."""
        self.query_one("#lessons-head", Static).update(self._head())
        self.query_one("#lessons-note", Static).update(self._note())
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.clear_options()
        options.add_options(self._options())
        options.highlighted = highlighted

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
