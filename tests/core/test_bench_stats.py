"""``torchdeck bench``'s statistics: percentiles, spreads and round-by-round ratios."""

from __future__ import annotations

import pytest

from core.bench.stats import percentile, ratios, spread


def test_percentile_interpolates_between_ranks():
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 5.0
    assert percentile(values, 95) == pytest.approx(4.8)  # 4 + 0.8 × (5 − 4)
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_spread_and_ratios():
    assert ratios([9.0, 12.0], [10.0, 10.0]) == [0.9, 1.2]
    assert spread([0.9, 1.2, 1.0]) == {
        "median": 1.0,
        "min": 0.9,
        "max": 1.2,
        "runs": [0.9, 1.2, 1.0],
    }
