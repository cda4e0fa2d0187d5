"""Small number formatters shared by the panes and the status bar."""

from __future__ import annotations

import math

from core.fmt import fmt_duration, fmt_rate  # noqa: F401 - re-exported for the UI


def fmt_loss(value) -> str:
    if isinstance(value, (int, float)) and math.isfinite(value):
        return f"{value:.4f}"
    return "--" if value is None else str(value)


def fmt_num(value, digits: int = 3) -> str:
    if value is None:
        return "--"
    if isinstance(value, str):
        return value
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}


def visible_char(ch: str) -> str:
    """A character as it should appear in a strip or a bar label: whitespace and control
    characters drawn as visible symbols."""
    if ch in VISIBLE:
        return VISIBLE[ch]
    if ch and (ord(ch) < 32 or ord(ch) == 127):
        return f"^{chr(ord(ch) ^ 64)}"
    return ch


def fit_parts(parts: list[str], width: int, sep: str = " · ") -> str:
    """``parts`` joined by ``sep``, the last ones left out whole until the line fits ``width``
    cells (the parts come most important first; the first is always kept)."""
    from rich.cells import cell_len

    kept = list(parts)
    while len(kept) > 1 and cell_len(sep.join(kept)) > width:
        kept.pop()
    return sep.join(kept)
