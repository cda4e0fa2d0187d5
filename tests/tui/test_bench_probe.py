"""The app-side probe of ``torchdeck bench`` (``tui.bench_probe``): resident memory from /proc."""

from __future__ import annotations


def test_probe_reads_resident_memory():
    from tui.bench_probe import rss_mb

    mine = rss_mb()
    assert mine is not None and 5 < mine < 100_000
    assert rss_mb(2**22 + 12345) is None  # above Linux's largest pid: no such process
