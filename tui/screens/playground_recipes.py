"""The recipe picker: the LESSONS.md L4 and L3 exercises; Enter loads one into the playground's
input box, r loads it and runs it at once."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

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
    BINDINGS = [Binding("escape", "close", "Close"), Binding("r", "run", "Load and run")]

    def __init__(self, recipes: tuple[Recipe, ...]) -> None:
        super().__init__()
        self.recipes = recipes

    def compose(self) -> ComposeResult:
        with Vertical(id="recipe-box"):
            yield Static("[b]Recipes[/b]  enter loads · r loads and runs · esc closes")
            yield OptionList(
                *(Option(f"{r.lesson}  {r.title}", id=r.key) for r in self.recipes),
                id="recipe-list",
            )
            yield Static("", id="recipe-expect")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._show_expect(0)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_expect(event.option_index)

    def _show_expect(self, index: int | None) -> None:
        if index is not None and 0 <= index < len(self.recipes):
            self.query_one("#recipe-expect", Static).update(f"expect: {self.recipes[index].expect}")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(("load", event.option.id))

    def action_run(self) -> None:
        index = self.query_one(OptionList).highlighted
        if index is not None:
            self.dismiss(("run", self.recipes[index].key))

    def action_close(self) -> None:
        self.dismiss(None)
