"""The app and an engine it shares: attaching to a running engine (op ``attach``: the model, its
loss history, the run's state and latest report, the latest sample and the playground's names,
drawn as if this app had been there all along), what another client's command looks like from
here, and what the app says when it loses an engine on a socket.

Imports no torch, and the contract's messages only when the engine answers (the app's first
frame does not wait for them)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

if TYPE_CHECKING:
    from core.contract import AttachResult, TrainState
    from tui.app import TorchdeckApp

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
    app.model_configured(session)
    state = result.state
    app.engine_state = state
    status = app.query_one(StatusBar)
    status.state = "ready" if state == "idle" else state
    progress = result.progress
    if progress is not None:
        status.loss = progress.loss
        status.val_loss = progress.val_loss
        status.tokens_per_s = progress.tokens_per_s
    app.attached = result
    for pane in list(app.panes.values()):
        pane.attached(result)
    if announce:
        app.notify(
            f"attached to engine {result.engine.id or engine_id(app)}: {session.preset}, "
            f"{state}, step {session.step}/{session.steps}",
            timeout=4,
        )


# -- another client's commands --------------------------------------------------------------------

IDLE_REASONS = {
    "configured": "configured a new model",
    "reset": "reset the model",
    "loaded": "loaded a checkpoint",
}


def other_client_note(data: TrainState, own: int | None, before: str) -> str | None:
    """One short line when a ``train_state`` event was caused by another client's request
    (another app attached to the same engine, a script): None for this app's own requests and
    for the engine's own changes (``client`` 0: a run finishing)."""
    if not data.client or own is None or data.client == own:
        return None
    if data.state == "running":
        what = "resumed the run" if before == "paused" else "started the run"
    elif data.state == "paused":
        what = "paused the run"
    elif data.state == "stopped":
        what = "stopped the run"
    elif data.state == "idle":
        what = IDLE_REASONS.get(data.reason, "changed the model")
    else:
        what = f"changed the run: {data.state}"
    return f"another client (#{data.client}) {what} at step {data.step}"


# -- losing the engine --------------------------------------------------------------------------


def lost_banner(app: TorchdeckApp, returncode: int | None, tail: str, mismatch: str) -> str:
    """The crash banner's text (Rich markup): a pipe child that stopped, an engine on a socket
    that went away, or one that speaks another protocol version."""
    client = app.engine.client
    tail = escape("\n".join(tail.strip().splitlines()[-6:]) or "(no stderr output)")
    if mismatch:
        return f"[b]{escape(mismatch)}[/b]\nThe loss history stays on screen. " + (
            "ctrl+r starts a fresh engine." if client.spawn is not None else ""
        )
    host = getattr(client, "host", None)  # an engine on another machine, over ssh
    if host:
        eid = escape(engine_id(app))
        return (
            f"[b]Lost the link to {escape(host)}[/b]: engine {eid} and its run go on there. "
            f"[b]ctrl+r[/b] connects again (a new engine); [b]torchdeck attach --remote "
            f"{escape(host)} {eid}[/b] brings this one back.\n{tail}"
        )
    if client.role is None or returncode is not None:
        return (
            f"[b]The engine stopped[/b] (exit code {returncode}). The loss "
            f"history stays on screen. [b]ctrl+r[/b] restarts it, [b]ctrl+l[/b] "
            f"restarts it and loads the last checkpoint.\n{tail}"
        )
    eid = engine_id(app)
    if client.spawn is not None:
        how = (
            "[b]ctrl+r[/b] starts a fresh engine, [b]ctrl+l[/b] starts one and loads the "
            "last checkpoint."
        )
    else:
        how = (
            "[b]ctrl+r[/b] reconnects if it still runs; otherwise [b]torchdeck[/b] starts a "
            "new one, and [b]torchdeck attach ID[/b] joins another ([b]torchdeck ls[/b] lists "
            "them)."
        )
    log = log_tail(client.info or {})
    return (
        f"[b]Lost the connection to engine {escape(eid)}[/b]. The loss history stays on "
        f"screen. {how}\n{escape(log) if log else tail}"
    )


def log_tail(info: dict, lines: int = 5) -> str:
    """The last lines of a local engine's log (its crash, say), or ""."""
    path = info.get("log")
    if not path:
        return ""
    from core.transport import log_tail as read_tail

    return read_tail(Path(path), lines)
