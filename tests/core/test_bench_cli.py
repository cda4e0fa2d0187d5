"""``torchdeck bench`` end to end: its plumbing (a ``--quick`` run yields every figure with sane
types) and its argument checks. The speed targets are not asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core import bench
from core.bench.cli import build_parser
from core.bench.plan import FULL_QUALITY_STEPS, plan_from_args

TOP_KEYS = {
    "bench",
    "quick",
    "machine",
    "settings",
    "train_overhead",
    "speedup_vs_eager",
    "train_in_app",
    "ui_lag_ms_p99",
    "first_paint_s",
    "engine_ready_s",
    "import_torch_s",
    "predict_ms",
    "rss_mb",
    "quality",
    "cuda",
    "attach_s",
    "link_bytes_per_s",
    "errors",
    "bench_s",
}
SPREAD_KEYS = {"median", "min", "max", "runs"}


def number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_spread(f: dict, positive: bool = True) -> None:
    assert SPREAD_KEYS <= set(f), f
    assert all(number(f[k]) for k in ("median", "min", "max")), f
    assert f["min"] <= f["median"] <= f["max"]
    assert f["runs"] and all(number(v) for v in f["runs"])
    if positive:
        assert f["min"] > 0


@pytest.mark.slow
def test_quick_run_gives_every_figure_with_sane_types():
    env = {k: v for k, v in os.environ.items() if k != "TORCHDECK_TIMINGS"}
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "bench", "--quick", "--json"],
        capture_output=True,
        encoding="utf-8",
        timeout=240,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    r = json.loads(proc.stdout)  # stdout is exactly one JSON object
    assert TOP_KEYS <= set(r), sorted(TOP_KEYS - set(r))
    assert r["errors"] == {} and r["quick"] is True
    assert r["machine"]["threads"] >= 1 and r["machine"]["cpu_cores"] >= 1
    assert all(number(v) and v >= 0 for v in r["machine"]["load_avg_1min"].values())
    assert r["settings"]["rounds"] == 1
    assert r["settings"]["engine"] == "detached, on a Unix socket"

    f = r["train_overhead"]
    check_spread(f)
    assert f["engine_tokens_per_s"] > 0 and f["bare_tokens_per_s"] > 0 and f["step_ms"] > 0
    assert f["target"] == 0.97 and isinstance(f["met"], bool)
    # the ratio is the engine's rate over the bare loop's, round by round
    assert f["runs"][0] == pytest.approx(
        f["engine_tokens_per_s"] / f["bare_tokens_per_s"], rel=2e-3
    )

    # the same engine windows against the plain fp32 eager loop, which took its turns too
    f = r["speedup_vs_eager"]
    check_spread(f)
    assert f["engine_tokens_per_s"] == r["train_overhead"]["engine_tokens_per_s"]
    assert f["eager_tokens_per_s"] > 0 and f["target"] == 1.3 and isinstance(f["met"], bool)
    assert f["runs"][0] == pytest.approx(
        f["engine_tokens_per_s"] / f["eager_tokens_per_s"], rel=2e-3
    )
    assert f["precision"] in ("fp32", "bf16") and f["compile"] is False  # a CPU's defaults

    f = r["train_in_app"]
    check_spread(f)
    assert f["app_tokens_per_s"] > 0 and f["target"] == 0.85 and isinstance(f["met"], bool)
    assert 0 < f["ui_cpu_cores"] < 2  # some CPU, and no more than the machine has

    f = r["ui_lag_ms_p99"]
    assert f["samples"] > 10 and f["target"] == 16
    assert 0 <= f["p50"] <= f["value"] <= f["max"]

    check_spread(r["first_paint_s"])
    check_spread(r["engine_ready_s"])
    check_spread(r["import_torch_s"])
    assert r["first_paint_s"]["median"] < r["engine_ready_s"]["median"]

    f = r["predict_ms"]
    for cond in ("idle", "training"):
        assert f[cond]["n"] == 5 and 0 < f[cond]["p50"] <= f[cond]["p95"]
    assert f["training_p95_steps"] == pytest.approx(f["training"]["p95"] / f["step_ms"], abs=0.01)

    f = r["rss_mb"]
    for key in ("ui_idle", "engine_idle", "ui_before", "engine_before", "ui_after", "engine_after"):
        assert number(f[key]) and f[key] > 10, (key, f[key])
    assert f["steps"] == 200

    f = r["quality"]
    assert f["steps"] == 20 and f["full"] is False and f["state"] == "finished"
    assert f["wall_s"] > 0 and f["tokens_per_s"] > 0
    assert 0 < f["val_loss"] < 10 and 0 < f["train_loss"] < 10
    # 2000 / 20 = 100 times the wall time (within the rounding of both to the JSON)
    assert abs(f["wall_s_2000_estimate"] - f["wall_s"] * 100) <= 0.0005 * 100 + 0.05
    # the same run in plain fp32 eager, and how far the defaults' validation loss is from it
    plain = f["fp32_eager"]
    assert 0 < plain["val_loss"] < 10 and plain["wall_s"] > 0 and plain["tokens_per_s"] > 0
    assert f["val_loss_delta"] == pytest.approx(f["val_loss"] - plain["val_loss"], abs=2e-4)
    assert f["target_delta"] == 0.02 and f["met"] == (f["val_loss_delta"] <= 0.02)

    f = r["attach_s"]  # seconds, from the app's start to the chart drawn from the history
    check_spread(f)
    assert len(f["runs"]) == 1 and f["target"] == 1.0 and isinstance(f["met"], bool)
    assert f["steps"] == 10_000 and f["run"]["preset"] == "mini" and f["run"]["train_s"] > 0
    assert 100 < f["chart_points"] <= 2048 and f["chart_val_points"] >= 1
    first, last = f["chart_steps"]
    assert first <= 100 and 9_900 <= last <= 10_000  # thinned, spanning the run
    assert 0 < f["first_paint_s"] <= f["median"] and 0 < f["engine_ready_s"] <= f["median"]

    f = r["link_bytes_per_s"]  # bytes per second received by a client on the socket
    assert number(f["value"]) and f["value"] == f["gpt"]["bytes_per_s"] > 0
    assert f["target"] == 20_000 and isinstance(f["met"], bool)
    assert f["budget"] == 16_000 and f["slow_budget"] == 4_000
    assert f["report_interval_s"] == 0.25 and f["window_s"] == 2.0
    budgets = {"": 0, "_budgeted": 16_000, "_slow": 4_000}
    for key, budget in ((p + k, b) for p in ("gpt", "mini") for k, b in budgets.items()):
        g = f[key]
        assert g["budget"] == budget
        assert number(g["bytes_per_s"]) and g["bytes_per_s"] > 0
        assert g["lines"] >= 1 and g["reports_per_s"] > 0 and g["steps_per_s"] > 0
        assert 0 < g["bytes_per_line"] <= g["max_line_bytes"] and g["stride"] >= 1
        # the budget, plus the token bucket's second of it, plus one report
        assert g["bytes_per_s"] * g["window_s"] <= (
            g["budget"] * (g["window_s"] + 1) + g["max_line_bytes"] if g["budget"] else 1e12
        )

    assert r["cuda"] == {"measured": False, "reason": "not measured (no CUDA device)"} or (
        r["cuda"]["measured"] is True and r["cuda"]["tokens_per_s"] > 0
    )


def test_bad_arguments_are_refused_with_the_fix(capsys):
    assert bench.main(["--rounds", "0"]) == 2
    err = capsys.readouterr().err
    assert "--rounds 0 is out of range" in err and "integer ≥ 1" in err
    assert bench.main(["--window", "0.01"]) == 2
    assert "give seconds in [0.2, 600]" in capsys.readouterr().err
    plan = plan_from_args(build_parser().parse_args(["--quick", "--quality"]))
    assert plan.quick and plan.quality_steps == FULL_QUALITY_STEPS and plan.rounds == 1
