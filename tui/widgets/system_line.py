"""The machine beside the run, as the app holds it and as the Train pane shows it in one line.

``MachineState`` is the app's one record of the engine's ``system`` samples: the last ten
minutes of them (seeded from an attach reply, then one per event), the low-utilisation timer
and the warnings of the latest sample. ``SystemLine`` draws the latest sample in one line
(``core.system_view.summary_line`` at the widget's width), or, while there is a warning, the
first warning in the theme's warning colour. Imports no torch, no psutil and no plotext.
"""

from __future__ import annotations

import math
import time
from collections import deque

from rich.text import Text
from textual.widget import Widget

from core import i18n
from core.i18n import N_
from core.system_view import LowUtilTimer, summary_line, warnings

HISTORY = 600  # samples kept: ten minutes at one a second
WAITING = N_("machine: waiting for the engine's first sample")  # shown through _()
NO_FIGURES = N_("machine: the engine's sample holds no figures")
TEXT_FIELDS = ("gpus", "gpu_note", "training")  # the others are numbers


def clean(data) -> dict:
    """A sample as a plain dict (a ``SystemSample`` or its dict), keeping only the figures that
    are finite numbers: the wire writes NaN as "nan", which no figure should print."""
    sample = data.to_dict() if hasattr(data, "to_dict") else dict(data or {})
    out = {}
    for key, value in sample.items():
        if key in TEXT_FIELDS:
            out[key] = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isfinite(value):
                out[key] = value
    if not isinstance(out.get("gpus"), list):
        out.pop("gpus", None)
    if not isinstance(out.get("gpu_note"), str):
        out.pop("gpu_note", None)
    out["training"] = bool(out.get("training"))
    return out


def cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` columns, ending in "…" where it was cut."""
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


class MachineState:
    """The samples the app holds (oldest first, at most ``HISTORY``), and what the latest one
    warns of. ``version`` grows with every change, so a view knows when to redraw."""

    def __init__(self, size: int = HISTORY) -> None:
        self.samples: deque[dict] = deque(maxlen=size)
        self.timer = LowUtilTimer()
        self.warnings: list[str] = []
        self.version = 0

    @property
    def latest(self) -> dict | None:
        return self.samples[-1] if self.samples else None

    def add(self, data, now: float | None = None) -> bool:
        """One sample (an event's data); False for one already held (an event that crossed
        the attach reply carrying it). ``now``: the time to feed the low-utilisation timer
        (default: the sample's own time, else the clock)."""
        sample = clean(data)
        t = sample.get("t") or 0
        last = self.latest
        if t and last is not None and t <= (last.get("t") or 0):
            return False
        self.samples.append(sample)
        training = sample["training"]
        if now is None:
            now = t or time.monotonic()
        low_for = self.timer.update(sample, training, now)
        self.warnings = warnings(sample, training, low_for)
        self.version += 1
        return True

    def seed(self, samples: list) -> None:
        """The engine's recent samples (an attach reply): they replace those held."""
        self.samples.clear()
        self.timer = LowUtilTimer()
        self.warnings = []
        for sample in list(samples)[-(self.samples.maxlen or HISTORY) :]:
            self.add(sample)
        self.version += 1

    def clear(self) -> None:
        self.seed([])


class SystemLine(Widget):
    """One line under the Train pane's chart: the machine's figures, or its first warning."""

    DEFAULT_CSS = """
    SystemLine { height: 1; color: $text-muted; }
    SystemLine.-warning { color: $warning; text-style: bold; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.sample: dict | None = None
        self.warning = ""

    def show(self, state: MachineState) -> None:
        self.sample = state.latest
        self.warning = state.warnings[0] if state.warnings else ""
        self.set_class(bool(self.warning), "-warning")
        self.refresh()

    def text(self, width: int | None = None) -> str:
        """The line as drawn at ``width`` columns (default: the widget's)."""
        width = self.size.width if width is None else width
        if self.warning:
            return cut(self.warning, width)
        if self.sample is None:
            return cut(i18n._(WAITING), width)
        return summary_line(self.sample, width) or cut(i18n._(NO_FIGURES), width)

    def render(self) -> Text:
        return Text(self.text(), no_wrap=True, overflow="crop")
