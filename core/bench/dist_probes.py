"""The scaling figures: a torchrun job of several ranks (``core.transport.dist_engine_command``)
against one engine, tokens/s of the whole job over tokens/s of one rank alone.

- ``scaling_cpu_2x1``: 2 ranks × 1 thread against 1 rank × 1 thread on the CPU (gloo): the
  job's global tokens/s over the single engine's. Each rank trains a micro-batch of the same
  size as the single engine's (``grad_accum`` 0: one per rank), so perfect scaling is 2.
- ``scaling_cuda_per_gpu``: a rank on each GPU (nccl) against one engine on one GPU: the job's
  tokens/s per GPU over the single GPU's, so perfect scaling is 1. Skipped, with the reason,
  without CUDA or with fewer than 2 GPUs.

Both engines are pipe children, the job's rank 0 speaking on its stdin/stdout as a single
engine does (a torchrun job is not a detached engine); both start once, are configured once
and pause between their windows. A (one rank) and B (the job) windows alternate, ABBA, so
that load drifting on the machine hits both; the ratio is taken round by round and its median
quoted. The first reports of each window are discarded (``engine_window``'s warm-up).

The model is the headless training figure's (``Plan.model``: the gpt preset's defaults on the
CPU; ``cuda.CUDA_MODEL`` on GPUs). It is large enough that a step is mostly compute, not the
per-step all-reduce: at 4 layers × 128 wide, context 64 and batch 32, a rank's step is ~150 ms
of one core, while DDP's all-reduce of the 0.8 M gradients (3 MB) and the report's loss average
cost a few ms over gloo on one box (on 2 cores: 148 ms a step alone, ~170 ms in the job). With
``--quick``'s tiny gpt a step is 1–3 ms and the collectives are most of it: the ratio there
checks the plumbing and means nothing.

Imports no torch: the CUDA figure asks torch how many GPUs there are when it runs, as
``cuda.measure_cuda`` does.
"""

from __future__ import annotations

import asyncio
import statistics

from core.bench.cuda import CUDA_MODEL, CUDA_TRAIN
from core.bench.engine_probes import configure, engine_window
from core.bench.plan import TARGETS, Plan
from core.bench.stats import ratios, spread
from core.client import EngineClient
from core.errors import TorchdeckError
from core.i18n import _
from core.transport import dist_engine_command, engine_command

CPU_RANKS = 2  # scaling_cpu_2x1: 2 ranks …
CPU_THREADS = 1  # … of 1 thread each, against 1 rank of 1 thread
START_TIMEOUT_S = 180.0  # torchrun, then every rank importing torch, on a busy small machine


def cuda_skip_reason(available: bool, count: int) -> str | None:
    """Why the per-GPU figure cannot be measured here, or None when it can."""
    if not available or count < 1:
        return _("skipped (no CUDA device)")
    if count < 2:
        return _("skipped ({count} CUDA device: the figure needs 2 or more)").format(count=count)
    return None


def scaling_figure(
    one: list[float],
    job: list[float],
    world: int,
    target: float,
    per_rank: bool,
    step_s: tuple[list[float], list[float]] | None = None,
) -> dict:
    """The figure from the rounds' tokens/s: ``one`` the single engine's, ``job`` the job's
    (global, all ranks), round by round. The ratio is the job's rate over the single engine's,
    or with ``per_rank`` the job's rate per rank over it."""
    if not one or len(one) != len(job):
        raise ValueError(f"{len(one)} single-engine windows against {len(job)} of the job")
    scale = world if per_rank else 1
    figure = spread(ratios([rate / scale for rate in job], one))
    figure.update(
        world_size=world,
        one_tokens_per_s=round(statistics.median(one)),
        job_tokens_per_s=round(statistics.median(job)),
        per_rank_tokens_per_s=round(statistics.median(job) / world),
        target=target,
    )
    if step_s is not None:
        figure["one_step_ms"] = round(statistics.median(step_s[0]) * 1000, 2)
        figure["job_step_ms"] = round(statistics.median(step_s[1]) * 1000, 2)
    figure["met"] = figure["median"] >= figure["target"]
    return figure


async def measure_scaling(
    plan: Plan,
    device: str,
    world: int,
    threads: int,
    model: dict,
    train: dict,
    target: float,
    per_rank: bool,
) -> dict:
    """A job of ``world`` ranks against one engine on ``device``, ``threads`` torch threads
    each, windows alternating over ``plan.overhead_rounds`` rounds (the headless figure's)."""
    one = EngineClient(engine_command(nice=0, threads=threads))
    job = EngineClient(dist_engine_command(world, nice=0, threads=threads))
    clients = {"one": one, "job": job}
    settings = {**train, "eval_interval": 0}

    async def ready(client: EngineClient) -> dict:
        await client.start(timeout=START_TIMEOUT_S)
        return await configure(client, model, settings, device, steps=1_000_000)

    try:  # side by side: the single engine configures while torchrun starts its ranks
        infos = dict(zip(clients, await _all(ready(c) for c in clients.values())))
        if infos["job"].get("world_size") != world:
            raise TorchdeckError(
                _("the torchrun job trains on {ranks} ranks, not {world}").format(
                    ranks=infos["job"].get("world_size"), world=world
                ),
                _("see core.transport.dist_engine_command"),
            )
        rates: dict[str, list[float]] = {"one": [], "job": []}
        step_s: dict[str, list[float]] = {"one": [], "job": []}
        warmup, window = plan.overhead_warmup_s, plan.overhead_window_s
        for r in range(plan.overhead_rounds):
            for which in ("one", "job") if r % 2 == 0 else ("job", "one"):
                rate, per_step = await engine_window(
                    clients[which],
                    bool(rates[which]),
                    warmup,
                    window,
                    infos[which]["tokens_per_step"],  # the job's: all ranks' micro-batches
                )
                rates[which].append(rate)
                step_s[which].append(per_step)
        for client in clients.values():
            await client.request("train_stop")
    finally:  # the job's rank 0 tells the other ranks to end, then torchrun ends
        await asyncio.gather(
            *(c.close(timeout=30.0, shutdown=True) for c in clients.values()),
            return_exceptions=True,
        )
    figure = scaling_figure(
        rates["one"], rates["job"], world, target, per_rank, (step_s["one"], step_s["job"])
    )
    figure.update(device=device, threads=threads, model=model, train=train)
    return figure


async def _all(coroutines) -> list:
    """Await them side by side (the engines start and configure at once); the first failure
    is raised once every one has finished, so none is left running behind the cleanup."""
    results = await asyncio.gather(*coroutines, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


async def measure_scaling_cpu(plan: Plan) -> dict:
    """scaling_cpu_2x1: 2 ranks × 1 thread against 1 rank × 1 thread, global tokens/s."""
    return await measure_scaling(
        plan,
        "cpu",
        CPU_RANKS,
        CPU_THREADS,
        plan.model,
        plan.train,
        TARGETS["scaling_cpu_2x1"],
        per_rank=False,
    )


async def measure_scaling_cuda(plan: Plan) -> dict:
    """scaling_cuda_per_gpu: a rank on each GPU against one GPU alone, tokens/s per GPU."""
    import torch

    available = torch.cuda.is_available()
    count = torch.cuda.device_count() if available else 0
    reason = cuda_skip_reason(available, count)
    if reason:
        return {"measured": False, "reason": reason}
    model = dict(plan.model) if plan.quick else dict(CUDA_MODEL)
    train = dict(plan.train) if plan.quick else dict(CUDA_TRAIN)
    # each rank its share of the CPU's threads (it feeds its GPU), and the single engine the same
    threads = max(1, (plan.threads or torch.get_num_threads()) // count)
    figure = await measure_scaling(
        plan, "cuda", count, threads, model, train, TARGETS["scaling_cuda_per_gpu"], True
    )
    return {"measured": True, "gpu": torch.cuda.get_device_name(0), **figure}
