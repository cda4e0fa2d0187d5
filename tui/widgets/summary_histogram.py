"""A histogram of a tensor's values (counts computed by the engine with torch.histc), with the
theoretical distribution of its initialisation drawn over it as a line."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from core.contract.inspect import TensorStats
from core.i18n import _


class SummaryHistogram(PlotextPlot):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.edges: list[float] = []
        self.counts: list[int] = []
        self.expected: list[float] | None = None
        self.label = ""

    def on_mount(self) -> None:
        super().on_mount()
        self.replot()

    def show(self, stats: TensorStats | None, expected: list[float] | None, label: str) -> None:
        """``stats`` holds ``edges`` and ``counts``; ``expected`` the theory's counts per bin."""
        self.edges = list(stats.edges) if stats else []
        self.counts = list(stats.counts) if stats else []
        self.expected = list(expected) if expected else None
        self.label = label
        self.replot()

    @property
    def centers(self) -> list[float]:
        return [(a + b) / 2 for a, b in zip(self.edges, self.edges[1:])]

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.title(self.label)
        if self.counts:
            x = self.centers
            plt.bar(x, self.counts, color="blue", label=_("measured"), width=1.0)
            lo, hi = self.edges[0], self.edges[-1]
            mid = (lo + hi) / 2
            ticks = [lo, 0.0 if abs(mid) < 1e-3 * (hi - lo) else mid, hi]
            plt.xticks(ticks, [f"{v:.3g}" for v in ticks])
            if self.expected:
                plt.plot(x, self.expected, color="orange", marker="braille", label=_("theory"))
        self.refresh()

    def relabel(self) -> None:
        self.replot()
