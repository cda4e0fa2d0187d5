"""The Predict pane's control line: temperature (↑↓), top-k (k), top-p (p), greedy or sampled
(s), and how many characters a generation streams (n). It keeps the settings; the pane sends
them with each predict and generate request."""

from __future__ import annotations

from textual.widgets import Static

from core.i18n import _

TEMPERATURES = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0)
TOP_KS = (None, 1, 3, 5, 10, 20)
TOP_PS = (None, 0.95, 0.9, 0.75, 0.5)
GEN_LENGTHS = (50, 200, 1000)


class SamplingControls(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.temperature = 1.0
        self.top_k: int | None = None
        self.top_p: float | None = None
        self.greedy = False
        self.gen_length = 200
        self.generating: bool | None = None  # as last drawn (None: not drawn yet)

    def sampling(self) -> dict:
        """The sampling arguments of a predict or generate request."""
        return {
            "temperature": self.temperature,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "greedy": self.greedy,
        }

    def step_temperature(self, step: int) -> None:
        """Move ``step`` rungs along the temperature ladder, from the rung nearest the current."""
        i = min(range(len(TEMPERATURES)), key=lambda j: abs(TEMPERATURES[j] - self.temperature))
        self.temperature = TEMPERATURES[max(0, min(len(TEMPERATURES) - 1, i + step))]

    def next_top_k(self) -> None:
        self.top_k = TOP_KS[(TOP_KS.index(self.top_k) + 1) % len(TOP_KS)]

    def next_top_p(self) -> None:
        self.top_p = TOP_PS[(TOP_PS.index(self.top_p) + 1) % len(TOP_PS)]

    def toggle_greedy(self) -> None:
        self.greedy = not self.greedy

    def next_gen_length(self) -> None:
        i = GEN_LENGTHS.index(self.gen_length) if self.gen_length in GEN_LENGTHS else 0
        self.gen_length = GEN_LENGTHS[(i + 1) % len(GEN_LENGTHS)]

    def show(self, generating: bool) -> None:
        """Draw the line; while ``generating`` it says how to stop instead of the length."""
        self.generating = generating
        mode = _("greedy") if self.greedy or self.temperature == 0 else _("sampled")
        k = _("all") if self.top_k is None else str(self.top_k)
        p = _("off") if self.top_p is None else f"{self.top_p:g}"
        gen = (
            "[b]" + _("generating: esc/x stops") + "[/b]"
            if generating
            else _("gen {length}").format(length=self.gen_length) + " [dim]g n[/dim]"
        )
        t = f"T={self.temperature:g}"
        if self.greedy:  # the top character every time: these three do not apply (dimmed)
            t, k, p = f"[dim]{t}[/dim]", f"[dim]{k}[/dim]", f"[dim]{p}[/dim]"
        self.update(
            f" {t} [dim]↑↓[/dim] │ top-k {k} [dim]k[/dim] │ top-p {p} "
            f"[dim]p[/dim] │ {mode} [dim]s[/dim] │ {gen}"
        )

    def relabel(self) -> None:
        if self.generating is not None:
            self.show(self.generating)
