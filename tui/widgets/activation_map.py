"""A layer's strongest units for each typed character, as a heat map: one row per unit, one
column per character; blue for negative, red for positive, brighter for larger |activation|."""

from __future__ import annotations

from functools import lru_cache

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from core.i18n import _
from tui.format import visible_char

SHADES = 5  # levels of intensity per sign; 256-colour terminals show them well


def cell_style(value: float, scale: float) -> Style:
    level = 0 if scale <= 0 else min(SHADES, round(abs(value) / scale * SHADES))
    return _shade(level, value > 0)


@lru_cache(maxsize=2 * SHADES + 2)
def _shade(level: int, positive: bool) -> Style:
    """One Style per level and sign, made once: a map draws hundreds of cells a paint."""
    if level == 0:
        return Style(bgcolor=Color.from_rgb(40, 40, 40))
    strength = 60 + 195 * level // SHADES
    rgb = (strength, 40, 40) if positive else (40, 70, strength)
    return Style(bgcolor=Color.from_rgb(*rgb), color="white")


def heading(layer: str, kind: str, units: int, dim: int, width: int) -> str:
    """The map's first line, in one row of ``width`` cells: the longest wording that fits (a
    second row would push the scale off the bottom), a long layer name cut at its start."""
    for line in (
        _("{layer} ({kind}): top {units} of {dim} units"),
        _("{layer} ({kind}): top {units}/{dim}"),
        _("{layer}: top {units}/{dim}"),
    ):
        line = line.format(layer=layer, kind=kind, units=units, dim=dim)
        if len(line) <= width:
            return line
    tail = _(": top {units}/{dim}").format(units=units, dim=dim)
    if width < len(tail) + 2:
        return line[:width]
    return "…" + layer[len(layer) - (width - len(tail) - 1) :] + tail


class ActivationMap(Widget):
    DEFAULT_CSS = "ActivationMap { height: 1fr; }"

    data: reactive[dict | None] = reactive(None, always_update=True)
    layers: reactive[list] = reactive(list)
    note: reactive[str] = reactive("")

    def render(self) -> Text:
        d = self.data
        if not d:
            # the pane's note: its own translation, or a text marked N_ that is translated here
            note = _(self.note) if self.note else _("activations: type some text")
            return Text.from_markup(f"[dim]{note}[/dim]")
        text = Text()
        width = max(10, self.size.width)
        text.append(heading(d["layer"], d["type"], len(d["units"]), d["dim"], width) + "\n")
        text.stylize("bold")
        label_w = 6
        cols = max(1, min(len(d["chars"]), (width - label_w) // 2))
        chars = d["chars"][-cols:]
        rows = d["values"][-cols:]
        text.append(" " * label_w)
        for ch in chars:
            text.append(f"{visible_char(ch)[:1]} ")
        text.append("\n")
        height = max(1, self.size.height - 3)
        for j, unit in enumerate(d["units"][:height]):
            text.append(f"{unit:>5} ", style="dim")
            for row in rows:
                text.append("  ", style=cell_style(row[j], d["scale"]))
            text.append("\n")
        text.append(_("scale ±{scale:.3g}").format(scale=d["scale"]) + "  ", style="dim")
        text.append("  ", style=cell_style(-d["scale"], d["scale"]))
        text.append(" " + _("negative") + "  ", style="dim")
        text.append("  ", style=cell_style(d["scale"], d["scale"]))
        text.append(" " + _("positive"), style="dim")
        return text
