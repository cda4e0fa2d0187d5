"""core.fmt: the one set of number formatters the engine, the command line and the UI share."""

from __future__ import annotations

import math

import pytest

from core.fmt import fmt_bytes, fmt_count, fmt_duration, fmt_macs, fmt_rate


@pytest.mark.parametrize(
    "n, digits, text",
    [
        (None, 2, "--"),
        (0, 2, "0 B"),
        (999, 2, "999 B"),
        (1000, 2, "1.00 KB"),
        (3_276_800, 2, "3.28 MB"),
        (153_600_000, 1, "153.6 MB"),
        (40e12, 1, "40.0 TB"),
        (5e18, 1, "5000.0 PB"),  # past the last unit the number grows instead
    ],
)
def test_fmt_bytes(n, digits, text):
    assert fmt_bytes(n, digits) == text


@pytest.mark.parametrize(
    "n, text",
    [
        (None, "--"),
        (999, "999"),
        (1000, "1.00 k"),
        (2_500_000, "2.50 M"),
        (3e9, "3.00 G"),
        (2e12, "2.00 T"),
    ],
)
def test_fmt_macs(n, text):
    assert fmt_macs(n) == text


def test_fmt_count_and_rate():
    assert (fmt_count(None), fmt_count(814720)) == ("--", "814,720")
    assert (fmt_rate(None), fmt_rate(999.4), fmt_rate(15_300)) == ("--", "999", "15.3k")
    assert (fmt_rate(999_999), fmt_rate(1_024_100)) == ("1000.0k", "1.02M")


@pytest.mark.parametrize(
    "seconds, text",
    [
        (None, "--"),
        (math.inf, "--"),
        (math.nan, "--"),
        (0, "0s"),
        (59.4, "59s"),
        (75, "1m15s"),
        (3700, "1h01m"),
    ],
)
def test_fmt_duration(seconds, text):
    assert fmt_duration(seconds) == text
