"""The Predict pane's explain view (key e): inside the model for the typed text, from the
engine's ``explain`` reply. Top to bottom: which typed characters pushed the top prediction
(gradient × input, shaded under them), the embedding neighbours of the character at the cursor,
then the attention of one head (or every head of a layer, key v) beside the logit lens: each
layer's residual stream read through the final norm and the unembedding.

A model without a part (mini and mlp have no attention and no lens) gets the engine's one-line
note in its place, never an empty box. Everything fits the view's size and never wraps."""

from __future__ import annotations

from functools import lru_cache
from itertools import groupby

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.reactive import reactive

from core.contract.explain import ExplainResult
from core.i18n import N_, _
from tui.format import fit_parts, visible_char
from tui.widgets.activation_map import cell_style
from tui.widgets.attention_map import fits, head_grid, head_map, scale_line
from tui.widgets.rows import Row, Rows, as_style

LENS_WIDTH = 30  # "block 3  e 31% a 12% ␣  9%"
# shown before the first reply (the pane may set another note: a text of its own, or one
# marked N_ that is translated where it is drawn)
NOTE = N_("press e again to leave · typing updates it")


def _pct(p: float) -> str:
    return f"{100 * p:3.0f}%"


def attribution_line(r: ExplainResult, width: int) -> Text:
    """'why e 31%: ' then the fed characters, each shaded by its attribution (red pushed the
    prediction up, blue down), the last ones that fit."""
    if not r.attribution or r.target is None:
        return Text(r.attribution_note or _("no attribution"), style="dim", no_wrap=True)
    why = _("why '{char}' {percent}:").format(
        char=visible_char(r.target.char), percent=_pct(r.target.prob).strip()
    )
    head = Text(why + " ", style="b")
    room = max(0, width - len(head))
    scale = max(abs(a) for a in r.attribution) or 1.0
    shown = list(zip(r.chars, r.attribution))[-room:] if room else []
    for ch, a in shown:
        head.append(visible_char(ch), style=cell_style(a, scale))
    return head


def neighbours_line(r: ExplainResult, width: int) -> Text:
    if r.neighbours_of is None or not r.neighbours:
        return Text(r.neighbours_note or _("no embedding neighbours"), style="dim", no_wrap=True)
    # a character before what is fed (the last block_size) has a vector but no row in the map
    if r.position is not None or not r.chars:
        near = _("near '{char}':")
    else:
        near = _("near '{char}' (not fed):")
    line = Text(near.format(char=visible_char(r.neighbours_of.char)), style="b")
    for n in r.neighbours:
        part = f"  {visible_char(n.char)} {n.cosine:.2f}"
        if len(line) + len(part) > width:
            break
        line.append(part)
    return line


def lens_lines(r: ExplainResult, width: int) -> list[Text]:
    if not r.lens:
        return [Text(r.lens_note or _("no logit lens"), style="dim")]
    out = [Text(_("logit lens: top next chars"), style="dim")]
    for row in r.lens:
        line = Text(f"{row.name[:8]:<8}", style="dim")
        for c in row.top:
            part = f" {visible_char(c.char)}{_pct(c.prob)}"
            if len(line) + len(part) > width:
                break
            line.append(part, style=Style(bold=c is row.top[0]))
        out.append(line)
    return out


def _title(r: ExplainResult, grid: bool, shown: int, width: int) -> str:
    """The map's title, the wordiest that fits: the layer, the head (or every head) and, when
    the map cannot show every position, how many it shows."""
    layer, n_layer = r.layers[0] + 1, r.n_layer
    if grid:
        head = _("all {n_head} heads").format(n_head=r.n_head)
        short_head = _("{n_head} heads").format(n_head=r.n_head)
    else:
        head = _("head {head}/{n_head}").format(head=r.heads[0] + 1, n_head=r.n_head)
        short_head = f"H{r.heads[0] + 1}/{r.n_head}"
    total = len(r.chars)
    if 0 < shown < total:
        long, mid, short = (
            [_("last {shown} of {total}").format(shown=shown, total=total)],
            [_("last {shown}/{total}").format(shown=shown, total=total)],
            [f"{shown}/{total}"],
        )
    else:
        long = mid = short = []
    terse = [f"L{layer}/{n_layer} {short_head}", *short]
    attention = _("attention")
    layer_of = _("layer {layer}/{n_layer}").format(layer=layer, n_layer=n_layer)
    for words in (
        [attention, layer_of, head, *long],
        [attention, layer_of, head, *mid],
        [layer_of, head, *mid],
        terse,
    ):
        if cell_len(" · ".join(words)) <= width:
            return " · ".join(words)
    return fit_parts(terse, width)[:width]


def attention_lines(r: ExplainResult, grid: bool, focus: int | None, width: int, lines: int):
    if not r.attention:
        return [Text(r.attention_note or _("no attention"), style="dim")]
    if grid:
        body = head_grid(r.attention[0], list(r.heads), width, lines - 1)
        shown = 0  # the small maps say nothing of their window
    else:
        # a window's map starts at position r.offset: its labels and focus are counted from there
        local = None if focus is None or focus < r.offset else focus - r.offset
        body = head_map(r.attention[0][0], r.chars[r.offset :], width, lines - 1, local)
        shown = fits(len(r.attention[0][0]), width, lines - 1)
    return [Text(_title(r, grid, shown, width), style="b"), *body]


def explain_lines(
    r: ExplainResult, grid: bool, focus: int | None, width: int, height: int
) -> list[Text]:
    """The whole view as at most ``height`` lines of at most ``width`` cells."""
    top = [attribution_line(r, width), neighbours_line(r, width)]
    foot = [scale_line(width)] if r.attention and not grid else []
    if r.attention:
        foot.append(Text(_("[ ] layer · , . head · v all heads"), style="dim"))
    if height - len(top) - len(foot) < 3:  # no room for a map: the scale and keys go first
        foot = []
    rest = max(1, height - len(top) - len(foot))
    lens_w = LENS_WIDTH if r.lens and width >= LENS_WIDTH + 24 else 0
    left_w = width - lens_w - (1 if lens_w else 0)
    left = attention_lines(r, grid, focus, left_w, rest)
    right = lens_lines(r, lens_w) if lens_w else []
    body = []
    for i in range(max(len(left), len(right))):
        line = left[i].copy() if i < len(left) else Text()
        line.truncate(left_w, pad=bool(right))
        if i < len(right):
            line.append(" ")
            line.append_text(right[i])
        body.append(line)
    if not lens_w:  # narrow, or no lens (its note): under the map, when there is room
        body += lens_lines(r, width)
    out = (top + body)[: max(0, height - len(foot))] + foot
    for line in out:
        line.no_wrap = True
        line.truncate(width)
    return out[:height]


@lru_cache(maxsize=512)
def _combined(outer: str | Style, stack: tuple) -> str | Style:
    """The line's style under its spans' (in the spans' order, as Rich combines them)."""
    if not stack:
        return outer
    if not outer and len(stack) == 1:
        return stack[0]
    return Style.combine([as_style(outer), *map(as_style, stack)])


def text_row(line: Text) -> Row:
    """A line of text as a row of (text, style) pieces, styled as Rich draws it: spans that
    do not overlap (the heat map's runs, the labels) are cut straight from the text; where
    they do, each character gets its spans' styles combined, and equal neighbours join."""
    plain, outer, pos = line.plain, line.style, 0
    row: Row = []
    for span in line.spans:
        if span.start < pos:
            return _stacked(line)
        if span.start > pos:
            row.append((plain[pos : span.start], outer))
        row.append((plain[span.start : span.end], _combined(outer, (span.style,))))
        pos = span.end
    if pos < len(plain):
        row.append((plain[pos:], outer))
    return [piece for piece in row if piece[0]]


def _stacked(line: Text) -> Row:
    plain, n = line.plain, len(line.plain)
    stacks: list[tuple] = [()] * n
    for span in line.spans:
        for i in range(max(0, span.start), min(n, span.end)):
            stacks[i] = (*stacks[i], span.style)
    row: Row = []
    start = 0
    for stack, run in groupby(stacks):
        width = len(list(run))
        row.append((plain[start : start + width], _combined(line.style, stack)))
        start += width
    return row


class ExplainView(Rows):
    """Draws the latest ``explain`` reply; the pane sets ``data``, ``grid`` and ``focus``.
    Drawn through the line API: the heat map's hundreds of styled cells skip Textual's
    conversion of a renderable on every paint."""

    DEFAULT_CSS = "ExplainView { height: 1fr; }"

    data: reactive[ExplainResult | None] = reactive(None)
    grid: reactive[bool] = reactive(False)
    focus_position: reactive[int | None] = reactive(None)
    note: reactive[str] = reactive(NOTE)

    class Cut(Message):
        """The view grew past what its data's window holds: ask for the explanation again."""

    @property
    def window(self) -> int | None:
        """The most positions a map can show at this size (two query rows per line, one key
        per cell): the window to ask for; None before the view is laid out."""
        width, height = self.size
        return max(1, min(width, 2 * height)) if width and height else None

    def on_resize(self) -> None:
        r = self.data
        if (
            r is not None
            and r.offset
            and r.attention
            and (self.window or 0) > len(r.attention[0][0])
        ):
            self.post_message(self.Cut())

    def watch_data(self) -> None:
        self.changed()

    def watch_grid(self) -> None:
        self.changed()

    def watch_focus_position(self) -> None:
        self.changed()

    def watch_note(self) -> None:
        self.changed()

    def relabel(self) -> None:
        self.changed()  # the rows are kept until something changes: the language has

    def rows(self, width: int, height: int) -> list[Row]:
        if self.data is None:
            return [[(_(self.note) if self.note else "", "dim")]]
        lines = explain_lines(self.data, self.grid, self.focus_position, width, height)
        return [text_row(line) for line in lines]
