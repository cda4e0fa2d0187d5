"""The app's side of the engine: starts the client, pumps its events into Textual messages, and
runs requests so that an error reply becomes a notification instead of a crash. Every event and
reply is checked against its contract type first (``Contract.parse``): a malformed event (a
playground cell can write lines to the engine's output) is logged and ignored, a malformed reply
is notified like an error reply. Nothing the engine sends can crash the app."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual.app import App

from core import transport
from core.client import EXITED, READY, EngineClient
from core.errors import EngineDied, EngineError, TorchdeckError
from core.i18n import _
from tui.messages import EngineEventReceived, EngineExited, EngineReady, EngineStartFailed

if TYPE_CHECKING:
    from core.contract import Contract

# how a request's error is told: notified (False), not at all (True), or handed to a callable
Quiet = bool | Callable[[str], None]


class EngineLink:
    def __init__(self, app: App, client: EngineClient, started_at: float) -> None:
        self.app = app
        self.client = client
        self.started_at = started_at
        self._pump: asyncio.Task | None = None
        self.ignored: dict[str, int] = {}  # malformed events ignored, by event name
        # async () -> socket path: how ctrl+r starts a new engine when the one this app had
        # attached to has gone (None: core.transport.spawn_detached, as ``torchdeck`` does)
        self.spawn_fresh = None

    @property
    def owns_engine(self) -> bool:
        """Whether this app started its engine (a pipe child, or a detached engine it spawned):
        quitting shuts it down. An engine it attached to belongs to someone else."""
        return self.client.role is None or self.client.spawn is not None

    async def start(self) -> bool:
        """Start (or connect to) the engine; False, with EngineStartFailed posted, if it cannot."""
        try:
            await self.client.start(wait_ready=False)
        except OSError as exc:
            self.app.post_message(
                EngineStartFailed(_("cannot start the engine: {error}").format(error=exc))
            )
            return False
        except TorchdeckError as exc:  # a detached engine that died at once, a gone socket
            text = _("cannot start the engine: {error}").format(error=exc.message)
            if isinstance(exc, EngineDied) and exc.stderr_tail:  # its log's last lines
                text += "\n" + "\n".join(exc.stderr_tail.strip().splitlines()[-4:])
            elif not self.owns_engine:
                text = _(
                    "{error}. Run torchdeck for a new engine, or torchdeck attach ID to "
                    "join another (torchdeck ls lists them)."
                ).format(error=exc.message)
            elif exc.hint:
                text += f"\n{exc.hint}"
            self.app.post_message(EngineStartFailed(text))
            return False
        self._pump = asyncio.create_task(self._pump_events())
        return True

    async def _pump_events(self) -> None:
        async for ev in self.client.events():
            try:
                if self._forward(ev):
                    return
            except Exception as exc:  # a malformed event: logged, never fatal
                self._ignore(ev.event, exc)

    def _forward(self, ev) -> bool:
        """Post one event to the app as its message; True once the engine has exited."""
        # the typed events load when the engine first speaks, not before the app's first
        # frame (see core/contract/__init__.py)
        from core.contract.ops import EVENTS, ReadyInfo

        if ev.event == READY:
            info = ReadyInfo.parse(ev.data)
            self.app.post_message(EngineReady(info, time.perf_counter() - self.started_at))
        elif ev.event == EXITED:
            self.app.post_message(
                EngineExited(
                    ev.data.get("returncode"),
                    str(ev.data.get("stderr_tail", "")),
                    bool(ev.data.get("expected")),
                    str(ev.data.get("mismatch") or ""),
                )
            )
            return True
        elif ev.event == "load_progress":
            # shown at once: the app's own queue may be held by the action that asked for the
            # load (a configure from the Train form) until the load is over
            self.app.show_load_progress(EVENTS[ev.event].parse(ev.data))
        else:
            kind = EVENTS.get(ev.event)
            data = kind.parse(ev.data) if kind is not None else ev.data
            self.app.post_message(EngineEventReceived(ev.event, data))
        return False

    def _ignore(self, name: str, exc: Exception) -> None:
        """Log a malformed event; tell the person once per kind of event."""
        self.ignored[name] = self.ignored.get(name, 0) + 1
        self.app.log.warning(f"ignored a malformed {name!r} event from the engine: {exc}")
        if self.ignored[name] == 1:
            self.app.notify(
                _(
                    "ignored a malformed {event!r} event from the engine ({error}); further ones "
                    "are ignored without a word"
                ).format(event=name, error=exc),
                title=_("engine"),
                severity="warning",
                timeout=6,
            )

    async def restart(self) -> bool:
        """A fresh engine for one this app started (the old one is shut down, killed if it does
        not answer); for an engine it attached to, a new connection to it (it may still run)."""
        if self._pump:
            self._pump.cancel()
        client = self.client
        if self.attached_engine_gone():  # nothing to reconnect to: a new engine, as torchdeck
            await self.close(shutdown=False)
            client.spawn = self.spawn_fresh or transport.spawn_detached
            client.socket_path = None
        # a detached engine that hangs must not be left behind: it is not a child to kill
        hung = client.pid if client.spawn is not None and client.running else None
        await self.close(shutdown=self.owns_engine)
        if hung:
            await end_process(hung)
        client.drain_events()
        self.started_at = time.perf_counter()
        return await self.start()

    def attached_engine_gone(self) -> bool:
        """Whether this app attached to a local engine (one it did not start) that has ended:
        its socket is gone, or its process is."""
        client = self.client
        if client.spawn is not None or not client.socket_path or getattr(client, "host", None):
            return False
        if client.running:
            return False
        pid = client.pid or (client.info or {}).get("pid")
        if not os.path.exists(client.socket_path):
            return True
        return isinstance(pid, int) and pid > 0 and not transport.process_alive(pid)

    async def request(self, op: str, quiet: bool = False, **args) -> dict | None:
        """Run a request; on an error reply, notify the person and return None."""
        return await self._answer(op, self.client.request(op, args), quiet)

    async def call(self, args: Contract | str, quiet: bool = False) -> Any:
        """Send a typed request (or a bare op name, for an op without arguments) and return its
        typed result (``RESULTS`` of the contract), or None after an error reply or a
        malformed result (notified unless ``quiet``)."""
        return await self.send(args, quiet)

    def send(self, args: Contract | str, quiet: Quiet = False) -> Awaitable[Any]:
        """``call``, its request written before this returns: a keystroke's request leaves
        ahead of the frame that echoes the key (a coroutine would write it only once a task
        ran it)."""
        op = args if isinstance(args, str) else args.OP
        return self._answer(op, self.client.call_now(args), quiet)

    async def _answer(self, op: str, pending: Awaitable[Any], quiet: Quiet) -> Any:
        """``pending``'s result, or None after an error (notified unless ``quiet``; a
        ``quiet`` that is callable is given an error reply's message and hint to show)."""
        try:
            return await pending
        except EngineError as exc:  # an error reply, or a result that does not read
            if callable(quiet):
                quiet(f"{op}: {exc.message}" + (f" — {exc.hint}" if exc.hint else ""))
            elif not quiet:
                self.app.notify(
                    f"{exc.message}\n{exc.hint}" if exc.hint else exc.message,
                    title=f"{op}: {exc.type}",
                    severity="error",
                    timeout=8,
                )
            return None
        except (EngineDied, TorchdeckError):
            if not quiet:
                self.app.notify(
                    _("the engine is not running — press ctrl+r to restart it"),
                    title=op,
                    severity="error",
                )
            return None

    async def close(self, shutdown: bool | None = None) -> None:
        """Leave the engine: a pipe child always ends; an engine on a socket ends only with
        ``shutdown`` (by default it goes on, a run in progress with it)."""
        if self._pump:
            self._pump.cancel()
        if shutdown is None or self.client.role is None:
            await self.client.close(timeout=3)
        else:
            await self.client.close(timeout=3, shutdown=shutdown)


async def end_process(pid: int, grace: float = 5.0) -> None:
    """Wait up to ``grace`` seconds for process ``pid`` to exit (off the event loop), then kill
    it."""
    await asyncio.to_thread(transport.end_process, pid, grace, False)
