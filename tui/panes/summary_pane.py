"""The Summary pane: what the model is made of (LESSONS.md L1 and L3).

Four views, one at a time (so that each fits 80×24), switched by key:
- t  the layer table: output shapes for one training batch, parameters (tied weights counted
     once), trainable or frozen, share, multiply-adds; enter expands a layer into its weight
     tensors, +/- set the depth; the footer has the totals;
- w  a weight tensor's statistics and histogram beside the theory of its initialisation, its
     gradient and how far it moved since the model was configured or loaded;
- e  the Embedding-vs-Linear lesson on live layers (sizes V and d editable);
- f  the forward-pass lesson: X · Wᵀ + b by hand beside a Linear's output.

The data comes from the engine ops ``summary``, ``weight_stats``, ``lesson_embedding_linear``
and ``lesson_linear_forward``. It refreshes after configure, reset and load, on ``r``, and while
training runs every few seconds, only while the pane is visible.
"""

from __future__ import annotations

import time

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, DataTable, Input, Label, Static

from core.fmt import fmt_bytes, fmt_count, fmt_macs
from tui.panes.base import Pane
from tui.widgets.summary_histogram import SummaryHistogram
from tui.widgets.summary_lessons import embedding_linear_text, forward_text, weight_text
from tui.widgets.summary_table import SummaryTable, fmt_shape

LIVE_REFRESH_S = 5.0  # while training: at most one refresh this often, and only when visible
VIEWS = {"layers": "sum-layers", "weight": "sum-weight", "embed": "sum-embed",
         "forward": "sum-forward"}
WAITING = "[dim]No model summary yet: waiting for the engine (r asks again).[/dim]"


class SummaryPane(Pane):
    TITLE = "Summary pane"
    DEFAULT_CSS = """
    SummaryPane { height: 1fr; }
    SummaryPane #sum-head { height: 1; color: $text-muted; }
    SummaryPane ContentSwitcher { height: 1fr; }
    SummaryPane #sum-layers, SummaryPane #sum-weight, SummaryPane #sum-embed,
    SummaryPane #sum-forward { height: 1fr; }
    SummaryPane #sum-totals { height: auto; max-height: 4; background: $panel; }
    SummaryPane #sum-weight-text { width: 42; height: 1fr; }
    SummaryPane #sum-weight-plot { width: 1fr; min-width: 20; }
    SummaryPane #sum-sizes { height: 1; }
    SummaryPane #sum-sizes Label { width: auto; padding: 0 1; }
    SummaryPane #sum-sizes Input { width: 9; height: 1; border: none; padding: 0; }
    SummaryPane #sum-embed-body { height: 1fr; }
    SummaryPane #sum-embed-scroll { width: 1fr; min-width: 45; }
    SummaryPane #sum-embed-plots { width: 1fr; min-width: 24; max-width: 60; }
    SummaryPane #sum-embed-plots SummaryHistogram { height: 1fr; }
    """
    BINDINGS = [
        Binding("t", "view('layers')", "Layer table"),
        Binding("w", "view('weight')", "Weight stats"),
        Binding("e", "view('embed')", "Embedding vs Linear"),
        Binding("f", "view('forward')", "Forward X·Wᵀ+b"),
        Binding("r", "refresh", "Refresh"),
        Binding("plus,equals_sign", "depth(1)", "Deeper"),
        Binding("minus", "depth(-1)", "Shallower"),
        Binding("o", "expand_all", "Expand/collapse all", show=False),
        Binding("left_square_bracket", "cycle(-1)", "Previous weight/Linear", show=False),
        Binding("right_square_bracket", "cycle(1)", "Next weight/Linear", show=False),
        Binding("i", "reinit", "Re-init Linear (lesson)", show=False),
        Binding("y", "tie", "Tie weights (lesson)", show=False),
        Binding("n", "new_input", "New random input", show=False),
        Binding("v", "sizes", "Lesson sizes V, d", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.current_view = "layers"
        self.summary: dict | None = None
        self.depth = 2
        self.expanded: set[str] = set()
        self.weight_name: str | None = None
        self.weight: dict | None = None
        self.lesson_args = {"V": 5000, "d": 70, "seed": 0, "reinit": False, "tie": False}
        self.lesson: dict | None = None
        self.forward_layer: str | None = None
        self.forward_seed = 0
        self.forward: dict | None = None
        self.train_state = "idle"
        self._busy = False
        self._again = False
        self._last_refresh = 0.0

    def compose(self) -> ComposeResult:
        yield Static(WAITING, id="sum-head")
        with ContentSwitcher(initial="sum-layers"):
            with Vertical(id="sum-layers"):
                yield SummaryTable(id="sum-table")
                yield Static("", id="sum-totals")
            with Horizontal(id="sum-weight"):
                with VerticalScroll(id="sum-weight-text"):
                    yield Static("[dim]Pick a weight: t, then enter on a layer to list its "
                                 "tensors, enter on one to see it here ([ ] to step "
                                 "through all).[/dim]", id="sum-weight-body")
                yield SummaryHistogram(id="sum-weight-plot")
            with Vertical(id="sum-embed"):
                with Horizontal(id="sum-sizes"):
                    yield Label("V")
                    yield Input("5000", id="sum-V", type="integer")
                    yield Label("d")
                    yield Input("70", id="sum-d", type="integer")
                    yield Label("[dim]enter applies · i re-init · y tie · n new seed[/dim]")
                with Horizontal(id="sum-embed-body"):
                    with VerticalScroll(id="sum-embed-scroll"):
                        yield Static("[dim]loading…[/dim]", id="sum-embed-text")
                    with Vertical(id="sum-embed-plots"):
                        yield SummaryHistogram(id="sum-embed-hist")
                        yield SummaryHistogram(id="sum-linear-hist")
            with VerticalScroll(id="sum-forward"):
                yield Static("[dim]loading…[/dim]", id="sum-forward-text")

    def on_mount(self) -> None:
        self._show_totals()

    # -- engine hooks ---------------------------------------------------------------------------

    def configured(self, info: dict) -> None:
        self.summary = self.weight = self.forward = None
        self.expanded = set()
        self.weight_name = self.forward_layer = None
        self.train_state = "idle"
        self.depth = 3 if info.get("preset") == "mini" else 2
        self.query_one(SummaryTable).clear()
        self._show_totals()
        self.query_one("#sum-weight-plot", SummaryHistogram).show(None, None, "")
        self.query_one("#sum-weight-body", Static).update(
            "[dim]Pick a weight: t, then enter on a layer to list its tensors, enter on one "
            "to see it here ([ ] to step through all).[/dim]")
        self.run_worker(self.reload(quiet=True, summary=True))

    def engine_event(self, name: str, data: dict) -> None:
        if name == "train_state":
            self.train_state = data.get("state", self.train_state)
            if self.train_state in ("paused", "stopped", "finished", "diverged") and self.shown:
                self.run_worker(self.reload(quiet=True))
        elif name == "train_progress" and self.shown and self.train_state == "running":
            if time.monotonic() - self._last_refresh >= LIVE_REFRESH_S:
                self.run_worker(self.reload(quiet=True))

    def engine_restarted(self) -> None:
        self.summary = self.weight = self.forward = None
        self.query_one(SummaryTable).clear()
        self._show_totals()

    def pane_shown(self) -> None:
        if self.current_view == "layers":
            self.query_one(SummaryTable).focus()
        if time.monotonic() - self._last_refresh >= 1.0 or self.summary is None:
            self.run_worker(self.reload(quiet=True))

    # -- loading --------------------------------------------------------------------------------

    async def reload(self, quiet: bool = False, summary: bool = False) -> None:
        """Ask the engine for what the current view shows (one request at a time)."""
        if self._busy:
            self._again = True
            return
        self._busy = True
        try:
            while True:
                self._again = False
                view = self.current_view
                if view == "layers" or summary or self.summary is None:
                    await self._load_summary(quiet)
                    summary = False
                if view == "weight" and self.weight_name:
                    await self._load_weight(quiet)
                elif view == "embed":
                    await self._load_lesson(quiet)
                elif view == "forward":
                    await self._load_forward(quiet)
                if not self._again:
                    break
        finally:
            self._busy = False
            self._last_refresh = time.monotonic()

    async def _load_summary(self, quiet: bool) -> None:
        result = await self.link.request("summary", quiet=quiet)
        if not result or "rows" not in result:
            return
        self.summary = result
        self._show_table()

    async def _load_weight(self, quiet: bool) -> None:
        result = await self.link.request("weight_stats", quiet=quiet, name=self.weight_name,
                                         bins=40)
        if not result or "stats" not in result:
            return
        self.weight = result
        self.query_one("#sum-weight-body", Static).update(weight_text(result))
        self.query_one("#sum-weight-plot", SummaryHistogram).show(
            result["stats"], result["init"].get("expected_counts"),
            f"{result['name']}: measured vs init")

    async def _load_lesson(self, quiet: bool) -> None:
        result = await self.link.request("lesson_embedding_linear", quiet=quiet,
                                         **self.lesson_args)
        if not result or "lookup" not in result:
            return
        self.lesson = result
        self.query_one("#sum-embed-text", Static).update(embedding_linear_text(result))
        for key, widget, name in (("embedding_init", "#sum-embed-hist", "Embedding"),
                                  ("linear_init", "#sum-linear-hist", "Linear")):
            part = result[key]
            self.query_one(widget, SummaryHistogram).show(
                part["stats"], part["expected_counts"],
                f"{name} init, std {part['theory']['std']:.3g}")

    async def _load_forward(self, quiet: bool) -> None:
        args = {"seed": self.forward_seed}
        if self.forward_layer:
            args["layer"] = self.forward_layer
        result = await self.link.request("lesson_linear_forward", quiet=quiet, **args)
        if not result or "layers" not in result:
            return
        self.forward = result
        self.forward_layer = result["layer"]
        self.query_one("#sum-forward-text", Static).update(forward_text(result))

    # -- drawing --------------------------------------------------------------------------------

    def _show_table(self) -> None:
        if self.summary:
            self.query_one(SummaryTable).show(self.summary, self.depth, self.expanded)
        self._show_totals()

    def _show_totals(self) -> None:
        head = self.query_one("#sum-head", Static)
        totals = self.query_one("#sum-totals", Static)
        s = self.summary
        if not s:
            head.update(WAITING)
            totals.update("")
            return
        t = s["totals"]
        shape = (f"input {fmt_shape(s['input_shape'])} (batch × context)"
                 if s["input_shape"] else "no input (one parameter)")
        head.update(f"[b]{s['preset']}[/b] · step {s['step']} · {shape} · depth "
                    f"{self.depth} (+/-)")
        lines = [f"[b]params {fmt_count(t['params'])}[/b]  trainable "
                 f"{fmt_count(t['trainable'])}  frozen {fmt_count(t['frozen'])}"]
        for group in t["tied"]:
            lines[0] += f"  [yellow]tied: {' = '.join(group)} (counted once)[/yellow]"
        lines.append(f"memory: params {fmt_bytes(t['param_bytes'])} {t['dtype']} · "
                     f"activations ≈ {fmt_bytes(t['activation_bytes'])} per batch")
        if s["input_shape"]:
            lines.append(f"mult-adds/forward {fmt_macs(t['macs'])} = Linear "
                         f"{fmt_macs(t['macs_linear'])} + attention "
                         f"{fmt_macs(t['macs_attention'])}")
        totals.update("\n".join(lines))

    # -- table events ---------------------------------------------------------------------------

    @on(DataTable.RowSelected, "#sum-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value or ""
        kind, _, name = key.partition(":")
        if kind == "layer":
            self.expanded.symmetric_difference_update({name})
            self._show_table()
        elif kind == "weight":
            self.weight_name = name
            self.action_view("weight")

    @on(Input.Submitted, "#sum-V, #sum-d")
    def _sizes_submitted(self) -> None:
        try:
            V = int(self.query_one("#sum-V", Input).value)
            d = int(self.query_one("#sum-d", Input).value)
        except ValueError:
            self.app.notify("V and d must be whole numbers, e.g. 5000 and 70",
                            severity="warning")
            return
        if V < 1 or d < 1:
            self.app.notify("V and d must be at least 1", severity="warning")
            return
        self.lesson_args.update(V=V, d=d)
        self.focus()
        self.run_worker(self.reload())

    # -- actions --------------------------------------------------------------------------------

    def action_view(self, view: str) -> None:
        if view == "weight" and self.weight_name is None and self._weight_names():
            self.weight_name = self._weight_names()[0]
        self.current_view = view
        self.query_one(ContentSwitcher).current = VIEWS[view]
        if view == "layers":
            self.query_one(SummaryTable).focus()
        elif not isinstance(self.app.focused, Input):
            self.focus()
        self.run_worker(self.reload(quiet=view != "layers"))

    def action_refresh(self) -> None:
        self.run_worker(self.reload())

    def action_depth(self, step: int) -> None:
        if not self.summary:
            return
        deepest = max(r["depth"] for r in self.summary["rows"])
        self.depth = max(0, min(deepest, self.depth + step))
        self._show_table()

    def action_expand_all(self) -> None:
        if not self.summary:
            return
        names = {r["name"] for r in self.summary["rows"]
                 if r["weights"] and r["depth"] <= self.depth}
        self.expanded = set() if names <= self.expanded else names
        self._show_table()

    def _weight_names(self) -> list[str]:
        if not self.summary:
            return []
        return [w["name"] for r in self.summary["rows"] for w in r["weights"]]

    def action_cycle(self, step: int) -> None:
        if self.current_view == "weight":
            names = self._weight_names()
            if not names:
                return
            i = names.index(self.weight_name) if self.weight_name in names else -step
            self.weight_name = names[(i + step) % len(names)]
        elif self.current_view == "forward" and self.forward:
            layers = self.forward["layers"]
            i = layers.index(self.forward_layer) if self.forward_layer in layers else 0
            self.forward_layer = layers[(i + step) % len(layers)]
        else:
            return
        self.run_worker(self.reload())

    def action_reinit(self) -> None:
        self.lesson_args["reinit"] = not self.lesson_args["reinit"]
        self.action_view("embed")

    def action_tie(self) -> None:
        self.lesson_args["tie"] = not self.lesson_args["tie"]
        self.action_view("embed")

    def action_new_input(self) -> None:
        if self.current_view == "forward":
            self.forward_seed += 1
        elif self.current_view == "embed":
            self.lesson_args["seed"] += 1
        else:
            return
        self.run_worker(self.reload())

    def action_sizes(self) -> None:
        self.action_view("embed")
        self.query_one("#sum-V", Input).focus()
