"""The metrics rows (core/metric_log.py): when a row is written, what its figures are (exact
values), eval rows in step order, the final row of a stopped run, the signals' histories, a
checkpoint's log, a full disk; and the rows merged or thinned for a slow link."""

from __future__ import annotations

import json
import math
import os

import pytest

from core.contract import TrainProgress
from core.hub import fit_budget
from core.metric_log import MetricLog, MetricsFile
from core.progress import merge_all


def feed(log: MetricLog, first: int, n: int, evals=(), last_step=1000, extra=None):
    """n steps from ``first``: loss = step, grad norm = step / 10, lr = step / 1000, each step
    half a second."""
    steps = range(first, first + n)
    return log.rows(
        first,
        [float(s) for s in steps],
        [s / 10 for s in steps],
        [s / 1000 for s in steps],
        [0.5] * n,
        list(evals),
        last_step=last_step,
        tokens_per_step=100,
        extra=extra,
    )


def test_a_train_row_every_n_steps_with_the_windows_mean_loss():
    log = MetricLog(every=4)
    rows = feed(log, 1, 6)  # steps 1..6: one row, at 4
    assert rows == [
        {
            "kind": "train",
            "step": 4,
            "train_loss": 2.5,  # mean of 1, 2, 3, 4
            "lr": 0.004,
            "grad_norm": 0.4,
            "tokens_per_s": 200.0,  # 4 steps × 100 tokens over 2 s
            "elapsed_s": 2.0,
        }
    ]
    rows = feed(log, 7, 2)  # steps 7, 8: the window 5..8 spans two reports
    assert [(r["step"], r["train_loss"], r["elapsed_s"]) for r in rows] == [(8, 6.5, 4.0)]


def test_the_last_step_gets_a_row_and_evals_follow_their_step():
    log = MetricLog(every=10)
    rows = feed(log, 1, 25, evals=[(20, 1.5), (25, 1.25)], last_step=25)
    assert [(r["kind"], r["step"]) for r in rows] == [
        ("train", 10),
        ("train", 20),
        ("eval", 20),
        ("train", 25),
        ("eval", 25),
    ]
    assert rows[2] == {"kind": "eval", "step": 20, "val_loss": 1.5, "elapsed_s": 10.0}
    assert rows[3]["train_loss"] == 23.0  # mean of 21..25


def test_a_stopped_run_closes_its_window_and_an_empty_one_writes_nothing():
    log = MetricLog(every=10)
    feed(log, 1, 13)
    (row,) = log.close(13, 1.3, 0.013, 100)
    assert (row["step"], row["train_loss"], row["tokens_per_s"]) == (13, 12.0, 200.0)
    assert log.close(13, 1.3, 0.013, 100) == []


def test_non_finite_values_are_written_as_their_names():
    log = MetricLog(every=1)
    (row,) = log.rows(1, [math.nan], [math.inf], [0.1], [0.5], [], last_step=10, tokens_per_step=0)
    assert (row["train_loss"], row["grad_norm"], row["tokens_per_s"]) == ("nan", "inf", None)
    json.dumps(row, allow_nan=False)  # strict JSON


def test_signals_keep_each_rows_figure_and_a_checkpoint_restores_them():
    log = MetricLog(every=2)
    feed(log, 1, 6, extra={"mem_alloc_mb": 12.5, "mem_peak_mb": 20.0})
    hist = log.histories()
    assert hist["lr"]["steps"] == [2, 4, 6] and hist["lr"]["values"] == [0.002, 0.004, 0.006]
    assert hist["grad_norm"]["values"] == [0.2, 0.4, 0.6]
    assert hist["mem_peak_mb"]["values"] == [20.0] * 3
    again = MetricLog()
    again.load_state_dict(json.loads(json.dumps(log.state_dict())))
    assert again.histories() == hist and again.elapsed == 3.0
    again.load_state_dict(None)  # a checkpoint from before the rows: nothing to restore
    assert "mem_alloc_mb" not in MetricLog().histories()


def test_a_full_disk_is_said_once_and_the_run_goes_on(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux)")
    said = []
    f = MetricsFile("/dev/full", said.append)
    f.write([{"kind": "train", "step": 1}])
    f.write([{"kind": "train", "step": 2}])
    assert said == [
        "cannot write /dev/full: the disk is full; training goes on without metrics rows"
    ]


def test_merged_reports_keep_every_row_in_order():
    a = TrainProgress(step=10, first_step=1, losses=[1.0], rows=[{"kind": "train", "step": 10}])
    b = TrainProgress(step=20, first_step=11, losses=[2.0])
    c = TrainProgress(step=30, first_step=21, losses=[3.0], rows=[{"kind": "eval", "step": 30}])
    assert [r["step"] for r in merge_all([a, b, c]).rows] == [10, 30]
    assert merge_all([b, b]).rows is None


def test_a_slow_link_gets_every_kth_train_row_the_last_and_every_eval():
    rows = [{"kind": "train", "step": s} for s in range(10, 1010, 10)]
    rows.insert(50, {"kind": "eval", "step": 500})
    progress = {"step": 1000, "losses": [1.0], "rows": rows}
    data = json.dumps({"event": "train_progress", "data": progress}).encode()
    budget = 8 * 100 * 10  # room for 10 rows (a short row counts as 100 bytes)
    thin = json.loads(fit_budget(progress, budget, data))["data"]["rows"]
    train = [r["step"] for r in thin if r["kind"] == "train"]
    assert train == list(range(100, 1001, 100))  # every 10th, ending at the last
    assert {"kind": "eval", "step": 500} in thin
    assert fit_budget({"step": 1, "losses": [1.0], "rows": rows[:3]}, budget, data) is data


def test_a_torn_last_line_is_cut_before_the_next_run_appends(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"kind": "train", "step": 10}\n{"kind": "tra', encoding="utf-8")
    f = MetricsFile(str(path), [].append)
    f.write([{"kind": "train", "step": 11}])
    f.close()
    assert [json.loads(x)["step"] for x in path.read_text().splitlines()] == [10, 11]
    path.write_text('{"kind": "tr', encoding="utf-8")  # nothing whole at all
    MetricsFile(str(path), [].append).close()
    assert path.read_text() == ""
