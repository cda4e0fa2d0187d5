"""The app's own part of each engine event (each pane gets the event as well)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from core.i18n import _
from tui.attach import IDLE_REASONS, attach_engine, other_client_note, own_client_id
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from tui.app import TorchdeckApp


def show_event(app: TorchdeckApp, name: str, data) -> None:
    """What the app itself shows of an engine event: the status bar's step, loss, rate and
    state, another client's commands, the machine's samples, an engine error."""
    status = app.query_one(StatusBar)
    if name == "train_progress":  # a TrainProgress
        from core.contract.progress import loss_window  # loaded with the event's class

        status.step, status.steps = data.step, data.steps
        status.loss, status.loss_window = data.loss, loss_window(data)
        if data.val_loss is not None:
            status.val_loss = data.val_loss
        if data.tokens_per_s is not None:
            status.tokens_per_s = data.tokens_per_s
        if data.world_size:
            status.world_size = data.world_size
    elif name == "train_state":  # a TrainState
        note = other_client_note(data, own_client_id(app), app.engine_state)
        app.engine_state = data.state
        if note:  # two apps on one engine see each other's commands
            app.notify(note, timeout=5)
            if data.reason in IDLE_REASONS:  # their new model: draw it here too
                app.run_worker(attach_engine(app, quiet=True), exit_on_error=False)
        status.state = "ready" if data.state == "idle" else data.state
        if data.reason in ("configured", "reset", "loaded"):
            status.step = data.step
    elif name == "compile":  # a CompileState: the engine answers nothing while it compiles
        status.compiling_since = time.monotonic() if data.state == "started" else None
        if data.state == "done":
            app.notify(
                _("training step compiled in {seconds:.1f} s").format(seconds=data.seconds),
                timeout=5,
            )
        elif data.state == "failed":
            app.notify(data.message, title="torch.compile", severity="warning", timeout=12)
    elif name == "system":  # a SystemSample: the machine, about once a second
        if app.machine.add(data):
            app.machine_changed()
    elif name == "error":
        # the message and its hint come translated by the engine, which speaks the app's language
        app.notify(
            f"{data.get('message')}\n{data.get('hint', '')}", title=_("engine"), severity="error"
        )
