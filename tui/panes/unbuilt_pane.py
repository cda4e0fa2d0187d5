"""A pane whose issue has not landed yet: says what it will be, honestly."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static


class UnbuiltPane(Vertical, can_focus=True):
    def __init__(self, title: str, plan: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.plan = plan

    def compose(self) -> ComposeResult:
        yield Static(f"[b]{self.title}[/b] — not built yet\n\n{self.plan}", classes="unbuilt")
