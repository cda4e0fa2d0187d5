"""Attention drawn in the terminal: one head as a heat map of query rows × key columns, two rows
per line with half blocks (▀: the upper row in the foreground colour, the lower one in the
background), or every head of a layer as small maps side by side.

The shades are the 256-colour palette's 24 greys (232–255), which every 256-colour terminal has:
the darkest for 0, the lightest for 1, by the square root so that weak attention still shows.
Above the diagonal (a query cannot see later keys: the causal mask) cells are left blank. A map
shows the last positions that fit and never wraps."""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import groupby

from rich.cells import cell_len
from rich.color import Color
from rich.style import Style
from rich.text import Text

from core.i18n import _
from tui.format import visible_char

GREYS = range(233, 256)  # 0 → 233, 1 → 255 (232, black, is kept for the masked cells)
MASKED = Color.from_ansi(232)


def shade(value: float) -> Color:
    """A probability in [0, 1] as one of the palette's greys."""
    v = min(1.0, max(0.0, value))
    return Color.from_ansi(GREYS[round(math.sqrt(v) * (len(GREYS) - 1))])


def fits(t: int, width: int, lines: int, labels: bool = True) -> int:
    """How many of ``t`` positions a map shows in ``width`` cells and ``lines`` lines (with its
    labels: a row of key labels above, two label cells at the left)."""
    if labels:
        width, lines = width - 3, lines - 1
    return max(0, min(t, width, 2 * lines))


def _level(value: float) -> int:
    """The palette number of ``shade(value)``."""
    v = min(1.0, max(0.0, value))
    return GREYS[round(math.sqrt(v) * (len(GREYS) - 1))]


@lru_cache(maxsize=1024)
def _half(upper: int | None, lower: int | None) -> Style:
    """▀'s style for two palette numbers (None: no row there); made once per pair."""
    return Style(
        color=None if upper is None else Color.from_ansi(upper),
        bgcolor=None if lower is None else Color.from_ansi(lower),
    )


def _row_levels(att: list[list[float]], q: int, n: int) -> list[int | None]:
    if q >= len(att):
        return [None] * n
    row = att[q]
    return [232 if k > q else _level(row[k]) for k in range(n)]


def head_map(
    att: list[list[float]],
    chars: list[str],
    width: int,
    lines: int,
    focus: int | None = None,
    labels: bool = True,
) -> list[Text]:
    """One head, [T][T], as text lines: the last positions that fit. ``focus`` (a position in
    0..T-1) marks that query's row label in reverse."""
    t = len(att)
    n = fits(t, width, lines, labels)
    if n == 0:
        return []
    first = t - n
    rows = [r[first:] for r in att[first:]]
    out: list[Text] = []
    if labels:
        out.append(Text("   " + "".join(visible_char(c) for c in chars[first:t]), style="dim"))
    for top in range(0, n, 2):
        line = Text()
        if labels:
            for q in (top, top + 1):
                ch = visible_char(chars[first + q]) if q < n else " "
                line.append(ch, style="reverse" if focus == first + q else "dim")
            line.append(" ")
        uppers, lowers = _row_levels(rows, top, n), _row_levels(rows, top + 1, n)
        k = len(line)
        line.append("▀" * n)
        # one span per run of equal cells (the masked corner, weak attention): fewer pieces
        # to draw and fewer colour codes written to the terminal
        for pair, run in groupby(zip(uppers, lowers)):
            width = len(list(run))
            line.stylize(_half(*pair), k, k + width)
            k += width
        out.append(line)
    return out


def head_grid(
    maps: list[list[list[float]]], heads: list[int], width: int, lines: int
) -> list[Text]:
    """Every head of a layer as small maps in a row (one line of titles above them), each
    showing the last positions that fit its share of the width."""
    count = len(maps)
    if count == 0:
        return []
    share = (width - (count - 1)) // count
    n = fits(len(maps[0]), share, lines - 1, labels=False)
    if n < 2:
        note = _("{count} heads need more room: press v for one head at a time")
        return [Text(note.format(count=count))]
    blocks = [head_map(m, [], n, lines - 1, labels=False) for m in maps]
    label = _("head {number}")
    if n < cell_len(label.format(number=max(heads) + 1)):
        label = "h{number}"  # narrow maps: h1 h2
    out = [Text(" ".join(label.format(number=h + 1).ljust(n)[:n] for h in heads), style="dim")]
    for i in range(len(blocks[0])):
        line = Text()
        for j, block in enumerate(blocks):
            if j:
                line.append(" ")
            line.append_text(block[i])
        out.append(line)
    return out


def scale_line(width: int) -> Text:
    """The shade scale: 0 … 1, with the masked cell's look."""
    line = Text("0 ", style="dim")
    for i in range(12):
        line.append(" ", style=Style(bgcolor=shade((i / 11) ** 2)))
    line.append(" 1  ", style="dim")
    line.append(" ", style=Style(bgcolor=MASKED))
    line.append(" " + _("masked (later keys)"), style="dim")
    line.truncate(width)
    return line
