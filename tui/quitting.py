"""Quitting the app: while a run trains in an engine on a socket, ask first (QuitScreen: keep it
training in the background, stop it, or cancel); otherwise leave at once. The engine this app
started is shut down on the way out only when no other app is attached to it: others would
otherwise lose it under their feet."""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial
from typing import TYPE_CHECKING

from core.i18n import _
from tui.attach import engine_id, reattach_command
from tui.screens.quit_screen import KEEP, STOP, TRAINING, QuitScreen, kept_line, stopped_line
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from tui.app import TorchdeckApp

STATUS_TIMEOUT_S = 3.0  # how long to wait for the engine to say who is attached


async def others_attached(app: TorchdeckApp) -> int | None:
    """How many other apps (ui or owner clients) are attached to this app's engine: 0 for a
    pipe child; None when the engine does not say in time (then nobody's engine is shut down)."""
    client = app.engine.client
    if client.role is None:
        return 0
    if not client.running:
        return None
    from core.contract.ops import read_result

    try:
        reply = await asyncio.wait_for(client.request("status", {}), STATUS_TIMEOUT_S)
        engine = read_result("status", reply).engine
    except Exception:  # an error reply, a malformed one, no reply in time
        return None
    if engine is None:
        return None
    return max(0, engine.clients - 1)  # the engine counts this app too


async def leave_engine(app: TorchdeckApp, stopped: bool = False) -> tuple[bool, int | None]:
    """Leave the engine; shut it down if this app is alone on it and started it, or has just
    stopped its run (``stopped``: an engine it attached to has nothing left to do then, as
    after torchdeck stop). Returns (shut down, other apps attached)."""
    mine = app.engine.owns_engine or stopped
    others = await others_attached(app) if mine else None
    shutdown = mine and others == 0
    await app.engine.close(shutdown=shutdown)
    return shutdown, others


async def quit_app(app: TorchdeckApp) -> None:
    if isinstance(app.screen, QuitScreen):
        return  # the dialog is up: it takes k, s or escape
    client = app.engine.client
    if client.role is not None and client.running and app.engine_state in TRAINING:
        status = app.query_one(StatusBar)
        where = _("step {step}/{steps}").format(step=status.step, steps=status.steps)
        screen = QuitScreen(engine_id(app), app.engine_state, where, status=status)
        app.push_screen(screen, partial(leave, app))
        app.run_worker(_count_others(app, screen), exit_on_error=False)
        return
    await leave_engine(app)
    app.exit()


async def _count_others(app: TorchdeckApp, screen: QuitScreen) -> None:
    count = await others_attached(app)
    with contextlib.suppress(Exception):  # the dialog may have gone meanwhile
        screen.set_others(count)


async def leave(app: TorchdeckApp, choice: str | None) -> None:
    """The quit dialog's answer. The line left in ``return_value`` is printed by the command
    once the screen is restored."""
    if choice not in (KEEP, STOP):
        return
    eid, again, status = engine_id(app), reattach_command(app), app.query_one(StatusBar)
    if choice == KEEP:
        state = app.engine_state
        if state == "paused":  # a paused run left alone would wait for ever
            reply = await app.engine.call("train_resume", quiet=True)
            state = reply.state if reply is not None else state
        await app.engine.close(shutdown=False)
        app.exit(kept_line(eid, state, status.step, status.steps, again))
        return
    reply = await app.engine.call("train_stop", quiet=True)
    shut_down, others = await leave_engine(app, stopped=reply is not None)
    app.exit(stopped_line(eid, reply.step if reply else status.step, shut_down, others or 0))
