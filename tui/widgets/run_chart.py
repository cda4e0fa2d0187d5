"""The Train pane's chart of a run: loss (train, its smoothed line, validation, and a previous
run to compare with), learning rate, gradient norm, tokens/s and memory, one view at a time.

Drawn with textual-plotext's ``Plot`` (plotext without its global state). A figure is built
only when the data changed and the chart is on screen, on a timer (four times a second at
most), off the event loop: the data is copied on the loop, then thinned to the plot's width
(``chart_data.prepare``), plotted and turned into strips in a worker thread. A figure costs
~5 ms at 80×24 and ~15–25 ms when a 200×50 terminal gives the chart 150×43 cells; built on the
loop that is a frame's lag each time, built beside it (with a 1 ms thread switch interval) the
loop's lag stays at a few ms. A key or a new model replots at once, on the loop.
``render_line`` only hands out the strips last built.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque

from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from core.history import LossHistory
from core.i18n import _
from core.metrics_file import number
from core.series import SMOOTHING
from tui.widgets.chart_data import (
    SIGNALS,
    VIEWS,
    WINDOWS,
    Job,
    legend,
    prepare,
    snapshot,
    theme_colours,
    x_ticks,
    y_ticks,
)

TRAIN_POINTS, VAL_POINTS, SIGNAL_POINTS = 4096, 1024, 4096  # as the engine keeps them
TICK_S = 0.25  # the replot timer: four figures a second at most while data arrives
CPU_SHARE = 0.1  # of a core, at most, for the figures built while data arrives
RECENT_STEPS = 10_000  # per-step losses kept whole for the windows (the largest is 10,000)
SWITCH_S = 0.001  # the interpreter's thread switch interval while a figure is built
DEFAULT_SMOOTHING = 0.6  # TensorBoard's default weight
MIN_SIZE = (16, 8)  # a smaller chart shows only a note


def _following(options, current):
    """The option after ``current`` (the first after the last, or when it is not one)."""
    options = list(options)
    return options[(options.index(current) + 1) % len(options) if current in options else 0]


def new_plot(plot_class, width: int, rows: int, colours: dict, xlabel: str, ylabel: str):
    """An empty plotext figure of ``width`` × ``rows`` on the terminal's own background, its
    ticks in the theme's muted colour, its axes labelled (every chart of the app starts so)."""
    plt = plot_class()
    plt.plotsize(width, rows)
    plt._set_size(width, rows)  # as textual-plotext's own widget does (its issue 5)
    plt.canvas_color("default")
    plt.axes_color("default")
    plt.ticks_color(colours["muted"])
    plt.xlabel(xlabel)
    plt.ylabel(ylabel)
    return plt


def draw(job: Job, size: tuple[int, int], colours: dict, base: Style) -> list[Strip]:
    """The chart's strips for ``job`` at ``size``: a plotext figure (title, axes with their
    labels and units, the lines) above a legend. Touches no widget: runs in a worker thread."""
    width, height = size
    try:
        if width >= MIN_SIZE[0] and height >= MIN_SIZE[1]:
            return _draw(job, width, height, colours, base)
        note = _("chart: too small")
    except Exception as exc:  # shown in the chart, never fatal to the app
        note = _("chart failed: {error}").format(error=f"{type(exc).__name__}: {exc}")
    return [Strip([Segment(note, base)]).adjust_cell_length(width, base)]


def _draw(job: Job, width: int, height: int, colours: dict, base: Style) -> list[Strip]:
    from textual_plotext.plot import Plot  # plotext loads with the first figure, not at start

    job.width = width
    figure = prepare(job)
    legend_rows = legend(figure, width, colours, base)
    rows = height - 1 - len(legend_rows)  # the title's row, the plot's, the legend's
    plt = new_plot(Plot, width, rows, colours, _("step"), figure.ylabel)
    if figure.note:
        plt.xlim(0, 1)
        plt.ylim(0, 1)
        plt.xticks([])
        plt.yticks([])
        plt.text(figure.note, 0.5, 0.5, alignment="center", color=colours["muted"])
    else:
        x_lo, x_hi = figure.x_range
        y_lo, y_hi = figure.y_range
        plt.xlim(x_lo, x_hi)
        plt.ylim(y_lo, y_hi)
        plt.xticks(*x_ticks(x_lo, x_hi, width - 8))
        plt.yticks(*y_ticks(y_lo, y_hi, rows - 4, figure.log, figure.hline))
        for line in figure.lines:
            if line.marker:
                plt.scatter(line.steps, line.values, marker=line.marker, color=colours[line.role])
            else:
                plt.plot(line.steps, line.values, marker="braille", color=colours[line.role])
        if figure.hline is not None:
            plt.hline(figure.hline, colours["error"])
    # the title is drawn here, not by plotext, which leaves out one that does not fit whole
    title = Strip([Segment(figure.title.center(width), base + Style(bold=True))])
    return [title.adjust_cell_length(width, base)] + _strips(plt, base) + legend_rows


def _strips(plt, base: Style) -> list[Strip]:
    """The figure's cells as strips, straight from plotext's character and colour matrices:
    a third of the cost of its ANSI text parsed back by Rich, at the same look."""
    plt._set_sizes()
    plt._build_matrix()
    matrix = plt.monitor.matrix
    styles: dict = {}

    def style_of(key: tuple) -> Style:
        style = styles.get(key)
        if style is None:
            fg, bold = key
            colour = RichColor.from_rgb(*fg) if isinstance(fg, tuple) else None
            style = styles[key] = base + Style(color=colour, bold=bold or None)
        return style

    strips = []
    for row in range(matrix.rows - 1, -1, -1):  # plotext's row 0 is the bottom
        chars, fgs, marks = matrix.marker[row], matrix.fullground[row], matrix.style[row]
        segments: list[Segment] = []
        run: list[str] = []
        key = None
        for col, char in enumerate(chars):
            this = (fgs[col], marks[col] == "bold")
            if this != key and run:
                segments.append(Segment("".join(run), style_of(key)))
                run = []
            key = this
            run.append(char)
        if run:
            segments.append(Segment("".join(run), style_of(key)))
        strips.append(Strip(segments))
    return strips


class RunChart(Widget):
    DEFAULT_CSS = "RunChart { height: 1fr; }"
    ylabel: reactive[str] = reactive("loss", repaint=False)  # "loss", or "f(x)" (parabola)
    clip: reactive[float] = reactive(0.0, repaint=False)  # grad clip threshold; 0: none

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.train = LossHistory(TRAIN_POINTS)
        self.recent: deque[tuple[int, float]] = deque(maxlen=RECENT_STEPS)  # step by step
        self.val = LossHistory(VAL_POINTS)
        self.signals = {name: LossHistory(SIGNAL_POINTS) for name in SIGNALS}
        self.overlay: tuple[str, LossHistory, LossHistory] | None = None  # name, train, val
        self.view = "loss"
        self.smoothing = DEFAULT_SMOOTHING
        self.window = 0
        self.log_scale = False
        self.replots = 0  # figures built (tests, the bench)
        self._dirty = True
        self._building = False  # a figure is being built off the loop
        self._rest_until = 0.0  # no figure off the loop before this time (time.monotonic)
        self._started = 0  # the generation of the latest figure begun
        self._shown = 0  # the generation of the strips on screen
        self._strips: list[Strip] = []

    def watch_ylabel(self) -> None:
        self._dirty = True

    watch_clip = watch_ylabel

    @property
    def up_to_date(self) -> bool:
        """The strips on screen show the data as it is (no change waits, no figure is built)."""
        return not self._dirty and not self._building

    def views(self) -> list[str]:
        """The views offered: memory only once the run reports it."""
        has_memory = any(len(self.signals[n]) for n in ("mem_alloc_mb", "mem_peak_mb"))
        return [v for v in VIEWS if v != "memory" or has_memory]

    # -- data ----------------------------------------------------------------------------------

    def clear(self) -> None:
        """A new model: its data goes; the view, its settings and the compared run stay."""
        self.train = LossHistory(TRAIN_POINTS)
        self.recent.clear()
        self.val = LossHistory(VAL_POINTS)
        self.signals = {name: LossHistory(SIGNAL_POINTS) for name in SIGNALS}
        if self.view not in self.views():
            self.view = "loss"
        self._dirty = True

    def add(
        self, first_step: int, losses: list, val: float | None, step: int, stride: int = 1
    ) -> None:
        """One report's losses. Steps the chart already holds are skipped: a report sent
        while the app attached is also in the history the attach reply brought."""
        last = self.train.steps[-1] if self.train.steps else 0
        for i, v in enumerate(losses):
            at = first_step + i * stride + stride - 1
            v = number(v)
            if v is not None and at > last:
                self.train.append(at, v)
                self.recent.append((at, v))
                self._dirty = True
        last_val = self.val.steps[-1] if self.val.steps else 0
        val = number(val)
        if val is not None and step > last_val:
            self.val.append(step, val)
            self._dirty = True

    def add_rows(self, rows: list[dict]) -> None:
        """A report's metrics rows: each train row's lr, grad norm, tokens/s and memory
        (validation loss comes with ``add``). Steps already held are skipped."""
        for row in rows:
            kind = row.get("kind") or ("train" if "train_loss" in row else "")
            step = row.get("step")
            if kind != "train" or not isinstance(step, int):
                continue
            for name in SIGNALS:
                value = number(row.get(name))
                history = self.signals[name]
                if value is not None and (not history.steps or step > history.steps[-1]):
                    history.append(step, value)
                    self._dirty = True

    def load(self, history: dict) -> None:
        """A session's history: {"train", "val", "signals"?} of ``LossHistory.to_dict``s."""
        empty = {"steps": [], "values": []}
        self.train = LossHistory.from_dict(history.get("train") or empty)
        self.val = LossHistory.from_dict(history.get("val") or empty)
        signals = history.get("signals") or {}
        self.signals = {
            name: LossHistory.from_dict(signals[name])
            if signals.get(name)
            else LossHistory(SIGNAL_POINTS)
            for name in SIGNALS
        }
        if self.view not in self.views():
            self.view = "loss"
        self._dirty = True

    def set_overlay(self, name: str, train: LossHistory, val: LossHistory) -> None:
        """Draw another run's train (and val) loss on the loss view, as ``name``."""
        self.overlay = (name, train, val)
        self.view = "loss"
        self.replot()

    def clear_overlay(self) -> None:
        self.overlay = None
        self.replot()

    # -- keys ----------------------------------------------------------------------------------

    def toggle_log(self) -> None:
        self.log_scale = not self.log_scale
        self.replot()

    def next_view(self) -> None:
        self.view = _following(self.views(), self.view)
        self.replot()

    def cycle_smoothing(self) -> None:
        self.smoothing = _following(SMOOTHING, self.smoothing)
        self.replot()

    def cycle_window(self) -> None:
        self.window = _following(WINDOWS, self.window)
        self.replot()

    # -- drawing -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        # the first figure comes with the first tick, off the loop: no first frame waits for plotext
        self.set_interval(TICK_S, self._tick)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._changed())

    def on_resize(self) -> None:
        self._changed()

    def _changed(self) -> None:
        self._dirty = True
        self._tick()

    relabel = _changed  # a new language: the figure has its words drawn in, so draw it again

    def _visible(self) -> bool:
        return self.display and self.is_on_screen and self.size.width > 0

    def _tick(self) -> None:
        if (
            self._dirty
            and not self._building
            and time.monotonic() >= self._rest_until
            and self._visible()
        ):
            self._building = True
            job, size, colours, base, generation = self._begin()
            self.run_worker(
                self._build_off_loop(job, size, colours, base, generation),
                group="run-chart",
                exit_on_error=False,
            )

    async def _build_off_loop(self, job, size, colours, base, generation: int) -> None:
        began = time.monotonic()
        # while the worker holds the GIL the loop waits for it: every 1 ms, not every 5 ms
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, SWITCH_S))
        try:
            strips = await asyncio.to_thread(draw, job, size, colours, base)
        finally:
            sys.setswitchinterval(switch)
            self._building = False
            # a figure that took long (a big terminal, a slow machine) is followed by a rest,
            # so that the chart takes at most CPU_SHARE of a core from the training beside it
            spent = time.monotonic() - began
            self._rest_until = time.monotonic() + spent * (1 / CPU_SHARE - 1)
        self._install(strips, generation)

    def replot(self) -> None:
        """Build the figure now, on the loop (a key, a new model, a test)."""
        job, size, colours, base, generation = self._begin()
        self._install(draw(job, size, colours, base), generation)

    def _begin(self) -> tuple[Job, tuple[int, int], dict, Style, int]:
        """What a figure is built from, copied now: the data may grow while it is built."""
        self._dirty = False
        self.replots += 1
        self._started += 1
        if self.view == "loss":
            series = {"train": self._train_series(), "val": snapshot(self.val)}
            if self.overlay:
                series.update(overlay=snapshot(self.overlay[1]))
                series.update(overlay_val=snapshot(self.overlay[2]))
        elif self.view == "memory":
            series = {n: snapshot(self.signals[n]) for n in ("mem_alloc_mb", "mem_peak_mb")}
        else:
            series = {self.view: snapshot(self.signals[self.view])}
        job = Job(
            view=self.view,
            ylabel=self.ylabel,
            smoothing=self.smoothing,
            window=self.window,
            log=self.log_scale,
            clip=float(self.clip or 0),
            series=series,
            overlay=self.overlay[0] if self.overlay and self.view == "loss" else "",
            has_train=bool(self.train.steps),
        )
        base = self.rich_style
        background = Color.from_rich_color(base.bgcolor) if base.bgcolor else Color(0, 0, 0)
        colours = theme_colours(self.app, background)
        return job, (self.size.width, self.size.height), colours, base, self._started

    def _train_series(self):
        """The train loss to draw: in a window the recent steps hold whole, those steps one by
        one (the bounded history merges a long run's steps into buckets: on a million-step run
        one point stands for 256 steps, too coarse for the last 100); else the history."""
        t, recent = self.train, self.recent
        if self.window and t.stride > 1 and recent and t.steps:
            if recent[0][0] <= t.steps[-1] - self.window + 1:
                steps = [s for s, _v in recent]
                values = [v for _s, v in recent]
                return (steps, values, values, values)
        return snapshot(t)

    def _install(self, strips: list[Strip], generation: int) -> None:
        if generation < self._shown:  # an older figure, finished after a newer one
            return
        self._shown = generation
        self._strips = strips
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y < len(self._strips):
            strip = self._strips[y]
            if strip.cell_length != width:  # a figure of the size before a resize
                strip = strip.adjust_cell_length(width, self.rich_style)
            return strip
        return Strip.blank(width, self.rich_style)

    def text(self) -> str:
        """The chart as plain text, a line a row (tests)."""
        return "\n".join(strip.text for strip in self._strips)
