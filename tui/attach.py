"""The app and an engine it shares: attaching to a running engine (op ``attach``: the model, its
loss history, the run's state and latest report, the latest sample and the playground's names,
drawn as if this app had been there all along), what another client's command looks like from
here, and what the app says when it loses an engine on a socket.

Imports no torch, and the contract's messages only when the engine answers (the app's first
frame does not wait for them)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from textual.widgets import Static

from core import i18n
from core.i18n import N_, _

if TYPE_CHECKING:
    from core.contract import AttachResult, SessionInfo, TrainState
    from tui.app import TorchdeckApp
    from tui.messages import EngineExited

MIN_POINTS = 512  # history points asked for at least: enough for any chart of the screen


def history_points(screen_width: int) -> int:
    """How many history points to ask for: a few per column of the screen (the chart draws two
    dots a column; the engine keeps each run's low and high, so spikes survive)."""
    return max(MIN_POINTS, 4 * screen_width)


def own_client_id(app: TorchdeckApp) -> int | None:
    """The id the engine gave this app's connection (None: a pipe child, which has no peers)."""
    info = app.engine.client.info or {}
    cid = info.get("client")
    return cid if isinstance(cid, int) and cid > 0 else None


def reattach_command(app: TorchdeckApp) -> str:
    """The command that brings this engine back on screen once the app has left it."""
    host = getattr(app.engine.client, "host", None)
    where = f"--remote {host} " if host else ""
    return f"torchdeck attach {where}{engine_id(app)}"


def engine_id(app: TorchdeckApp) -> str:
    """The engine's id as ``torchdeck ls`` and ``torchdeck attach`` name it."""
    client = app.engine.client
    info = client.info or {}
    if info.get("id"):
        return str(info["id"])
    path = client.socket_path
    if path:
        from core.runtime import engine_id_of

        return engine_id_of(Path(path))
    return str(client.pid or "?")


async def first_model(app: TorchdeckApp) -> None:
    """Once the engine is ready: attach to its run, or configure the model the command line
    asked for (a bad ``--corpus`` or ``--device`` falls back to the preset's defaults)."""
    if app.attaching and await attach_engine(app):
        return
    from core.contract import ConfigureArgs

    info = await app.engine.call(ConfigureArgs(**app.initial))
    if info is None and app.initial.get("factory"):  # a bad model file: the rest still holds
        info = await app.engine.call(ConfigureArgs(**{**app.initial, "factory": None}))
    if info is None:
        info = await app.engine.call(ConfigureArgs(app.initial["preset"]))
    if info is not None:
        app.model_configured(info)


async def attach_engine(app: TorchdeckApp, quiet: bool = False) -> bool:
    """Ask the engine for its whole picture and draw it; False when it holds no model yet (the
    caller configures one, as for a fresh engine)."""
    from core.contract import AttachArgs

    result = await app.engine.call(AttachArgs(points=history_points(app.size.width)), quiet=quiet)
    if result is None or result.session is None or not app.is_running:
        return False
    restore(app, result, announce=not quiet)
    return True


def restore(app: TorchdeckApp, result: AttachResult, announce: bool = True) -> None:
    """Show an attach reply: the model and its history (config form, chart), the status bar,
    the Train pane's run state, metrics and sample, and the playground's names."""
    from tui.widgets.status_bar import StatusBar

    session = result.session
    progress = result.progress
    if progress is not None and not 0 < progress.step <= session.step:
        # a report of an earlier model's run (the engine keeps its last one across configure)
        result = replace(result, progress=None, sample=None)
    if progress is not None and progress.val_loss is None:
        progress = replace(progress, val_loss=last_val_loss(session))
        result = replace(result, progress=progress)
    app.model_configured(session)
    state = result.state
    app.engine_state = state
    status = app.query_one(StatusBar)
    status.state = "ready" if state == "idle" else state
    progress = result.progress
    status.val_loss = last_val_loss(session)
    if progress is not None:
        status.loss = progress.loss
        status.val_loss = progress.val_loss
        status.tokens_per_s = progress.tokens_per_s
    app.attached = result
    for pane in list(app.panes.values()):
        pane.attached(result)
    if result.system:  # the machine's last minutes: the line and the view have them at once
        app.machine.seed(result.system)
        app.machine_changed()
    if announce:
        app.notify(
            _("attached to engine {engine}: {preset}, {state}, step {step}/{steps}").format(
                engine=result.engine.id or engine_id(app),
                preset=session.preset,
                state=state,
                step=session.step,
                steps=session.steps,
            ),
            timeout=4,
        )


def last_val_loss(session: SessionInfo) -> float | None:
    """The latest validation loss of the session's history (an attach reply's progress may
    predate it, or carry none: the latest report was not an evaluation)."""
    values = ((session.history or {}).get("val") or {}).get("values") or []
    return values[-1] if values else None


# -- another client's commands --------------------------------------------------------------------

# the note for each reason a run goes idle (the app draws the new model of another client)
IDLE_REASONS = {
    "configured": N_("another client (#{client}) configured a new model at step {step}"),
    "reset": N_("another client (#{client}) reset the model at step {step}"),
    "loaded": N_("another client (#{client}) loaded a checkpoint at step {step}"),
}


def other_client_note(data: TrainState, own: int | None, before: str) -> str | None:
    """One short line when a ``train_state`` event was caused by another client's request
    (another app attached to the same engine, a script): None for this app's own requests and
    for the engine's own changes (``client`` 0: a run finishing)."""
    if not data.client or own is None or data.client == own:
        return None
    if data.state == "running":
        if before == "paused":
            note = _("another client (#{client}) resumed the run at step {step}")
        else:
            note = _("another client (#{client}) started the run at step {step}")
    elif data.state == "paused":
        note = _("another client (#{client}) paused the run at step {step}")
    elif data.state == "stopped":
        note = _("another client (#{client}) stopped the run at step {step}")
    elif data.state == "idle":
        changed = N_("another client (#{client}) changed the model at step {step}")
        note = i18n._(IDLE_REASONS.get(data.reason, changed))
    else:
        note = _("another client (#{client}) changed the run: {state} at step {step}")
    return note.format(client=data.client, step=data.step, state=data.state)


# -- losing the engine --------------------------------------------------------------------------


ORDERLY = ("stopped", "finished")  # a run in these states was saved: its engine's end is calm
LOST, ENDED, CRASHED = "lost", "ended", "crashed"


async def engine_end(app: TorchdeckApp, grace: float = 1.0) -> str:
    """How an engine on a local socket went away: ``LOST`` (it still runs and listens: only
    this connection went), ``ENDED`` (an orderly end: it removed its socket on the way out, or
    the last run state seen was stopped or finished) or ``CRASHED`` (gone, socket left behind).
    The engine says nothing as it shuts down; its process and its socket file tell. A process
    may still be dying when its connections close: it gets ``grace`` seconds to be gone."""
    from core.transport import process_alive

    client = app.engine.client
    pid = client.pid or (client.info or {}).get("pid")
    path = client.socket_path
    deadline = time.monotonic() + grace
    while isinstance(pid, int) and pid > 0 and process_alive(pid):
        if not (path and Path(path).exists()):
            break  # it removed its socket: an orderly end under way
        if time.monotonic() > deadline:
            return LOST
        await asyncio.sleep(0.05)
    listens = bool(path) and Path(path).exists()
    if not listens or app.engine_state in ORDERLY:
        return ENDED
    return CRASHED


async def show_engine_lost(app: TorchdeckApp, message: EngineExited) -> None:
    """The engine has gone (or the link to it): the status bar and the banner say how."""
    from tui.widgets.status_bar import StatusBar

    if message.expected:
        return
    client = app.engine.client
    end = CRASHED
    if getattr(client, "host", None) and not message.mismatch:
        end = LOST  # the ssh link went: the engine there and its run go on
    elif client.role is not None and not message.mismatch:
        end = await engine_end(app)
    if not app.is_running:
        return
    playground = app.panes.get("playground")
    cell = playground.cell_in_flight() if playground is not None else None
    if cell is not None and end == ENDED:
        end = CRASHED  # it went while a cell ran: the cell, not another client, ended it
    state = {ENDED: "ended", LOST: "disconnected"}.get(end, "crashed")
    app.query_one(StatusBar).state = state
    app.engine_state = state
    for pane in list(app.panes.values()):
        pane.engine_restarted()
    banner = app.query_one("#crash-banner", Static)
    args = (message.returncode, message.stderr_tail, message.mismatch, end, cell)
    if isinstance(banner, CrashBanner):
        banner.show(lambda: lost_banner(app, *args))
    else:
        banner.update(lost_banner(app, *args))
        banner.display = True


def lost_banner(
    app: TorchdeckApp,
    returncode: int | None,
    tail: str,
    mismatch: str,
    end: str = CRASHED,
    cell: int | None = None,
) -> str:
    """The crash banner's text (Rich markup): a pipe child that stopped, an engine on a socket
    that ended, crashed or dropped this app's connection, or one that speaks another protocol
    version. ``end``: see :func:`engine_end` (engines on a local socket only); ``cell``: the
    playground cell that was running when it went, the likely cause."""
    client = app.engine.client
    tail = escape("\n".join(tail.strip().splitlines()[-6:]) or _("(no stderr output)"))
    if mismatch:
        return (
            f"[b]{escape(mismatch)}[/b]\n"
            + _("The loss history stays on screen.")
            + " "
            + (_("ctrl+r starts a fresh engine.") if client.spawn is not None else "")
        )
    host = getattr(client, "host", None)  # an engine on another machine, over ssh
    if host:
        eid = escape(engine_id(app))
        return (
            _(
                "[b]Lost the link to {host}[/b]: engine {engine} and its run go on there. "
                "[b]ctrl+r[/b] connects again (a new engine); [b]torchdeck attach --remote "
                "{host} {engine}[/b] brings this one back."
            ).format(host=escape(host), engine=eid)
            + f"\n{tail}"
        )
    if client.role is None or returncode is not None:
        return (
            _(
                "[b]The engine stopped[/b] (exit code {code}). The loss "
                "history stays on screen. [b]ctrl+r[/b] restarts it, [b]ctrl+l[/b] "
                "restarts it and loads the last checkpoint."
            ).format(code=returncode)
            + f"\n{tail}"
        )
    eid = escape(engine_id(app))
    if cell is not None and end != LOST:
        return (
            _(
                "[b]Engine {engine} ended while cell In [{cell}] ran[/b]: a cell that calls "
                "os._exit, crashes Python or uses up the memory ends the engine, and the "
                "playground's names with it. The loss history stays on screen."
            ).format(engine=eid, cell=cell)
            + " "
            + _restart_keys(client)
        )
    if end == ENDED:
        return _(
            "[b]Engine {engine} has ended[/b] (shut down by another client or torchdeck stop); "
            "its run was saved where autosave points. The loss history stays on screen. "
            "[b]ctrl+r[/b] starts a new engine here."
        ).format(engine=eid)
    if end == LOST:
        return _(
            "[b]Lost the connection to engine {engine}[/b]; it still runs. The loss history "
            "stays on screen. [b]ctrl+r[/b] connects again."
        ).format(engine=eid)
    how = _restart_keys(client)
    log = log_tail(client.info or {})  # it crashed: its log's last lines may say why
    return (
        _(
            "[b]Lost the connection to engine {engine}[/b]: it has crashed. The loss history "
            "stays on screen."
        ).format(engine=eid)
        + f" {how}\n{escape(log) if log else tail}"
    )


class CrashBanner(Static):
    """The banner over the panes once the engine has gone: drawn again in the language of the
    moment after a switch (F5)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.draw: Callable[[], str] | None = None  # makes the banner's text

    def show(self, draw: Callable[[], str]) -> None:
        self.draw = draw
        self.update(draw())
        self.display = True

    def relabel(self) -> None:
        if self.draw is not None:
            self.update(self.draw())


def log_tail(info: dict, lines: int = 5) -> str:
    """The last lines of a local engine's log (its crash, say), or ""."""
    path = info.get("log")
    if not path:
        return ""
    from core.transport import log_tail as read_tail

    return read_tail(Path(path), lines)


def _restart_keys(client) -> str:
    """What brings an engine back after a crash, for an app that started its own or not."""
    if client.spawn is not None:
        return _(
            "[b]ctrl+r[/b] starts a fresh engine, [b]ctrl+l[/b] starts one and loads the "
            "last checkpoint."
        )
    return _(
        "[b]ctrl+r[/b] starts a new engine here; [b]torchdeck attach ID[/b] joins another "
        "([b]torchdeck ls[/b] lists them)."
    )
