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
from core.contract import LANGUAGE_PRESETS
from core.errors import EngineDied, EngineError, TorchdeckError
from core.fmt import fmt_duration, fmt_rate

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"


def progress_line(data: dict, val: float | None, width: int = 24) -> str:
    step, steps = data["step"], data["steps"]
    filled = int(width * min(1.0, step / max(1, steps)))
    bar = "█" * filled + "░" * (width - filled)
    val_text = f"{val:.4f}" if isinstance(val, float) else "--"
    return (
        f"{bar} {step}/{steps}  loss {_num(data['loss'])}  val {val_text}  "
        f"{fmt_rate(data.get('tokens_per_s'))} tok/s  ETA {fmt_duration(data.get('eta_s'))}"
    )


def _num(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def plain_record(data: dict) -> str:
    parts = [f"step={data['step']}/{data['steps']}", f"loss={_num(data['loss'])}"]
    if data.get("val_loss") is not None:
        parts.append(f"val_loss={_num(data['val_loss'])}")
    parts += [
        f"lr={data['lr']:.3g}",
        f"tokens_per_s={(data.get('tokens_per_s') or 0):.0f}",
        f"elapsed_s={(data.get('elapsed_s') or 0):.1f}",
    ]
    if data.get("parabola"):
        p = data["parabola"]
        parts += [
            f"x={p['x']:.4f}",
            f"f={p['f']:.4f}",
            f"grad={p['grad']:.4f}",
            f"optimum={p['optimum']:.4f}",
        ]
    return " ".join(parts)


def metrics_record(data: dict) -> dict:
    rec = {
        "step": data["step"],
        "train_loss": data["loss"],
        "lr": data["lr"],
        "grad_norm": data.get("grad_norm"),
        "tokens_per_s": data.get("tokens_per_s"),
        "elapsed_s": data.get("elapsed_s"),
    }
    if data.get("val_loss") is not None:
        rec["val_loss"] = data["val_loss"]
    if data.get("parabola"):
        rec["parabola"] = data["parabola"]
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
        self.last: dict | None = None
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
            info = await client.request(
                "load",
                path=str(ckpt),
                device=args.device,
                **({"corpus": args.corpus} if args.corpus else {}),
            )
            steps = args.steps if args.steps else info["steps"]
            if info["step"] >= steps:
                self.say(
                    f"{ckpt} is already at step {info['step']} of {steps}; pass a larger "
                    "--steps to train further"
                )
                return 0
            start_args = {"steps": steps}
            self.say(f"resuming {info['preset']} from step {info['step']} to {steps}")
        else:
            conf = {"preset": args.preset, "device": args.device, "corpus": args.corpus}
            for key in ("steps", "lr", "batch_size", "seed", "block_size"):
                if getattr(args, key) is not None:
                    conf[key] = getattr(args, key)
            info = await client.request("configure", conf)
            start_args = {}
        self.start_step = info["step"]
        self.tokens_per_step = (
            0
            if info["preset"] not in LANGUAGE_PRESETS
            else info["train_config"]["batch_size"] * info["block_size"]
        )
        self.dir.mkdir(parents=True, exist_ok=True)
        corpus = info.get("corpus") or {}
        where = (
            f" · corpus {corpus.get('source')} ({corpus.get('chars', 0):,} chars)"
            if corpus.get("source")
            else ""
        )
        self.say(
            f"torchdeck train: {info['preset']} · {info['params']:,} parameters · "
            f"{info['device']}{where} · out {self.dir}"
        )
        metrics = open(self.dir / METRICS, "a", encoding="utf-8")
        try:
            await client.request("train_start", report_interval=args.report_every, **start_args)
            return await self._follow(client, ckpt, metrics)
        finally:
            metrics.close()

    async def _follow(self, client: EngineClient, ckpt: Path, metrics: TextIO) -> int:
        while True:
            if self.stop_requested:
                with contextlib.suppress(EngineError):  # it may have just finished
                    await client.request("train_pause")
                path = (await client.request("save", path=str(ckpt)))["path"]
                self.say(f"interrupted: checkpoint saved to {path}")
                return 130
            try:
                ev = await client.next_event(timeout=0.25)
            except (asyncio.TimeoutError, TimeoutError):
                continue
            if ev.event == "train_progress":
                data = ev.data
                self.last = data
                if data.get("val_loss") is not None:
                    self.last_val = data["val_loss"]
                metrics.write(json.dumps(metrics_record(data)) + "\n")
                metrics.flush()
                if self.tty:
                    self.out.write("\r\x1b[2K" + progress_line(data, self.last_val))
                    self.out.flush()
                else:
                    self.say(plain_record(data))
                if data.get("val_loss") is not None:
                    await client.request("save", path=str(ckpt))
            elif ev.event == "train_state":
                state = ev.data["state"]
                if state == "finished":
                    path = (await client.request("save", path=str(ckpt)))["path"]
                    self._summary(path)
                    return 0
                if state == "diverged":
                    self.say(f"error: {ev.data['reason']}")
                    return 1
                if state == "paused" and ev.data.get("reason", "").startswith("error"):
                    self.say(f"error: training stopped: {ev.data['reason']}")
                    return 1
            elif ev.event == "log":
                self.say(f"[engine] {ev.data.get('message')}")
            elif ev.event == EXITED:
                raise EngineDied(ev.data.get("returncode"), ev.data.get("stderr_tail", ""))

    def _summary(self, path: str) -> None:
        d = self.last or {}
        val = f"{self.last_val:.4f}" if self.last_val is not None else "--"
        elapsed = d.get("elapsed_s") or 0.0
        trained = d.get("step", 0) - self.start_step
        rate = (
            f" · {fmt_rate(trained * self.tokens_per_step / elapsed)} tok/s"
            if elapsed > 0 and self.tokens_per_step
            else ""
        )
        self.say(
            f"done: step {d.get('step')} · train loss {_num(d.get('loss'))} · val loss "
            f"{val} · {elapsed:.1f} s{rate} · checkpoint {path}"
        )
        if d.get("parabola"):
            p = d["parabola"]
            self.say(
                f"parabola: x = {p['x']:.4f} (optimum {p['optimum']:.4f}, distance "
                f"{p['distance']:.4f}), f(x) = {p['f']:.4f}"
            )


async def sample(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    client = EngineClient(nice=0, threads=args.threads)
    await client.start()
    try:
        await client.request("load", path=args.checkpoint, device=args.device)
        gen_args = {
            "prompt": args.prompt,
            "max_new": args.max_new,
            "temperature": args.temperature,
            "stream": True,
        }
        if args.top_k:
            gen_args["top_k"] = args.top_k
        if args.top_p:
            gen_args["top_p"] = args.top_p
        if args.seed is not None:
            gen_args["seed"] = args.seed
        out.write(args.prompt)
        task = asyncio.create_task(client.request("generate", gen_args))
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
