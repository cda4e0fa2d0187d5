"""The one-line status bar: engine state, device, preset, step, losses, throughput."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.format import fmt_loss, fmt_rate

STATE_STYLE = {
    "starting": "yellow",
    "ready": "green",
    "idle": "green",
    "running": "bold green",
    "paused": "yellow",
    "stopped": "cyan",
    "finished": "cyan",
    "diverged": "bold red",
    "crashed": "bold red",
}


class StatusBar(Widget):
    DEFAULT_CSS = "StatusBar { height: 1; }"

    state: reactive[str] = reactive("starting")
    """Engine state: starting, ready, running, paused, stopped, finished, diverged, crashed."""
    device: reactive[str] = reactive("-")
    preset: reactive[str] = reactive("-")
    step: reactive[int] = reactive(0)
    steps: reactive[int] = reactive(0)
    loss: reactive[float | None] = reactive(None)
    val_loss: reactive[float | None] = reactive(None)
    tokens_per_s: reactive[float | None] = reactive(None)

    def render(self) -> Text:
        label = {"starting": "engine starting…", "idle": "ready"}.get(self.state, self.state)
        text = Text()
        text.append(" ● ", style=STATE_STYLE.get(self.state, ""))
        text.append(label, style=STATE_STYLE.get(self.state, ""))
        parts = [
            self.device,
            self.preset,
            f"step {self.step}/{self.steps}",
            f"loss {fmt_loss(self.loss)}",
            f"val {fmt_loss(self.val_loss)}",
            f"{fmt_rate(self.tokens_per_s)} tok/s",
        ]
        text.append("  │ " + " │ ".join(parts))
        return text
