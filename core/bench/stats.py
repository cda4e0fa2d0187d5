"""The statistics of the bench: percentiles, the spread of a figure over its rounds, and the
round-by-round ratios of B windows to A windows."""

from __future__ import annotations

import statistics


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100), interpolating between the nearest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def spread(values: list[float]) -> dict:
    """Median, min, max and every value (rounded for the JSON)."""
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "runs": [round(v, 4) for v in values],
    }


def ratios(numerators: list[float], denominators: list[float]) -> list[float]:
    """Round by round: each B window against the A window beside it."""
    return [n / d for n, d in zip(numerators, denominators)]
