"""Number formatting shared by the engine's messages, the command line and the UI.

Imports no torch and no UI library, so every side may use it. One formatter per kind of
number: counts, bytes (SI units, as the Summary pane and torchinfo print them), multiply-adds,
durations and rates. ``None`` prints as ``--`` everywhere: a figure not known yet.
"""

from __future__ import annotations

import math

MISSING = "--"
_BYTE_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def fmt_count(n: int | None) -> str:
    """12345 → ``12,345``."""
    return MISSING if n is None else f"{n:,}"


def fmt_bytes(n: float | None, digits: int = 2) -> str:
    """Bytes in SI units: 999 → ``999 B``, 1500 → ``1.50 KB`` (``digits`` after the point)."""
    if n is None:
        return MISSING
    for unit in _BYTE_UNITS:
        if abs(n) < 1000 or unit == _BYTE_UNITS[-1]:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.{digits}f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def fmt_macs(n: int | None) -> str:
    """Multiply-adds: 2_500_000 → ``2.50 M``; under a thousand, the plain number."""
    if n is None:
        return MISSING
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return str(n)


def fmt_duration(seconds: float | None) -> str:
    """75 → ``1m15s``; 3700 → ``1h01m``; unknown → ``--``."""
    if seconds is None or not math.isfinite(seconds):
        return MISSING
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def fmt_rate(value: float | None) -> str:
    """Tokens (or steps) a second: 15300 → ``15.3k``, 1024100 → ``1.02M``."""
    if value is None:
        return MISSING
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    return f"{value / 1000:.1f}k" if value >= 1000 else f"{value:.0f}"
