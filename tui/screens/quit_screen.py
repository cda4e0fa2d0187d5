"""The quit dialog shown while a run trains in a detached engine: keep it training in the
background (the app leaves, the engine goes on; a paused run resumes first), stop it and quit,
or cancel. It stays live while it is up: the step follows the status bar, the number of other
apps attached is shown once the engine has said it, and the dialog closes itself (with a notice)
when the run stops or finishes meanwhile, or the engine goes away. Keyboard first, and small
enough for 80×24."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from core.i18n import N_, _, ngettext
from tui.screens.prompt_paint import PromptPaint

if TYPE_CHECKING:
    from tui.widgets.status_bar import StatusBar

KEEP, STOP = "keep", "stop"
TRAINING = ("running", "paused")  # engine states in which quitting asks first


class QuitScreen(ModalScreen[str | None], PromptPaint):
    """Dismissed with ``KEEP``, ``STOP`` or None (cancel, or the run is no longer there)."""

    DEFAULT_CSS = """
    QuitScreen { align: center middle; }
    #quit-body {
        width: 72; max-width: 100%; height: auto;
        background: $panel; border: round $warning; padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("k", "choose('keep')", N_("Keep training in the background")),
        Binding("s", "choose('stop')", N_("Stop the run and quit")),
        Binding("escape", "choose('')", N_("Cancel")),
    ]

    def __init__(
        self,
        engine_id: str,
        state: str,
        step: str = "",
        reattach: str = "",
        status: StatusBar | None = None,
    ) -> None:
        """``status``: the app's status bar, followed while the dialog is up (step, state)."""
        super().__init__()
        self.engine_id = engine_id
        self.reattach = reattach
        self.run_state = state
        self.run_step = step
        self.status = status
        self.others: int | None = None  # other apps attached to the engine, once known

    def compose(self) -> ComposeResult:
        from tui.attach import reattach_command

        self.reattach = self.reattach or reattach_command(self.app)
        with Vertical(id="quit-body"):
            yield Static(self.text(), id="quit-text", markup=True)

    def on_mount(self) -> None:
        if self.status is not None:
            for name in ("step", "steps", "state"):
                self.watch(self.status, name, self._status_changed, init=False)

    def text(self) -> str:
        where = f" ({self.run_step})" if self.run_step else ""
        if self.run_state == "running":
            head = _("[b]Training is running in engine {engine}[/b]{where}.")
        elif self.run_state == "paused":
            head = _("[b]Training is paused in engine {engine}[/b]{where}.")
        else:
            head = _("[b]Training is {state} in engine {engine}[/b]{where}.")
        lines = [head.format(engine=self.engine_id, where=where, state=self.run_state)]
        if self.others:
            lines.append(
                ngettext(
                    "{n} other app is attached: [b]s[/b] stops the run for them too.",
                    "{n} other apps are attached: [b]s[/b] stops the run for them too.",
                    self.others,
                ).format(n=self.others)
            )
        lines += [
            "",
            "[b]k[/b]       " + _("keep training in the background (a paused run resumes)"),
            "        " + _("(reattach with: {command})").format(command=f"[b]{self.reattach}[/b]"),
            "[b]s[/b]       " + _("stop the run (its checkpoint is saved) and quit"),
            "[b]escape[/b]  " + _("cancel"),
        ]
        return "\n".join(lines)

    def _redraw(self) -> None:
        if self.is_attached:
            self.query_one("#quit-text", Static).update(self.text())

    def relabel(self) -> None:
        self._redraw()

    def set_others(self, count: int | None) -> None:
        """The engine has said how many other apps are attached."""
        self.others = count
        self._redraw()

    def _status_changed(self) -> None:
        status = self.status
        if status is None or not self.is_attached:
            return
        state = "idle" if status.state == "ready" else status.state
        if state not in TRAINING:
            self._run_gone(state)
            return
        self.run_state = state
        self.run_step = _("step {step}/{steps}").format(step=status.step, steps=status.steps)
        self._redraw()

    def _run_gone(self, state: str) -> None:
        """The run stopped or finished (another client, the end of its steps), or the engine
        went away: nothing is left to keep training, so the dialog goes, with a word why."""
        if state in ("crashed", "ended"):
            why = _("the engine has gone: nothing left to keep training (q quits)")
        elif state == "disconnected":
            why = _(
                "the connection to the engine was lost: nothing left to keep training (q quits)"
            )
        else:
            why = _("the run is {state} now: nothing left to keep training (q quits)")
        self.app.notify(why.format(state=state), timeout=6)
        if self.is_current:
            self.dismiss(None)

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice or None)


def kept_line(engine_id: str, state: str, step: int, steps: int, reattach: str = "") -> str:
    """What the command prints once the app has left a run training in the background."""
    return _(
        "torchdeck: engine {engine} keeps the run going in the background ({state}, step "
        "{step}/{steps}) · reattach with: {command}"
    ).format(
        engine=engine_id,
        state=state,
        step=step,
        steps=steps,
        command=reattach or f"torchdeck attach {engine_id}",
    )


def stopped_line(engine_id: str, step: int, shut_down: bool, others: int = 0) -> str:
    """What the command prints once the app has stopped the run and quit."""
    if shut_down:
        line = _("torchdeck: stopped the run at step {step}; the engine has shut down")
    elif others:
        line = ngettext(
            "torchdeck: stopped the run at step {step} in engine {engine} ({n} other app "
            "still attached)",
            "torchdeck: stopped the run at step {step} in engine {engine} ({n} other apps "
            "still attached)",
            others,
        )
    else:
        line = _("torchdeck: stopped the run at step {step} in engine {engine}")
    return line.format(step=step, engine=engine_id, n=others)
