"""The app's language, switched live (key F5, or the command palette).

After ``core.i18n.set_language`` every text drawn is in the new language: text made at paint
time needs nothing more. A widget whose text was fixed earlier (composed labels, a border
title, cached lines) has a ``relabel()`` method that sets it again; this module calls each one,
on every screen, then repaints every widget. The engine is told too, so that its errors and
notes come in the same language. Nothing else changes: a run trains on, the playground keeps
its variables, each pane keeps its figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

from core import i18n
from core.errors import ConfigError
from core.i18n import _

if TYPE_CHECKING:
    from textual.app import App


def next_language() -> str:
    """The language after the current one, in :data:`core.i18n.LANGUAGES`' order."""
    codes = i18n.LANGUAGES
    return codes[(codes.index(i18n.language()) + 1) % len(codes)]


def relabel(app: App) -> int:
    """Every widget of every screen, relabelled where it can be and repainted; returns how
    many had a ``relabel``."""
    screens = [*app.screen_stack]
    screens += [s for s in app._installed_screens.values() if isinstance(s, Screen)]
    done, seen = 0, set()
    for screen in screens:
        if id(screen) in seen:
            continue
        seen.add(id(screen))
        for widget in screen.walk_children(with_self=True):
            hook = getattr(widget, "relabel", None)
            if callable(hook):
                hook()
                done += 1
            widget.refresh(layout=True)
    return done


def research_palette(app: App) -> None:
    """An open command palette searches again: its commands in the new language."""
    from textual.command import CommandInput, CommandPalette
    from textual.widgets import Input

    if isinstance(app.screen, CommandPalette):
        box = app.screen.query_one(CommandInput)
        box.placeholder = _("Search for commands…")
        app.screen.post_message(Input.Changed(box, box.value))


async def switch_language(app: App, code: str | None = None) -> str:
    """Speak ``code`` (default: the next language) in the app and its engine."""
    try:
        code = i18n.set_language(code or next_language())
    except ConfigError as exc:  # a catalog that cannot be read: the app stays as it is
        app.notify(f"{exc.message}\n{exc.hint}", title=_("Language"), severity="error", timeout=8)
        return i18n.language()
    relabel(app)
    research_palette(app)
    engine = getattr(app, "engine", None)
    if engine is not None:
        # Not awaited: the engine answers once its request in hand is done (a cell may run for
        # minutes), and an action awaiting it would hold every key behind it, ctrl+c included.
        # Quiet: an engine too old or gone keeps its language, nothing here is lost.
        app.run_worker(engine.request("language", quiet=True, lang=code), exit_on_error=False)
    app.notify(_("Language: {name}").format(name=i18n.LANGUAGE_NAMES[code]), timeout=3)
    return code
