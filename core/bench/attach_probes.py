"""attach_s: ``torchdeck attach`` on a detached engine that holds a long run, from the app's
start to its first frame with the loss chart drawn from the run's history.

The engine (``mini``, small and fast: ``Plan.attach_model`` and ``attach_train``, one torch
thread) trains a run to exactly ``Plan.attach_steps`` steps and is left holding it, finished,
with no client; the app (``tui.bench_probe --mode attach``, the real app as ``torchdeck attach
ID`` opens it) then attaches ``Plan.attach_runs`` times in a pseudo-terminal, each time quitting
and leaving the engine as it was. The engine is shut down at the end, whatever happened."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from core.bench.app_probes import probe
from core.bench.engines import private_runtime, shutdown, spawn
from core.bench.plan import TARGETS, Plan
from core.bench.stats import spread
from core.client import EngineClient
from core.contract.settings import MINI
from core.errors import TorchdeckError
from core.i18n import _


async def train_run(path: Path, plan: Plan) -> dict:
    """Train the run the app will attach to, to exactly ``plan.attach_steps`` steps, then leave
    the engine holding it. Its configuration and how long it took."""
    client = EngineClient(socket_path=str(path), role="ui")
    await client.start()
    try:
        info = await client.request(
            "configure",
            {
                "preset": MINI,
                "device": "cpu",
                "steps": plan.attach_steps,
                "model": plan.attach_model,
                "train": plan.attach_train,
            },
        )
        started = time.perf_counter()
        await client.request("train_start", {"report_interval": 1.0})
        while True:
            ev = await client.next_event("train_state", timeout=plan.attach_train_timeout_s)
            if ev.data["state"] in ("finished", "diverged", "stopped", "paused"):
                break
        if ev.data["state"] != "finished" or ev.data.get("step") != plan.attach_steps:
            raise TorchdeckError(
                _("the run to attach to ended {state} at step {step}").format(
                    state=ev.data["state"], step=ev.data.get("step")
                ),
                _("it should finish at step {step}").format(step=plan.attach_steps),
            )
        return {
            "preset": MINI,
            "params": info["params"],
            "model": info["model_config"],
            "batch_size": info["train_config"]["batch_size"],
            "train_s": round(time.perf_counter() - started, 1),
        }
    finally:
        await client.close(shutdown=False)  # the engine and its finished run stay


async def measure_attach(plan: Plan, workdir: Path) -> dict:
    """attach_s: the median over ``plan.attach_runs`` launches of the app on the engine."""
    with private_runtime(workdir / "sockets-attach"):
        path = await spawn(workdir / "engine-attach", nice=0, threads=1)
        try:
            run = await train_run(path, plan)
            results = []
            for r in range(plan.attach_runs):
                result = probe(
                    ["--mode", "attach", "--socket", str(path), "--timeout", "120"],
                    workdir,
                    f"attach{r}",
                    timeout=180,
                )
                # the history comes thinned to the screen (each run of steps keeps its lowest
                # and highest loss), so the last point is one of the run's last few steps
                last = result.get("chart_last_step") or 0
                if not plan.attach_steps * 0.99 <= last <= plan.attach_steps:
                    raise TorchdeckError(
                        _("the attached app's chart ends at step {step}").format(step=last),
                        _("the run's history goes to step {step}").format(step=plan.attach_steps),
                    )
                results.append(result)
        finally:
            await shutdown(path)
    figure = spread([r["attach_s"] for r in results])
    figure.update(
        target=TARGETS["attach_s"],
        met=figure["median"] <= TARGETS["attach_s"],
        steps=plan.attach_steps,
        chart_points=results[0]["chart_points"],
        chart_val_points=results[0]["chart_val_points"],
        chart_steps=[results[0]["chart_first_step"], results[0]["chart_last_step"]],
        first_paint_s=round(statistics.median(r["first_paint_s"] for r in results), 4),
        engine_ready_s=round(statistics.median(r["engine_ready_s"] for r in results), 4),
        run=run,
    )
    return figure
