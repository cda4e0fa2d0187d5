"""The app's own keys (its BINDINGS), and the status bar's word for a training text being read.

Binding descriptions are marked with ``N_``: the key footer and the help screen translate them
where they are shown, so that a switch of language (F5) shows in them at once."""

from __future__ import annotations

from textual.binding import Binding

from core.i18n import N_, _

APP_BINDINGS = [
    Binding("f1", "show_pane('summary')", N_("Summary"), priority=True, show=False),
    Binding("f2", "show_pane('train')", N_("Train"), priority=True, show=False),
    Binding("f3", "show_pane('playground')", N_("Playground"), priority=True, show=False),
    Binding("f4", "show_pane('predict')", N_("Predict"), priority=True, show=False),
    Binding("1", "show_pane('summary')", N_("Summary"), show=False),
    Binding("2", "show_pane('train')", N_("Train"), show=False),
    Binding("3", "show_pane('playground')", N_("Playground"), show=False),
    Binding("4", "show_pane('predict')", N_("Predict"), show=False),
    Binding("escape", "leave_input", N_("Leave box"), show=False),
    Binding("u", "machine", N_("Machine"), show=False),
    Binding("L", "lessons", N_("Lessons"), show=False),
    Binding("question_mark", "help", N_("Help")),
    Binding("ctrl+r", "restart_engine", N_("Restart engine"), show=False),
    Binding("ctrl+l", "restart_and_load", N_("Restart + load"), show=False),
    Binding("f5", "language", N_("Language"), priority=True, show=False),
    Binding("q", "quit", N_("Quit")),
    Binding("ctrl+q", "quit", N_("Quit"), priority=True, show=False),
]


def corpus_loading(stage: str, percent: int) -> str:
    """The status bar's note while the engine reads a training text (``stage``: a LoadProgress
    stage, "reading" then "encoding")."""
    if stage == "reading":
        return _("reading corpus {percent}%").format(percent=percent)
    if stage == "encoding":
        return _("encoding corpus {percent}%").format(percent=percent)
    return f"{stage} corpus {percent}%"
