"""What a headless run and ``torchdeck ls`` say of a job of several ranks, in process: the
plain record, the tty line (at most 80 columns), the ls row; and
that a single-process run says none of it."""

from __future__ import annotations

from cli.engines import table
from cli.records import plain_record, progress_line
from core.contract import TrainProgress
from core.progress import slow_rank

BASE = dict(step=1250, steps=2000, loss=1.3655, lr=0.0011, tokens_per_s=39700.0)
BASE.update(elapsed_s=124.0, eta_s=82.0, grad_norm=0.41)
ONE = TrainProgress(**BASE)
EVEN = TrainProgress(**BASE, world_size=2, rank_ms=[4.1, 4.3])
SLOW = TrainProgress(**BASE, world_size=2, rank_ms=[4.1, 9.8])


def test_slow_rank_is_the_slowest_at_a_quarter_over_the_fastest():
    assert slow_rank([4.0, 5.0]) == (1, 1.25)
    assert slow_rank([4.0, 4.99]) is None
    assert slow_rank([9.0, 4.0, 4.5]) == (0, 2.25)
    assert slow_rank([4.0]) is None and slow_rank(None) is None
    assert slow_rank([0.0, 3.0]) is None  # a rank that measured nothing
    assert slow_rank([4.0, "nan"]) is None and slow_rank([4.0, None]) is None


def test_plain_record_says_the_ranks_each_ones_time_and_the_slow_one():
    assert (
        plain_record(ONE)
        == "step=1250/2000 loss=1.3655 lr=0.0011 tokens_per_s=39700 elapsed_s=124.0"
    )
    assert plain_record(EVEN) == (
        "step=1250/2000 loss=1.3655 lr=0.0011 tokens_per_s=39700 ranks=2 rank_ms=4.1,4.3 "
        "elapsed_s=124.0"
    )
    assert plain_record(SLOW) == (
        "step=1250/2000 loss=1.3655 lr=0.0011 tokens_per_s=39700 ranks=2 rank_ms=4.1,9.8 "
        "slow_rank=1 elapsed_s=124.0"
    )


def test_progress_line_says_the_ranks_and_the_slow_one_in_80_columns():
    text = "1250/2000  loss 1.3655  val 1.6549  39.7k tok/s"
    assert progress_line(ONE, 1.6549) == "█" * 13 + "░" * 8 + f" {text}  ETA 1m22s"
    assert progress_line(EVEN, 1.6549) == "█" * 7 + "░" * 5 + f" {text}  2 ranks  ETA 1m22s"
    # no room left for a bar: the step count says how far it is
    assert progress_line(SLOW, 1.6549) == f"{text}  2 ranks, r1 slow  ETA 1m22s"


def test_progress_line_never_passes_80_columns():
    wide = dict(BASE, step=123456, steps=1000000, loss=12345.678, eta_s=360000.0)
    for extra in ({}, {"world_size": 64, "rank_ms": [4.0] * 63 + [99.0]}):
        line = progress_line(TrainProgress(**wide, **extra), "-inf")
        assert len(line) <= 80, line
    # still too long without its bar: cut, and said so
    line = progress_line(TrainProgress(**wide, world_size=64, rank_ms=[4.0] * 63 + [99.0]), 1.5)
    assert (
        line == "123456/1000000  loss 12345.6780  val 1.5000  39.7k tok/s  64 ranks, r63 slow  E…"
    )


def row(**engine) -> str:
    base = {"id": "4242", "preset": "mini", "device": "cpu", "state": "running"}
    base.update(step=120, steps=300, loss=2.5, tokens_per_s=39700.0, started=0)
    return table([{**base, **engine}]).splitlines()[1]


def test_ls_shows_the_ranks_after_the_device_only_for_a_job():
    assert row().split()[:4] == ["4242", "mini", "cpu", "running"]
    assert row(world_size=1).split()[:4] == ["4242", "mini", "cpu", "running"]
    assert row(world_size=2).split()[:4] == ["4242", "mini", "cpu×2", "running"]
    assert row(world_size=8, device="cuda:0").split()[2] == "cuda:0×8"


def test_ls_shows_the_gpu_memory_a_run_holds_and_a_dash_on_a_cpu():
    assert row().split()[8] == "-"
    assert row(gpu_mem_mb=3276.8, gpu_mem_total_mb=81920.0).split()[8] == "3.2/80.0"
