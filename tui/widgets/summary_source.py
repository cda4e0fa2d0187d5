"""The Summary pane's code view (LESSONS.md L1): the current model class's ``forward`` (the data
flow), the methods it calls and its ``__init__`` (where the layers are declared), as written and
highlighted, from the engine's ``model_source`` reply; one line when the source cannot be found.
The code changes only with a new model, so the view asks once per model (and again on ``r``)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from core import i18n
from core.contract.inspect import ModelSourceArgs, ModelSourceResult
from core.i18n import N_, _
from tui.latest import LatestRequest

NOTE = N_("__init__ declares the layers; forward is the data flow through them")
ROLE = {"forward": N_("the data flow"), "__init__": N_("declares the layers")}
LOADING = N_("loading…")


def source_renderable(r: ModelSourceResult, dark: bool = True) -> RenderableType:
    """The class, the note, then each method highlighted with its line numbers in the file
    (wrapped, never cut, at any width); or the one line saying why there is no source."""
    head = Text()
    head.append(r.class_name, style="bold green")
    head.append(f"  ({r.module})", style="dim")
    if r.missing or not r.blocks:
        head.append("\n" + (r.missing or _("no source for this model")), style="yellow")
        return head
    head.append("\n" + i18n._(NOTE), style="cyan")
    parts: list[RenderableType] = [head]
    for b in r.blocks:
        role = i18n._(ROLE[b.name]) if b.name in ROLE else _("called by forward")
        parts.append(Text(f"\n{b.qualname}: {role}", style="bold"))
        parts.append(
            Syntax(
                b.source,
                "python",
                theme="monokai" if dark else "default",
                line_numbers=True,
                start_line=b.line,
                word_wrap=True,
                background_color="default",
            )
        )
    return Group(*parts)


class SummarySource(VerticalScroll):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.source: ModelSourceResult | None = None  # the latest ``model_source`` reply
        self.quiet = False  # whether an error reply to the next request stays silent
        self._latest = LatestRequest(self._send, self._show)

    def compose(self):
        yield Static(f"[dim]{i18n._(LOADING)}[/dim]", id="sum-source-text")

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._draw())

    def reload(self, quiet: bool, again: bool = False) -> None:
        """Ask for the model's code, unless this model's is here already (``again``: ask)."""
        if self.source is not None and not again:
            return
        self.quiet = quiet
        self.run_worker(self._latest.run())

    async def _send(self) -> ModelSourceResult | None:
        return await self.app.engine.call(ModelSourceArgs(), quiet=self.quiet)

    def _show(self, result: ModelSourceResult) -> None:
        self.source = result
        self._draw()

    def _draw(self) -> None:
        if self.source is not None:
            dark = self.app.current_theme.dark
            self.query_one("#sum-source-text", Static).update(source_renderable(self.source, dark))

    def relabel(self) -> None:
        if self.source is None:
            self.query_one("#sum-source-text", Static).update(f"[dim]{i18n._(LOADING)}[/dim]")
        else:
            self._draw()

    def forget(self) -> None:
        """A new model or engine: drop the code (and any reply still coming to an older ask)."""
        self._latest.reset()
        self.source = None
