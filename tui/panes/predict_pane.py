"""The Predict pane: type text, see it become ids, and see the model's next-character
probabilities; they sharpen while the model trains (LESSONS L1).

Each keystroke sends a ``predict`` request at once (tui.latest: while one is in flight, only the
newest text follows it), and its echo is painted together with its bars. While training runs,
the pane re-predicts after progress events, at most ~3 times a second, and only while shown.
The pane composes its widgets, talks to the engine, and reads the replies.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import ContentSwitcher

from core import i18n
from core.contract import (
    PredictArgs,
    PredictResult,
    SessionInfo,
    TrainProgress,
)
from core.i18n import N_, _
from tui.latest import LatestRequest
from tui.panes.base import ANSWER_HOLD_S, EXPLAIN_HOLD_S, Pane
from tui.panes.predict_explain import Explaining
from tui.panes.predict_generate import Generation
from tui.panes.predict_info import info_parts
from tui.widgets.activation_map import ActivationMap
from tui.widgets.explain_view import ExplainView
from tui.widgets.generated_text import GeneratedText
from tui.widgets.info_line import InfoLine
from tui.widgets.math_view import MathView
from tui.widgets.predict_input import PredictInput
from tui.widgets.prob_bars import ProbBars
from tui.widgets.sampling_controls import SamplingControls
from tui.widgets.token_strip import TokenStrip

LIVE_INTERVAL_S = 0.3  # re-predict during training at most this often


def starting() -> str:
    return _("engine starting…")


class PredictPane(Explaining, Generation, Pane):
    TITLE = N_("Predict pane")
    HELP_EXTRA = [  # keys the text box itself takes
        ("enter", N_("Append the generated text to yours")),
        ("←/→", N_("Move the cursor: the explain view's character follows it")),
    ]
    BINDINGS = [
        Binding("i", "edit", N_("Type"), tooltip=N_("Type (text box)")),
        Binding("g,ctrl+g", "generate", N_("Generate")),
        Binding("m", "side('math')", N_("Math"), tooltip=N_("Show the math")),
        Binding("l", "side('activations')", N_("Acts"), tooltip=N_("Activations")),
        Binding("e", "side('explain')", N_("Explain"), tooltip=N_("Inside the model")),
        Binding("comma", "head(-1)", N_("Prev head"), show=False),
        Binding("full_stop", "head(1)", N_("Next head"), show=False),
        Binding("v", "heads_grid", N_("All heads / one head"), show=False),
        Binding("tab", "accept", N_("Accept top char"), show=False),
        Binding("plus,equals_sign,up", "temperature(1)", N_("Temperature up"), show=False),
        Binding("minus,down", "temperature(-1)", N_("Temperature down"), show=False),
        Binding("k", "top_k", N_("Top-k")),
        Binding("p", "top_p", N_("Top-p")),
        Binding("s", "sampled", N_("Sampling"), tooltip=N_("Greedy/sampled")),
        Binding("x,escape", "stop", N_("Stop"), tooltip=N_("Stop generating")),
        Binding("n", "gen_length", N_("Gen length"), show=False),
        Binding("left_square_bracket", "layer(-1)", N_("Prev layer"), show=False),
        Binding("right_square_bracket", "layer(1)", N_("Next layer"), show=False),
        Binding("c", "clear", N_("Clear text"), show=False),
        Binding("pageup", "side_page(-1)", N_("Scroll side view up"), show=False),
        Binding("pagedown", "side_page(1)", N_("Scroll side view down"), show=False),
    ]
    DEFAULT_CSS = Path(__file__).with_name("predict_pane.tcss").read_text(encoding="utf-8")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.side = "generated"
        self.layer_list: list[dict] = []
        self.layer_index = -1
        self.explain_at = [0, 0]  # the explain view's layer and head
        self.is_lm = False
        self.ready = False
        self.step = 0
        self.result: PredictResult | None = None
        self._gen_id: int | None = None
        self._timer: Timer | None = None
        self.prediction = LatestRequest(self._send_prediction, self._show_prediction)
        self._typed_at: float | None = None
        self._last_live = 0.0
        self.latencies: deque[float] = deque(maxlen=200)  # keystroke → bars drawn, seconds
        self._amap_note = ""  # the activation map's note, an msgid
        self._bars_note: Callable[[], str] = starting  # the bars' note, made again on F5

    def compose(self) -> ComposeResult:
        yield PredictInput(id="predict-input", on_text=self._typed)
        yield TokenStrip(id="predict-strip")
        yield InfoLine(id="predict-info")
        with Horizontal(id="predict-body"):
            yield ProbBars(id="predict-bars")
            with ContentSwitcher(initial="predict-generated", id="predict-side"):
                yield GeneratedText(id="predict-generated")
                yield MathView(id="predict-math")
                yield ActivationMap(id="predict-activations")
                yield ExplainView(id="predict-explain")
        yield SamplingControls(id="predict-controls")

    def on_mount(self) -> None:
        with contextlib.suppress(NoMatches):  # built ahead as the app closes: nothing to show
            self._note_bars(starting)
            self._show_generated()
            self._show_controls()
            self.watch(self.input_box, "selection", self._cursor_moved, init=False)

    @property
    def input_box(self) -> PredictInput:
        return self.query_one(PredictInput)

    @property
    def controls(self) -> SamplingControls:
        return self.query_one(SamplingControls)

    @property
    def generated_view(self) -> GeneratedText:
        return self.query_one(GeneratedText)

    @property
    def text(self) -> str:
        return self.input_box.value

    @property
    def generating(self) -> bool:
        return self.generated_view.generating

    # -- engine --------------------------------------------------------------------------------

    def configured(self, info: SessionInfo) -> None:
        self.ready = True
        self.is_lm = info.is_language_model
        self.step = info.step
        self.layer_list, self.layer_index = [], -1
        self.explain_at = [0, 0]  # the new model may have fewer layers or heads
        self.prediction.reset()  # a reply about the previous model is stale
        if not self.is_lm:
            self.result = None
            bars = self.query_one(ProbBars)
            bars.top = []
            preset = info.preset
            self._note_bars(
                lambda: _(
                    "the {preset} preset is not a language model: apply "
                    "mini, mlp or gpt in the Train pane (F2) to predict text"
                ).format(preset=preset)
            )
            self.query_one(TokenStrip).strip = []
            self.query_one(InfoLine).clear()
            return
        if self.side == "activations":
            self.call_later(self._relist_layers)
        else:
            self.schedule(0)

    def engine_event(self, name: str, data) -> None:
        if isinstance(data, TrainProgress):
            self.step = data.step
            now = time.monotonic()
            if self.shown and self.is_lm and now - self._last_live >= LIVE_INTERVAL_S:
                self._last_live = now
                self.schedule(0)
        elif name == "generate_token" and self.generating and data.get("id") == self._gen_id:
            self.generated_view.add(data.get("char", ""))
            self._show_generated()

    def engine_restarted(self) -> None:
        self.ready = self.is_lm = False
        self.generated_view.finish(None)
        self.prediction.reset()
        self.result = None
        self.query_one(ProbBars).top = []
        self._note_bars(starting)
        self._show_controls()

    def focus_target(self) -> Widget:
        return self.input_box

    def _note_bars(self, note: Callable[[], str]) -> None:
        self._bars_note = note
        self.query_one(ProbBars).note = note()

    def relabel(self) -> None:
        """The notes and the info line in the new language (the widgets draw the rest)."""
        with contextlib.suppress(NoMatches):
            self.query_one(ProbBars).note = self._bars_note()
            amap = self.query_one(ActivationMap)
            if amap.note:
                amap.note = i18n._(self._amap_note)
            if self.result is not None and self.is_lm:
                self._show_info(self.result)

    def pane_shown(self) -> None:
        if self.is_lm and self.ready and self.side == "activations":  # a cell may have edited them
            self.call_later(self._relist_layers)
        elif self.is_lm:
            self.schedule(0)

    # -- prediction ----------------------------------------------------------------------------

    def _typed(self) -> None:
        """The box's text changed (called by the box itself, before it paints the key)."""
        if self._typed_at is None:
            self._typed_at = time.perf_counter()
        self.schedule(0, urgent=True)

    def schedule(self, delay: float, urgent: bool = False) -> None:
        """Predict now (``delay`` 0: the request goes out before this returns, or follows the
        one in flight; ``urgent``, a key, goes ahead of a live refresh), or after ``delay``
        seconds; a newer call replaces an older timer."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if delay > 0:
            self._timer = self.set_timer(delay, self._fire)
        elif self.ready and self.is_lm:
            self.prediction.kick(urgent)

    async def _fire(self) -> None:
        self._timer = None
        if not (self.ready and self.is_lm):
            return
        await self.prediction.run()  # answers the newest text once the current request returns

    def _request_args(self) -> PredictArgs:
        args = {"text": self.text, "k": 10, **self.controls.sampling()}
        if self.side == "math":
            args["math"] = True
        elif self.side == "explain":
            args["explain"] = self._explain_args()
        elif self.side == "activations" and self.layer_list:
            args.update(layer=self.layer_list[self.layer_index]["name"], units=12, positions=40)
        return PredictArgs(**args)

    def _send_prediction(self) -> Awaitable[tuple[PredictResult, float | None] | None]:
        """The request written now (see ``LatestRequest.kick``); its reply awaited later."""
        typed_at, self._typed_at = self._typed_at, None
        sent = self.link.send(self._request_args(), quiet=self._refused)
        if typed_at is not None:  # a key: its echo waits for the bars, to paint as one
            self.hold_for_answer(EXPLAIN_HOLD_S if self.side == "explain" else ANSWER_HOLD_S)

        async def reply() -> tuple[PredictResult, float | None] | None:
            result = await sent
            if result is None:
                self.answer_drawn()
            return None if result is None else (result, typed_at)

        return reply()

    def _show_prediction(self, reply: tuple[PredictResult, float | None]) -> None:
        result, typed_at = reply
        if not self.is_running:
            return
        self.result = result
        self.step = result.step
        self._render_result(result, typed_at)
        self.answer_drawn()

    def _render_result(self, r: PredictResult, typed_at: float | None = None) -> None:
        strip = self.query_one(TokenStrip)
        strip.total = r.chars
        strip.strip = r.strip
        bars = self.query_one(ProbBars)
        bars.vocab_size = r.vocab_size
        bars.top = r.top
        if typed_at is not None:  # keystroke → bars, shown in the info line
            self.latencies.append(time.perf_counter() - typed_at)
        self._show_info(r)
        if r.math is not None:
            self.query_one(MathView).math = r.math
        if r.activations is not None:
            self.query_one(ActivationMap).data = r.activations
        if r.explain is not None:
            self._show_explanation(r.explain)

    def _show_info(self, r: PredictResult) -> None:
        latency = self.latencies[-1] if self.latencies else None
        self.query_one(InfoLine).show_parts(info_parts(r, latency), "bold red" if r.unknown else "")

    def _refused(self, why: str) -> None:
        """The engine refused the request: say so where the text's figures go (a notification
        per keystroke would bury the screen), rather than keep the last text's as if current."""
        self.query_one(InfoLine).show_message(why, "bold red")

    # -- controls ------------------------------------------------------------------------------

    def _show_controls(self) -> None:
        self.controls.show(self.generating)

    def _changed_controls(self) -> None:
        self._show_controls()
        if self.is_lm:
            self.schedule(0)

    def action_temperature(self, step: int) -> None:
        self.controls.step_temperature(step)
        self._changed_controls()

    def action_top_k(self) -> None:
        self.controls.next_top_k()
        self._changed_controls()

    def action_top_p(self) -> None:
        self.controls.next_top_p()
        self._changed_controls()

    def action_sampled(self) -> None:
        self.controls.toggle_greedy()
        self._changed_controls()

    def action_gen_length(self) -> None:
        self.controls.next_gen_length()
        self._show_controls()

    def action_edit(self) -> None:
        self.input_box.focus()

    def action_clear(self) -> None:
        self.input_box.value = ""

    def action_accept(self) -> None:
        """Append the most likely next character to the text."""
        if not (self.result and self.result.top):
            self.app.notify(_("no prediction yet to accept"), timeout=2)
            return
        self.input_box.append_text(self.result.top[0].char)

    async def action_side(self, view: str) -> None:
        self.side = "generated" if self.side == view else view
        self.query_one(ContentSwitcher).current = f"predict-{self.side}"
        self.query_one(ProbBars).display = self.side != "explain"  # the view needs the width
        if self.side == "activations" and not self.layer_list:
            await self._load_layers()
        if self.is_lm:
            self.schedule(0)

    async def _load_layers(self) -> None:
        result = await self.link.call("predict_layers", quiet=True)
        if result is None:  # refused or no engine: the list shown so far stays
            return
        amap = self.query_one(ActivationMap)
        if not result.layers:
            self.layer_list = []
            self._amap_note = N_("no layer with one vector per character")
            amap.note = i18n._(self._amap_note)
            return
        listed = 0 <= self.layer_index < len(self.layer_list)
        shown = self.layer_list[self.layer_index]["name"] if listed else None
        self.layer_list = result.layers
        names = [layer["name"] for layer in self.layer_list]
        if shown in names:  # the same layer stays chosen, wherever the new list has it
            self.layer_index = names.index(shown)
        else:
            # start at the hidden layer that feeds the output: the most telling one
            out = result.output_layer
            self.layer_index = max(0, names.index(out) - 1) if out in names else 0
        self._amap_note = N_("[ and ] choose the layer")
        amap.note = i18n._(self._amap_note)

    async def _relist_layers(self) -> None:
        """The model's layers asked again, then a prediction for the layer chosen among them."""
        await self._load_layers()
        self.schedule(0)

    def action_layer(self, step: int) -> None:
        if self.side == "explain":
            self._move_explain(0, step)
            return
        if not self.layer_list:
            self.app.notify(_("press l to show activations first"), timeout=2)
            return
        self.layer_index = (self.layer_index + step) % len(self.layer_list)
        if self.is_lm:
            self.schedule(0)

    def action_side_page(self, pages: int) -> None:
        side = self.query_one("#predict-side")
        page = pages * side.scrollable_content_region.height
        side.scroll_to(y=side.scroll_y + page, animate=False)
