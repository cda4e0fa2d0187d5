"""The Summary pane's weight view: one weight tensor's statistics beside the theory of its
initialisation, its gradient and how far it moved, with its histogram against the theory's, from
the engine's ``weight_stats`` reply. The view keeps the tensor's name and the reply, and asks for
the reply itself (one request at a time)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from core import i18n
from core.contract.inspect import TensorStats, WeightStatsArgs, WeightStatsResult
from core.i18n import N_, _
from tui.format import fmt_num
from tui.latest import LatestRequest
from tui.widgets.summary_histogram import SummaryHistogram
from tui.widgets.summary_table import fmt_shape

PICK = N_(
    "Pick a weight: t, then enter on a layer to list its tensors, enter on one to see "
    "it here ([ ] to step through all)."
)


def pick() -> str:
    """What the view says before a weight is picked (markup)."""
    return f"[dim]{i18n._(PICK)}[/dim]"


def weight_text(w: WeightStatsResult) -> Text:
    """Statistics of one weight tensor beside its initialisation's theory (``init``, a law with
    keys by its kind, stays a dict)."""
    st, init = w.stats or TensorStats(), w.init
    t = Text()
    t.append(w.name, style="bold green")
    t.append(f"  {fmt_shape(w.shape)} {w.dtype}\n")
    if w.tied_to:
        names = ", ".join(w.tied_to)
        t.append(_("tied: same tensor as {names}").format(names=names) + "\n", style="yellow")
    if not w.trainable:
        t.append(_("frozen (requires_grad=False)") + "\n", style="yellow")
    t.append(_("init: {law}").format(law=init["label"]) + "\n", style="cyan")
    # the heading of the two columns of figures: each word ends where its column does
    measured, theory = _("measured"), _("theory")
    t.append(f"{measured:>18} {theory:>8}\n", style="dim")
    theory_std = init.get("std")
    t.append(f"mean   {st.mean:+10.4f}  {fmt_num(init.get('mean'), 4):>8}\n")
    t.append(f"std    {st.std:10.4f}  {fmt_num(theory_std, 4):>8}\n")
    if init.get("kind") == "uniform":
        bounds = _("bounds")
        t.append(f"{bounds:<6} ±{max(abs(st.min), abs(st.max)):9.4f}  ±{init['bound']:.4f}\n")
    t.append(f"min    {st.min:+10.4f}   max {st.max:+.4f}\n")
    t.append(f"|w|<{st.near_zero_below:g} {100 * st.near_zero:6.2f}%   ‖w‖ {fmt_num(st.norm, 4)}\n")
    g = w.grad
    if g:
        t.append(
            f"grad   mean {fmt_num(g.mean)} std {fmt_num(g.std)} ‖g‖ {fmt_num(g.norm)}\n",
            style="magenta",
        )
    else:
        t.append("grad   " + _("none yet (train a step)") + "\n", style="dim")
    m = w.moved
    if m:
        rel = "--" if m.relative is None else f"{100 * m.relative:.2f}%"
        moved = _("moved since step {step}: ‖Δw‖ {norm} ({relative})")
        t.append(moved.format(step=m.since_step, norm=fmt_num(m.norm, 4), relative=rel) + "\n")
        t.append(f"       max |Δ| {fmt_num(m.max_abs, 3)}\n")
    t.append(_("at step {step}").format(step=w.step), style="dim")
    return t


class SummaryWeight(Horizontal):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.weight_name: str | None = None  # the tensor shown, e.g. "hidden.weight"
        self.weight: WeightStatsResult | None = None  # the latest ``weight_stats`` reply
        self.quiet = False  # whether an error reply to the next request stays silent
        self._latest = LatestRequest(self._send, self._show)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="sum-weight-text"):
            yield Static(pick(), id="sum-weight-body")
        yield SummaryHistogram(id="sum-weight-plot")

    def reload(self, quiet: bool) -> None:
        self.quiet = quiet
        self.run_worker(self._latest.run())

    async def _send(self) -> WeightStatsResult | None:
        if not self.weight_name:
            return None
        result = await self.app.engine.call(
            WeightStatsArgs(self.weight_name, bins=40), quiet=self.quiet
        )
        return result if result and result.stats is not None else None

    def _show(self, result: WeightStatsResult) -> None:
        self.weight = result
        self.query_one("#sum-weight-body", Static).update(weight_text(result))
        self.query_one("#sum-weight-plot", SummaryHistogram).show(
            result.stats,
            result.init.get("expected_counts"),
            _("{name}: measured vs init").format(name=result.name),
        )

    def reset(self) -> None:
        """A new model: no tensor picked, nothing drawn."""
        self.forget()
        self.weight_name = None
        self.query_one("#sum-weight-plot", SummaryHistogram).show(None, None, "")
        self.query_one("#sum-weight-body", Static).update(pick())

    def relabel(self) -> None:
        if self.weight is not None:
            self._show(self.weight)
        elif not self.weight_name:
            self.query_one("#sum-weight-body", Static).update(pick())

    def forget(self) -> None:
        """Drop the reply (and any reply still coming to an older request)."""
        self._latest.reset()
        self.weight = None

    def cycle(self, names: list[str], step: int) -> bool:
        """Pick the tensor ``step`` places on from the current one in ``names``; False if none."""
        if not names:
            return False
        i = names.index(self.weight_name) if self.weight_name in names else -step
        self.weight_name = names[(i + step) % len(names)]
        return True
