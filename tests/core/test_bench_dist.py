"""``torchdeck bench``'s scaling figures (``core.bench.dist_probes``): the ratios, the report's
rows, the CUDA figure's reasons to skip, the plan's values and ``--only``; and one real
``--quick`` run of the CPU figure, a torchrun job of 2 ranks against one engine. The ratio
itself is not asserted: this machine is shared and noisy."""

from __future__ import annotations

import asyncio

import pytest
import torch

from core import bench
from core.bench.cli import build_parser
from core.bench.dist_probes import (
    CPU_RANKS,
    CPU_THREADS,
    cuda_skip_reason,
    measure_scaling_cpu,
    measure_scaling_cuda,
    scaling_figure,
)
from core.bench.plan import FIGURES, TARGETS, Plan, plan_from_args
from core.bench.report import table
from core.bench.run import run_bench
from core.errors import TorchdeckError

HEAD = {
    "quick": True,
    "machine": {"cpu_cores": 2, "torch": "2.13.0", "threads": 2},
    "settings": {"rounds": 1, "window_s": 1.0, "overhead_rounds": 1, "overhead_window_s": 1.0},
}


def row(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(start))


def test_the_ratio_is_the_jobs_rate_over_one_ranks_round_by_round():
    one, job = [100.0, 110.0, 90.0], [180.0, 209.0, 180.0]
    f = scaling_figure(one, job, 2, 1.7, per_rank=False, step_s=([0.15] * 3, [0.16] * 3))
    assert f["runs"] == [1.8, 1.9, 2.0] and f["median"] == 1.9
    assert (f["min"], f["max"]) == (1.8, 2.0) and f["met"] is True
    assert f["one_tokens_per_s"] == 100 and f["job_tokens_per_s"] == 180
    assert f["per_rank_tokens_per_s"] == 90 and f["world_size"] == 2
    assert (f["one_step_ms"], f["job_step_ms"]) == (150.0, 160.0)
    # per GPU: the job's rate over its ranks, against one GPU's
    g = scaling_figure([100.0, 100.0], [360.0, 400.0], 4, 0.9, per_rank=True)
    assert g["runs"] == [0.9, 1.0] and g["median"] == 0.95 and g["met"] is True
    assert "one_step_ms" not in g
    assert scaling_figure([100.0], [160.0], 2, 1.7, per_rank=False)["met"] is False
    with pytest.raises(ValueError):
        scaling_figure([100.0], [160.0, 170.0], 2, 1.7, per_rank=False)
    with pytest.raises(ValueError):
        scaling_figure([], [], 2, 1.7, per_rank=False)


def test_the_cuda_figure_says_why_it_is_skipped():
    assert cuda_skip_reason(False, 0) == "skipped (no CUDA device)"
    assert cuda_skip_reason(True, 0) == "skipped (no CUDA device)"
    assert cuda_skip_reason(True, 1) == "skipped (1 CUDA device: the figure needs 2 or more)"
    assert cuda_skip_reason(True, 2) is None and cuda_skip_reason(True, 8) is None


@pytest.mark.skipif(torch.cuda.device_count() >= 2, reason="a machine with 2 GPUs measures it")
def test_the_cuda_figure_is_skipped_here_with_its_reason():
    r = asyncio.run(measure_scaling_cuda(Plan.quick_plan()))
    assert r["measured"] is False and r["reason"].startswith("skipped (")


def test_plan_targets_and_only():
    assert TARGETS["scaling_cpu_2x1"] == 1.7 and TARGETS["scaling_cuda_per_gpu"] == 0.9
    assert (CPU_RANKS, CPU_THREADS) == (2, 1)
    assert {"scaling_cpu_2x1", "scaling_cuda_per_gpu"} <= set(FIGURES)
    # a target of one figure's percentile is named after the figure
    p95 = {"predict_idle_p95_ms", "predict_training_p95_steps"}
    p95 |= {
        f"{name}_p95"
        for name in (
            "keystroke_to_paint_ms",
            "explain_to_paint_ms",
            "cell_to_paint_ms",
            "pane_switch_ms",
        )
    }
    p95.add("quality_delta")  # quality's: the defaults' validation loss against fp32 eager's
    assert set(TARGETS) <= set(FIGURES) | p95
    # the headless figure's rounds and windows, short with --quick
    full, quick = Plan(), Plan.quick_plan()
    assert (full.overhead_rounds, full.overhead_window_s) == (6, 2.5) and full.model == {}
    assert quick.overhead_rounds == 1 and quick.overhead_warmup_s + quick.overhead_window_s < 2

    def parse(*argv: str) -> Plan:
        return plan_from_args(build_parser().parse_args(list(argv)))

    assert parse().only == () and parse().wants("scaling_cpu_2x1")
    plan = parse("--only", "scaling_cuda_per_gpu, scaling_cpu_2x1")
    assert plan.only == ("scaling_cpu_2x1", "scaling_cuda_per_gpu")  # in the run's order
    assert plan.wants("scaling_cpu_2x1") and not plan.wants("train_overhead", "cuda")
    # a figure that reads another's brings it along
    assert parse("--only", "predict_ms").only == ("train_overhead", "predict_ms")
    for bad in ("scaling", " , "):
        with pytest.raises(TorchdeckError):
            parse("--only", bad)


def test_an_unknown_figure_is_refused_with_the_list(capsys):
    assert bench.main(["--only", "scaling"]) == 2
    err = capsys.readouterr().err
    assert "--only 'scaling' is not a figure" in err and "scaling_cpu_2x1" in err


def test_report_rows_name_the_target_the_rates_and_the_reason_to_skip():
    cpu = scaling_figure(
        [13_000.0] * 2, [24_000.0, 23_000.0], 2, 1.7, False, ([0.15] * 2, [0.17] * 2)
    )
    cpu.update(device="cpu", threads=1)
    gpu = scaling_figure([1e6] * 2, [3.8e6] * 2, 4, 0.9, True)
    gpu.update(device="cuda", threads=4, measured=True, gpu="NVIDIA H100 80GB HBM3")
    text = table({**HEAD, "scaling_cpu_2x1": cpu, "scaling_cuda_per_gpu": gpu})
    line = row(text, "scaling_cpu_2x1")
    assert "(2 ranks ÷ 1, global)" in line and "1.81 [1.77–1.85]" in line
    assert line.endswith("≥ 1.7 ok")
    line = row(text, "  tokens/s 2 ranks / 1 rank, 1 thread each")
    assert line.endswith("23.5k / 13.0k  (170 / 150 ms/step)")
    line = row(text, "scaling_cuda_per_gpu (4 GPUs, per GPU ÷ 1)")
    assert "0.95 [0.95–0.95]" in line and line.endswith("≥ 0.9 ok")
    assert row(text, "  tokens/s per GPU / 1 GPU (NVIDIA H100").endswith("950.0k / 1.00M")
    # skipped, failed, and not measured (--only): a reason, a failure, no row
    skipped = {"measured": False, "reason": "skipped (no CUDA device)"}
    text = table(
        {**HEAD, "scaling_cpu_2x1": {"error": "rank 1 died"}, "scaling_cuda_per_gpu": skipped}
    )
    assert row(text, "scaling_cpu_2x1").endswith("failed: rank 1 died")
    assert row(text, "scaling_cuda_per_gpu").endswith("skipped (no CUDA device)")
    assert "train_overhead" not in table({**HEAD, "scaling_cuda_per_gpu": skipped})


@pytest.mark.skipif(torch.cuda.device_count() >= 2, reason="a machine with 2 GPUs measures it")
def test_only_measures_the_figures_named():
    plan = plan_from_args(build_parser().parse_args(["--quick", "--only", "scaling_cuda_per_gpu"]))
    threads = torch.get_num_threads()
    said: list[str] = []
    try:
        r = asyncio.run(run_bench(plan, said.append))
    finally:
        torch.set_num_threads(threads)
    assert r["errors"] == {} and r["settings"]["only"] == ["scaling_cuda_per_gpu"]
    assert set(FIGURES) & set(r) == {"scaling_cuda_per_gpu"}
    assert said == ["measuring tokens/s per GPU, a rank on each…"]
    assert row(table(r), "scaling_cuda_per_gpu").endswith(r["scaling_cuda_per_gpu"]["reason"])


def test_a_quick_run_of_two_ranks_against_one_on_the_cpu():
    """The real thing, --quick: a torchrun job of 2 ranks (gloo) and a single engine, 1 thread
    each, one A/B round; the figure is a positive number and its row names the target."""
    plan = Plan.quick_plan()
    plan.overhead_warmup_s, plan.overhead_window_s = 0.2, 0.5  # steps of a few ms: plenty
    f = asyncio.run(measure_scaling_cpu(plan))
    assert f["world_size"] == 2 and f["threads"] == 1 and f["device"] == "cpu"
    assert len(f["runs"]) == 1 and f["median"] > 0 and f["median"] == f["runs"][0]
    assert f["one_tokens_per_s"] > 0 and f["job_tokens_per_s"] > 0
    assert f["target"] == 1.7 and isinstance(f["met"], bool)
    assert f["median"] == pytest.approx(f["job_tokens_per_s"] / f["one_tokens_per_s"], rel=2e-3)
    line = row(table({**HEAD, "scaling_cpu_2x1": f}), "scaling_cpu_2x1")
    assert "≥ 1.7" in line and line.endswith(("ok", "MISSED"))
