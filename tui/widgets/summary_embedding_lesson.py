"""The Summary pane's Embedding-vs-Linear lesson (LESSONS.md L3) on live layers: one
nn.Embedding(V, d) and one nn.Linear(d, V), each a thin wrapper over nn.Parameter, a row looked
up three ways, both initialisations against theory (with histograms), and what tying the
weights saves; from the engine's ``lesson_embedding_linear`` reply. The view keeps the lesson's
arguments (V and d in its boxes, the seed, re-init, tie) and asks for the reply itself (one
request at a time)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, Static

from core.contract.inspect import EmbeddingLessonArgs, EmbeddingLessonResult, WeightKinds
from core.fmt import fmt_bytes, fmt_count
from core.i18n import _
from tui.latest import LatestRequest
from tui.widgets.summary_histogram import SummaryHistogram
from tui.widgets.summary_lessons import allclose_label, vec
from tui.widgets.summary_table import fmt_shape


def wrappers_text(w: WeightKinds) -> Text:
    """Both layers are thin wrappers over nn.Parameter: what each ``.weight`` is, from the
    engine's layers, and what the layer adds to it."""
    t = Text()
    t.append("\n" + _("thin wrappers over nn.Parameter") + "\n", style="bold")
    for k in (w.embedding, w.linear):
        t.append(f" {k.name}: ")
        t.append(k.type, style="green" if k.is_parameter else "bold red")
        t.append(f", requires_grad={k.requires_grad}\n")
    e, lin = w.embedding.registered, w.linear.registered
    t.append(f" e.parameters(): {', '.join(e)}; l: {', '.join(lin)}\n")
    t.append(" " + _("each: a Parameter + a rule to use it:") + "\n", style="dim")
    t.append(" " + _("e picks rows; l computes X·Wᵀ + b") + "\n", style="dim")
    return t


def embedding_linear_text(r: EmbeddingLessonResult) -> Text:
    """The L3 lesson: one live nn.Embedding(V, d) and one nn.Linear(d, V)."""
    V, d, i = r.V, r.d, r.index
    c, lk, ty = r.constructors, r.lookup, r.tying
    t = Text()
    t.append(f"e = {c.embedding}\nl = {c.linear}\n", style="bold")
    shape = fmt_shape(r.shapes.embedding)
    t.append(
        _("both weights are {shape}: the arguments come in opposite order").format(shape=shape)
        + "\n"
    )
    t.append(_("only Embedding:") + " ", style="cyan")
    t.append(
        ", ".join(
            f"{k}={v}"
            for k, v in r.only_embedding.items()
            if k not in ("num_embeddings", "embedding_dim")
        )
        + "\n"
    )
    t.append(_("only Linear:") + " ", style="cyan")
    t.append(", ".join(f"{k}={v}" for k, v in r.only_linear.items()) + "\n")
    if r.weights:
        t.append_text(wrappers_text(r.weights))
    t.append("\n" + _("row {row}, three ways:").format(row=i) + "\n", style="bold")
    t.append(f" e(tensor([{i}])) {vec(lk.module, 3)}\n")
    t.append(f" e.weight[{i}]    {vec(lk.index, 3)}\n")
    t.append(f" one_hot({i}) @ W {vec(lk.one_hot, 3)}\n")
    label, style = allclose_label(lk.allclose)
    t.append(f" {label}", style=style)
    t.append("  " + _("max diff {diff:.1e}").format(diff=lk.max_abs_diff) + "\n")
    cost = _("cost: {read} values read vs {mult_adds} mult-adds").format(
        read=fmt_count(lk.cost_lookup), mult_adds=fmt_count(lk.cost_one_hot)
    )
    t.append(f" {cost}\n")
    t.append(
        f" l({i}) → {lk.linear_call_int.type}: {lk.linear_call_int.message}\n",
        style="red",
    )
    wrong = _("l(one_hot) → {error}: the one-hot has {V} values, l takes {d}").format(
        error=lk.linear_call_one_hot.type, V=V, d=d
    )
    t.append(f" {wrong}\n", style="red")
    t.append("\n" + _("init") + " ", style="bold")
    for part, name in ((r.embedding_init, "Embedding"), (r.linear_init, "Linear")):
        th, st = part.theory, part.stats  # theory: an initialisation law, a dict
        t.append(f"\n {name}: {th['label']}\n", style="cyan")
        std = _("std {std:.4f} (theory {theory:.4f}) mean {mean:+.4f}")
        t.append("   " + std.format(std=st.std, theory=th["std"], mean=st.mean))
    press = (
        _("press i: back to the default init")
        if r.reinit
        else _("press i: re-initialise l with nn.init.normal_(w, 0, 1)")
    )
    t.append(f"\n {press}", style="dim")
    t.append("\n\n" + _("tying") + " ", style="bold")
    t.append(_("l.weight = e.weight  (press y)") + "\n", style="dim")
    params = _("parameters: {untied} untied → {tied} tied (saves {saved})").format(
        untied=fmt_count(ty.before), tied=fmt_count(ty.after), saved=fmt_bytes(ty.saved_bytes)
    )
    t.append(f" {params}\n")
    if r.tie:
        tied = _(
            "tied: l.weight is e.weight; l.weight[{row}] == e({row}): {answer}; counting by "
            "name would still say {count}"
        ).format(
            row=i,
            answer=_("yes") if ty.row_equals_lookup else _("no"),
            count=fmt_count(ty.naive_after),
        )
        t.append(f" {tied}\n", style="green")
    matrix = _("one V×d float32 matrix: {size}; GPT-2's 50,257×768: {gpt2}").format(
        size=fmt_bytes(ty.matrix_bytes), gpt2=fmt_bytes(ty.gpt2_matrix_bytes)
    )
    t.append(f" {matrix}\n", style="dim")
    return t


class SummaryEmbeddingLesson(Vertical):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.args = {"V": 5000, "d": 70, "seed": 0, "reinit": False, "tie": False}
        self.lesson: EmbeddingLessonResult | None = None  # the latest lesson reply
        self.quiet = False  # whether an error reply to the next request stays silent
        self._latest = LatestRequest(self._send, self._show)

    def compose(self) -> ComposeResult:
        with Horizontal(id="sum-sizes"):
            yield Label("V")
            yield Input("5000", id="sum-V", type="integer")
            yield Label("d")
            yield Input("70", id="sum-d", type="integer")
            yield Label(self._keys(), id="sum-embed-keys")
        with Horizontal(id="sum-embed-body"):
            with VerticalScroll(id="sum-embed-scroll"):
                yield Static("[dim]" + _("loading…") + "[/dim]", id="sum-embed-text")
            with Vertical(id="sum-embed-plots"):
                yield SummaryHistogram(id="sum-embed-hist")
                yield SummaryHistogram(id="sum-linear-hist")

    @staticmethod
    def _keys() -> str:
        return "[dim]" + _("enter applies · i re-init · y tie · n new seed") + "[/dim]"

    def relabel(self) -> None:
        """After a switch of language: the keys and the lesson said again; the lesson is asked
        for again too, for the words the engine wrote (the initialisations' laws)."""
        self.query_one("#sum-embed-keys", Label).update(self._keys())
        if self.lesson is None:
            self.query_one("#sum-embed-text", Static).update("[dim]" + _("loading…") + "[/dim]")
            return
        self._show(self.lesson)
        self.reload(quiet=True)

    def reload(self, quiet: bool) -> None:
        self.quiet = quiet
        self.run_worker(self._latest.run())

    async def _send(self) -> EmbeddingLessonResult | None:
        result = await self.app.engine.call(EmbeddingLessonArgs(**self.args), quiet=self.quiet)
        return result if result and result.lookup is not None else None

    def _show(self, result: EmbeddingLessonResult) -> None:
        self.lesson = result
        self.query_one("#sum-embed-text", Static).update(embedding_linear_text(result))
        for part, widget, name in (
            (result.embedding_init, "#sum-embed-hist", "Embedding"),
            (result.linear_init, "#sum-linear-hist", "Linear"),
        ):
            self.query_one(widget, SummaryHistogram).show(
                part.stats,
                part.expected_counts,
                _("{layer} init, std {std:.3g}").format(layer=name, std=part.theory["std"]),
            )

    def set_sizes(self) -> bool:
        """Take V and d from their boxes; False (and a notification) if they are not valid."""
        try:
            V = int(self.query_one("#sum-V", Input).value)
            d = int(self.query_one("#sum-d", Input).value)
        except ValueError:
            self.app.notify(
                _("V and d must be whole numbers, e.g. 5000 and 70"), severity="warning"
            )
            return False
        if V < 1 or d < 1:
            self.app.notify(_("V and d must be at least 1"), severity="warning")
            return False
        self.args.update(V=V, d=d)
        return True

    def toggle(self, flag: str) -> None:
        """Flip ``reinit`` (Linear's weight from N(0, 1)) or ``tie`` (l.weight = e.weight)."""
        self.args[flag] = not self.args[flag]

    def new_input(self) -> None:
        self.args["seed"] += 1

    def focus_sizes(self) -> None:
        self.query_one("#sum-V", Input).focus()
