"""``torchdeck bench``: its plumbing (a ``--quick`` run yields every figure with sane types), its
statistics and FLOPs arithmetic, its table, its argument checks, and the engine change it led
to (a waiting request ends the training slice). The speed targets are not asserted here."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from core import bench

TOP_KEYS = {"bench", "quick", "machine", "settings", "train_overhead", "train_in_app",
            "ui_lag_ms_p99", "first_paint_s", "engine_ready_s", "import_torch_s", "predict_ms",
            "rss_mb", "quality", "cuda", "errors", "bench_s"}
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
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "bench", "--quick", "--json"],
                          capture_output=True, encoding="utf-8", timeout=170, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    r = json.loads(proc.stdout)  # stdout is exactly one JSON object
    assert TOP_KEYS <= set(r), sorted(TOP_KEYS - set(r))
    assert r["errors"] == {} and r["quick"] is True
    assert r["machine"]["threads"] >= 1 and r["machine"]["cpu_cores"] >= 1
    assert all(number(v) and v >= 0 for v in r["machine"]["load_avg_1min"].values())
    assert r["settings"]["rounds"] == 1

    f = r["train_overhead"]
    check_spread(f)
    assert f["engine_tokens_per_s"] > 0 and f["bare_tokens_per_s"] > 0 and f["step_ms"] > 0
    assert f["target"] == 0.97 and isinstance(f["met"], bool)
    # the ratio is the engine's rate over the bare loop's, round by round
    assert f["runs"][0] == pytest.approx(f["engine_tokens_per_s"] / f["bare_tokens_per_s"],
                                         rel=2e-3)

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
    assert f["training_p95_steps"] == pytest.approx(f["training"]["p95"] / f["step_ms"],
                                                    abs=0.01)

    f = r["rss_mb"]
    for key in ("ui_idle", "engine_idle", "ui_before", "engine_before", "ui_after",
                "engine_after"):
        assert number(f[key]) and f[key] > 10, (key, f[key])
    assert f["steps"] == 200

    f = r["quality"]
    assert f["steps"] == 20 and f["full"] is False and f["state"] == "finished"
    assert f["wall_s"] > 0 and f["tokens_per_s"] > 0
    assert 0 < f["val_loss"] < 10 and 0 < f["train_loss"] < 10
    # 2000 / 20 = 100 times the wall time (within the rounding of both to the JSON)
    assert abs(f["wall_s_2000_estimate"] - f["wall_s"] * 100) <= 0.0005 * 100 + 0.05

    assert r["cuda"] == {"measured": False, "reason": "not measured (no CUDA device)"} or (
        r["cuda"]["measured"] is True and r["cuda"]["tokens_per_s"] > 0)


def test_percentile_interpolates_between_ranks():
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert bench.percentile(values, 50) == 3.0
    assert bench.percentile(values, 0) == 1.0 and bench.percentile(values, 100) == 5.0
    assert bench.percentile(values, 95) == pytest.approx(4.8)  # 4 + 0.8 × (5 − 4)
    assert bench.percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        bench.percentile([], 50)


def test_spread_and_ratios():
    assert bench.ratios([9.0, 12.0], [10.0, 10.0]) == [0.9, 1.2]
    assert bench.spread([0.9, 1.2, 1.0]) == {"median": 1.0, "min": 0.9, "max": 1.2,
                                             "runs": [0.9, 1.2, 1.0]}


def test_flops_and_bf16_peaks():
    # 6·N + 12·L·T·d: N = 10M, 6 layers, context 256, width 384
    assert bench.flops_per_token(10_000_000, 6, 256, 384) == 60_000_000 + 7_077_888
    assert bench.bf16_peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert bench.bf16_peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert bench.bf16_peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert bench.bf16_peak_tflops("NVIDIA GeForce GTX 1080") is None


def test_bad_arguments_are_refused_with_the_fix(capsys):
    assert bench.main(["--rounds", "0"]) == 2
    err = capsys.readouterr().err
    assert "--rounds 0 is out of range" in err and "integer ≥ 1" in err
    assert bench.main(["--window", "0.01"]) == 2
    assert "give seconds in [0.2, 600]" in capsys.readouterr().err
    plan = bench.plan_from_args(bench.build_parser().parse_args(["--quick", "--quality"]))
    assert plan.quick and plan.quality_steps == bench.FULL_QUALITY_STEPS and plan.rounds == 1


def test_table_shows_figures_targets_and_failures():
    r = {
        "quick": False,
        "machine": {"cpu_cores": 2, "torch": "2.13.0", "threads": 2},
        "settings": {"rounds": 3, "window_s": 5.0},
        "train_overhead": {"median": 0.99, "min": 0.97, "max": 1.01, "runs": [0.99],
                           "engine_tokens_per_s": 13100, "bare_tokens_per_s": 13200,
                           "step_ms": 156.0, "target": 0.97, "met": True},
        "train_in_app": {"error": "the app probe wrote no result (exit code 1)"},
        "ui_lag_ms_p99": {"error": "the app probe wrote no result (exit code 1)"},
        "first_paint_s": {"median": 0.7, "min": 0.65, "max": 0.8, "runs": [0.7],
                          "target": 0.6, "met": False},
        "engine_ready_s": {"median": 2.0, "min": 1.9, "max": 2.1, "runs": [2.0]},
        "import_torch_s": {"median": 1.8, "min": 1.7, "max": 1.9, "runs": [1.8]},
        "predict_ms": {"idle": {"p50": 4.0, "p95": 5.0, "n": 30},
                       "training": {"p50": 80.0, "p95": 160.0, "n": 30}, "step_ms": 156.0,
                       "training_p95_steps": 1.03, "target_idle_p95": 20.0,
                       "target_training_p95_steps": 2.0, "met": True},
        "rss_mb": {"ui_idle": 60.1, "engine_idle": 400.2, "ui_before": 60.0,
                   "engine_before": 300.0, "ui_after": 61.0, "engine_after": 305.0,
                   "steps": 2000},
        "quality": {"steps": 300, "full": False, "wall_s": 47.0, "tokens_per_s": 13000,
                    "val_loss": 1.9, "wall_s_2000_estimate": 313.3},
        "cuda": {"measured": False, "reason": "not measured (no CUDA device)"},
    }
    text = bench.table(r)
    lines = text.splitlines()
    row = next(line for line in lines if line.startswith("train_overhead"))
    assert "0.99 [0.97–1.01]" in row and row.endswith("≥ 0.97 ok")
    assert "13.1k / 13.2k  (156 ms/step)" in text
    assert any(line.startswith("train_in_app") and "failed: the app probe wrote no result"
               in line for line in lines)
    assert next(line for line in lines if line.startswith("first_paint_s")).endswith(
        "≤ 0.6 MISSED")
    assert "80.0 / 160.0 = 1.03 steps" in text
    assert "60.0 → 61.0 / 300.0 → 305.0" in text
    assert "quality (300 of 2000 steps)" in text and "2000 steps ≈ 313 s" in text
    assert "not measured (no CUDA device)" in text


def test_probe_reads_resident_memory():
    from tui.bench_probe import rss_mb

    mine = rss_mb()
    assert mine is not None and 5 < mine < 100_000
    assert rss_mb(2**22 + 12345) is None  # above Linux's largest pid: no such process


def test_a_waiting_request_ends_the_training_slice(tmp_path):
    """A prediction typed during training must not wait for the rest of a ~50 ms slice: the
    engine's slice stops before the next step when a request is queued."""
    import torch

    from core.engine import Engine
    from core.protocol import Request

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 60, encoding="utf-8")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        engine = Engine(io.StringIO())
        engine.op_configure({"preset": "mini", "corpus": str(corpus), "device": "cpu",
                             "model": {"n_embd": 8, "n_hidden": 16, "block_size": 8},
                             "train": {"batch_size": 4, "eval_interval": 0},
                             "steps": 100_000})
        engine._begin_running()
        engine._train_slice()
        alone = engine.session.trainer.step
        assert alone > 3  # ~50 ms of millisecond steps with nothing waiting
        engine.requests.put(("req", Request(1, "status", {}), None))
        engine._train_slice()
        assert engine.session.trainer.step == alone  # the request goes first
        engine._drain(block=False)
        assert engine.requests.empty()
        engine._train_slice()
        assert engine.session.trainer.step > alone + 3
    finally:
        torch.set_num_threads(threads)


def test_the_accelerator_figures_run_end_to_end_on_the_cpu():
    """The CUDA code path (engine against bare loop, FLOPs, MFU) on the CPU with a tiny gpt:
    no GPU here, so this is what keeps that path working. No peak is known for a CPU."""
    import asyncio

    import torch

    threads = torch.get_num_threads()
    plan = bench.Plan.quick_plan()
    plan.threads, plan.overhead_warmup_s, plan.overhead_window_s = 1, 0.2, 0.5
    model = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 16}
    try:
        r = asyncio.run(bench.measure_device(plan, "cpu", "cpu", model, {"batch_size": 4}))
    finally:
        torch.set_num_threads(threads)
    assert r["measured"] is True and r["device"] == "cpu"
    assert r["model"] == {**model, "batch_size": 4}
    assert r["tokens_per_s"] > 0 and r["overhead"]["median"] > 0
    assert r["bf16_peak_tflops"] == "unknown" and r["mfu"] is None
    # N excludes the position table: 1 block of width 32 plus the tied [V, 32] embedding
    assert r["flops_per_token"] == 6 * r["params"] + 12 * 1 * 16 * 32


def test_adamw_uses_the_fused_kernel_on_the_cpu(make_session_cpu):
    """The optimizer change the profile led to: one fused AdamW update for all parameters."""
    import torch

    from core.training import fused_ok

    trainer = make_session_cpu.trainer
    assert isinstance(trainer.optimizer, torch.optim.AdamW)
    assert all(group["fused"] is True for group in trainer.optimizer.param_groups)
    assert fused_ok([torch.zeros(2)]) is True
    assert fused_ok([torch.zeros(2, dtype=torch.int64)]) is False
    assert fused_ok([torch.zeros(2, device="meta")]) is False
    assert fused_ok([]) is False
    before = [p.detach().clone() for p in trainer.params]
    trainer.train_step()
    assert any(not torch.equal(b, p) for b, p in zip(before, trainer.params))


def test_fused_adamw_matches_the_per_tensor_update():
    """Same update rule: ten steps of fused and plain AdamW end at the same weights."""
    import torch

    torch.manual_seed(0)
    start = [torch.randn(8, 4), torch.randn(4)]
    results = []
    for fused in (None, True):
        params = [p.clone().requires_grad_() for p in start]
        opt = torch.optim.AdamW([{"params": params[:1], "weight_decay": 0.1},
                                 {"params": params[1:], "weight_decay": 0.0}],
                                lr=1e-2, betas=(0.9, 0.99), fused=fused)
        for i in range(10):
            opt.zero_grad()
            ((params[0] @ params[1]).sin().sum() * (i + 1)).backward()
            opt.step()
        results.append(params)
    for plain, fused in zip(*results):
        torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-6)


@pytest.fixture
def make_session_cpu(tmp_path):
    from core.session import RunSpec, Session

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 60, encoding="utf-8")
    return Session.create(RunSpec(preset="gpt", corpus=str(corpus), device="cpu",
                                  model={"n_layer": 1, "n_head": 2, "n_embd": 16,
                                         "block_size": 8},
                                  train={"batch_size": 2, "eval_interval": 0}))
