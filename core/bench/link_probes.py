"""link_bytes_per_s: what a client on an engine's socket receives while the engine trains.

One detached engine (as ``torchdeck`` starts it: nice 10, the bench's torch threads) and three
plain clients on its socket, all ``role="ui"``: one without a budget (the local app), one with
``Plan.link_budget`` bytes per second (what ``--remote`` asks for over ssh) and one with
``Plan.link_slow_budget`` (a slow link: a budget every case here goes over, so its effect
shows on any machine). Each client's socket reader is wrapped to note every line's arrival
time and size (``engines.CountingClient``); nothing is added to the engine. The engine trains
as the app starts it (its report interval and sample length), first ``gpt`` at the preset's
defaults (the plan's model overrides with ``--quick``), then ``mini`` at its defaults (fast
steps: many losses in each report); after the first report and a warm-up, the clients count
over the same window, side by side."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from core.bench.engines import CountingClient, private_runtime, shutdown, spawn
from core.bench.plan import APP_REPORT_INTERVAL_S, APP_SAMPLE_CHARS, TARGETS, Plan
from core.contract.settings import GPT, MINI

PLAIN, BUDGETED, SLOW = "plain", "budgeted", "slow"


async def link_window(
    clients: dict[str, CountingClient], configure: dict, warmup: float, window: float
) -> dict[str, dict]:
    """Configure and start a run with the first of ``clients``; after its first report and
    ``warmup`` seconds, count what each client receives for ``window`` seconds; stop the run.
    For each client: bytes/s, reports/s, bytes and losses per report, steps/s covered and the
    widest ``stride`` (losses averaged to fit a budget)."""
    control = next(iter(clients.values()))
    await control.request("configure", configure)
    await control.request(
        "train_start", {"report_interval": APP_REPORT_INTERVAL_S, "sample_chars": APP_SAMPLE_CHARS}
    )
    await control.next_event("train_progress", timeout=120)
    await asyncio.sleep(warmup)
    for client in clients.values():
        client.drain_events()
    start = time.perf_counter()
    await asyncio.sleep(window)
    end = time.perf_counter()
    events = {name: client.drain_events() for name, client in clients.items()}
    await control.request("train_stop")
    await asyncio.sleep(0.2)  # the stop's train_state reaches each client
    out = {}
    for name, client in clients.items():
        lines, size = client.received(start, end)
        reports = [e.data for e in events[name] if e.event == "train_progress"]
        losses = sum(len(r.get("losses") or []) for r in reports)
        steps = sum(len(r.get("losses") or []) * (r.get("stride") or 1) for r in reports)
        seconds = end - start
        out[name] = {
            "bytes_per_s": round(size / seconds, 1),
            "lines": lines,
            "reports_per_s": round(len(reports) / seconds, 2),
            "bytes_per_line": round(size / lines) if lines else 0,
            "max_line_bytes": max((n for t, n in client.lines if start <= t < end), default=0),
            "losses_per_report": round(losses / len(reports), 1) if reports else 0,
            "steps_per_s": round(steps / seconds, 1),
            "stride": max((r.get("stride") or 1 for r in reports), default=1),
            "budget": client.budget,
            "window_s": round(seconds, 3),
        }
        client.drain_events()
    return out


async def measure_link(plan: Plan, workdir: Path) -> dict:
    """link_bytes_per_s: ``gpt`` at its defaults to a client without a budget; beside it the
    same with the remote budget and with a slow link's, and all three for ``mini``."""
    gpt = {
        "preset": GPT,
        "device": "cpu",
        "steps": 1_000_000,
        "model": plan.model,
        "train": plan.train,
    }
    mini = {"preset": MINI, "device": "cpu", "steps": 1_000_000}
    with private_runtime(workdir / "sockets-link"):
        path = await spawn(workdir / "engine-link", nice=10, threads=plan.threads)
        clients = {
            name: CountingClient(socket_path=str(path), role="ui", budget=budget)
            for name, budget in (
                (PLAIN, 0),
                (BUDGETED, plan.link_budget),
                (SLOW, plan.link_slow_budget),
            )
        }
        try:
            for client in clients.values():
                await client.start()
            runs = {}
            for name, configure in ((GPT, gpt), (MINI, mini)):
                runs[name] = await link_window(
                    clients, configure, plan.link_warmup_s, plan.link_window_s
                )
        finally:
            for client in clients.values():
                await client.close(shutdown=False)
            await shutdown(path)
    value = runs[GPT][PLAIN]["bytes_per_s"]
    figure = {
        "value": value,
        "target": TARGETS["link_bytes_per_s"],
        "met": value <= TARGETS["link_bytes_per_s"],
        "budget": plan.link_budget,
        "slow_budget": plan.link_slow_budget,
        "report_interval_s": APP_REPORT_INTERVAL_S,
        "window_s": plan.link_window_s,
    }
    for preset in (GPT, MINI):
        figure[preset] = runs[preset][PLAIN]
        figure[f"{preset}_budgeted"] = runs[preset][BUDGETED]
        figure[f"{preset}_slow"] = runs[preset][SLOW]
    figure.update(model=plan.model, train=plan.train)
    return figure
