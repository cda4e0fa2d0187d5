"""The torchdeck app: four panes over one engine process. Keys, panes and global actions only;
each pane lives in its own file under tui/panes."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import ContentSwitcher

from core.client import EngineClient
from core.contract.settings import DEFAULT_AUTOSAVE_MINUTES, DEFAULT_PRESET
from core.i18n import _
from tui.app_events import show_event
from tui.app_keys import APP_BINDINGS, corpus_loading
from tui.attach import (
    CrashBanner,
    first_model,
    show_engine_lost,
)
from tui.engine_link import EngineLink
from tui.lessons.panel import LessonPanel
from tui.lessons.start import show_lessons
from tui.messages import EngineEventReceived, EngineExited, EngineReady, EngineStartFailed
from tui.panes.base import Pane
from tui.panes.registry import PANES, PREBUILD_AFTER_S, pane_class
from tui.panes.train_pane import TrainPane
from tui.quiet_gc import QuietCollector
from tui.quitting import quit_app
from tui.screens.help_screen import HelpScreen
from tui.screens.prompt_paint import PromptScreen
from tui.widgets.key_footer import KeyFooter
from tui.widgets.pane_tabs import PaneTabs
from tui.widgets.status_bar import StatusBar, engine_health
from tui.widgets.system_line import MachineState

if TYPE_CHECKING:
    from core.contract import AttachResult, SessionInfo


def palette_commands() -> type:
    """The palette's commands, searched blind to Vietnamese marks (loaded when first opened)."""
    from tui.palette_search import FoldingCommands

    return FoldingCommands


class TorchdeckApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "torchdeck"
    BINDINGS = APP_BINDINGS
    COMMANDS = {palette_commands}

    def __init__(
        self,
        preset: str = DEFAULT_PRESET,
        corpus: str | None = None,
        device: str = "auto",
        factory: str | None = None,
        settings: dict | None = None,
        client: EngineClient | None = None,
        started_at: float | None = None,
        autosave_minutes: float = DEFAULT_AUTOSAVE_MINUTES,
        attach: bool = False,
    ) -> None:
        """``client``: the engine to drive (default: a pipe child); ``attach``: the engine
        already runs (``EngineClient(socket_path=...)``): draw its model and run as they are
        instead of configuring a fresh model (a fresh one all the same if it holds none)."""
        super().__init__()
        self.autosave_minutes = autosave_minutes  # 0: off; see TrainStartArgs
        self.started_at = started_at or time.perf_counter()
        # the first model: these, and every other setting of ``settings`` (ConfigureArgs' names)
        self.initial = {"preset": preset, "corpus": corpus, "device": device, "factory": factory}
        self.initial.update(settings or {})
        self.engine = EngineLink(self, client or EngineClient(), self.started_at)
        self.timings: dict[str, float] = {}
        self.panes: dict[str, Pane] = {}  # the panes built so far, by key
        self._prebuilding = False  # whether the panes not shown yet are being built
        self._building: dict[str, asyncio.Future] = {}  # panes being built, by key
        self.last_info: SessionInfo | None = None  # the latest configure/reset/load reply
        self.model_ready = asyncio.Event()  # set once the first model is configured
        self.engine_state = "starting"
        self.reported: set[tuple[str, str]] = set()  # (where, event) handler failures shown
        self.attaching = attach
        self.attached: AttachResult | None = None  # the attach reply drawn, if attached
        self.machine = MachineState()  # the engine's recent system samples (key u, Train pane)
        self.collector = QuietCollector()  # full garbage collections while nobody types

    def get_default_screen(self) -> Screen:
        return PromptScreen(id="_default")  # paints a change at once, not a tick or two later

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield CrashBanner(id="crash-banner")
        yield PaneTabs(PANES, "train", id="pane-tabs")
        with ContentSwitcher(initial="train", id="panes"):
            for key, _title in PANES:  # a slot per pane: the Train pane now, others when built
                with Vertical(id=key, classes="pane-slot"):
                    if key == "train":
                        yield TrainPane(self.initial, id="train-pane")
        yield LessonPanel(id="lesson-panel")
        yield KeyFooter(id="keys")

    async def on_mount(self) -> None:
        self.query_one("#crash-banner").display = False
        self.call_after_refresh(self._first_paint)
        self.panes["train"] = self.query_one(TrainPane)
        self.panes["train"].focus()
        # Start-up objects (CSS, widgets) live as long as the app: freezing them keeps the
        # garbage collector's full passes short (65 ms → 15 ms pauses while training).
        gc.freeze()
        # spawn the engine beside the first layout, not before it: the frame comes ~0.07 s
        # sooner and the engine is ready no later (it spends ~1.7 s importing torch anyway)
        self.run_worker(self.engine.start(), name="engine-start", exit_on_error=False)
        self.set_interval(0.5, self._heartbeat)

    def _first_paint(self) -> None:
        self.timings["first_paint_s"] = time.perf_counter() - self.started_at
        gc.freeze()  # start-up objects live as long as the app: keep them out of collections
        gc.enable()
        self.collector.install()

    # -- engine --------------------------------------------------------------------------------

    async def on_engine_ready(self, message: EngineReady) -> None:
        self.timings["engine_ready_s"] = message.seconds
        self._write_timings()
        status = self.query_one(StatusBar)
        status.state = "ready"
        self.query_one("#crash-banner").display = False
        # in a worker: a handler that awaited the model (1–2 s for gpt) held every app key
        # (F1…F4, digits, help) until it loaded
        self.run_worker(first_model(self), name="first-model", exit_on_error=False)

    def model_configured(self, info: SessionInfo) -> None:
        """A configure, reset or load reply: the status bar and the panes show the new model."""
        if not self.is_running:  # a reply that arrived while the app was closing
            return
        status = self.query_one(StatusBar)
        status.device, status.preset = info.device, info.model_name
        status.step, status.steps = info.step, info.steps
        status.loss = status.val_loss = status.tokens_per_s = None
        status.world_size = info.world_size
        status.corpus_loading, status.compiling_since = "", None
        self.last_info = info
        self.model_ready.set()
        for note in info.notes or ():  # a model file changed since its checkpoint
            self.notify(note, title=_("note"), timeout=12)
        for pane in list(self.panes.values()):
            pane.configured(info)
        if not self._prebuilding:  # the first model: build the other panes while idle
            self._prebuilding = True
            self.set_timer(PREBUILD_AFTER_S, self._prebuild_next)

    async def _prebuild_next(self) -> None:
        """Build one pane not shown yet, then, after a frame, the next: a first visit then only
        switches tabs (building a pane takes ~100 ms, too long for a key)."""
        if not self.is_running:
            return
        if len(self.screen_stack) > 1:  # a dialog, help, a crash: build once it is closed
            self.set_timer(PREBUILD_AFTER_S, self._prebuild_next)
            return
        for key, _title in PANES:
            if key not in self.panes:
                try:
                    await self.ensure_pane(key)
                except Exception:  # the app is closing or the engine went: first show builds it
                    for half in self.query(f"#{key}-pane"):
                        await half.remove()
                    return
                self.call_after_refresh(self._prebuild_next)
                return
        # every pane is built: its widgets live as long as the app, so keep them out of the
        # collector's full passes (45–130 ms each, which stalled a pane switch or a keystroke)
        gc.freeze()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.collector.input_seen()
        await super().on_event(event)

    def _heartbeat(self) -> None:
        """Twice a second: a full garbage collection if one is due and nobody is typing; does
        the engine keep the app waiting? (status bar: busy, not responding)."""
        self.collector.tick()
        client = self.engine.client
        now = time.monotonic()
        waited = None
        try:
            waited = client.oldest_pending_s(now)
            health = engine_health(
                now,
                alive=client.running,
                training=self.engine_state == "running",
                pending_since=None if waited is None else now - waited,
                heard_at=client.last_heard,
                stopped=client.stopped,
            )
        except Exception:  # a client without these (a test's fake): nothing to say
            health = ""
        try:
            status = self.query_one(StatusBar)
        except NoMatches:  # the app is closing: its screen has gone
            return
        status.health = health
        if status.corpus_loading and waited is None:
            status.corpus_loading = ""  # the load ended (its reply, or its error, has come)

    def on_engine_event_received(self, message: EngineEventReceived) -> None:
        try:
            show_event(self, message.name, message.data)
        except Exception as exc:  # an event the app cannot show: reported, never fatal
            self.report_failure("app", message.name, exc)
        for pane in list(self.panes.values()):
            try:
                pane.engine_event(message.name, message.data)
            except Exception as exc:
                self.report_failure(pane.id or type(pane).__name__, message.name, exc)

    def report_failure(self, where: str, name: str, exc: Exception) -> None:
        """An event handler failed: log it, and tell the person once per handler and event."""
        self.log.error(f"{where} could not handle the {name!r} event: {exc!r}")
        if (where, name) not in self.reported:
            self.reported.add((where, name))
            self.notify(
                _("{where} could not handle the {event!r} event: {error}").format(
                    where=where, event=name, error=f"{type(exc).__name__}: {exc}"
                ),
                title=_("engine event ignored"),
                severity="warning",
                timeout=6,
            )

    def show_load_progress(self, data) -> None:
        """A LoadProgress: the status bar says how far the engine has read a training text."""
        percent = 100 * data.done // max(1, data.total)
        self.query_one(StatusBar).corpus_loading = corpus_loading(data.stage, percent)

    def machine_changed(self) -> None:
        """New samples (an event, an attach reply): the Train pane's line and an open machine
        view show them."""
        train = self.panes.get("train")
        if train is not None:
            train.show_machine(self.machine)
        for screen in self.screen_stack:
            if hasattr(screen, "show_machine"):
                screen.show_machine()

    async def on_engine_exited(self, message: EngineExited) -> None:
        await show_engine_lost(self, message)  # ended, crashed, or only the connection lost

    def on_engine_start_failed(self, message: EngineStartFailed) -> None:
        self.query_one(StatusBar).state = "crashed"
        self.notify(message.message, severity="error", timeout=15)

    async def action_restart_engine(self) -> bool:
        """A fresh engine (one this app started), or a new connection (one it attached to)."""
        status = self.query_one(StatusBar)
        status.state, status.step, status.steps = "starting", 0, 0
        for pane in list(self.panes.values()):
            pane.engine_restarted()
        return await self.engine.restart()

    async def action_restart_and_load(self) -> None:
        if not await self.action_restart_engine():
            return  # said by EngineStartFailed
        try:
            await self.engine.client.wait_ready()
        except Exception:  # the engine died again: the banner says so
            return
        pane = self.query_one(TrainPane)
        await pane.load_latest()

    def _write_timings(self) -> None:
        path = os.environ.get("TORCHDECK_TIMINGS")
        if path:
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(self.timings, fh)

    # -- panes and keys ------------------------------------------------------------------------

    async def ensure_pane(self, key: str) -> Pane:
        """The pane for ``key``, built and told about the current model on first use. A pane
        joins ``panes`` (what events and new models reach) only once it is whole; a second
        caller while it is being built (a key during the idle prebuild) waits for the same one."""
        pane = self.panes.get(key)
        if pane is not None:
            return pane
        building = self._building.get(key)
        if building is not None:
            return await asyncio.shield(building)
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        self._building[key] = done
        try:
            pane = pane_class(key)(id=f"{key}-pane")
            await self.query_one(f"#{key}", Vertical).mount(pane)
            if self.last_info is not None:
                pane.configured(self.last_info)
            if self.attached is not None:
                pane.attached(self.attached)
            self.panes[key] = pane
            done.set_result(pane)
            return pane
        except BaseException as exc:
            done.set_exception(exc)
            done.exception()  # retrieved: a failed prebuild nobody waited on is no warning
            raise
        finally:
            self._building.pop(key, None)

    async def action_show_pane(self, key: str) -> None:
        pane = await self.ensure_pane(key)
        self.query_one("#panes", ContentSwitcher).current = key
        self.query_one(PaneTabs).active = key
        # Focus now, not through focus()'s deferred callback: keys typed right after F4 are
        # already queued behind this action and must reach the pane's box, not the last pane.
        self.screen.set_focus(pane.focus_target())
        pane.draw_pending()
        pane.pane_shown()

    async def on_pane_tabs_chosen(self, event: PaneTabs.Chosen) -> None:
        await self.action_show_pane(event.key)  # a pane's name clicked

    @property
    def active_pane(self) -> str:
        """The pane shown: summary, train, playground or predict."""
        return self.query_one("#panes", ContentSwitcher).current or "train"

    def action_leave_input(self) -> None:
        self.query_one(f"#{self.active_pane}-pane").focus()

    def action_lessons(self) -> None:
        show_lessons(self)

    def action_machine(self) -> None:
        """The machine view: every figure of the latest sample, the warnings, the history."""
        from tui.screens.system_screen import SystemScreen

        self.push_screen(SystemScreen(self.machine))

    async def action_language(self) -> None:
        """Tiếng Việt ⇄ English, live (tui/language.py)."""
        from tui.language import switch_language

        await switch_language(self)

    def action_help(self) -> None:
        from tui.commands import help_sections

        self.push_screen(HelpScreen(help_sections()))

    def action_command_palette(self) -> None:
        from textual.command import CommandPalette

        if self.use_command_palette and not CommandPalette.is_open(self):
            placeholder = _("Search for commands…")
            self.push_screen(CommandPalette(id="--command-palette", placeholder=placeholder))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        from tui.commands import system_commands

        yield from system_commands(self, super().get_system_commands(screen))

    async def action_quit(self) -> None:
        """Quit. While a run trains in an engine on a socket, ask first: keep it training in
        the background, stop it, or cancel (tui/quitting.py)."""
        await quit_app(self)

    async def on_unmount(self) -> None:
        self.collector.uninstall()
        # however the app ends (a crash, a closed terminal, a test finishing): a pipe child
        # ends with it, an engine on a socket goes on (a run in progress keeps training)
        await self.engine.close()
