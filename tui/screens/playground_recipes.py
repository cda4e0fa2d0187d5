"""The recipe picker: the LESSONS.md L4 and L3 exercises; Enter loads one into the playground's
input box, r loads it and runs it at once."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from core import i18n
from core.i18n import N_, _
from core.playground_recipes import Recipe
from tui.screens.prompt_paint import PromptPaint


class RecipeScreen(ModalScreen[tuple[str, str] | None], PromptPaint):
    """Dismisses with ("load" | "run", recipe key), or None on escape."""

    DEFAULT_CSS = """
    RecipeScreen { align: center middle; }
    #recipe-box { width: 76; max-width: 100%; height: auto; max-height: 90%;
                  background: $panel; border: round $primary; padding: 0 1; }
    #recipe-list { height: auto; max-height: 16; }
    #recipe-expect { height: auto; color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "close", N_("Close")), Binding("r", "run", N_("Load and run"))]

    def __init__(self, recipes: tuple[Recipe, ...]) -> None:
        super().__init__()
        self.recipes = recipes

    def compose(self) -> ComposeResult:
        with Vertical(id="recipe-box"):
            yield Static(self._head(), id="recipe-head")
            yield OptionList(*self._options(), id="recipe-list")
            yield Static("", id="recipe-expect")

    def _head(self) -> str:
        return "[b]" + _("Recipes") + "[/b]  " + _("enter loads · r loads and runs · esc closes")

    def _options(self) -> list[Option]:
        return [Option(f"{r.lesson}  {i18n._(r.title)}", id=r.key) for r in self.recipes]

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._show_expect(0)

    def relabel(self) -> None:
        """The list in the new language, the same recipe highlighted."""
        self.query_one("#recipe-head", Static).update(self._head())
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.clear_options()
        options.add_options(self._options())
        options.highlighted = highlighted
        self._show_expect(highlighted)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_expect(event.option_index)

    def _show_expect(self, index: int | None) -> None:
        if index is not None and 0 <= index < len(self.recipes):
            expect = i18n._(self.recipes[index].expect)
            self.query_one("#recipe-expect", Static).update(
                _("expect: {expect}").format(expect=expect)
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(("load", event.option.id))

    def action_run(self) -> None:
        index = self.query_one(OptionList).highlighted
        if index is not None:
            self.dismiss(("run", self.recipes[index].key))

    def action_close(self) -> None:
        self.dismiss(None)
