"""One bench run: every phase in turn, each failure recorded against its figures."""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from pathlib import Path

from core.bench.app_probes import (
    measure_in_app,
    measure_large_lag,
    measure_rss_growth,
    measure_start,
)
from core.bench.attach_probes import measure_attach
from core.bench.bare_loop import BareLoop
from core.bench.cuda import measure_cuda
from core.bench.dist_probes import CPU_RANKS, CPU_THREADS, measure_scaling_cpu, measure_scaling_cuda
from core.bench.engine_probes import measure_overhead, measure_predict, measure_quality
from core.bench.engines import detached_client, private_runtime
from core.bench.feel_probes import FEEL_FIGURES, FEEL_SETTINGS, measure_feel
from core.bench.link_probes import measure_link
from core.bench.plan import Plan
from core.contract.settings import GPT
from core.errors import TorchdeckError
from core.i18n import _


async def run_bench(plan: Plan, say) -> dict:
    import torch

    from core.data import DEFAULT_CORPUS

    # --threads given: every engine and bare loop sets it; not given: none does, as the app and
    # torchdeck train leave torch's own (setting even the same count explicitly measured slower
    # for bf16 steps here: 90 ms against 70 ms for gpt on 2 cores)
    if plan.threads:
        torch.set_num_threads(plan.threads)
    result: dict = {
        "bench": 1,
        "quick": plan.quick,
        "machine": {
            "cpu_cores": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "threads_set": bool(plan.threads),  # --threads given (else torch's own count)
            "device": "cpu",
            # other work on the machine: figures from a busy run are to be read so
            "load_avg_1min": {"start": _load(), "end": None},
        },
        "settings": {
            "preset": GPT,
            "corpus": DEFAULT_CORPUS,
            "model": plan.model,
            "train": plan.train,
            "rounds": plan.rounds,
            "warmup_s": plan.warmup_s,
            "window_s": plan.window_s,
            "overhead_rounds": plan.overhead_rounds,
            "overhead_window_s": plan.overhead_window_s,
            # every engine is a detached one on its Unix socket, as torchdeck runs it
            "engine": "detached, on a Unix socket",
            "only": list(plan.only),  # --only: the figures measured (empty: every one)
            # the feel figures: the app as a person runs it (its gpt preset at its defaults,
            # --quick or not), keys written to its terminal, timed to the screen
            "feel": FEEL_SETTINGS,
        },
    }
    errors: dict[str, str] = {}

    async def phase(keys: tuple[str, ...], what: str, work):
        if not plan.wants(*keys):
            return
        say(_("measuring {what}…").format(what=what))
        try:
            values = await work()
        except (TorchdeckError, OSError, RuntimeError, ValueError, KeyError, TimeoutError) as exc:
            text = (
                str(exc)
                if not isinstance(exc, TorchdeckError)
                else (f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
            )
            for key in keys:
                result[key] = {"error": text}
                errors[key] = text
            return
        for key, value in zip(keys, values):
            result[key] = value
            if isinstance(value, dict) and "error" in value:  # a part failed, the rest ran
                errors[key] = value["error"]

    bare = (
        BareLoop(plan.model, {**plan.train, "eval_interval": 0, "steps": 1_000_000}, plan.threads)
        if plan.wants("train_overhead", "train_in_app", "ui_lag_ms_p99")
        else None
    )
    # short: a socket's path must fit in 108 bytes
    workdir = Path(tempfile.mkdtemp(prefix="tdbench-"))
    try:
        await _phases(plan, phase, result, bare, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["errors"] = errors
    result["machine"]["load_avg_1min"]["end"] = _load()
    return result


async def _phases(plan: Plan, phase, result: dict, bare: BareLoop | None, workdir: Path) -> None:
    with private_runtime(workdir / "sockets"):
        await _headless(plan, phase, result, bare, workdir)

    async def link():
        return (await measure_link(plan, workdir),)

    await phase(("link_bytes_per_s",), _("bytes a client on the socket receives"), link)
    await _in_app(plan, phase, bare, workdir)

    async def attach():
        return (await measure_attach(plan, workdir),)

    await phase(
        ("attach_s",),
        _("torchdeck attach on a {steps}-step run").format(steps=plan.attach_steps),
        attach,
    )

    async def cuda():
        return (await measure_cuda(plan),)

    await phase(("cuda",), "CUDA", cuda)

    async def scaling_cpu():
        return (await measure_scaling_cpu(plan),)

    await phase(
        ("scaling_cpu_2x1",),
        _("{ranks} ranks × {threads} thread against 1 on the CPU (torchrun)").format(
            ranks=CPU_RANKS, threads=CPU_THREADS
        ),
        scaling_cpu,
    )

    async def scaling_cuda():
        return (await measure_scaling_cuda(plan),)

    await phase(("scaling_cuda_per_gpu",), _("tokens/s per GPU, a rank on each"), scaling_cuda)


async def _headless(plan: Plan, phase, result: dict, bare: BareLoop | None, workdir: Path) -> None:
    """The engine without the app, through a client on its socket."""
    keys = ("train_overhead", "speedup_vs_eager", "predict_ms", "quality")
    if not plan.wants(*keys):
        return
    client = detached_client(workdir / "engine-headless", nice=0, threads=plan.threads)

    async def start():
        await client.start()
        return ()

    await phase(keys, _("a detached engine's start-up"), start)  # its failure is each figure's
    if "error" in result.get("train_overhead", {}):
        return
    try:

        async def overhead():
            if not plan.wants("speedup_vs_eager"):
                return (await measure_overhead(client, bare, plan),)
            eager = BareLoop(*bare.settings, precision="fp32", compile=False)
            return await measure_overhead(client, bare, plan, eager=eager)

        await phase(
            ("train_overhead", "speedup_vs_eager"),
            _("the engine's training loop against bare loops, as it computes and in plain fp32"),
            overhead,
        )
        step_ms = result.get("train_overhead", {}).get("step_ms") or 100.0

        async def predict():
            return (await measure_predict(client, plan, step_ms),)

        await phase(("predict_ms",), _("prediction latency, idle and while training"), predict)

        async def quality():
            return (await measure_quality(client, plan),)

        await phase(
            ("quality",),
            _("quality: {steps} gpt steps").format(steps=plan.quality_steps),
            quality,
        )
    finally:
        await client.close(shutdown=True)


async def _in_app(plan: Plan, phase, bare: BareLoop | None, workdir: Path) -> None:
    """The real app in a pseudo-terminal: training with it open, start-up, memory."""
    rss_idle: dict = {}

    async def in_app():
        figure, lag, idle = measure_in_app(bare, plan, workdir)
        rss_idle.update(idle or {})
        return figure, lag

    await phase(("train_in_app", "ui_lag_ms_p99"), _("training with the app open"), in_app)

    async def large():
        return (measure_large_lag(plan, workdir),)

    await phase(("ui_lag_ms_p99_200x50",), _("training with the app open at 200×50"), large)

    async def start():
        return measure_start(plan, workdir)

    await phase(("first_paint_s", "engine_ready_s", "import_torch_s"), _("start-up"), start)

    async def rss():
        growth = measure_rss_growth(plan, workdir)
        return (
            {
                "ui_idle": _mb(rss_idle.get("ui")),
                "engine_idle": _mb(rss_idle.get("engine")),
                "ui_before": _mb(growth["before"]["ui"]),
                "engine_before": _mb(growth["before"]["engine"]),
                "ui_after": _mb(growth["after"]["ui"]),
                "engine_after": _mb(growth["after"]["engine"]),
                "steps": growth["steps"],
                "growth_model": growth["model"],
            },
        )

    await phase(("rss_mb",), _("memory over {steps} steps").format(steps=plan.rss_steps), rss)

    feel = tuple(key for key in FEEL_FIGURES if plan.wants(key))

    async def feel_figures():
        figures = measure_feel(plan, workdir)
        return tuple(figures[key] for key in feel)

    if feel:
        await phase(feel, _("what a person feels: keys to the screen, in the app"), feel_figures)


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _mb(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
