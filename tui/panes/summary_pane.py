"""The Summary pane: what the model is made of (LESSONS.md L1 and L3).

Five views, one at a time (so that each fits 80×24), switched by key:
- t  the layer table: output shapes for one training batch, parameters (tied weights counted
     once), trainable or frozen, share, multiply-adds; enter expands a layer into its weight
     tensors, +/- set the depth; the footer has the totals;
- w  a weight tensor's statistics and histogram beside the theory of its initialisation, its
     gradient and how far it moved since the model was configured or loaded;
- e  the Embedding-vs-Linear lesson on live layers (sizes V and d editable);
- f  the forward-pass lesson: X · Wᵀ + b by hand beside a Linear's output;
- c  the model's code: its class's ``forward`` (the data flow) and ``__init__`` (the layers).

Each view is a widget that asks the engine for its own data (ops ``summary``, ``weight_stats``,
``lesson_embedding_linear``, ``lesson_linear_forward`` and ``model_source``, one request at a
time each) and draws it; the pane keeps the layout, the keys and which view shows. A view taller
than the screen scrolls by keyboard as soon as it shows: the view's scrolling part takes the
focus (PageUp/PageDown, ↑/↓, Home/End), and the pane's keys reach the pane through it. The views
that show the weights refresh after configure, reset and load, on ``r``, after a step taken
one at a time, and while training runs every few seconds, only while the pane is visible; the
head line follows the model's step from the engine's events, without asking again.
"""

from __future__ import annotations

import contextlib
import time

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Input, Static

from core.contract import SessionInfo, TrainProgress, TrainState
from core.contract.settings import MINI
from core.i18n import N_, _
from tui.panes.base import Pane
from tui.widgets.summary_embedding_lesson import SummaryEmbeddingLesson
from tui.widgets.summary_forward_lesson import SummaryForwardLesson
from tui.widgets.summary_layers import WAITING, SummaryLayers
from tui.widgets.summary_source import SummarySource
from tui.widgets.summary_table import SummaryTable
from tui.widgets.summary_weight import SummaryWeight

LIVE_REFRESH_S = 5.0  # while training: at most one refresh this often, and only when visible
VIEWS = {
    "layers": "sum-layers",
    "weight": "sum-weight",
    "embed": "sum-embed",
    "forward": "sum-forward",
    "source": "sum-source",
}
MODEL_VIEWS = ("layers", "weight", "forward")  # the views whose figures change as the model trains


class SummaryPane(Pane):
    TITLE = N_("Summary pane")
    DEFAULT_CSS = """
    SummaryPane { height: 1fr; }
    SummaryPane #sum-head { height: 1; color: $text-muted; }
    SummaryPane ContentSwitcher { height: 1fr; }
    SummaryPane #sum-layers, SummaryPane #sum-weight, SummaryPane #sum-embed,
    SummaryPane #sum-forward, SummaryPane #sum-source { height: 1fr; }
    SummaryPane #sum-totals { height: auto; max-height: 4; background: $panel; }
    SummaryPane #sum-weight-text { width: 1fr; min-width: 42; max-width: 62; height: 1fr; }
    SummaryPane #sum-weight-plot { width: 1fr; min-width: 20; }
    SummaryPane #sum-sizes { height: 1; }
    SummaryPane #sum-sizes Label { width: auto; padding: 0 1; }
    SummaryPane #sum-sizes Input { width: 9; height: 1; border: none; padding: 0; }
    SummaryPane #sum-embed-body { height: 1fr; }
    SummaryPane #sum-embed-scroll { width: 1fr; min-width: 45; max-width: 88; }
    SummaryPane #sum-embed-plots { width: 1fr; min-width: 24; }
    SummaryPane #sum-embed-plots SummaryHistogram { height: 1fr; }
    """
    HELP_EXTRA = [  # keys the layer table itself takes
        ("enter", N_("A layer's weight tensors; on a tensor, its statistics")),
    ]
    BINDINGS = [
        Binding("t", "view('layers')", N_("Table"), tooltip=N_("Layer table")),
        Binding("w", "view('weight')", N_("Weights"), tooltip=N_("Weight stats")),
        Binding("e", "view('embed')", N_("Embedding"), tooltip=N_("Embedding vs Linear")),
        Binding("f", "view('forward')", N_("Forward"), tooltip=N_("Forward X·Wᵀ+b")),
        Binding("c", "view('source')", N_("Code"), tooltip=N_("Model code: forward()")),
        Binding("r", "refresh", N_("Refresh")),
        Binding("plus,equals_sign", "depth(1)", N_("Deeper")),
        Binding("minus", "depth(-1)", N_("Shallower")),
        Binding("o", "expand_all", N_("Expand/collapse all"), show=False),
        Binding("left_square_bracket", "cycle(-1)", N_("Previous weight/Linear"), show=False),
        Binding("right_square_bracket", "cycle(1)", N_("Next weight/Linear"), show=False),
        Binding("i", "reinit", N_("Re-init Linear (lesson)"), show=False),
        Binding("y", "tie", N_("Tie weights (lesson)"), show=False),
        Binding("n", "new_input", N_("New random input"), show=False),
        Binding("v", "sizes", N_("Lesson sizes V, d"), show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.current_view = "layers"
        self.train_state = "idle"
        self._last_refresh = 0.0
        self.step: int | None = None  # the model's step, as the engine last said

    def compose(self) -> ComposeResult:
        yield Static(_(WAITING), id="sum-head")
        with ContentSwitcher(initial="sum-layers"):
            yield SummaryLayers(id="sum-layers")
            yield SummaryWeight(id="sum-weight")
            yield SummaryEmbeddingLesson(id="sum-embed")
            yield SummaryForwardLesson(id="sum-forward")
            yield SummarySource(id="sum-source")

    def on_mount(self) -> None:
        with contextlib.suppress(NoMatches):  # built ahead as the app closes: nothing to show
            self._show_head()

    @property
    def layers_view(self) -> SummaryLayers:
        return self.query_one(SummaryLayers)

    @property
    def weight_view(self) -> SummaryWeight:
        return self.query_one(SummaryWeight)

    @property
    def lesson_view(self) -> SummaryEmbeddingLesson:
        return self.query_one(SummaryEmbeddingLesson)

    @property
    def forward_view(self) -> SummaryForwardLesson:
        return self.query_one(SummaryForwardLesson)

    @property
    def source_view(self) -> SummarySource:
        return self.query_one(SummarySource)

    def scroller(self) -> Widget:
        """The part of the current view that takes the keys: the table, or what scrolls."""
        if self.current_view == "layers":
            return self.query_one(SummaryTable)
        if self.current_view == "weight":
            return self.query_one("#sum-weight-text")
        if self.current_view == "embed":
            return self.query_one("#sum-embed-scroll")
        return self.forward_view if self.current_view == "forward" else self.source_view

    # -- engine hooks ---------------------------------------------------------------------------

    def configured(self, info: SessionInfo) -> None:
        self.train_state = "idle"
        self.step = info.step
        # the mini model is three layers deep; the others read best two levels down
        self.layers_view.reset(depth=3 if info.preset == MINI else 2)
        self._show_head()
        self.weight_view.reset()
        self.forward_view.reset()
        self.source_view.forget()
        self.reload(quiet=True, summary=True)

    def engine_event(self, name: str, data) -> None:
        if not isinstance(data, (TrainState, TrainProgress)):
            return
        moved = data.step != self.step
        if moved:
            self.step = data.step
            self.draw_when_shown("head", self._show_head)  # the head's step: no request
        if isinstance(data, TrainState):
            self.train_state = data.state
        if not self.shown or self.current_view not in MODEL_VIEWS:
            return
        if isinstance(data, TrainState):
            if data.state in ("paused", "stopped", "finished", "diverged"):
                self.reload(quiet=True)
        elif self.train_state == "running":
            if time.monotonic() - self._last_refresh >= LIVE_REFRESH_S:
                self.reload(quiet=True)
        elif moved:  # a step taken on its own (n), here or by another client
            self.reload(quiet=True)

    def engine_restarted(self) -> None:
        self.step = None
        self.layers_view.forget()
        self._show_head()
        self.weight_view.forget()
        self.forward_view.forget()
        self.source_view.forget()

    def focus_target(self) -> Widget:
        return self.scroller()

    def pane_shown(self) -> None:
        if time.monotonic() - self._last_refresh >= 1.0 or self.layers_view.summary is None:
            self.reload(quiet=True)

    # -- loading and drawing --------------------------------------------------------------------

    def reload(self, quiet: bool = False, summary: bool = False) -> None:
        """Have the views ask the engine for what the current view shows (the summary too when
        ``summary``, or when there is none yet)."""
        view = self.current_view
        if view == "layers" or summary or self.layers_view.summary is None:
            self.layers_view.reload(quiet)
        if view == "weight" and self.weight_view.weight_name:
            self.weight_view.reload(quiet)
        elif view == "embed":
            self.lesson_view.reload(quiet)
        elif view == "forward":
            summary = self.layers_view.summary
            if summary and not any(r.type == "Linear" for r in summary.rows):
                self.forward_view.no_linear(summary.preset)
            else:
                self.forward_view.reload(quiet)
        elif view == "source":
            self.source_view.reload(quiet, again=not quiet)
        self._last_refresh = time.monotonic()

    def relabel(self) -> None:
        with contextlib.suppress(NoMatches):
            self._show_head()

    @on(SummaryLayers.Loaded)
    def _show_head(self) -> None:
        # one line of fixed height: a new step never resizes it, so no layout of the screen
        # (a layout on every progress report cost the UI ~20 ms a time while training)
        self.query_one("#sum-head", Static).update(self.layers_view.head(self.step), layout=False)

    # -- table and box events -------------------------------------------------------------------

    @on(SummaryTable.RowSelected)
    def _row_selected(self, event: SummaryTable.RowSelected) -> None:
        key = event.key
        kind, _sep, name = key.partition(":")
        if kind == "layer":
            self.layers_view.toggle(name)
        elif kind == "weight":
            self.weight_view.weight_name = name
            self.action_view("weight")

    @on(Input.Submitted, "#sum-V, #sum-d")
    def _sizes_submitted(self) -> None:
        if self.lesson_view.set_sizes():
            self.scroller().focus()
            self.reload()

    # -- actions --------------------------------------------------------------------------------

    def action_view(self, view: str) -> None:
        if view == "weight" and self.weight_view.weight_name is None:
            names = self.layers_view.weight_names()
            if names:
                self.weight_view.weight_name = names[0]
        self.current_view = view
        self.query_one(ContentSwitcher).current = VIEWS[view]
        if view == "layers" or not isinstance(self.app.focused, Input):
            self.scroller().focus()
        self.reload(quiet=view != "layers")

    def action_refresh(self) -> None:
        self.reload()

    def action_depth(self, step: int) -> None:
        self.layers_view.change_depth(step)
        self._show_head()

    def action_expand_all(self) -> None:
        self.layers_view.expand_all()

    def action_cycle(self, step: int) -> None:
        if self.current_view == "weight":
            moved = self.weight_view.cycle(self.layers_view.weight_names(), step)
        elif self.current_view == "forward":
            moved = self.forward_view.cycle(step)
        else:
            moved = False
        if moved:
            self.reload()

    def action_reinit(self) -> None:
        self.lesson_view.toggle("reinit")
        self.action_view("embed")

    def action_tie(self) -> None:
        self.lesson_view.toggle("tie")
        self.action_view("embed")

    def action_new_input(self) -> None:
        if self.current_view == "forward":
            self.forward_view.new_input()
        elif self.current_view == "embed":
            self.lesson_view.new_input()
        else:
            return
        self.reload()

    def action_sizes(self) -> None:
        self.action_view("embed")
        self.lesson_view.focus_sizes()
