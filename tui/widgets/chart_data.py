"""What the Train pane's charts draw, worked out before any plotting: which series each view
shows, the window of steps, the smoothed line, the points thinned to the plot's width, the
ticks and their labels, the colours from the theme and the legend. Works on copies of the data
(``Job`` holds no reference to the chart), so a figure can be prepared off the event loop; the
plotting itself is ``run_chart.draw``'s.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field

from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.strip import Strip

from core.i18n import N_, _
from core.series import columns, ema

# the views a key steps through, in order; "memory" only when the run reports it
VIEWS = ("loss", "lr", "grad_norm", "tokens_per_s", "memory")
# the signals of a train row (core/metrics rows) the charts keep, each in its own history
SIGNALS = ("lr", "grad_norm", "tokens_per_s", "mem_alloc_mb", "mem_peak_mb")
WINDOWS = (0, 100, 1000, 10000)  # the last N steps a key steps through; 0: the whole run
# each signal view's title, y axis label (with its unit) and legend label, translated where
# drawn (units and abbreviations are no words to translate)
NAMES = {
    "lr": (N_("learning rate"), N_("learning rate"), "lr"),
    "grad_norm": (N_("grad norm"), N_("grad norm"), N_("grad norm")),
    "tokens_per_s": ("tokens/s", "tokens/s", "tokens/s"),
    "memory": (N_("memory"), "MiB", ""),
}
SMOOTHED_VIEWS = ("loss", "grad_norm", "tokens_per_s")  # a schedule or memory is not smoothed
LEGEND_ROWS = 2  # the legend wraps onto this many rows at most


# A series as copied from a LossHistory: (steps, values, lows, highs), four lists of one length.
Series = tuple[list, list, list, list]


def snapshot(history) -> Series:
    """Copies of a ``core.history.LossHistory``'s lists: the chart keeps appending to its own
    while a figure is prepared from these."""
    return (list(history.steps), list(history.values), list(history.lows), list(history.highs))


@dataclass
class Line:
    label: str
    steps: list
    values: list  # on the plotted scale (log10 of the value in log scale)
    role: str  # the theme colour it is drawn in: primary, warning, success, error, dim
    marker: str = ""  # "": a joined line; else plotext's marker at each point ("dot", ...)


@dataclass
class Figure:
    title: str
    ylabel: str
    lines: list[Line] = field(default_factory=list)
    legend: list[tuple[str, str, str]] = field(default_factory=list)  # (glyph, label, role)
    hline: float | None = None  # on the plotted scale
    note: str = ""  # shown alone on empty axes when there is nothing to draw
    x_range: tuple[int, int] = (0, 1)
    y_range: tuple[float, float] = (0.0, 1.0)
    log: bool = False


@dataclass
class Job:
    """Everything a figure is prepared from: the view's choices and copies of its data."""

    view: str = "loss"
    ylabel: str = "loss"  # "loss" or "f(x)" (the parabola preset)
    smoothing: float = 0.0
    window: int = 0
    log: bool = False
    clip: float = 0.0
    series: dict[str, Series] = field(default_factory=dict)  # by name: train, val, lr, ...
    overlay: str = ""  # the compared run's name ("" none): series "overlay", "overlay_val"
    width: int = 80  # the chart's columns
    has_train: bool = False


def fmt_value(value: float) -> str:
    """A y tick label in at most six characters: 0.252, 2.48, 19.9k, 150k, 1.2M, 2.0e-3."""
    size = abs(value)
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    if size < 1e-2:
        return f"{value:.1e}".replace("e-0", "e-")
    for limit, scale, suffix, digits in (
        (1e6, 1e6, "M", 1),
        (1e5, 1e3, "k", 0),
        (1e3, 1e3, "k", 1),
    ):
        if size >= limit:
            return f"{value / scale:.{digits}f}{suffix}"
    return f"{value:.{0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 else 3}f}"


def fmt_step(step: float) -> str:
    """An x tick label: 950, 12k, 999.9k, 1.5M."""
    if abs(step) < 10_000:
        return f"{step:.0f}"
    if abs(step) < 1_000_000:
        return f"{step / 1000:.4g}k"
    return f"{step / 1_000_000:.4g}M"


def nice_step(span: float, count: int) -> float:
    """A round tick spacing (1, 2 or 5 times a power of ten) giving about ``count`` ticks."""
    raw = max(span, 1e-12) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


def x_ticks(lo: int, hi: int, columns_: int) -> tuple[list, list]:
    """The first and the last step, and round steps between them about one per 12 columns
    (none closer than 8 columns to either end), as (positions, labels)."""
    step = max(1, nice_step(hi - lo, max(2, columns_ // 12)))
    gap = (hi - lo) * 8 / max(1, columns_)
    ticks = [lo]
    at = math.ceil(lo / step) * step
    while at <= hi - gap:
        if at - lo >= gap:
            ticks.append(at)
        at += step
    ticks.append(hi)
    return ticks, [fmt_step(t) for t in ticks]


def y_ticks(
    lo: float, hi: float, rows: int, log: bool, mark: float | None = None
) -> tuple[list, list]:
    """Evenly spaced values from ``lo`` to ``hi`` (the top one is the highest point drawn,
    so a spike's height can be read off the axis), about one per three rows; ``mark`` (the
    clip threshold) is labelled too, in place of the ticks beside it."""
    count = max(2, min(6, rows // 3 + 1))
    ticks = [lo + (hi - lo) * i / (count - 1) for i in range(count)]
    if mark is not None:
        near = 1.5 * (hi - lo) / max(1, rows)
        ticks = [t for t in ticks if t == hi or abs(t - mark) > near] + [mark]
        ticks.sort()
    labels = [fmt_value(10**t if log else t) for t in ticks]
    return ticks, labels


def _cut(series: Series, lo: int, hi: int | None) -> Series:
    """The points of steps ``lo`` to ``hi`` (inclusive; ``hi`` None: to the end)."""
    steps = series[0]
    i = bisect_left(steps, lo)
    j = len(steps) if hi is None else bisect_left(steps, hi + 1)
    return tuple(part[i:j] for part in series)  # type: ignore[return-value]


def _clean(series: Series, log: bool) -> Series:
    """The points whose value can be drawn (finite; positive in log scale); an extreme that
    cannot be drawn stands in as the point's value."""
    ok = (lambda v: math.isfinite(v) and v > 0) if log else math.isfinite
    if all(all(map(ok, part)) for part in series[1:]):
        return series  # the common case, without a loop in Python
    out: Series = ([], [], [], [])
    for s, v, lo, hi in zip(*series):
        if isinstance(v, (int, float)) and ok(v):
            out[0].append(s)
            out[1].append(float(v))
            out[2].append(float(lo) if ok(lo) else float(v))
            out[3].append(float(hi) if ok(hi) else float(v))
    return out


def _bucket(step: int, s0: int, span: int, width: int) -> int:
    return min(width - 1, (step - s0) * width // span)  # as core.series.columns cuts them


def band(steps: list, values: list, width: int, lows=None, highs=None) -> list[tuple]:
    """A series thinned to ``width`` columns as lines plotext can draw cheaply. Each column
    keeps its lowest and highest point (``core.series.columns``: a spike keeps its height);
    they make two lines, the columns' lows and the columns' highs, rather than one line
    zig-zagging between them, which would have plotext lay a dot in every cell of a noisy
    band (half a second for a figure of a long, noisy run). One line where they agree."""
    steps, values = columns(steps, values, width, lows, highs)
    if len(steps) < 3:
        return [(steps, values)]
    s0, span = steps[0], max(1, steps[-1] - steps[0])
    low: tuple[list, list] = ([], [])
    high: tuple[list, list] = ([], [])
    bucket = -1
    for step, value in zip(steps, values):
        b = _bucket(step, s0, span, width)
        if b != bucket:
            bucket = b
            for line in (low, high):
                line[0].append(step)
                line[1].append(value)
        elif value < low[1][-1]:
            low[0][-1], low[1][-1] = step, value
        elif value > high[1][-1]:
            high[0][-1], high[1][-1] = step, value
    return [low] if low == high else [low, high]


def sample(steps: list, values: list, width: int) -> list[tuple]:
    """A smooth series (an EMA) thinned to its first point and each column's last."""
    if len(steps) <= width:
        return [(steps, values)]
    s0, span = steps[0], max(1, steps[-1] - steps[0])
    buckets = [(s - s0) * width // span for s in steps]  # as core.series.columns cuts them
    keep = [0] + [i for i in range(1, len(steps) - 1) if buckets[i] != buckets[i + 1]]
    keep.append(len(steps) - 1)
    return [([steps[i] for i in keep], [values[i] for i in keep])]


def _title(job: Job) -> str:
    """The view's name and its settings, as many as fit the width."""
    parts = [job.ylabel if job.view == "loss" else _(NAMES[job.view][0])]
    if job.view in SMOOTHED_VIEWS and job.smoothing > 0:
        parts.append(_("smooth {smoothing:g}").format(smoothing=job.smoothing))
    if job.window:
        parts.append(_("last {steps}").format(steps=fmt_step(job.window)))
    if job.log:
        parts.append("log")
    while True:
        for sep in (" · ", "·"):
            if len(title := sep.join(parts)) <= job.width or len(parts) == 1:
                return title
        parts.pop()


def _plan(job: Job) -> list[tuple[str, str, str, str]]:
    """(series name, label, role, how) for the view; how: "band" (the raw series, its lows and
    highs), "smooth" (its EMA), "points" (markers) or "dots" (a braille dot a point: the compared
    run's validation, lighter than this run's)."""
    smooth = job.view in SMOOTHED_VIEWS and job.smoothing > 0
    ema_label = _("ema {smoothing:g}").format(smoothing=job.smoothing)
    if job.view == "loss":
        out = [("train", _("train"), "primary", "band")]
        if smooth:
            out.append(("train", ema_label, "warning", "smooth"))
        out.append(("val", _("val"), "success", "points"))
        if job.overlay:
            out.insert(0, ("overlay", job.overlay, "dim", "smooth" if smooth else "band"))
            out.append(("overlay_val", job.overlay, "dim", "dots"))
        return out
    if job.view == "memory":
        return [
            ("mem_alloc_mb", _("allocated"), "primary", "band"),
            ("mem_peak_mb", _("peak"), "warning", "band"),
        ]
    label = NAMES[job.view][2]
    out = [(job.view, _(label) if label else "", "primary", "band")]
    if smooth:
        out.append((job.view, ema_label, "warning", "smooth"))
    return out


def prepare(job: Job) -> Figure:
    """The figure of ``job``: its lines cut to the window, cleaned, smoothed and thinned to the
    plot's width, and the ranges of the axes. The cost follows the bounded histories and the
    width, never the run's length."""
    plan = _plan(job)
    width = max(8, job.width - 9)  # about the plot's columns of data
    figure = Figure(title=_title(job), ylabel=_y_label(job), log=job.log)
    for _name, label, role, how in plan:
        if not any(entry[1:] == (label, role) for entry in figure.legend):
            figure.legend.append(("•" if how == "points" else "──", label, role))
    figure.legend.sort(key=lambda entry: entry[2] == "dim")  # this run's first, if room is short
    if job.view == "grad_norm" and job.clip > 0:
        figure.legend.append(("──", _("clip {value}").format(value=fmt_value(job.clip)), "error"))
    # the window: the last N steps of this run (of the compared run when this one has none)
    first = plan[0][0] if plan[0][0] != "overlay" else plan[1][0]
    ref = job.series.get(first) or job.series.get("overlay") or ([], [], [], [])
    lo, hi = (ref[0][-1] - job.window + 1, ref[0][-1]) if job.window and ref[0] else (0, None)
    for name, label, role, how in plan:
        series = _clean(_cut(job.series.get(name) or ([], [], [], []), lo, hi), job.log)
        steps, values, lows, highs = series
        if not steps:
            continue
        if how == "smooth":
            lines = sample(steps, ema(values, job.smoothing), width)
        elif how == "band":
            lines = band(steps, values, width, lows, highs)
        else:  # markers
            lines = [columns(steps, values, width)]
        for steps, values in lines:
            values = [math.log10(v) for v in values] if job.log else values
            marker = {"points": "dot", "dots": "braille"}.get(how, "")
            figure.lines.append(Line(label, steps, values, role, marker))
    if job.view == "grad_norm" and job.clip > 0 and figure.lines:
        figure.hline = math.log10(job.clip) if job.log else job.clip
    if not figure.lines:
        figure.note = _("no data yet") if not job.has_train else _("not reported by this run")
        return figure
    every = [v for line in figure.lines for v in line.values]
    if figure.hline is not None:
        every.append(figure.hline)
    steps = [s for line in figure.lines for s in (line.steps[0], line.steps[-1])]
    y_lo, y_hi = min(every), max(every)
    if y_hi - y_lo < 1e-12:
        pad = abs(y_hi) * 0.05 or 0.5
        y_lo, y_hi = y_lo - pad, y_hi + pad
    figure.y_range = (y_lo, y_hi)
    x_lo, x_hi = min(steps), max(steps)
    figure.x_range = (x_lo, x_hi if x_hi > x_lo else x_lo + 1)
    return figure


def _y_label(job: Job) -> str:
    if job.view == "loss":
        return _("loss (nats)") if job.ylabel == "loss" else job.ylabel
    label = NAMES[job.view][1]
    return _(label) if label else ""


def _rgb(value: str | None, fallback: str) -> Color:
    try:
        return Color.parse(value or fallback)
    except Exception:  # a theme variable that is not a colour
        return Color.parse(fallback)


def _luminance(c: Color) -> float:
    def channel(v: int) -> float:
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)


def readable(colour: Color, background: Color, contrast: float = 3.0) -> Color:
    """``colour``, darkened on a light background (lightened on a dark one) until its
    contrast ratio with the background reaches ``contrast`` (WCAG's for graphics: 3)."""
    toward = Color(0, 0, 0) if _luminance(background) > 0.4 else Color(255, 255, 255)
    bg = _luminance(background)
    for step in range(11):
        c = colour.blend(toward, step / 10)
        lum = _luminance(c)
        if (max(lum, bg) + 0.05) / (min(lum, bg) + 0.05) >= contrast:
            return c
    return toward


def theme_colours(app, background: Color) -> dict[str, tuple[int, int, int]]:
    """The chart's colours as RGB, from the app's theme: data in primary / warning / success /
    error, made readable on the background (an orange line on a light theme is darkened), the
    compared run and the axes in the foreground faded toward the background. Textual maps RGB
    down to 256 colours where the terminal has no more."""
    v = app.theme_variables or app.get_css_variables()
    fg = _rgb(v.get("foreground"), "#e0e0e0")
    out = {
        role: readable(_rgb(v.get(role), fallback), background).rgb
        for role, fallback in (
            ("primary", "#0178d4"),
            ("warning", "#fea62b"),
            ("success", "#4ebf71"),
            ("error", "#b93c5b"),
        )
    }
    out["dim"] = fg.blend(background, 0.55).rgb
    out["muted"] = fg.blend(background, 0.35).rgb
    return out


def legend(figure: Figure, width: int, colours: dict, base: Style) -> list[Strip]:
    """The series' glyphs in their colours and their names, wrapped onto two rows at most."""
    muted = base + Style(color=RichColor.from_rgb(*colours["muted"]))
    rows: list[list[Segment]] = [[]]
    used = 0
    for glyph, label, role in figure.legend:
        cells = len(glyph) + 1 + len(label) + 2
        if used and used + cells > width:
            if len(rows) == LEGEND_ROWS:
                break
            rows.append([])
            used = 0
        colour = base + Style(color=RichColor.from_rgb(*colours[role]))
        rows[-1] += [Segment(glyph, colour), Segment(f" {label}  ", muted)]
        used += cells
    return [Strip(r).adjust_cell_length(width, base) for r in rows if r]
