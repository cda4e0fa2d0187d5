"""The machine at a glance (key ``u``): every figure of the engine's latest ``system`` sample as
labelled lines, the warnings with their hints, and two small history charts over the samples
the app holds (GPU utilisation and GPU memory; machine CPU and the engine's RSS where there is
no GPU). Live while it is up: the app hands it each new sample. The charts are built when a
sample arrives or the size changes, never on a repaint; plotext loads with the first of them.
Fits 80×24.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from core import i18n
from core.i18n import N_, _
from core.system_view import size_text
from tui.screens.prompt_paint import PromptPaint
from tui.widgets.chart_data import fmt_step, fmt_value, nice_step, theme_colours, x_ticks
from tui.widgets.system_line import WAITING, MachineState

MIN_CHART = (16, 6)  # a smaller chart shows only a note
MIN_SPAN_S = 60  # the x axis spans at least this many seconds


# -- the figures -------------------------------------------------------------------------------


def _pct(value) -> str:
    return f"{value:.0f}%"


def _num(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _used_of(used, total, pct=None) -> str:
    """ "71.2 / 80.0 GiB (89%)", or what of it is known."""
    if not _num(used):
        return ""
    if not _num(total) or total <= 0:
        return size_text(used)
    share = pct if _num(pct) else 100 * used / total
    used_text, total_text = size_text(used), size_text(total)
    if used_text.split()[1] == total_text.split()[1]:  # one unit, said once: 71.2 / 80.0 GiB
        used_text = used_text.split()[0]
    return f"{used_text} / {total_text} ({share:.0f}%)"


def _joined(*parts: str) -> str:
    return " · ".join(p for p in parts if p)


def gpu_figures(gpu: dict) -> str:
    """One GPU's name, utilisation, memory, temperature and power (of its limit)."""
    g = gpu
    name = str(g.get("name") or "GPU")
    busy = _("busy {pct}").format(pct=_pct(g["util_pct"])) if _num(g.get("util_pct")) else ""
    memory = _used_of(g.get("mem_used_mb"), g.get("mem_total_mb"))
    temp = f"{g['temp_c']:.0f}°C" if _num(g.get("temp_c")) else ""
    power = ""
    if _num(g.get("power_w")):
        limit = g.get("power_limit_w")
        power = f"{g['power_w']:.0f} / {limit:.0f} W" if _num(limit) else f"{g['power_w']:.0f} W"
    vram = _("vram {used}").format(used=memory) if memory else ""
    return _joined(name, busy, vram, temp, power)


def figure_rows(s: dict) -> list[tuple[str, str]]:
    """(label, figures) for each part of the sample that has any, in reading order."""
    rows = []
    cpu = ""
    if _num(s.get("cpu_pct")):
        if _num(s.get("cpu_count")):
            cpu = _("cpu {pct} of {cores} cores").format(
                pct=_pct(s["cpu_pct"]), cores=s["cpu_count"]
            )
        else:
            cpu = _("cpu {pct}").format(pct=_pct(s["cpu_pct"]))
    ram = _used_of(s.get("mem_used_mb"), s.get("mem_total_mb"), s.get("mem_pct"))
    if cpu or ram:
        rows.append((_("machine"), _joined(cpu, _("ram {used}").format(used=ram) if ram else "")))
    proc_cpu = ""
    if _num(s.get("proc_cpu_pct")):
        proc_cpu = _("cpu {pct} of a core").format(pct=_pct(s["proc_cpu_pct"]))
    rss = (
        _("rss {size}").format(size=size_text(s["proc_rss_mb"]))
        if _num(s.get("proc_rss_mb"))
        else ""
    )
    if proc_cpu or rss:
        rows.append((_("engine"), _joined(proc_cpu, rss)))
    gpus = [g for g in s.get("gpus") or [] if isinstance(g, dict)]
    for i, gpu in enumerate(gpus):
        rows.append((f"gpu {gpu.get('index', i)}", gpu_figures(gpu)))
    if not gpus and any(_num(s.get(k)) for k in ("gpu_util_pct", "gpu_mem_used_mb")):
        top = {
            "name": _("the engine's GPU"),
            "util_pct": s.get("gpu_util_pct"),
            "mem_used_mb": s.get("gpu_mem_used_mb"),
            "mem_total_mb": s.get("gpu_mem_total_mb"),
            "temp_c": s.get("gpu_temp_c"),
            "power_w": s.get("gpu_power_w"),
        }
        rows.append(("gpu", gpu_figures(top)))
    elif not gpus:
        rows.append(("gpu", str(s.get("gpu_note") or _("no GPU figures"))))
    torch = [
        i18n._(what).format(size=size_text(s[key]))
        for what, key in (
            (N_("allocated {size}"), "torch_alloc_mb"),
            (N_("reserved {size}"), "torch_reserved_mb"),
            (N_("peak {size}"), "torch_peak_mb"),
        )
        if _num(s.get(key))
    ]
    if torch:
        rows.append(("torch", " · ".join(torch)))
    return rows


# -- the charts --------------------------------------------------------------------------------


@dataclass
class History:
    """One chart's series: x in seconds before the latest sample (≤ 0), y in ``unit``."""

    title: str
    unit: str
    role: str  # the theme colour of its line
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    top: float = 0.0  # the y axis's top (0: from the points)
    note: str = ""  # shown instead of a line


def _ages(samples: list[dict]) -> list[float]:
    """Each sample's time before the latest, in seconds (a second apart where times are missing)."""
    times = [s.get("t") or 0 for s in samples]
    if all(times):
        return [t - times[-1] for t in times]
    return [float(i - len(samples) + 1) for i in range(len(samples))]


def _series(samples, ages, key: str, scale: float) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for age, s in zip(ages, samples):
        if _num(s.get(key)):
            xs.append(age)
            ys.append(s[key] * scale)
    return xs, ys


def _latest(samples: list[dict], key: str) -> float | None:
    for s in reversed(samples):
        if _num(s.get(key)):
            return s[key]
    return None


def histories(samples: list[dict]) -> tuple[History, History]:
    """The two charts for the samples held: GPU utilisation and GPU memory used when they have
    GPU figures, else machine CPU and the engine's RSS."""
    if not samples:
        return History("", "", "primary", note=WAITING), History("", "", "success", note="")
    ages = _ages(samples)
    gib = 1 / 1024
    if any(_num(s.get("gpu_util_pct")) or _num(s.get("gpu_mem_used_mb")) for s in samples):
        total = _latest(samples, "gpu_mem_total_mb")
        left = History(_("GPU utilisation (%)"), "%", "primary", top=100.0)
        right = History(_("GPU memory used (GiB)"), "GiB", "success")
        right.xs, right.ys = _series(samples, ages, "gpu_mem_used_mb", gib)
        right.top = total * gib if total else 0.0
        left.xs, left.ys = _series(samples, ages, "gpu_util_pct", 1.0)
    else:
        left = History(_("machine CPU (%)"), "%", "primary", top=100.0)
        right = History(_("engine RSS (GiB)"), "GiB", "success")
        right.xs, right.ys = _series(samples, ages, "proc_rss_mb", gib)
        left.xs, left.ys = _series(samples, ages, "cpu_pct", 1.0)
    for h in (left, right):
        highest = max(h.ys, default=0.0)
        # a fixed top (100%, the GPU's memory) unless a point is above it; else room above
        h.top = max(h.top, highest) if h.top else round_up(max(highest * 1.25, 0.1))
        if not h.ys:
            h.note = _("no figures in the samples")
    return left, right


def round_up(value: float) -> float:
    """``value`` rounded up to a multiple of a round step (0.936 → 1.0, 3.1 → 4.0)."""
    step = nice_step(value, 4)
    return math.ceil(value / step - 1e-9) * step


def x_span(oldest: float) -> int:
    """The seconds the x axis spans back from the latest sample: at least a minute, and a
    round number (a multiple of 30 s, of a minute past two)."""
    age = max(MIN_SPAN_S, math.ceil(-oldest))
    unit = 60 if age > 120 else 30
    return math.ceil(age / unit) * unit


def round_ticks(top: float, rows: int) -> tuple[list[float], list[str]]:
    """Round y ticks from 0 (0, 25, 50, 75, 100), about one per three rows, and ``top``
    itself where it is not one of them (the GPU's whole memory, say)."""
    step = nice_step(top, max(1, min(5, rows // 3)))
    ticks = [i * step for i in range(int(top / step + 1e-9) + 1)]
    if top - ticks[-1] > 0.35 * step:
        ticks.append(top)
    elif top - ticks[-1] > 1e-9:
        ticks[-1] = top  # too close to the last round one: the top replaces it
    return ticks, [_trimmed(fmt_value(t)) for t in ticks]


def _trimmed(label: str) -> str:
    """A tick label without trailing zeros: 1.50 → 1.5, 80.0 → 80."""
    if "." in label and label[-1].isdigit():
        label = label.rstrip("0").rstrip(".")
    return label


def draw_history(h: History, width: int, height: int, colours: dict, base: Style) -> list[Strip]:
    """The chart's strips: its title, then a plotext figure of ``height - 1`` rows."""
    if h.note or width < MIN_CHART[0] or height < MIN_CHART[1]:
        note = i18n._(h.note) if h.note else _("{chart}: too small").format(chart=h.title)
        return [Strip([Segment(note[:width], base)]).adjust_cell_length(width, base)]
    from textual_plotext.plot import Plot  # plotext loads with the first chart, not at start

    from tui.widgets.run_chart import _strips, new_plot

    rows = height - 1
    plt = new_plot(Plot, width, rows, colours, _("seconds ago"), h.unit)
    lo = -x_span(h.xs[0])
    plt.xlim(lo, 0)
    plt.ylim(0, h.top)
    ticks, _labels = x_ticks(lo, 0, width - 8)
    plt.xticks(ticks, [fmt_step(abs(t)) for t in ticks])
    plt.yticks(*round_ticks(h.top, rows - 4))
    if len(h.xs) == 1:
        plt.scatter(h.xs, h.ys, marker="dot", color=colours[h.role])
    else:
        plt.plot(h.xs, h.ys, marker="braille", color=colours[h.role])
    title = Strip([Segment(h.title.center(width), base + Style(bold=True))])
    return [title.adjust_cell_length(width, base)] + _strips(plt, base)


class HistoryChart(Widget):
    """A small chart of one ``History``: built when it is given one (once the layout that may
    come with it is done) or resized, once per history and size."""

    DEFAULT_CSS = "HistoryChart { width: 1fr; height: 1fr; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history = History("", "", "primary", note=WAITING)
        self.builds = 0  # figures built (tests)
        self._generation = 0  # grows with each history given (and each theme)
        self._built: tuple = ()  # the generation and size of the strips held
        self._strips: list[Strip] = []

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.show(self.history))

    def show(self, history: History) -> None:
        self.history = history
        self._generation += 1
        # after the coming layout: new warnings may take rows from the charts meanwhile
        self.call_after_refresh(self.build)

    def on_resize(self) -> None:
        self.build()

    def build(self) -> None:
        width, height = self.size
        key = (self._generation, width, height)
        if width <= 0 or height <= 0 or key == self._built:
            return  # not laid out yet (on_resize builds it), or drawn already
        self._built = key
        base = self.rich_style
        background = Color.from_rich_color(base.bgcolor) if base.bgcolor else Color(0, 0, 0)
        colours = theme_colours(self.app, background)
        try:
            self._strips = draw_history(self.history, width, height, colours, base)
        except Exception as exc:  # shown in the chart, never fatal to the app
            note = _("chart failed: {error}").format(error=f"{type(exc).__name__}: {exc}")
            self._strips = [Strip([Segment(note[:width], base)])]
        self.builds += 1
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y < len(self._strips):
            return self._strips[y].adjust_cell_length(width, self.rich_style)
        return Strip.blank(width, self.rich_style)

    def text(self) -> str:
        """The chart as plain text, a line a row (tests)."""
        return "\n".join(strip.text for strip in self._strips)


# -- the screen --------------------------------------------------------------------------------


class SystemScreen(ModalScreen[None], PromptPaint):
    DEFAULT_CSS = """
    SystemScreen { align: center middle; }
    #system-body {
        width: 100%; max-width: 112; height: 100%; max-height: 38;
        background: $panel; border: round $primary; padding: 0 1;
    }
    #system-title { height: 1; }
    #system-text { height: auto; max-height: 60%; }
    #system-figures { height: auto; }
    #system-warnings { height: auto; color: $warning; }
    #system-warnings.-none { color: $text-muted; }
    #system-charts { height: 1fr; margin: 1 0 0 0; }
    #system-chart-a { margin: 0 2 0 0; }
    """
    BINDINGS = [Binding("escape,u", "close", N_("Close"))]

    def __init__(self, machine: MachineState) -> None:
        super().__init__()
        self.machine = machine
        self.shown_version = -1  # the machine's version last drawn

    def compose(self) -> ComposeResult:
        with Vertical(id="system-body"):
            yield Static(id="system-title")
            with VerticalScroll(id="system-text"):
                yield Static(id="system-figures")
                yield Static(id="system-warnings")
            with Horizontal(id="system-charts"):
                yield HistoryChart(id="system-chart-a")
                yield HistoryChart(id="system-chart-b")

    def on_mount(self) -> None:
        self.show_machine()

    def show_machine(self) -> None:
        """Draw the machine's latest sample and history (the app calls this on each sample)."""
        machine = self.machine
        self.shown_version = machine.version
        sample = machine.latest
        samples = list(machine.samples)
        self.query_one("#system-title", Static).update(self._title(samples))
        figures = self.query_one("#system-figures", Static)
        warned = self.query_one("#system-warnings", Static)
        if sample is None:
            figures.update(i18n._(WAITING))
            warned.update("")
        else:
            table = Table.grid(padding=(0, 1))
            table.add_column(style="bold", width=8, no_wrap=True)
            table.add_column(ratio=1)
            for label, text in figure_rows(sample):
                table.add_row(label, text)
            figures.update(table)
            hints = Table.grid(padding=(0, 1))  # the hint wraps under its own text
            hints.add_column(style="bold", width=1)
            hints.add_column(ratio=1)
            for warning in machine.warnings:
                hints.add_row("!", warning)
            warned.update(hints if machine.warnings else _("no warnings"))
        warned.set_class(not machine.warnings, "-none")
        left, right = histories(samples)
        self.query_one("#system-chart-a", HistoryChart).show(left)
        self.query_one("#system-chart-b", HistoryChart).show(right)

    def _title(self, samples: list[dict]) -> str:
        title = "[b]" + _("Machine") + "[/b]"
        if samples:
            ages = _ages(samples)
            span = -ages[0]
            minutes = _("{minutes:.0f} min").format(minutes=span / 60)
            held = minutes if span >= 120 else f"{span:.0f} s"
            run = _("training") if samples[-1].get("training") else _("not training")
            title += "  " + _("{run} · {held} of samples").format(run=run, held=held)
        return title + "  [dim]" + _("(esc or u closes)") + "[/dim]"

    def relabel(self) -> None:
        """Every figure and chart drawn again in the new language."""
        self.show_machine()

    def action_close(self) -> None:
        self.dismiss(None)
