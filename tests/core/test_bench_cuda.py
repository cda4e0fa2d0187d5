"""``torchdeck bench``'s accelerator figures: the FLOPs arithmetic, the bf16 peaks, and the CUDA
code path run on the CPU."""

from __future__ import annotations

from core.bench.cuda import bf16_peak_tflops, flops_per_token, measure_device
from core.bench.plan import Plan


def test_flops_and_bf16_peaks():
    # 6·N + 12·L·T·d: N = 10M, 6 layers, context 256, width 384
    assert flops_per_token(10_000_000, 6, 256, 384) == 60_000_000 + 7_077_888
    assert bf16_peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert bf16_peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert bf16_peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert bf16_peak_tflops("NVIDIA GeForce GTX 1080") is None


def test_the_accelerator_figures_run_end_to_end_on_the_cpu():
    """The CUDA code path (engine against bare loop, FLOPs, MFU) on the CPU with a tiny gpt:
    no GPU here, so this is what keeps that path working. No peak is known for a CPU."""
    import asyncio

    import torch

    threads = torch.get_num_threads()
    plan = Plan.quick_plan()
    plan.threads, plan.overhead_warmup_s, plan.overhead_window_s = 1, 0.2, 0.5
    model = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 16}
    try:
        r = asyncio.run(measure_device(plan, "cpu", "cpu", model, {"batch_size": 4}))
    finally:
        torch.set_num_threads(threads)
    assert r["measured"] is True and r["device"] == "cpu"
    assert r["model"] == {**model, "batch_size": 4}
    assert r["tokens_per_s"] > 0 and r["overhead"]["median"] > 0
    assert r["bf16_peak_tflops"] == "unknown" and r["mfu"] is None
    # N excludes the position table: 1 block of width 32 plus the tied [V, 32] embedding
    assert r["flops_per_token"] == 6 * r["params"] + 12 * 1 * 16 * 32
