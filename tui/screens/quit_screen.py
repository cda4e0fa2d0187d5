"""The quit dialog shown while a run trains in a detached engine: keep it training in the
background (the app leaves, the engine goes on), stop it and quit, or cancel. Keyboard first,
and small enough for 80×24."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KEEP, STOP = "keep", "stop"


class QuitScreen(ModalScreen[str | None]):
    """Dismissed with ``KEEP``, ``STOP`` or None (cancel)."""

    DEFAULT_CSS = """
    QuitScreen { align: center middle; }
    #quit-body {
        width: 64; max-width: 100%; height: auto;
        background: $panel; border: round $warning; padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("k", "choose('keep')", "Keep training in the background"),
        Binding("s", "choose('stop')", "Stop the run and quit"),
        Binding("escape", "choose('')", "Cancel"),
    ]

    def __init__(self, engine_id: str, state: str, step: str = "", reattach: str = "") -> None:
        super().__init__()
        self.engine_id = engine_id
        self.reattach = reattach
        self.run_state = state
        self.run_step = step

    def compose(self) -> ComposeResult:
        from tui.attach import reattach_command

        eid = self.engine_id
        self.reattach = self.reattach or reattach_command(self.app)
        where = f" ({self.run_step})" if self.run_step else ""
        lines = [
            f"[b]Training is {self.run_state} in engine {eid}[/b]{where}.",
            "",
            "[b]k[/b]       keep training in the background",
            f"        (reattach with: [b]{self.reattach}[/b])",
            "[b]s[/b]       stop the run (its checkpoint is saved) and quit",
            "[b]escape[/b]  cancel",
        ]
        with Vertical(id="quit-body"):
            yield Static("\n".join(lines), id="quit-text", markup=True)

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice or None)


def kept_line(engine_id: str, state: str, step: int, steps: int, reattach: str = "") -> str:
    """What the command prints once the app has left a run training in the background."""
    return (
        f"torchdeck: engine {engine_id} keeps the run going in the background ({state}, step "
        f"{step}/{steps}) · reattach with: {reattach or f'torchdeck attach {engine_id}'}"
    )


def stopped_line(engine_id: str, step: int, shut_down: bool) -> str:
    """What the command prints once the app has stopped the run and quit."""
    where = "; the engine has shut down" if shut_down else f" in engine {engine_id}"
    return f"torchdeck: stopped the run at step {step}{where}"
