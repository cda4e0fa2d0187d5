"""The Summary pane (being built in its own issue)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from tui.panes.base import Pane


class SummaryPane(Pane):
    TITLE = "Summary pane"

    def compose(self) -> ComposeResult:
        yield Static("[b]Summary[/b] — not built yet\n\nLayers, shapes and parameter counts (tied weights counted once), weight statistics and initialisation histograms, Embedding vs Linear.", classes="unbuilt")
