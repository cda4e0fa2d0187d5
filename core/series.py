"""What a chart does to a series before it is drawn: keep the points that fit the plot's width
without losing a spike, smooth the line the way TensorBoard's slider does, and cut a window of
the last N steps. Imports no torch and no UI library: the Train pane's charts and
``torchdeck plot`` both use it.

A series is two lists, ``steps`` (increasing) and ``values``; a value may be NaN or infinite
(a diverged run), and such points are left out of what is drawn.
"""

from __future__ import annotations

import math
from bisect import bisect_left

SMOOTHING = (0.0, 0.6, 0.8, 0.9, 0.95, 0.99)  # the EMA weights a key steps through


def finite(steps: list, values: list) -> tuple[list, list]:
    """The points whose value is a finite number."""
    out_s, out_v = [], []
    for s, v in zip(steps, values):
        if isinstance(v, (int, float)) and math.isfinite(v):
            out_s.append(s)
            out_v.append(float(v))
    return out_s, out_v


def window(steps: list, values: list, last: int) -> tuple[list, list]:
    """The points of the last ``last`` steps (all of them when ``last`` is 0)."""
    if not last or not steps:
        return steps, values
    i = bisect_left(steps, steps[-1] - last + 1)
    return steps[i:], values[i:]


def ema(values: list[float], weight: float) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average, debiased so the line starts at
    the first value rather than at zero. ``weight`` 0 returns the values unchanged; non-finite
    values pass through without entering the average."""
    if weight <= 0:
        return list(values)
    out, last, n = [], 0.0, 0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        n += 1
        out.append(last / (1 - weight**n))
    return out


def columns(
    steps: list,
    values: list,
    width: int,
    lows: list | None = None,
    highs: list | None = None,
) -> tuple[list, list]:
    """At most about ``2 * width`` points for a plot ``width`` columns wide: the steps are cut
    into ``width`` equal ranges and each range keeps its lowest and its highest point, in step
    order, so a one-step spike still reaches its height on screen. ``lows``/``highs`` (a bounded
    history's per-bucket extremes, ``core.history.LossHistory``) stand for the extremes of what
    each point averaged. The first and last points are always kept. Cost: one pass over the
    points given, whatever the width. The values must be finite (``finite`` first): a NaN would
    hide its column's extremes."""
    lows = values if lows is None else lows
    highs = values if highs is None else highs
    n = len(steps)
    if n <= 2 * width or width < 1:
        return list(steps), list(values)
    s0, s1 = steps[0], steps[-1]
    span = max(1, s1 - s0)
    out_s: list = []
    out_v: list = []
    bucket = -1
    lo_i = hi_i = 0

    def close() -> None:
        for i, v in sorted({(lo_i, lows[lo_i]), (hi_i, highs[hi_i])}):
            out_s.append(steps[i])
            out_v.append(v)

    for i in range(n):
        b = min(width - 1, (steps[i] - s0) * width // span)
        if b != bucket:
            if bucket >= 0:
                close()
            bucket, lo_i, hi_i = b, i, i
        else:
            if lows[i] < lows[lo_i]:
                lo_i = i
            if highs[i] > highs[hi_i]:
                hi_i = i
    close()
    if out_s[0] != steps[0]:
        out_s.insert(0, steps[0])
        out_v.insert(0, values[0])
    if out_s[-1] != steps[-1]:
        out_s.append(steps[-1])
        out_v.append(values[-1])
    return out_s, out_v
