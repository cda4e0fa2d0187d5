"""``torchdeck plot RUN [RUN ...]``: the curves of run folders drawn in the terminal.

Reads each run's ``metrics.jsonl`` (``core.metrics_file``) and draws one metric of every run on
one plotext chart: the training loss by default, with each run's validation loss as markers.
Imports no torch and starts no engine, so it works on a finished run, on one still training,
over ssh and into a pipe; piped, the chart is plain text without a colour code. However long
the run, each line gets at most about two points per column (``core.series.columns``, which
keeps a one-step spike), so plotext's cost does not grow with the file.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from cli.argparse_texts import Parser
from core import series as ops
from core.contract.base import arg_type
from core.contract.settings import at_least
from core.errors import ConfigError, TorchdeckError
from core.i18n import N_, Words, _
from core.metrics_file import canonical, metrics_path, read_rows, series
from core.protocol import Arg

PIPED_SIZE = (100, 25)  # columns, lines when the output is not a terminal
MIN_WIDTH, MIN_HEIGHT = 30, 8
VAL_MARKER = "◆"
SMOOTH = Arg(float, check=lambda w: 0 <= w < 1, expect=Words(N_("a number in [0, 1), e.g. 0.9")))
# metric: (title, y-axis label with its unit)
LABELS = {
    "train_loss": (N_("train loss"), N_("loss (nats)")),
    "val_loss": (N_("validation loss"), N_("loss (nats)")),
    "lr": (N_("learning rate"), N_("learning rate")),
    "grad_norm": (N_("gradient norm before clipping"), N_("grad norm")),
    "tokens_per_s": (N_("throughput"), "tokens/s"),
    "mem_alloc_mb": (N_("CUDA memory allocated"), "MiB"),
    "mem_peak_mb": (N_("CUDA memory, peak"), "MiB"),
    "elapsed_s": (N_("training time"), N_("seconds")),
    "gpu_util_pct": (N_("GPU utilisation"), N_("% busy")),
    "gpu_mem_used_mb": (N_("GPU memory used"), "MiB"),
    "gpu_mem_pct": (N_("GPU memory used"), N_("% of the GPU's")),
    "gpu_temp_c": (N_("GPU temperature"), "°C"),
    "gpu_power_w": (N_("GPU power"), "W"),
    "cpu_pct": (N_("machine CPU"), N_("% of all cores")),
    "proc_cpu_pct": (N_("engine CPU"), N_("% of one core")),
    "proc_rss_mb": (N_("engine memory (RSS)"), "MiB"),
    "mem_used_mb": (N_("machine memory used"), "MiB"),
}
# per run: (its line, its raw line under a smoothed one). 256-colour mid tones, read on a dark
# and on a light background alike; the faint ones are the same hues, greyed.
COLOURS = ((33, 67), (208, 137), (34, 65), (163, 132), (37, 66), (124, 131))

USAGE = N_("""\
Each RUN is a run folder (one that `torchdeck train --out RUN` wrote) or its metrics.jsonl.
Runs are drawn on one chart, one colour each, named by their folder in the legend; a run still
training can be plotted too (its unfinished last line is skipped).

metrics: train_loss (alias loss; the default, with each run's val_loss as markers), val_loss,
lr, grad_norm, tokens_per_s, mem_alloc_mb, mem_peak_mb (CUDA runs), elapsed_s, or any other
number the rows hold.

examples:
  torchdeck plot runs/mini-0412                       the loss curves of one run
  torchdeck plot runs/a runs/b --smooth 0.9           two runs compared, smoothed
  torchdeck plot runs/a --metric lr --last 2000       the learning rate of the last 2000 steps
  torchdeck plot runs/a --log | less -S               log scale, as plain text in a pager
""")


@dataclass
class Curve:
    """One run's series, ready to draw: the line, its smoothed line (when smoothing) and the
    validation markers (the loss chart only)."""

    name: str
    steps: list
    values: list
    smooth: tuple[list, list] | None = None
    val: tuple[list, list] | None = None


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="torchdeck plot",
        description=_("Draw the loss curves (or another metric) of run folders in the terminal."),
        epilog=_(USAGE),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help=_("a run folder or its metrics.jsonl"))
    p.add_argument(
        "--metric",
        default="train_loss",
        metavar="NAME",
        help=_("what to draw (default train_loss; see metrics below)"),
    )
    p.add_argument(
        "--smooth",
        type=arg_type(SMOOTH),
        default=0.0,
        metavar="W",
        help=_(
            "EMA weight 0 ≤ W < 1, as TensorBoard's smoothing slider: the raw line stays, "
            "faint, under the smoothed one (default 0: no smoothing)"
        ),
    )
    p.add_argument(
        "--last",
        type=arg_type(at_least(1)),
        default=0,
        metavar="N",
        help=_("only the last N steps (default: the whole run)"),
    )
    p.add_argument("--log", action="store_true", help=_("log-scale y axis (values ≤ 0 left out)"))
    p.add_argument(
        "--width",
        type=arg_type(at_least(MIN_WIDTH)),
        metavar="COLS",
        help=_("chart width (default: the terminal's; {n} when piped)").format(n=PIPED_SIZE[0]),
    )
    p.add_argument(
        "--height",
        type=arg_type(at_least(MIN_HEIGHT)),
        metavar="LINES",
        help=_("chart height (default: the terminal's; {n} when piped)").format(n=PIPED_SIZE[1]),
    )
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    tty = sys.stdout.isatty()
    colour = tty and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
    width, height = chart_size(args.width, args.height, tty)
    try:
        curves = load_curves(args, width)
        text = render(curves, args, width, height, colour)
    except TorchdeckError as exc:  # what is wrong and how to fix it, on two lines; exit code 2
        hint = "\n" + _("hint: {hint}").format(hint=exc.hint) if exc.hint else ""
        print(f"torchdeck plot: {exc.message}{hint}", file=sys.stderr)
        return 2
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0


def note(text: str) -> None:
    print("torchdeck plot: " + _("note: {note}").format(note=text), file=sys.stderr)


def chart_size(width: int | None, height: int | None, tty: bool) -> tuple[int, int]:
    """The chart's columns and lines: as asked, else the terminal's (a line left for the
    prompt), else ``PIPED_SIZE``."""
    cols, lines = PIPED_SIZE
    if tty:
        size = shutil.get_terminal_size(PIPED_SIZE)
        cols, lines = size.columns, size.lines - 1
    return width or max(MIN_WIDTH, cols), height or max(MIN_HEIGHT, lines)


def run_names(runs: list[str]) -> list[str]:
    """Legend names: each run's folder name, with as many parent folders as it takes to tell
    runs apart (``a/seed1`` and ``b/seed1``)."""
    folders = []
    for run in runs:
        path = Path(run).resolve()
        folders.append(path if path.is_dir() else path.parent)
    for depth in range(1, 1 + max(len(f.parts) for f in folders)):
        names = ["/".join(f.parts[-depth:]).lstrip("/") or "/" for f in folders]
        if len(set(names)) == len(names):
            return names
    return list(runs)  # the same folder twice: its paths as given


def load_curves(args: argparse.Namespace, width: int) -> list[Curve]:
    """Each run's series of the metric, smoothed, cut to the window and decimated to the
    chart's width. A run without the metric is left out with a note, unless every run is."""
    field = canonical(args.metric)
    loaded, missing = [], []
    for run, name in zip(args.runs, run_names(args.runs)):
        rows = read_rows(run)
        where = str(metrics_path(run))
        try:
            steps, values = series(rows, field, where)
        except ConfigError as exc:
            missing.append(exc)
            continue
        val = None
        if field == "train_loss":
            try:
                val = series(rows, "val_loss", where)
            except ConfigError:  # no evaluation in this run
                val = None
        loaded.append((name, steps, values, val))
    if not loaded:
        exc = missing[0]
        raise ConfigError(
            exc.message, _("{hint}; choose one with --metric NAME").format(hint=exc.hint)
        )
    for exc in missing:
        note(_("{message}, so it is left out ({hint})").format(message=exc.message, hint=exc.hint))

    curves = []
    for name, steps, values, val in loaded:
        smooth = (steps, ops.ema(values, args.smooth)) if args.smooth else None
        curves.append(Curve(name, steps, values, smooth, val))
    _keep_drawable(curves, field, args.log)
    if args.last:
        _cut_window(curves, args.last)
    for c in curves:
        c.steps, c.values = ops.columns(c.steps, c.values, width)
        if c.smooth:
            c.smooth = ops.columns(*c.smooth, width)
        if c.val:
            c.val = ops.columns(*c.val, width)
    return curves


def _keep_drawable(curves: list[Curve], field: str, log: bool) -> None:
    """Leave out the points a chart cannot place: NaN and infinite values, and on a log
    scale, values ≤ 0. Refuses when no point is left."""

    def positive(steps: list, values: list) -> tuple[list, list]:
        if not log:
            return steps, values
        pairs = [(s, v) for s, v in zip(steps, values) if v > 0]
        return [s for s, _v in pairs], [v for _s, v in pairs]

    total = finite = left = 0
    for c in curves:
        total += len(c.steps)
        c.steps, c.values = ops.finite(c.steps, c.values)
        finite += len(c.steps)
        c.steps, c.values = positive(c.steps, c.values)
        left += len(c.steps)
        c.smooth = positive(*ops.finite(*c.smooth)) if c.smooth else None
        c.val = positive(*ops.finite(*c.val)) if c.val else None
    if not finite:
        said = _("every {metric} value is nan or inf: there is no point to draw")
        hint = _(
            "the run diverged from its first logged step; a smaller --lr keeps it finite, "
            "and --metric lr or grad_norm shows what happened"
        )
        raise ConfigError(said.format(metric=field), hint)
    if not left:
        said = _("no {metric} value is above 0, so none fits a log scale")
        raise ConfigError(said.format(metric=field), _("drop --log"))
    if log and left < finite:
        said = _("{n} {metric} values ≤ 0 are left out of the log scale")
        note(said.format(n=finite - left, metric=field))
    if finite < total:
        said = _("{n} {metric} values that are nan or inf are left out")
        note(said.format(n=total - finite, metric=field))


def _cut_window(curves: list[Curve], last: int) -> None:
    """Keep the last ``last`` steps of the latest run: one step axis for every run."""
    ends = [c.steps[-1] for c in curves if c.steps] + [c.val[0][-1] for c in curves if c.val]
    first = max(ends) - last + 1

    def cut(steps: list, values: list) -> tuple[list, list]:
        if not steps or steps[-1] < first:
            return [], []
        return ops.window(steps, values, steps[-1] - first + 1)

    for c in curves:
        c.steps, c.values = cut(c.steps, c.values)
        c.smooth = cut(*c.smooth) if c.smooth else None
        c.val = cut(*c.val) if c.val else None


def render(
    curves: list[Curve], args: argparse.Namespace, width: int, height: int, colour: bool
) -> str:
    """The chart as text: plotext's drawing, in colour or (``colour`` False) plain, with the
    trailing spaces of each line cut."""
    import plotext as plt  # here: ``--help`` and the errors need no plotting library

    field = canonical(args.metric)
    title, ylabel = (_(x) for x in LABELS.get(field, (field, field)))
    extras = [_("last {n} steps").format(n=f"{args.last:,}") if args.last else ""]
    extras.append(_("smoothed {weight}").format(weight=f"{args.smooth:g}") if args.smooth else "")
    extras.append(_("log scale") if args.log else "")
    plt.clear_figure()
    plt.limitsize(False, False)
    plt.plotsize(width, height)
    plt.theme("clear")
    plt.title(" · ".join([title, *(x for x in extras if x)]))
    plt.xlabel(_("step"))
    plt.ylabel(ylabel)
    if args.log:
        plt.yscale("log")
    palette = [COLOURS[i % len(COLOURS)] if colour else (None, None) for i in range(len(curves))]
    for c, (_strong, faint) in zip(curves, palette):  # raw lines first: the others go over them
        if c.smooth and c.steps:
            # piped there is no faint colour: the raw points become dots under the line
            plt.plot(c.steps, c.values, marker="braille" if colour else "⋅", color=faint)
    for c, (strong, _faint) in zip(curves, palette):
        line = c.smooth if c.smooth else (c.steps, c.values)
        if line[0]:
            plt.plot(*line, marker="braille", color=strong, label=c.name)
    for c, (strong, _faint) in zip(curves, palette):
        if c.val and c.val[0]:
            label = _("{run} val").format(run=c.name)
            plt.scatter(*c.val, marker=VAL_MARKER, color=strong, label=label)
    xs, ys = _extent(curves)
    plt.xticks(*ticks(xs[0], xs[1], max(2, width // 15)))
    y_count = max(2, height // 3)
    plt.yticks(*(log_ticks(*ys, y_count) if args.log else ticks(*ys, y_count)))
    text = plt.build() if colour else plt.uncolorize(plt.build())
    return "\n".join(line.rstrip() for line in text.splitlines())


def _extent(curves: list[Curve]) -> tuple[tuple[float, float], tuple[float, float]]:
    xs, ys = [], []
    for c in curves:
        for steps, values in ((c.steps, c.values), c.smooth or ([], []), c.val or ([], [])):
            if steps:
                xs += [steps[0], steps[-1]]
                ys += [min(values), max(values)]
    if not xs:
        raise ConfigError(_("no point is left to draw"), _("widen --last, or drop it"))
    return (min(xs), max(xs)), (min(ys), max(ys))


def ticks(low: float, high: float, count: int) -> tuple[list[float], list[str]]:
    """About ``count`` (at least two) round tick positions inside [low, high], 1, 2 or 5 times
    a power of ten apart, with their labels."""
    if high <= low:
        return [low], tick_labels([low], abs(low) or 1.0)
    raw = (high - low) / count
    base = 10.0 ** math.floor(math.log10(raw))
    nice = [m * base for m in (0.1, 0.2, 0.5, 1, 2, 5, 10)]
    i = min(range(len(nice)), key=lambda j: abs(math.log(nice[j] / raw)))  # the nearest
    while True:
        step = nice[i]
        first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
        if last > first or i == 0:
            break
        i -= 1  # fewer than two ticks fit: a finer step
    positions = [k * step for k in range(first, last + 1)]
    return positions, tick_labels(positions, step)


def log_ticks(low: float, high: float, count: int) -> tuple[list[float], list[str]]:
    """Ticks for a log axis: 1, 2 and 5 times each power of ten inside [low, high], or only
    the powers of ten when that makes more than ``count``."""
    lo, hi = math.floor(math.log10(low)), math.ceil(math.log10(high))
    for mults in ((1, 2, 5), (1,)):
        positions = [m * 10.0**e for e in range(lo, hi + 1) for m in mults]
        positions = [v for v in positions if low * (1 - 1e-9) <= v <= high * (1 + 1e-9)]
        if len(positions) <= count:
            break
    if len(positions) < 2:
        return ticks(low, high, 3)
    return positions, [tick_labels([v], v)[0] for v in positions]


def tick_labels(positions: list[float], step: float) -> list[str]:
    """Labels for ticks ``step`` apart, one unit for the whole axis and as many digits as the
    step needs: ``250k``, ``1.5M``, ``0.25``, ``3e-4``."""
    top = max(abs(v) for v in positions)
    for unit, scale, start in (("M", 1e6, 1e6), ("k", 1e3, 1e4)):
        if top >= start:
            digits = _decimals(step / scale)
            return [f"{v / scale:.{digits}f}{unit}" if v else "0" for v in positions]
    if 0 < top < 1e-3:
        digits = _decimals(step / 10.0 ** math.floor(math.log10(top) + 1e-9))
        return [_scientific(v, digits) if v else "0" for v in positions]
    digits = _decimals(step)
    return [f"{v:.{digits}f}" for v in positions]


def _decimals(step: float) -> int:
    """The digits after the point that multiples of ``step`` need (0.5: 1, 0.25: 2, 20: 0)."""
    digits = max(0, -math.floor(math.log10(step) + 1e-9))
    while digits < 12 and abs(round(step, digits) - step) > step * 1e-6:
        digits += 1
    return digits


def _scientific(value: float, digits: int) -> str:
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    return f"{mantissa}e{int(exponent)}"
