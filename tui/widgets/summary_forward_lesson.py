"""The Summary pane's forward-pass lesson (LESSONS.md L1): X · Wᵀ + b worked by hand beside a
Linear layer's own output, from the engine's ``lesson_linear_forward`` reply. The view keeps the
layer and the seed of the random X, and asks for the reply itself (one request at a time)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from core.contract.inspect import ForwardLessonArgs, ForwardLessonResult
from core.i18n import _
from tui.latest import LatestRequest
from tui.widgets.summary_lessons import allclose_label, vec
from tui.widgets.summary_table import fmt_shape


def forward_text(r: ForwardLessonResult) -> Text:
    """The L1 lesson: X · Wᵀ + b by hand beside the layer's own output."""
    s = r.shapes  # a dict by design: its keys are X, W, W.T, b and out
    t = Text()
    t.append(f"{r.layer}", style="bold green")
    t.append(
        f"  nn.Linear({r.in_features}, {r.out_features}"
        f"{'' if r.has_bias else ', bias=False'})   " + _("([ / ] other Linear, n new X)") + "\n"
    )
    t.append(
        _("X {x} random (seed {seed}) · Wᵀ {wt}").format(
            x=fmt_shape(s["X"]), seed=r.seed, wt=fmt_shape(s["W.T"])
        )
    )
    t.append(f" + b {fmt_shape(s['b'])}" if r.has_bias else " (" + _("no bias") + ")")
    t.append(f" = out {fmt_shape(s['out'])}\n")
    w = _("W is {shape}: one row per output neuron").format(shape=fmt_shape(s["W"]))
    t.append(w + "\n\n", style="dim")
    t.append(f"X[0]           {vec(r.x)}\n")
    by_hand, the_layer = _("by hand"), _("the layer")
    t.append(f"X[0]·Wᵀ + b    {vec(r.by_hand)}  {by_hand}\n", style="cyan")
    t.append(f"layer(X)[0]    {vec(r.layer_out)}  {the_layer}\n", style="cyan")
    label, style = allclose_label(r.allclose)
    diff = _("max |by hand − layer| = {diff:.2e}").format(diff=r.max_abs_diff)
    t.append(diff + "  ", style="bold")
    t.append(label + "\n\n", style=style)
    t.append(_("neuron 0 = X · W[0] + b[0], one value per row of X:") + "\n", style="dim")
    by_row = _("by row of W")
    t.append(f"{by_row:<14} {vec(r.neuron0_by_row)}\n")
    t.append(f"layer(X)[:, 0] {vec(r.neuron0_from_layer)}\n")
    layers = _("Linear layers: {names}").format(names=", ".join(r.layers))
    t.append("\n" + layers, style="dim")
    return t


def _no_linear_text(preset: str) -> str:
    return (
        _("The {preset} model has no Linear layer: no X · Wᵀ + b to work by hand.").format(
            preset=preset
        )
        + "\n[dim]"
        + _("mini, mlp and gpt have them (Train pane, F2: the form's preset).")
        + "[/dim]"
    )


class SummaryForwardLesson(VerticalScroll):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.layer_name: str | None = None  # the Linear shown; None: the engine picks the first
        self.seed = 0  # of the random X
        self.forward: ForwardLessonResult | None = None  # the latest lesson reply
        self.without_linear: str | None = None  # the preset said to have no Linear, if shown
        self.shown = False  # whether anything but "loading…" has been shown
        self.quiet = False  # whether an error reply to the next request stays silent
        self._latest = LatestRequest(self._send, self._show)

    def compose(self) -> ComposeResult:
        yield Static("[dim]" + _("loading…") + "[/dim]", id="sum-forward-text")

    def reload(self, quiet: bool) -> None:
        self.quiet = quiet
        self.run_worker(self._latest.run())

    async def _send(self) -> ForwardLessonResult | None:
        args = ForwardLessonArgs(layer=self.layer_name or None, seed=self.seed)
        result = await self.app.engine.call(args, quiet=self.quiet)
        return result if result and result.layers else None

    def _show(self, result: ForwardLessonResult) -> None:
        self.forward, self.without_linear, self.shown = result, None, True
        self.layer_name = result.layer
        self.query_one("#sum-forward-text", Static).update(forward_text(result))

    def no_linear(self, preset: str) -> None:
        """Say that this model has no Linear layer to work through (the parabola), instead of
        asking the engine for a lesson it refuses."""
        self.forget()
        self.without_linear, self.shown = preset, True
        self.query_one("#sum-forward-text", Static).update(_no_linear_text(preset))

    def relabel(self) -> None:
        """After a switch of language: what the view shows, said again."""
        if self.forward is not None:
            self._show(self.forward)
        elif self.without_linear is not None:
            self.query_one("#sum-forward-text", Static).update(_no_linear_text(self.without_linear))
        elif not self.shown:
            self.query_one("#sum-forward-text", Static).update("[dim]" + _("loading…") + "[/dim]")

    def reset(self) -> None:
        """A new model: back to the engine's choice of layer."""
        self.forget()
        self.layer_name = None

    def forget(self) -> None:
        """Drop the reply (and any reply still coming to an older request)."""
        self._latest.reset()
        self.forward = None

    def cycle(self, step: int) -> bool:
        """Pick the Linear ``step`` places on; False while no reply has listed them."""
        if not self.forward:
            return False
        layers = self.forward.layers
        i = layers.index(self.layer_name) if self.layer_name in layers else 0
        self.layer_name = layers[(i + step) % len(layers)]
        return True

    def new_input(self) -> None:
        self.seed += 1
