"""Headless commands, ``torchdeck train`` and ``torchdeck sample``: front ends without Textual.

Imports no torch: like the app, they drive the engine process through ``core.client``, so the
training they run is exactly the engine's. On a terminal, ``train`` draws one live progress
line; anywhere else (nohup, CI, a pipe) it prints plain one-line records with no control
characters. Every report also goes to ``OUT/metrics.jsonl``. Ctrl-C saves a checkpoint first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import TextIO

from core.client import EXITED, EngineClient
from core.contract import (
    ConfigureArgs,
    GenerateArgs,
    LoadArgs,
    SaveArgs,
    TrainProgress,
    TrainStartArgs,
    TrainState,
)
from core.errors import EngineDied, EngineError, TorchdeckError
from core.fmt import fmt_duration, fmt_rate

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"


def progress_line(p: TrainProgress, val: float | None, width: int = 24) -> str:
    step, steps = p.step, p.steps
    filled = int(width * min(1.0, step / max(1, steps)))
    bar = "█" * filled + "░" * (width - filled)
    val_text = f"{val:.4f}" if isinstance(val, float) else "--"
    return (
        f"{bar} {step}/{steps}  loss {_num(p.loss)}  val {val_text}  "
        f"{fmt_rate(p.tokens_per_s)} tok/s  ETA {fmt_duration(p.eta_s)}"
    )


def _num(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def plain_record(p: TrainProgress) -> str:
    parts = [f"step={p.step}/{p.steps}", f"loss={_num(p.loss)}"]
    if p.val_loss is not None:
        parts.append(f"val_loss={_num(p.val_loss)}")
    parts += [
        f"lr={p.lr:.3g}",
        f"tokens_per_s={(p.tokens_per_s or 0):.0f}",
        f"elapsed_s={(p.elapsed_s or 0):.1f}",
    ]
    if p.parabola:
        x = p.parabola
        parts += [
            f"x={x['x']:.4f}",
            f"f={x['f']:.4f}",
            f"grad={x['grad']:.4f}",
            f"optimum={x['optimum']:.4f}",
        ]
    return " ".join(parts)


def metrics_record(p: TrainProgress) -> dict:
    rec = {
        "step": p.step,
        "train_loss": p.loss,
        "lr": p.lr,
        "grad_norm": p.grad_norm,
        "tokens_per_s": p.tokens_per_s,
        "elapsed_s": p.elapsed_s,
    }
    if p.val_loss is not None:
        rec["val_loss"] = p.val_loss
    if p.parabola:
        rec["parabola"] = p.parabola
    return rec


class TrainRun:
    """One headless training run over an engine client."""

    def __init__(self, args: argparse.Namespace, out: TextIO = sys.stdout) -> None:
        self.args = args
        self.out = out
        self.tty = out.isatty() and not os.environ.get("CI")
        self.dir = (
            Path(args.out)
            if args.out
            else Path("runs") / (f"{args.preset}-{time.strftime('%Y%m%d-%H%M%S')}")
        )
        self.last_val: float | None = None
        self.last = TrainProgress()
        self.stop_requested = False
        self.start_step = 0
        self.tokens_per_step = 0

    def say(self, text: str) -> None:
        if self.tty:
            self.out.write("\r\x1b[2K")
        self.out.write(text + "\n")
        self.out.flush()

    async def run(self) -> int:
        args = self.args
        ckpt = self.dir / CHECKPOINT
        if args.resume and not ckpt.exists():
            raise TorchdeckError(
                f"--resume: no checkpoint at {ckpt}", "give --out the folder of an earlier run"
            )
        if not args.resume and ckpt.exists():
            raise TorchdeckError(
                f"{ckpt} already exists",
                "pass --resume to continue that run, or choose another --out",
            )
        client = EngineClient(nice=args.nice, threads=args.threads)
        await client.start()
        loop = asyncio.get_running_loop()
        with_signal = True
        try:
            loop.add_signal_handler(signal.SIGINT, self._on_sigint)
        except (NotImplementedError, RuntimeError):
            with_signal = False
        try:
            return await self._train(client, ckpt)
        finally:
            if with_signal:
                loop.remove_signal_handler(signal.SIGINT)
            await client.close()

    def _on_sigint(self) -> None:
        self.stop_requested = True

    async def _train(self, client: EngineClient, ckpt: Path) -> int:
        args = self.args
        if args.resume:
            info = await client.call(LoadArgs(str(ckpt), args.device, args.corpus or None))
            steps = args.steps if args.steps else info.steps
            if info.step >= steps:
                self.say(
                    f"{ckpt} is already at step {info.step} of {steps}; pass a larger "
                    "--steps to train further"
                )
                return 0
            start = TrainStartArgs(steps=steps, report_interval=args.report_every)
            self.say(f"resuming {info.preset} from step {info.step} to {steps}")
        else:
            info = await client.call(
                ConfigureArgs(
                    args.preset,
                    args.corpus,
                    args.device,
                    seed=args.seed,
                    lr=args.lr,
                    batch_size=args.batch_size,
                    block_size=args.block_size,
                    steps=args.steps,
                )
            )
            start = TrainStartArgs(report_interval=args.report_every)
        self.start_step = info.step
        self.tokens_per_step = (
            info.train_config["batch_size"] * info.block_size if info.is_language_model else 0
        )
        self.dir.mkdir(parents=True, exist_ok=True)
        corpus = info.corpus or {}
        where = (
            f" · corpus {corpus.get('source')} ({corpus.get('chars', 0):,} chars)"
            if corpus.get("source")
            else ""
        )
        self.say(
            f"torchdeck train: {info.preset} · {info.params:,} parameters · "
            f"{info.device}{where} · out {self.dir}"
        )
        metrics = open(self.dir / METRICS, "a", encoding="utf-8")
        try:
            await client.call(start)
            return await self._follow(client, ckpt, metrics)
        finally:
            metrics.close()

    async def _follow(self, client: EngineClient, ckpt: Path, metrics: TextIO) -> int:
        while True:
            if self.stop_requested:
                with contextlib.suppress(EngineError):  # it may have just finished
                    await client.call("train_pause")
                path = (await client.call(SaveArgs(str(ckpt)))).path
                self.say(f"interrupted: checkpoint saved to {path}")
                return 130
            try:
                ev = await client.next_event(timeout=0.25)
            except (asyncio.TimeoutError, TimeoutError):
                continue
            if ev.event == "train_progress":
                progress = TrainProgress.from_dict(ev.data)
                self.last = progress
                if progress.val_loss is not None:
                    self.last_val = progress.val_loss
                metrics.write(json.dumps(metrics_record(progress)) + "\n")
                metrics.flush()
                if self.tty:
                    self.out.write("\r\x1b[2K" + progress_line(progress, self.last_val))
                    self.out.flush()
                else:
                    self.say(plain_record(progress))
                if progress.val_loss is not None:
                    await client.call(SaveArgs(str(ckpt)))
            elif ev.event == "train_state":
                state = TrainState.from_dict(ev.data)
                if state.state == "finished":
                    path = (await client.call(SaveArgs(str(ckpt)))).path
                    self._summary(path)
                    return 0
                if state.state == "diverged":
                    self.say(f"error: {state.reason}")
                    return 1
                if state.state == "paused" and state.reason.startswith("error"):
                    self.say(f"error: training stopped: {state.reason}")
                    return 1
            elif ev.event == EXITED:
                raise EngineDied(ev.data.get("returncode"), ev.data.get("stderr_tail", ""))

    def _summary(self, path: str) -> None:
        d = self.last
        val = f"{self.last_val:.4f}" if self.last_val is not None else "--"
        elapsed = d.elapsed_s or 0.0
        trained = d.step - self.start_step
        rate = (
            f" · {fmt_rate(trained * self.tokens_per_step / elapsed)} tok/s"
            if elapsed > 0 and self.tokens_per_step
            else ""
        )
        self.say(
            f"done: step {d.step} · train loss {_num(d.loss)} · val loss "
            f"{val} · {elapsed:.1f} s{rate} · checkpoint {path}"
        )
        if d.parabola:
            p = d.parabola
            self.say(
                f"parabola: x = {p['x']:.4f} (optimum {p['optimum']:.4f}, distance "
                f"{p['distance']:.4f}), f(x) = {p['f']:.4f}"
            )


async def sample(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    client = EngineClient(nice=0, threads=args.threads)
    await client.start()
    try:
        await client.call(LoadArgs(args.checkpoint, args.device))
        gen_args = GenerateArgs(
            temperature=args.temperature,
            top_k=args.top_k or None,
            top_p=args.top_p or None,
            prompt=args.prompt,
            max_new=args.max_new,
            seed=args.seed,
            stream=True,
        )
        out.write(args.prompt)
        task = asyncio.create_task(client.call(gen_args))
        while not task.done():
            try:
                ev = await client.next_event("generate_token", timeout=0.1)
            except (asyncio.TimeoutError, TimeoutError):
                continue
            out.write(ev.data["char"])
            out.flush()
        for ev in client.drain_events():
            if ev.event == "generate_token":
                out.write(ev.data["char"])
        task.result()
        out.write("\n")
        out.flush()
        return 0
    finally:
        await client.close()


def run_train(args: argparse.Namespace) -> int:
    return _run(TrainRun(args).run())


def run_sample(args: argparse.Namespace) -> int:
    return _run(sample(args))


def _run(coro) -> int:
    try:
        return asyncio.run(coro)
    except EngineDied as exc:
        print(
            f"error: {exc.message}\n--- engine stderr (last lines) ---\n{exc.stderr_tail}",
            file=sys.stderr,
        )
        return 1
    except (EngineError, TorchdeckError) as exc:
        print(
            f"error: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else ""), file=sys.stderr
        )
        return 2
    except KeyboardInterrupt:
        return 130
