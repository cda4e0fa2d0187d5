"""The accelerator figures: tokens/s, model FLOPs utilisation against the bf16 peak, and the
engine's overhead on a larger gpt, on CUDA."""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path

from core.bench.bare_loop import BareLoop
from core.bench.engine_probes import measure_overhead
from core.bench.engines import detached_client, private_runtime
from core.bench.plan import Plan
from core.i18n import _

# bf16 dense peak, TFLOPS, by a piece of the CUDA device name (first match wins)
BF16_PEAK_TFLOPS = (
    ("GH200", 989.0),
    ("H200", 989.0),
    ("H100 NVL", 835.0),
    ("H100 PCIe", 756.0),
    ("H100", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
)
# the CUDA figures' model: gpt at 6 layers, 6 heads, 384 wide, context 256, batch 64
CUDA_MODEL = {"n_layer": 6, "n_head": 6, "n_embd": 384, "block_size": 256}
CUDA_TRAIN = {"batch_size": 64}


def bf16_peak_tflops(name: str) -> float | None:
    for piece, peak in BF16_PEAK_TFLOPS:
        if piece.lower() in name.lower():
            return peak
    return None


def flops_per_token(params: int, n_layer: int, block_size: int, n_embd: int) -> float:
    """Training FLOPs per token: 6·N for the weights (forward 2, backward 4) plus the attention
    scores and their use, 12·L·T·d (PaLM appendix B; nanoGPT's estimate_mfu)."""
    return 6 * params + 12 * n_layer * block_size * n_embd


async def measure_cuda(plan: Plan) -> dict:
    """tokens/s, MFU against the bf16 peak and the overhead ratio on a larger gpt, on CUDA."""
    import torch

    if not torch.cuda.is_available():
        return {"measured": False, "reason": _("not measured (no CUDA device)")}
    model = dict(plan.model) if plan.quick else dict(CUDA_MODEL)
    return await measure_device(plan, "cuda", torch.cuda.get_device_name(0), model, CUDA_TRAIN)


async def measure_device(plan: Plan, device: str, name: str, model: dict, train: dict) -> dict:
    """The engine against the bare loop on ``device`` for one gpt size, and the model FLOPs
    utilisation of the engine's rate where the device's bf16 peak is known."""
    train = {**train, "eval_interval": 0, "steps": 1_000_000}
    bare = BareLoop(model, train, plan.threads, device=device)
    with tempfile.TemporaryDirectory(prefix="tdcuda-") as folder:
        with private_runtime(Path(folder) / "sockets"):
            client = detached_client(Path(folder) / "engine", nice=0, threads=plan.threads)
            try:
                await client.start()
                sub = Plan(**{**asdict(plan), "model": model, "train": train})
                overhead = await measure_overhead(client, bare, sub, device=device)
            finally:
                await client.close(shutdown=True)
    cfg = bare.model.config
    params = sum(p.numel() for p in bare.model.parameters()) - bare.model.wpe.weight.numel()
    per_token = flops_per_token(params, cfg.n_layer, cfg.block_size, cfg.n_embd)
    peak = bf16_peak_tflops(name)
    rate = overhead["engine_tokens_per_s"]
    del overhead["target"], overhead["met"]
    return {
        "measured": True,
        "device": name,
        "model": {**model, "batch_size": bare.config.batch_size},
        "params": params,
        "tokens_per_s": rate,
        "flops_per_token": per_token,
        "bf16_peak_tflops": peak if peak else "unknown",
        "mfu": round(per_token * rate / (peak * 1e12), 4) if peak else None,
        "overhead": overhead,
    }
