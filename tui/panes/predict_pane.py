"""The Predict pane (being built in its own issue)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from tui.panes.base import Pane


class PredictPane(Pane):
    TITLE = "Predict pane"

    def compose(self) -> ComposeResult:
        yield Static("[b]Predict[/b] — not built yet\n\nType text and watch the next-character probabilities sharpen as the model trains.", classes="unbuilt")
