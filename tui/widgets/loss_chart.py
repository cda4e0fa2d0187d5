"""The loss chart: train loss, its moving average and validation loss against step.

Keeps its own bounded data and replots on a timer (four times a second at most) only when the
data changed and the chart is visible, on data downsampled to the chart's width. It draws the
lines itself in braille dots (2×4 per cell) straight into cached strips: a replot costs about a
millisecond, where building a plotext figure and converting its ANSI text cost ~25 ms and
stalled the event loop while training (``torchdeck bench``, ui_lag_ms_p99).
"""

from __future__ import annotations

import math

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from core.history import LossHistory

# braille dot bits by (column 0–1, row 0–3) inside one character cell
_DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
_Y_LABEL_WIDTH = 7


def downsample(steps: list[int], values: list[float], width: int) -> tuple[list, list]:
    """At most ``width`` points: the mean of each bucket at the bucket's last step."""
    n = len(steps)
    if n <= width or width < 2:
        return steps, values
    out_s, out_v = [], []
    for b in range(width):
        lo, hi = b * n // width, (b + 1) * n // width
        if hi > lo:
            chunk = [v for v in values[lo:hi] if math.isfinite(v)]
            if chunk:
                out_s.append(steps[hi - 1])
                out_v.append(sum(chunk) / len(chunk))
    return out_s, out_v


def moving_average(values: list[float], window: int) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def fmt_tick(value: float) -> str:
    """A y-axis label in at most 6 characters."""
    if value == 0 or not math.isfinite(value):
        return f"{value:.0f}" if math.isfinite(value) else str(value)
    magnitude = abs(value)
    if magnitude >= 1e5 or magnitude < 1e-3:
        return f"{value:.0e}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}" if magnitude < 1 else f"{value:.2f}"


class BrailleCanvas:
    """A grid of character cells, each holding braille dots and the colour drawn last."""

    def __init__(self, columns: int, rows: int) -> None:
        self.columns, self.rows = columns, rows
        self.width, self.height = columns * 2, rows * 4  # in dots
        self.bits = [[0] * columns for _ in range(rows)]
        self.colour: list[list[Style | None]] = [[None] * columns for _ in range(rows)]

    def dot(self, x: int, y: int, style: Style) -> None:
        """Set the dot at (x, y), y counted from the top."""
        if 0 <= x < self.width and 0 <= y < self.height:
            row, col = y >> 2, x >> 1
            self.bits[row][col] |= _DOT_BITS[x & 1][y & 3]
            self.colour[row][col] = style

    def line(self, x0: int, y0: int, x1: int, y1: int, style: Style) -> None:
        """Bresenham's line between two dots."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.dot(x0, y0, style)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def row_segments(self, row: int, base: Style) -> list[Segment]:
        """One row as segments, runs of one colour merged."""
        out: list[Segment] = []
        run: list[str] = []
        run_style: Style | None = None
        for bits, colour in zip(self.bits[row], self.colour[row]):
            style = colour if bits else None
            if style is not run_style and run:
                out.append(Segment("".join(run), base + run_style if run_style else base))
                run = []
            run_style = style
            run.append(chr(0x2800 + bits) if bits else " ")
        if run:
            out.append(Segment("".join(run), base + run_style if run_style else base))
        return out


class LossChart(Widget):
    DEFAULT_CSS = "LossChart { height: 1fr; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.train = LossHistory(8192)
        self.val = LossHistory(2048)
        self.log_scale = False
        self.ylabel = "loss"
        self._dirty = True
        self._lines: list[Strip] = []
        self.replots = 0  # how many times the figure was drawn (tests, the bench)

    def on_mount(self) -> None:
        self.set_interval(0.25, self._tick)
        self.replot()

    def on_resize(self) -> None:
        self.replot()

    def clear(self) -> None:
        self.train = LossHistory(8192)
        self.val = LossHistory(2048)
        self._dirty = True

    def add(
        self, first_step: int, losses: list, val: float | None, step: int, stride: int = 1
    ) -> None:
        """One report's losses. Steps the chart already holds are skipped: a report sent
        while the app attached is also in the history the attach reply brought."""
        last = self.train.steps[-1] if self.train.steps else 0
        for i, v in enumerate(losses):
            at = first_step + i * stride + stride - 1
            if isinstance(v, (int, float)) and at > last:
                self.train.append(at, float(v))
        last_val = self.val.steps[-1] if self.val.steps else 0
        if isinstance(val, (int, float)) and step > last_val:
            self.val.append(step, float(val))
        self._dirty = True

    def load(self, train: dict, val: dict) -> None:
        self.train = LossHistory.from_dict(train)
        self.val = LossHistory.from_dict(val)
        self._dirty = True

    def toggle_log(self) -> None:
        self.log_scale = not self.log_scale
        self._dirty = True
        self.replot()

    def _tick(self) -> None:
        if self._dirty and self.display and self.is_on_screen:
            self.replot()

    # -- drawing -------------------------------------------------------------------------------

    def _series(self, plot_dots: int) -> list[tuple[str, list, list, Style, bool]]:
        """(label, steps, values, style, joined) for each series, values on the plotted scale
        (log10 in log scale, where only positive values can be drawn)."""
        theme = self.app.current_theme

        def colour(name: str, fallback: str) -> Style:
            return Style(color=getattr(theme, name, None) or fallback)

        keep = (lambda v: math.isfinite(v) and v > 0) if self.log_scale else math.isfinite
        scale = math.log10 if self.log_scale else float
        steps, values = downsample(self.train.steps, self.train.values, plot_dots)
        pairs = [(s, scale(v)) for s, v in zip(steps, values) if keep(v)]
        out = []
        if pairs:
            steps, values = [s for s, _ in pairs], [v for _, v in pairs]
            out.append(("train", steps, values, colour("primary", "blue"), True))
            if len(values) > 4:
                out.append(
                    (
                        "avg",
                        steps,
                        moving_average(values, max(3, len(values) // 10)),
                        colour("warning", "orange1"),
                        True,
                    )
                )
        vals = [(s, scale(v)) for s, v in zip(self.val.steps, self.val.values) if keep(v)]
        if vals:
            out.append(
                (
                    "val",
                    [s for s, _ in vals],
                    [v for _, v in vals],
                    colour("success", "green"),
                    False,
                )
            )
        return out

    def replot(self) -> None:
        """Draw the figure into strips (cached until the next replot) and refresh."""
        self._dirty = False
        self.replots += 1
        width, height = self.size.width, self.size.height
        if width < _Y_LABEL_WIDTH + 4 or height < 4:
            self._lines = []
            self.refresh()
            return
        base = self.rich_style
        dim = base + Style(dim=True)
        columns, rows = width - _Y_LABEL_WIDTH - 1, height - 3  # plot area in cells
        canvas = BrailleCanvas(columns, rows)
        series = self._series(canvas.width)
        every = [v for *_, values, _, _ in series for v in values]
        steps = [s for _, st, *_ in series for s in st]
        lo, hi = (min(every), max(every)) if every else (0.0, 1.0)
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5, hi + 0.5
        s_lo, s_hi = (min(steps), max(steps)) if steps else (0, 1)
        s_span = max(1, s_hi - s_lo)

        def to_dot(step: int, value: float) -> tuple[int, int]:
            x = round((step - s_lo) / s_span * (canvas.width - 1))
            y = round((hi - value) / (hi - lo) * (canvas.height - 1))
            return x, y

        for _, st, values, style, joined in series:
            points = [to_dot(s, v) for s, v in zip(st, values)]
            if joined and len(points) > 1:
                for (x0, y0), (x1, y1) in zip(points, points[1:]):
                    canvas.line(x0, y0, x1, y1, style)
            else:
                for x, y in points:  # a 2×2 blot per point, to stand out from the lines
                    for dx in (0, 1):
                        for dy in (0, 1):
                            canvas.dot(x - (x & 1) + dx, y - dy, style)

        unscale = (lambda v: 10**v) if self.log_scale else (lambda v: v)
        ticks = {0: fmt_tick(unscale(hi)), rows - 1: fmt_tick(unscale(lo))}
        if rows >= 5:
            ticks[(rows - 1) // 2] = fmt_tick(
                unscale(hi - (hi - lo) * ((rows - 1) // 2) / (rows - 1))
            )
        lines: list[Strip] = []
        name = f"{self.ylabel}{' (log)' if self.log_scale else ''} "
        legend = [Segment(name.ljust(_Y_LABEL_WIDTH + 1), dim)]
        for label, _, _, style, joined in series:
            legend += [
                Segment("── " if joined else "•• ", base + style),
                Segment(f"{label}  ", dim),
            ]
        lines.append(Strip(legend).adjust_cell_length(width, base))
        for row in range(rows):
            label = ticks.get(row, "").rjust(_Y_LABEL_WIDTH - 1)[: _Y_LABEL_WIDTH - 1]
            segments = [Segment(label + " ┤" if row in ticks else label + " │", dim)]
            lines.append(
                Strip(segments + canvas.row_segments(row, base)).adjust_cell_length(width, base)
            )
        lines.append(
            Strip(
                [Segment(" " * (_Y_LABEL_WIDTH - 1) + " └" + "─" * columns, dim)]
            ).adjust_cell_length(width, base)
        )
        left = str(s_lo) if steps else ""
        right = str(s_hi) if steps else ""
        middle = "step" if steps else "step (no data yet)"
        gap = columns - len(left) - len(right)
        axis = (
            left + middle.center(max(len(middle), gap)) + right
            if gap > len(middle)
            else middle.center(columns)
        )
        lines.append(
            Strip([Segment(" " * (_Y_LABEL_WIDTH + 1) + axis, dim)]).adjust_cell_length(width, base)
        )
        self._lines = lines
        self.refresh()

    def render_line(self, y: int) -> Strip:
        if y < len(self._lines):
            return self._lines[y]
        return Strip.blank(self.size.width, self.rich_style)
