"""The Playground pane: a Python prompt that runs in the engine (op ``exec``), over a persistent
namespace holding torch, nn, F, np and the live model, tokenizer and data. The transcript shows
printed text, a tensor's one-line summary and values, and errors with a hint."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Awaitable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import Static

from core import i18n
from core.contract import AttachResult, SessionInfo, TrainState
from core.contract.lab import CellError, CompleteArgs, ExecArgs, ExecResult
from core.errors import EngineDied, EngineError
from core.i18n import N_, _
from core.playground_recipes import RECIPES, recipe
from tui.panes.base import Pane
from tui.screens.playground_recipes import RecipeScreen
from tui.widgets.playground_input import PlaygroundInput
from tui.widgets.playground_transcript import PlaygroundTranscript

SAVE_DIR = "runs/torchdeck"
STANDARD_NAMES = ("torch", "nn", "F", "np", "model", "tokenizer", "data")

WELCOME = N_(
    "Python prompt in the engine. Names ready: torch, nn, F, np, and model, tokenizer, data "
    "(the app's live ones: changing model in place, its weights or layers, changes what trains). "
    "Enter runs a complete cell "
    "and starts a new line otherwise; up/down recall earlier cells; tab completes. ctrl+t opens "
    "the recipes (the tensor exercises), ctrl+c interrupts a running cell, ctrl+s saves this "
    "transcript as Markdown, ctrl+n starts a fresh namespace. A cell is any Python, run as "
    "you, like any Python prompt: it can read and write your files."
)


class PlaygroundPane(Pane):
    TITLE = N_("Playground pane")
    DEFAULT_CSS = """
    PlaygroundPane { height: 1fr; }
    #playground-transcript { height: 1fr; background: $surface; }
    #playground-completions { height: auto; max-height: 3; color: $text-muted; display: none; }
    #playground-input { height: auto; min-height: 3; max-height: 45%; border: tall $primary; }
    #playground-input:focus { border: tall $accent; }
    #playground-status { height: 1; color: $text-muted; }
    """
    # keys the code box itself takes, for the help screen
    HELP_EXTRA = [
        ("enter", N_("Run the cell (a new line while the code is incomplete)")),
        ("↑/↓", N_("Recall earlier cells")),
        ("tab", N_("Complete a name or an attribute")),
    ]
    BINDINGS = [
        # back to the box from the transcript (tab took the focus there): typing went to the
        # pane's keys, which switch panes or start training
        Binding("i", "edit", N_("Type"), tooltip=N_("Type (code box)")),
        Binding("ctrl+t", "recipes", N_("Recipes")),
        Binding("ctrl+c", "interrupt", N_("Interrupt cell"), priority=True),
        Binding("ctrl+s", "save", N_("Save transcript")),
        Binding("ctrl+n", "reset_namespace", N_("Fresh namespace")),
        # priority: the input box, which has the focus, would move its cursor by a page
        Binding("pageup", "page(-1)", N_("Scroll transcript up"), show=False, priority=True),
        Binding("pagedown", "page(1)", N_("Scroll transcript down"), show=False, priority=True),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.running = False
        self._running_code = ""  # the cell that runs, shown in the status line meanwhile
        self.died_during: int | None = None  # the cell the engine went away during
        self._reconnecting = False  # the connection was lost: ctrl+r connects again
        self.train_state = "idle"
        self.save_dir = SAVE_DIR
        self.last_saved: str | None = None
        self.count = 0  # cells submitted in this app session: the In [n] numbers
        self.interrupts = 0  # ctrl+c presses the running cell has not answered yet
        self.attached_to = ""  # the engine whose names were shown
        self._welcome: dict | None = None  # the transcript's welcome entry (relabelled)

    def compose(self) -> ComposeResult:
        yield PlaygroundTranscript(id="playground-transcript")
        yield Static("", id="playground-completions")
        yield PlaygroundInput(id="playground-input")
        yield Static("", id="playground-status")

    def on_mount(self) -> None:
        with contextlib.suppress(NoMatches):  # built ahead as the app closes: nothing to show
            transcript = self.query_one(PlaygroundTranscript)
            transcript.note(i18n._(WELCOME))
            self._welcome = transcript.entries[-1]
            self._show_status()

    def relabel(self) -> None:
        """The status line and the welcome in the new language; the cells' notes and answers
        stay as they were written (a transcript is a record)."""
        with contextlib.suppress(NoMatches):
            self._show_status()
            if self._welcome is not None and self._welcome.get("note") != i18n._(WELCOME):
                self._welcome["note"] = i18n._(WELCOME)
                self.transcript._redraw()

    def pane_shown(self) -> None:
        super().pane_shown()
        self.call_after_refresh(self.transcript.refit)  # once laid out at its width

    def action_edit(self) -> None:
        self.input.focus()

    @property
    def input(self) -> PlaygroundInput:
        return self.query_one(PlaygroundInput)

    @property
    def transcript(self) -> PlaygroundTranscript:
        return self.query_one(PlaygroundTranscript)

    def focus_target(self) -> Widget:
        return self.input

    # -- status line ---------------------------------------------------------------------------

    def _show_status(self) -> None:
        if self.running:
            text = _("In [{number}] running, ctrl+c interrupts: {code}")
            if self.train_state == "running":
                text = _("In [{number}] waits for the training step, ctrl+c interrupts: {code}")
            first = next(
                (line.strip() for line in self._running_code.splitlines() if line.strip()), ""
            )
            text = text.format(number=self.count, code=first)
        elif self.train_state == "running":
            # one row at 80 columns
            text = _("training runs: a cell waits for the current step, then runs (training waits)")
        else:
            text = _(
                "enter runs · ctrl+t recipes · ctrl+s save · ctrl+n fresh namespace · esc leaves"
            )
        shown = Text(text, no_wrap=True, overflow="ellipsis")  # one row: the code cut to fit
        self.query_one("#playground-status", Static).update(shown, layout=False)

    # -- engine --------------------------------------------------------------------------------

    def engine_event(self, name: str, data) -> None:
        if isinstance(data, TrainState):
            self.train_state = data.state
            self._show_status()

    def configured(self, info: SessionInfo) -> None:
        if len(self.transcript.entries) > 1:  # the welcome and at least one cell
            self.transcript.note(
                _("model, tokenizer and data now point at the new {preset} model").format(
                    preset=info.preset
                )
            )

    def attached(self, result: AttachResult) -> None:
        """Attached to a running engine: its namespace is the one cells run in here."""
        self.train_state = result.state
        self._show_status()
        if result.engine.id == self.attached_to:
            return  # said already (the app redraws after another client's new model)
        self.attached_to = result.engine.id
        own = sorted(n for n in result.variables if n not in STANDARD_NAMES)
        names = ", ".join(own) if own else _("none beyond the standard ones")
        self.transcript.note(
            _(
                "Attached to engine {engine}: cells run in its namespace, shared with "
                "every client attached to it. Names defined there: {names}."
            ).format(engine=result.engine.id, names=names)
        )

    def cell_in_flight(self) -> int | None:
        """The number of the cell running now, or of the one the engine went away during."""
        return self.count if self.running else self.died_during

    def engine_restarted(self) -> None:
        """The engine went away (the status bar says how) or a new one is starting."""
        self.train_state = "idle"
        try:
            state = self.app.query_one("#status-bar").state
        except Exception:
            state = "starting"
        if state in ("crashed", "ended"):
            self.transcript.note(
                _(
                    "The engine stopped: every name defined here is lost. Press "
                    "ctrl+r to restart it with a fresh namespace."
                ),
                "bold red",
            )
        elif state == "disconnected":
            self._reconnecting = True
            self.transcript.note(
                _("The connection to the engine is lost; the names defined here live on in it."),
                "bold yellow",
            )
        elif self._reconnecting:
            self._reconnecting = False
            self.died_during = None
            self.transcript.note(_("Connecting to the engine again."), "bold yellow")
        else:
            self.died_during = None
            self.transcript.note(_("Engine restarting: the namespace starts fresh."), "bold yellow")
        self._show_status()

    # -- running cells -------------------------------------------------------------------------

    def on_playground_input_cell_submitted(self, message: PlaygroundInput.CellSubmitted) -> None:
        message.stop()
        self.run_cell(message.code)

    def run_cell(self, code: str) -> None:
        if self.running:
            self.app.notify(_("a cell is still running (ctrl+c interrupts it)"), timeout=3)
            return
        code = code.rstrip()
        if not code:
            return
        # written now, ahead of the paint that clears the box
        sent = self.link.client.call_now(ExecArgs(code))
        self.hold_for_answer()  # the cleared box and the answer: one paint
        self.input.remember(code)
        self.input.set_code("")
        self._hide_completions()
        self.count += 1
        self._running_code = code
        self.running = True
        self.interrupts = 0
        self._show_status()
        self._exec(sent, code, self.count)

    @work(group="playground-exec")
    async def _exec(self, sent: Awaitable[ExecResult], code: str, number: int) -> None:
        result = failure = None
        try:
            result = await sent
        except EngineError as exc:
            failure = CellError(exc.type, exc.message, hint=exc.hint)
            if exc.type == "Interrupted":
                failure = CellError(
                    "Interrupted",
                    _("the cell was stopped"),
                    hint=_("the namespace keeps what the cell had assigned before"),
                )
        except EngineDied as exc:
            self.died_during = number
            failure = CellError(
                "EngineDied",
                _("the engine exited (code {code}) during this cell").format(code=exc.returncode)
                if exc.returncode is not None  # a detached engine's code is not known here
                else _("the engine is gone (its connection closed): no answer came for this cell"),
                hint=_("press ctrl+r to restart it; the namespace starts fresh"),
            )
        finally:
            self.running = False
        if not self.is_attached:
            return
        with self.app.batch_update():  # the answer and the status: one frame
            self.transcript.cell(number, code, result, failure)
            self._show_status()
        self.answer_drawn()

    def action_interrupt(self) -> None:
        """ctrl+c: SIGINT the engine while a cell runs; otherwise copy, as in any text box."""
        if self.running:
            self.link.client.interrupt()
            self.interrupts += 1
            text = _("interrupting…")
            if self.interrupts >= 2:  # the cell ignores SIGINT, or the engine is stopped
                text = _("interrupting… no answer: ctrl+r restarts the engine (a fresh namespace)")
                if self.interrupts == 2:
                    self.app.notify(
                        _(
                            "the cell does not answer ctrl+c: press ctrl+r to restart the engine "
                            "(the namespace starts fresh; the model is rebuilt)"
                        ),
                        title=_("interrupt"),
                        severity="warning",
                        timeout=10,
                    )
            self.query_one("#playground-status", Static).update(text, layout=False)  # one row
        elif self.input.selected_text:
            self.input.action_copy()
        else:
            self.app.notify(_("no cell is running (ctrl+q quits the app)"), timeout=2)

    # -- completion ----------------------------------------------------------------------------

    def on_playground_input_completion_requested(
        self, message: PlaygroundInput.CompletionRequested
    ) -> None:
        message.stop()
        self._complete(message.code, message.cursor)

    @work(group="playground-complete", exclusive=True)
    async def _complete(self, code: str, cursor: int) -> None:
        try:
            reply = await self.link.client.call(CompleteArgs(code, cursor))
        except (EngineError, EngineDied):
            return
        if self.input.text != code:  # typed on meanwhile
            return
        candidates = reply.candidates
        self.input.apply_completion(reply.start, reply.prefix, candidates)
        box = self.query_one("#playground-completions", Static)
        if len(candidates) > 1:
            more = reply.more + max(0, len(candidates) - 40)
            shown = "  ".join(candidates[:40])
            if more:
                shown += "  " + _("… {n} more").format(n=more)
            box.update(shown)
            box.display = True
        elif not candidates:
            box.update(_("no completions"))
            box.display = True
        else:
            self._hide_completions()

    def _hide_completions(self) -> None:
        self.query_one("#playground-completions", Static).display = False

    # -- recipes, saving, reset ----------------------------------------------------------------

    def action_page(self, pages: int) -> None:
        log = self.transcript
        log.scroll_to(y=log.scroll_y + pages * log.scrollable_content_region.height, animate=False)

    def action_recipes(self) -> None:
        def chosen(choice: tuple[str, str] | None) -> None:
            if choice is None:
                self.input.focus()
                return
            how, key = choice
            code = recipe(key).code
            if how == "run":
                self.run_cell(code)
            else:
                self.input.set_code(code)
                self.app.notify(_("recipe loaded: press enter at its end to run it"), timeout=3)
            self.input.focus()

        self.app.push_screen(RecipeScreen(RECIPES), chosen)

    def action_save(self) -> None:
        text = self.transcript.markdown()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = os.path.join(self.save_dir, f"playground-{stamp}.md")
        try:
            os.makedirs(self.save_dir, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".playground-", suffix=".md", dir=self.save_dir)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            self.app.notify(
                _("cannot save the transcript: {error}").format(error=exc),
                severity="error",
                timeout=8,
            )
            return
        self.last_saved = path
        self.app.notify(
            _("transcript saved to {path}").format(path=os.path.abspath(path)), timeout=6
        )

    async def action_reset_namespace(self) -> None:
        if self.running:
            self.app.notify(_("a cell is running: interrupt it first (ctrl+c)"), timeout=3)
            return
        try:
            await self.link.client.call("playground_reset")
        except (EngineError, EngineDied) as exc:
            self.app.notify(_("cannot reset: {error}").format(error=exc), severity="error")
            return
        self.transcript.note(_("Fresh namespace: torch, nn, F, np, model, tokenizer, data."))
