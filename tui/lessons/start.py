"""Opening a lesson: its pane, its model, its first recipe, and the panel under the panes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui.lessons.content import lesson
from tui.lessons.panel import LessonPanel

if TYPE_CHECKING:
    from tui.app import TorchdeckApp


def show_lessons(app: TorchdeckApp) -> None:
    """The lesson list; choosing one opens it."""
    from tui.lessons.content import LESSONS
    from tui.screens.lessons_screen import LessonsScreen

    panel = app.query_one(LessonPanel)
    panel.load()
    progress = {x.key: panel.progress(x.key) for x in LESSONS}
    current = panel.current.key if panel.current else None

    async def chosen(key: str | None) -> None:
        if key == "close":
            panel.close()
        elif key and key.startswith("restart:"):
            panel.restart(key.removeprefix("restart:"))
            await open_lesson(app, key.removeprefix("restart:"))
        elif key:
            await open_lesson(app, key)

    app.push_screen(LessonsScreen(progress, current), chosen)


async def open_lesson(app: TorchdeckApp, key: str) -> None:
    """Switch to the lesson's pane and set up what it needs: its preset (unless a run is
    training: the learner's run is never stopped for a lesson), its recipe in the playground."""
    x = lesson(key)
    panel = app.query_one(LessonPanel)
    await app.action_show_pane(x.pane)
    if x.preset is not None:
        from tui.widgets.status_bar import StatusBar

        status = app.query_one(StatusBar)
        if status.preset != x.preset:
            if status.state in ("running", "paused"):
                app.notify(
                    f"{x.key} needs the {x.preset} preset: stop the run (x) and open it again",
                    severity="warning",
                    timeout=6,
                )
            else:
                await app.panes["train"].choose_preset(x.preset)
                await app.action_show_pane(x.pane)
    panel.open(key)


def put_recipe(app: TorchdeckApp, key: str) -> None:
    """The lesson's next exercise in the playground's box, if the box is empty (what the learner
    typed is never replaced)."""
    from core.playground_recipes import recipe

    pane = app.panes.get("playground")
    if pane is None:
        return
    box = pane.input
    if not box.text.strip():
        box.set_code(recipe(key).code)
