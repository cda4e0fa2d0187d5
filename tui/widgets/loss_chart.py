"""The loss chart: train loss, its moving average and validation loss against step.

Keeps its own bounded data and replots on a timer (a few times a second) when the data changed
and the chart is visible, on data downsampled to the chart's width.
"""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot

from core.history import LossHistory


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


class LossChart(PlotextPlot):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.train = LossHistory(8192)
        self.val = LossHistory(2048)
        self.log_scale = False
        self.ylabel = "loss"
        self._dirty = True

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(0.25, self._tick)
        self.replot()

    def clear(self) -> None:
        self.train = LossHistory(8192)
        self.val = LossHistory(2048)
        self._dirty = True

    def add(self, first_step: int, losses: list, val: float | None, step: int) -> None:
        for i, v in enumerate(losses):
            if isinstance(v, (int, float)):
                self.train.append(first_step + i, float(v))
        if isinstance(val, (int, float)):
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

    def replot(self) -> None:
        self._dirty = False
        plt = self.plt
        plt.clear_data()
        plt.title("")
        plt.xlabel("step")
        plt.ylabel(self.ylabel + (" (log)" if self.log_scale else ""))
        plt.yscale("log" if self.log_scale else "linear")
        width = max(10, self.size.width - 10)
        steps, values = downsample(self.train.steps, self.train.values, width)
        if self.log_scale:
            keep = [(s, v) for s, v in zip(steps, values) if v > 0]
            steps, values = [s for s, _ in keep], [v for _, v in keep]
        if steps:
            plt.plot(steps, values, label="train", marker="braille", color="blue")
            if len(values) > 4:
                plt.plot(steps, moving_average(values, max(3, len(values) // 10)),
                         label="avg", marker="braille", color="orange")
        if self.val.steps:
            vs = [(s, v) for s, v in zip(self.val.steps, self.val.values)
                  if math.isfinite(v) and (v > 0 or not self.log_scale)]
            if vs:
                plt.plot([s for s, _ in vs], [v for _, v in vs], label="val", marker="dot",
                         color="green")
        self.refresh()
