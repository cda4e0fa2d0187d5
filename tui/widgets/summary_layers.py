"""The Summary pane's layer view: the layer table above a footer of totals (parameters, memory,
multiply-adds), both drawn from the engine's ``summary`` reply. The view keeps the reply, the depth
shown and the expanded layers, and asks for the reply itself (one request at a time); the pane's
head line is drawn from it too (``head()``), after the ``Loaded`` message."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from core import i18n
from core.contract.inspect import SummaryArgs, SummaryResult
from core.fmt import fmt_bytes, fmt_count, fmt_macs
from core.i18n import N_, _
from tui.latest import LatestRequest
from tui.widgets.summary_table import SummaryTable, fmt_shape

WAITING = N_("[dim]No model summary yet: waiting for the engine (r asks again).[/dim]")


class SummaryLayers(Vertical):
    class Loaded(Message):
        """A new ``summary`` reply is drawn."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.summary: SummaryResult | None = None  # the latest ``summary`` reply
        self.depth = 2  # layers nested deeper are left out of the table
        self.expanded: set[str] = set()  # layers whose weight tensors are listed under them
        self.quiet = False  # whether an error reply to the next request stays silent
        self._latest = LatestRequest(self._send, self._show)

    def compose(self) -> ComposeResult:
        yield SummaryTable(id="sum-table")
        yield Static("", id="sum-totals")

    # -- the request ------------------------------------------------------------------------------

    def reload(self, quiet: bool) -> None:
        self.quiet = quiet
        self.run_worker(self._latest.run())

    async def _send(self) -> SummaryResult | None:
        result = await self.app.engine.call(SummaryArgs(), quiet=self.quiet)
        return result if result and result.rows else None

    def _show(self, result: SummaryResult) -> None:
        self.summary = result
        self.show()
        self.post_message(self.Loaded())

    def reset(self, depth: int) -> None:
        """A new model: forget the summary and the expanded layers; start at ``depth``."""
        self.expanded = set()
        self.depth = depth
        self.forget()

    def forget(self) -> None:
        """Drop the summary (and any reply still coming to an older request)."""
        self._latest.reset()
        self.summary = None
        self.query_one(SummaryTable).clear()
        self.show()

    # -- reading the reply ----------------------------------------------------------------------

    def head(self, step: int | None = None) -> str:
        """The pane's head line: the model, its step (``step``, the engine's latest, or else the
        summary's), the batch's shape and the depth."""
        s = self.summary
        if not s:
            return i18n._(WAITING)
        shape = (
            _("input {shape} (batch × context)").format(shape=fmt_shape(s.input_shape))
            if s.input_shape
            else _("no input (one parameter)")
        )
        step = s.step if step is None else step
        return " · ".join(
            [
                f"[b]{escape(s.model_name)}[/b]",
                _("step {step}").format(step=step),
                shape,
                _("depth {depth} (+/-)").format(depth=self.depth),
            ]
        )

    def totals(self) -> str:
        s = self.summary
        if not s or s.totals is None:
            return ""
        t = s.totals
        counts = _("params {params}").format(params=fmt_count(t.params))
        counts = f"[b]{counts}[/b]  " + _("trainable {trainable}  frozen {frozen}").format(
            trainable=fmt_count(t.trainable), frozen=fmt_count(t.frozen)
        )
        lines = [counts]
        # a line of its own: beside the counts it would wrap mid-phrase at 80 columns
        tied = _("tied: {names} (counted once)")
        lines += [f"[yellow]{tied.format(names=' = '.join(group))}[/yellow]" for group in t.tied]
        memory = _("memory: params {size} {dtype} · activations ≈ {activations} per batch")
        lines.append(
            memory.format(
                size=fmt_bytes(t.param_bytes),
                dtype=t.dtype,
                activations=fmt_bytes(t.activation_bytes),
            )
        )
        if s.input_shape:
            macs = _("mult-adds/forward {total} = Linear {linear} + attention {attention}")
            lines.append(
                macs.format(
                    total=fmt_macs(t.macs),
                    linear=fmt_macs(t.macs_linear),
                    attention=fmt_macs(t.macs_attention),
                )
            )
        return "\n".join(lines)

    def weight_names(self) -> list[str]:
        """Every weight tensor's name, in table order."""
        return self.summary.weight_names() if self.summary else []

    # -- drawing and the keys that change it ----------------------------------------------------

    def show(self) -> None:
        if self.summary:
            self.query_one(SummaryTable).show(self.summary, self.depth, self.expanded)
        self.query_one("#sum-totals", Static).update(self.totals())

    def relabel(self) -> None:
        """The table's words and the totals again; the pane redraws its head line."""
        self.show()
        self.post_message(self.Loaded())

    def change_depth(self, step: int) -> None:
        if not self.summary:
            return
        deepest = max(r.depth for r in self.summary.rows)
        self.depth = max(0, min(deepest, self.depth + step))
        self.show()

    def toggle(self, layer: str) -> None:
        """Expand a layer into its weight tensors, or collapse it."""
        self.expanded.symmetric_difference_update({layer})
        self.show()

    def expand_all(self) -> None:
        """Expand every layer shown that has weights, or, if all are, collapse them all."""
        if not self.summary:
            return
        names = {r.name for r in self.summary.rows if r.weights and r.depth <= self.depth}
        self.expanded = set() if names <= self.expanded else names
        self.show()
