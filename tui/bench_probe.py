"""The app-side probe of ``torchdeck bench``: the real app, run in a pseudo-terminal by the bench,
measuring itself.

Imports no torch (like the rest of ``tui``). It is the normal app, over an engine on a Unix socket
as ``torchdeck`` runs it (a detached engine it spawns, or one it attaches to), with a few
additions: a 10 ms asyncio timer whose drift is the event loop's lag (run in a window of its
own), a record of every ``train_progress`` event's arrival time and step, and a script that
presses ``s`` on the Train pane once the model is configured, then quits (shutting down the
engine it spawned) and writes what it measured as JSON to ``--out``. As in ``torchdeck``, times
count from the process's start and the garbage collector is off while the app's modules load
(``main`` imports them).

Modes:
- ``train``: train for ``--warmup`` + 2 × ``--window`` seconds of progress events; report the
  engine's tokens/s over the first window (as seen by the app, no probe timer running) and the
  lag samples taken in the second (the timer's own wake-ups slowed the engine by up to a
  fifth on 2 cores).
- ``rss``: train to ``--steps`` (the run's total) and report the resident memory of the app and
  of the engine, idle before the start and idle after the run has finished.
- ``attach``: attach to the engine at ``--socket`` (``torchdeck attach``) and report
  ``attach_s``: from the process's start to the first frame painted after the attach reply was
  drawn, its loss chart plotted from the run's history; then leave the engine as it was.

    python -m tui.bench_probe --out result.json --mode train --window 5
    python -m tui.bench_probe --out result.json --mode attach --socket PATH
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time

TIMER_S = 0.010  # the lag probe's period: 10 ms
IDLE_TIMEOUT_S = 30.0  # the spawned engine, if this probe dies, ends after this long idle


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


def engine_client(options: argparse.Namespace):
    """The app's engine as ``torchdeck`` makes it: a detached engine of its own (here in
    ``--run-dir``), or, with ``--socket``, the running one it attaches to."""
    from core.client import EngineClient

    if options.mode == "attach":
        return EngineClient(socket_path=options.socket)
    from core.transport import spawn_detached

    return EngineClient(
        spawn=lambda: spawn_detached(
            nice=options.nice,
            threads=options.threads,
            run_dir=options.run_dir,
            idle_timeout=IDLE_TIMEOUT_S,
        )
    )


def build_app(options: argparse.Namespace, started_at: float):
    """The probe app. Its class is made here, not at import: the app's modules load after the
    collector is turned off (``main``), as they do in ``torchdeck``."""
    from core.contract.settings import GPT
    from tui.app import TorchdeckApp
    from tui.engine_link import end_process
    from tui.widgets.run_chart import RunChart

    class ProbeApp(TorchdeckApp):
        def __init__(self) -> None:
            attach = options.mode == "attach"
            super().__init__(
                preset=GPT,
                corpus=options.corpus,
                device=options.device,
                client=engine_client(options),
                started_at=started_at,
                attach=attach,
            )
            if not attach:  # configure (sent once the engine is ready) carries these too
                self.initial["model"] = json.loads(options.model)
                self.initial["train"] = json.loads(options.train)
                if options.steps:
                    self.initial["steps"] = options.steps
            self.result: dict = {"mode": options.mode}
            self.progress: list[tuple[float, int]] = []  # (arrival time, step)
            self.lag_ms: list[float] = []
            self.measuring = False
            self.tokens_per_step = 0
            self._configured = asyncio.Event()
            self._finished = asyncio.Event()
            self._progressed = asyncio.Event()
            self._painted = asyncio.Event()
            self._replots = -1  # the chart's replots when the attach restore was last checked

        def model_configured(self, info) -> None:
            super().model_configured(info)
            batch_size = info.train_config["batch_size"]
            self.tokens_per_step = batch_size * info.block_size
            self.result["model"] = {
                "params": info.params,
                "model_config": info.model_config,
                "batch_size": batch_size,
            }
            self._configured.set()
            if self.attaching and info.history is not None and self._replots < 0:
                # the attach reply's model and history: drawn in this handler (attach.restore),
                # painted in the next refresh
                self._replots = self.query_one(RunChart).replots
                self.call_after_refresh(self._check_painted)

        def _check_painted(self) -> None:
            """After a refresh: done once the chart's strips were plotted from the history and
            no replot came since the last check (that refresh painted them); else again after
            the next one (a reply that came before the first layout is replotted on resize)."""
            chart = self.query_one(RunChart)
            drawn = bool(chart.train.steps) and chart.up_to_date
            if drawn and chart.replots == self._replots:
                self.result.update(
                    attach_s=time.perf_counter() - self.started_at,
                    chart_points=len(chart.train.steps),
                    chart_val_points=len(chart.val.steps),
                    chart_first_step=chart.train.steps[0],
                    chart_last_step=chart.train.steps[-1],
                    chart_size=[chart.size.width, chart.size.height],
                )
                self._painted.set()
                return
            self._replots = chart.replots
            self.call_after_refresh(self._check_painted)

        def on_engine_event_received(self, message) -> None:
            # The app's own handler runs as well (Textual calls each class's handler in the MRO).
            data = message.data
            if message.name == "train_progress" and data.tokens_per_s is not None:
                self.progress.append((time.perf_counter(), data.step))
                self._progressed.set()
            elif message.name == "train_state" and data.state in (
                "finished",
                "diverged",
                "stopped",
                "paused",
            ):
                self._finished.set()

        async def on_ready(self) -> None:
            asyncio.create_task(self._script())

        async def _lag_timer(self) -> None:
            while True:
                started = time.perf_counter()
                await asyncio.sleep(TIMER_S)
                if self.measuring:
                    self.lag_ms.append((time.perf_counter() - started - TIMER_S) * 1000)

        async def _script(self) -> None:
            try:
                await asyncio.wait_for(self._run(), options.timeout)
            except Exception as exc:  # the bench reports it; the probe must still exit
                self.result["error"] = f"{type(exc).__name__}: {exc}"
            self._write()
            await self._leave()

        async def _leave(self) -> None:
            """Quit without the quit dialog: the engine this probe spawned is shut down (and
            waited for, killed if it hangs); one it attached to is left as it was."""
            owned = self.engine.owns_engine
            pid = self.engine.client.pid
            await self.engine.close(shutdown=owned)
            if owned and pid:
                await end_process(pid, grace=20.0)
            self.exit()

        def _rss(self) -> dict:
            engine_pid = self.engine.client.pid
            return {"ui": rss_mb(), "engine": rss_mb(engine_pid) if engine_pid else None}

        async def _run(self) -> None:
            if options.mode == "attach":
                await self._painted.wait()
                self.result.update(self.timings)  # first_paint_s, engine_ready_s
                self.result["state"] = self.engine_state
                return
            await self._configured.wait()
            await asyncio.sleep(1.0)  # idle after ready: let start-up allocations settle
            self.result["rss_idle_mb"] = self._rss()
            self.simulate_key("s")  # the Train pane has the focus: start training
            if options.mode == "rss":
                await self._finished.wait()
                await asyncio.sleep(1.0)
                self.result["rss_after_mb"] = self._rss()
                self.result["steps"] = self.progress[-1][1] if self.progress else 0
                return
            await self._progressed.wait()
            await asyncio.sleep(options.warmup)
            # the tokens/s window: the app as a person runs it, with no probe timer in it
            first = len(self.progress)
            cpu_before, wall_before = _cpu_seconds(), time.perf_counter()
            await asyncio.sleep(options.window)
            ui_cores = (_cpu_seconds() - cpu_before) / (time.perf_counter() - wall_before)
            window = self.progress[max(0, first - 1) :]  # from the last event before the window
            if len(window) < 2:
                raise RuntimeError("fewer than two progress events in the window; lengthen it")
            (t0, s0), (t1, s1) = window[0], window[-1]
            # then the lag window, as long, still training: the timer's 100 wake-ups a second
            # would take the cores from the engine's threads in the window above
            self.measuring = True
            timer = asyncio.create_task(self._lag_timer())
            await asyncio.sleep(options.window)
            self.measuring = False
            timer.cancel()
            self.result.update(
                steps=s1 - s0,
                seconds=t1 - t0,
                tokens_per_s=(s1 - s0) * self.tokens_per_step / (t1 - t0),
                lag_ms=self.lag_ms,
                rss_end_mb=self._rss(),
                ui_cpu_cores=ui_cores,
            )

        def _write(self) -> None:
            with open(options.out, "w", encoding="utf-8") as fh:
                json.dump(self.result, fh)

    return ProbeApp()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tui.bench_probe",
        description="The app measuring itself for torchdeck bench.",
    )
    parser.add_argument("--out", required=True, help="where to write the JSON result")
    parser.add_argument("--mode", choices=("train", "rss", "attach"), default="train")
    parser.add_argument("--socket", default="", help="attach: the running engine's socket")
    parser.add_argument(
        "--run-dir", default="runs/torchdeck", help="the spawned engine's run folder (its log)"
    )
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
    return parser


def main(argv: list[str] | None = None) -> int:
    from cli.main import process_started_at

    started = process_started_at()
    options = build_parser().parse_args(argv)
    if options.mode == "attach" and not options.socket:
        print("--mode attach needs --socket", file=sys.stderr)
        return 2
    gc.disable()  # as torchdeck's run_app: the app turns it back on after its first frame
    build_app(options, started).run()
    return 0 if os.path.exists(options.out) else 1


if __name__ == "__main__":
    sys.exit(main())
