"""The playground's transcript: each cell's code, printed text, value (a tensor's one-line
summary, then its numbers) or error with its hint, in a scrollable log; and the same record as
Markdown for saving."""

from __future__ import annotations

import time

from rich.text import Text
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import RichLog

from core.contract.lab import CellError, ExecResult
from core.i18n import _


def _fence(body: str, lang: str = "") -> str:
    ticks = "```"
    while ticks in body:
        ticks += "`"
    return f"{ticks}{lang}\n{body.rstrip()}\n{ticks}\n"


class PlaygroundTranscript(RichLog):
    # The log's lines are its scrollable height. As Textual's layout reactive, every cell that
    # added a line cost a layout pass of the whole screen (5–8 ms of the answer's paint); the
    # log's own size never depends on them. The scrollbars follow here instead, and one that
    # appears or goes asks for its layout itself.
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        self._scroll_update(size)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            wrap=True, markup=False, highlight=False, auto_scroll=True, min_width=20, id=id
        )
        self.entries: list[dict] = []  # what the Markdown export writes, and resizes redraw
        self._drawn_width = 0

    # -- writing -------------------------------------------------------------------------------

    def _line(self, text: Text) -> None:
        # expand: wrap at the log's own width, not at the console's default 80 columns; no
        # scroll per line (RichLog's waits for a paint, so the answer came a frame later)
        self.write(text, expand=True, scroll_end=False)

    def relabel(self) -> None:
        """Every entry drawn again, in the language of the moment (what the engine said stays
        as it said it)."""
        if self.entries:
            self._redraw()

    def _redraw(self) -> None:
        self.clear()
        for entry in self.entries:
            self._draw(entry)
        self._to_end()
        self._mark_width()

    def _mark_width(self) -> None:
        """The width the lines are wrapped at: none known while the pane is hidden (RichLog
        wraps at its min_width then), so showing it again draws them anew (``refit``)."""
        shown = self.is_on_screen
        self._drawn_width = self.scrollable_content_region.width if shown else 0

    def refit(self) -> None:
        """The pane is shown: lines wrapped while it was hidden are drawn at its width."""
        width = self.scrollable_content_region.width
        if width and width != self._drawn_width and self.entries:
            self._redraw()

    def on_resize(self) -> None:
        """A log keeps lines wrapped at the width they were written at (a note written while
        the pane was hidden wraps at 20 columns): redraw every entry at the new width."""
        width = self.scrollable_content_region.width
        if width == self._drawn_width or not self.entries:
            self._drawn_width = width
            # shorter (the box above grew with a recipe): the latest answer stays in view
            if self.entries and self.max_scroll_y - self.scroll_y <= self.size.height:
                self._to_end()
            return
        self._drawn_width = width
        self._redraw()

    def _draw(self, entry: dict) -> None:
        if "note" in entry:
            # the pane's note: its own translation, or a text marked N_ translated here
            self._line(Text(_(entry["note"]) if entry["note"] else "", style=entry["style"]))
        else:
            self._draw_cell(**entry)

    def _to_end(self) -> None:
        """The end in view, in the same paint as what was just written."""
        if self.auto_scroll and self._size_known:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def note(self, text: str, style: str = "italic dim") -> None:
        self._append({"note": text, "style": style})

    def cell(
        self,
        number: int | str,
        code: str,
        result: ExecResult | None = None,
        failure: CellError | None = None,
    ) -> None:
        """One cell: ``result`` is the exec reply, ``failure`` a protocol-level error
        (type, message, hint: an interrupt, a dead engine)."""
        self._append({"number": number, "code": code, "result": result, "failure": failure})

    def _append(self, entry: dict) -> None:
        self.entries.append(entry)
        self._draw(entry)
        self._to_end()
        if not self.is_on_screen:  # wrapped at min_width: drawn again once shown (``refit``)
            self._drawn_width = 0

    def _draw_cell(
        self, number: int | str, code: str, result: ExecResult | None, failure: CellError | None
    ) -> None:
        prompt = f"In [{number}] "
        lines = code.rstrip("\n").split("\n")
        text = Text()
        for i, line in enumerate(lines):
            text.append(prompt if i == 0 else " " * (len(prompt) - 5) + "...: ", style="bold green")
            text.append(line + ("\n" if i < len(lines) - 1 else ""))
        self._line(text)
        if result is not None:
            if result.stdout:
                self._line(Text(result.stdout.rstrip("\n")))
            value = result.value
            if value:
                if value.get("header"):
                    self._line(Text(f"Out[{number}] {value['header']}", style="bold cyan"))
                self._line(Text(value["text"]))
            if result.error:
                self._error(result.error)
            if result.trains:
                self._line(Text(result.trains, style="yellow"))
        if failure is not None:
            self._error(failure)
        if result is not None and result.state == "running":
            ran = _("(ran between training steps, at step {step})").format(step=result.step)
            self._line(Text(ran, style="italic dim"))
        self._line(Text(" "))

    def _error(self, err: CellError) -> None:
        kind = err.type or _("Error")
        message = f"{kind}: {err.message}".rstrip(": ")
        self._line(Text(message, style="bold red"))
        if err.line:
            where = _("at line {lineno}: {line}").format(lineno=err.lineno, line=err.line)
            self._line(Text(f"  {where}", style="red"))
        if err.hint:
            self._line(Text("  " + _("hint: {hint}").format(hint=err.hint), style="yellow"))

    # -- Markdown ------------------------------------------------------------------------------

    def markdown(self, title: str | None = None) -> str:
        """The transcript as Markdown, under ``title`` (default: torchdeck playground)."""
        title = _("torchdeck playground") if title is None else title
        saved = _("Saved {time}.").format(time=time.strftime("%Y-%m-%d %H:%M:%S"))
        out = [f"# {title}\n", f"{saved}\n"]
        for entry in self.entries:
            if "note" in entry:
                out.append(f"> {_(entry['note']) if entry['note'] else ''}\n")
                continue
            out.append(f"## In [{entry['number']}]\n")
            out.append(_fence(entry["code"], "python"))
            result = entry["result"] or ExecResult()
            if result.stdout:
                out.append(_("Printed:") + "\n\n" + _fence(result.stdout, "text"))
            value = result.value
            if value:
                body = (value["header"] + "\n" if value.get("header") else "") + value["text"]
                out.append(f"Out [{entry['number']}]:\n\n" + _fence(body, "text"))
            if result.trains:
                out.append(f"> {result.trains}\n")
            for err in (result.error, entry["failure"]):
                if err:
                    line = ""
                    if err.line:
                        where = _("line {lineno}: {line}").format(
                            lineno=err.lineno, line=f"`{err.line}`"
                        )
                        line = f" ({where})"
                    kind = err.type or _("Error")
                    out.append(f"**{kind}**: {err.message}{line}\n")
                    if err.hint:
                        out.append("> " + _("hint: {hint}").format(hint=err.hint) + "\n")
        return "\n".join(out)
