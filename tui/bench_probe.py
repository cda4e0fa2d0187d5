"""The app-side probe of ``torchdeck bench``: the real app, run in a pseudo-terminal by the bench,
measuring itself while its engine trains.

Imports no torch (like the rest of ``tui``). It is the normal app with three additions: a 10 ms
asyncio timer whose drift is the event loop's lag, a record of every ``train_progress`` event's
arrival time and step, and a script that presses ``s`` on the Train pane once the model is
configured, then quits and writes what it measured as JSON to ``--out``.

Modes:
- ``train``: train for ``--warmup`` + ``--window`` seconds of progress events; report the
  engine's tokens/s over the window (as seen by the app) and the lag samples taken in it.
- ``rss``: train to ``--steps`` (the run's total) and report the resident memory of the app and
  of the engine, idle before the start and idle after the run has finished.

    python -m tui.bench_probe --out result.json --mode train --window 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

from core.client import EngineClient
from core.contract import SessionInfo, TrainProgress, TrainState
from core.contract.settings import GPT
from tui.app import TorchdeckApp
from tui.messages import EngineEventReceived

TIMER_S = 0.010  # the lag probe's period: 10 ms


def rss_mb(pid: int | str = "self") -> float | None:
    """Resident memory of a process in MiB, from /proc (None where there is no /proc)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cpu_seconds() -> float:
    """CPU time this process has used (all its threads), in seconds."""
    times = os.times()
    return times.user + times.system


class ProbeApp(TorchdeckApp):
    def __init__(self, options: argparse.Namespace) -> None:
        super().__init__(
            preset=GPT,
            corpus=options.corpus,
            device=options.device,
            client=EngineClient(nice=options.nice, threads=options.threads),
        )
        # configure (sent by the app when the engine is ready) carries these overrides too
        self.initial["model"] = json.loads(options.model)
        self.initial["train"] = json.loads(options.train)
        if options.steps:
            self.initial["steps"] = options.steps
        self.options = options
        self.result: dict = {"mode": options.mode}
        self.progress: list[tuple[float, int]] = []  # (arrival time, step)
        self.lag_ms: list[float] = []
        self.measuring = False
        self.tokens_per_step = 0
        self._configured = asyncio.Event()
        self._finished = asyncio.Event()
        self._progressed = asyncio.Event()

    def model_configured(self, info: SessionInfo) -> None:
        super().model_configured(info)
        batch_size = info.train_config["batch_size"]
        self.tokens_per_step = batch_size * info.block_size
        self.result["model"] = {
            "params": info.params,
            "model_config": info.model_config,
            "batch_size": batch_size,
        }
        self._configured.set()

    def on_engine_event_received(self, message: EngineEventReceived) -> None:
        # The app's own handler runs as well (Textual calls each class's handler in the MRO).
        data = message.data
        if isinstance(data, TrainProgress) and data.tokens_per_s is not None:
            self.progress.append((time.perf_counter(), data.step))
            self._progressed.set()
        elif isinstance(data, TrainState) and data.state in (
            "finished",
            "diverged",
            "stopped",
            "paused",
        ):
            self._finished.set()

    async def on_ready(self) -> None:
        asyncio.create_task(self._lag_timer())
        asyncio.create_task(self._script())

    async def _lag_timer(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(TIMER_S)
            if self.measuring:
                self.lag_ms.append((time.perf_counter() - started - TIMER_S) * 1000)

    async def _script(self) -> None:
        try:
            await asyncio.wait_for(self._run(), self.options.timeout)
        except Exception as exc:  # the bench reports it; the probe must still exit
            self.result["error"] = f"{type(exc).__name__}: {exc}"
        self._write()
        await self.action_quit()

    def _rss(self) -> dict:
        engine_pid = self.engine.client.pid
        return {"ui": rss_mb(), "engine": rss_mb(engine_pid) if engine_pid else None}

    async def _run(self) -> None:
        await self._configured.wait()
        await asyncio.sleep(1.0)  # idle after ready: let start-up allocations settle
        self.result["rss_idle_mb"] = self._rss()
        self.simulate_key("s")  # the Train pane has the focus: start training
        if self.options.mode == "rss":
            await self._finished.wait()
            await asyncio.sleep(1.0)
            self.result["rss_after_mb"] = self._rss()
            self.result["steps"] = self.progress[-1][1] if self.progress else 0
            return
        await self._progressed.wait()
        await asyncio.sleep(self.options.warmup)
        self.measuring = True
        first = len(self.progress)
        cpu_before, wall_before = _cpu_seconds(), time.perf_counter()
        await asyncio.sleep(self.options.window)
        self.measuring = False
        ui_cores = (_cpu_seconds() - cpu_before) / (time.perf_counter() - wall_before)
        window = self.progress[max(0, first - 1) :]  # from the last event before the window
        if len(window) < 2:
            raise RuntimeError("fewer than two progress events in the window; lengthen it")
        (t0, s0), (t1, s1) = window[0], window[-1]
        self.result.update(
            steps=s1 - s0,
            seconds=t1 - t0,
            tokens_per_s=(s1 - s0) * self.tokens_per_step / (t1 - t0),
            lag_ms=self.lag_ms,
            rss_end_mb=self._rss(),
            ui_cpu_cores=ui_cores,
        )

    def _write(self) -> None:
        with open(self.options.out, "w", encoding="utf-8") as fh:
            json.dump(self.result, fh)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tui.bench_probe",
        description="The app measuring itself for torchdeck bench.",
    )
    parser.add_argument("--out", required=True, help="where to write the JSON result")
    parser.add_argument("--mode", choices=("train", "rss"), default="train")
    parser.add_argument("--model", default="{}", help="gpt model overrides, JSON")
    parser.add_argument("--train", default="{}", help="training overrides, JSON")
    parser.add_argument("--steps", type=int, default=0, help="total steps of the run")
    parser.add_argument("--corpus", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="the engine's torch threads")
    parser.add_argument("--nice", type=int, default=10, help="the engine's nice (app: 10)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    parser.add_argument("--window", type=float, default=5.0, help="seconds measured")
    parser.add_argument("--timeout", type=float, default=240.0, help="give up after this")
    options = parser.parse_args(argv)
    ProbeApp(options).run()
    return 0 if os.path.exists(options.out) else 1


if __name__ == "__main__":
    sys.exit(main())
