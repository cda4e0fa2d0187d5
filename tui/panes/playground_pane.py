"""The Playground pane (being built in its own issue)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from tui.panes.base import Pane


class PlaygroundPane(Pane):
    TITLE = "Playground pane"

    def compose(self) -> ComposeResult:
        yield Static("[b]Playground[/b] — not built yet\n\nType PyTorch code and see shapes, dtypes, devices, grad_fn and values, with errors explained.", classes="unbuilt")
