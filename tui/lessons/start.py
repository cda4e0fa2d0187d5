"""Opening a lesson: its pane, its model, its first recipe, and the panel under the panes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.i18n import _
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
    current = panel.first_unfinished()  # the list opens on what is left to do

    async def chosen(key: str | None) -> None:
        if key == "close":
            panel.close()
        elif key and key.startswith("restart:"):
            await open_lesson(app, key.removeprefix("restart:"), restart=True)
        elif key:
            await open_lesson(app, key)

    app.push_screen(LessonsScreen(progress, current), chosen)


async def open_lesson(app: TorchdeckApp, key: str, restart: bool = False) -> None:
    """Switch to the lesson's pane and set up what it needs: its preset, built fresh, unless a
    run is training (a run is never stopped for a lesson), the lesson is finished, or the model
    has been trained (it is kept, and the learner told how to build the lesson's); its recipe in
    the playground. ``restart``: its ticks cleared and its model built afresh."""
    from tui.widgets.status_bar import StatusBar

    x = lesson(key)
    panel = app.query_one(LessonPanel)
    panel.load()
    await app.action_show_pane(x.pane)
    status = app.query_one(StatusBar)
    finished = len(panel.done[key]) == len(x.steps)
    if x.preset is not None and (restart or (status.preset != x.preset and not finished)):
        if status.state in ("running", "paused"):
            app.notify(
                _("{lesson} uses the {preset} preset: stop the run (x) and open it again").format(
                    lesson=x.key, preset=x.preset
                ),
                severity="warning",
                timeout=6,
            )
        elif status.preset != x.preset and status.step > 0 and not restart:
            app.notify(
                _(
                    "{lesson} uses the {preset} preset; your {current} model (step {step}) is "
                    "kept: ctrl+p, Preset: {preset} builds it"
                ).format(lesson=x.key, preset=x.preset, current=status.preset, step=status.step),
                severity="warning",
                timeout=8,
            )
        else:
            await app.panes["train"].choose_preset(x.preset, quiet=True)
            await app.action_show_pane(x.pane)
    if restart:
        panel.restart(key)
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
