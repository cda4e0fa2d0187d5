"""``torchdeck bench``: how fast this machine trains, and what the app adds to the cost.

Works without a UI: the training, prediction and quality figures drive the engine process
through ``core.client``; the app-side figures (training with the app open, event-loop lag,
first paint, memory of the UI) come from the real app run in a pseudo-terminal as a subprocess
(``python -m tui.cli`` and ``python -m tui.bench_probe``), so this module imports no UI.

Every ratio is measured side by side in one run: A and B windows alternate (ABBA…), and the
median of the rounds is quoted with its spread (min–max), so the figure holds on a busy machine.
The bare loop is an ordinary PyTorch loop written out below, with the same model, batch,
context, optimizer, seed and threads as the engine. ``--json`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import platform
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.client import EngineClient
from core.errors import TorchdeckError

FULL_QUALITY_STEPS = 2000  # the gpt preset's default run
PREDICT_TEXT = ("def forward(self, x):\n    return self.proj(self.act(self.fc(x))) + x\n"
                "class Net(nn.Module):")[:64]  # one keystroke's context: 64 characters
TERM_SIZE = (100, 30)  # columns, rows of the pseudo-terminal the app runs in

TARGETS = {
    "train_overhead": 0.97,  # engine tokens/s ÷ bare loop tokens/s, no UI
    "train_in_app": 0.85,  # the same with the app open on the Train pane
    "ui_lag_ms_p99": 16.0,  # one frame at 60 fps
    "first_paint_s": 0.6,
    "predict_idle_p95_ms": 20.0,
    "predict_training_p95_steps": 2.0,  # in training steps
}

# bf16 dense peak, TFLOPS, by a piece of the CUDA device name (first match wins)
BF16_PEAK_TFLOPS = (
    ("GH200", 989.0), ("H200", 989.0), ("H100 NVL", 835.0), ("H100 PCIe", 756.0),
    ("H100", 989.0), ("A100", 312.0), ("L40S", 362.0), ("L4", 121.0),
)
# the CUDA figures' model: gpt at 6 layers, 6 heads, 384 wide, context 256, batch 64
CUDA_MODEL = {"n_layer": 6, "n_head": 6, "n_embd": 384, "block_size": 256}
CUDA_TRAIN = {"batch_size": 64}


@dataclass
class Plan:
    """How long and how big each measurement is (the full run, or ``--quick`` plumbing)."""

    quick: bool = False
    rounds: int = 3  # A/B rounds with the app (each starts the app afresh)
    warmup_s: float = 1.0  # discarded at the start of each window
    window_s: float = 5.0  # measured per window
    # The headless ratio costs no start-up: twice the rounds of half the length, so that A and
    # B sit closer in time on a machine whose load drifts.
    overhead_rounds: int = 6
    overhead_warmup_s: float = 0.5
    overhead_window_s: float = 2.5
    threads: int = 0  # torch threads for the engine and the bare loop (0: torch's default)
    model: dict = field(default_factory=dict)  # gpt overrides (none: the preset's defaults)
    train: dict = field(default_factory=dict)
    predict_n: int = 30  # predictions per condition
    paint_runs: int = 3
    rss_steps: int = 2000
    rss_model: dict = field(default_factory=lambda: {"n_layer": 1, "n_head": 2, "n_embd": 32,
                                                     "block_size": 16})
    rss_train: dict = field(default_factory=lambda: {"batch_size": 8})
    quality_steps: int = 300

    @classmethod
    def quick_plan(cls) -> Plan:
        tiny = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 16}
        return cls(quick=True, rounds=1, warmup_s=0.3, window_s=1.0, overhead_rounds=1,
                   overhead_warmup_s=0.3, overhead_window_s=1.0, model=tiny,
                   train={"batch_size": 8}, predict_n=5, paint_runs=1, rss_steps=200,
                   quality_steps=20)


# -- statistics -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100), interpolating between the nearest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def spread(values: list[float]) -> dict:
    """Median, min, max and every value (rounded for the JSON)."""
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4), "runs": [round(v, 4) for v in values]}


def ratios(numerators: list[float], denominators: list[float]) -> list[float]:
    """Round by round: each B window against the A window beside it."""
    return [n / d for n, d in zip(numerators, denominators)]


# -- the bare loop ----------------------------------------------------------------------------


class BareLoop:
    """A plain PyTorch training loop for the gpt preset: the yardstick the engine is held to.

    Same model class and initialisation, corpus, batch, context, AdamW with the same groups and
    betas, learning-rate schedule, gradient clipping and seed as the engine's trainer; written
    out as a person would, keeping the loss on the device (no sync per step)."""

    def __init__(self, model: dict, train: dict, threads: int, device: str = "cpu") -> None:
        import torch

        from core.data import load_data
        from core.models import build_model, make_config
        from core.training import lr_at, make_train_config

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        self.lr_at = lr_at
        self.device = torch.device(device)
        self.data = load_data(None)
        self.config = make_train_config("gpt", **train)
        model_config = make_config("gpt", **{**model,
                                             "vocab_size": self.data.tokenizer.vocab_size})
        self.block_size = model_config.block_size
        self.tokens_per_step = self.config.batch_size * self.block_size
        torch.manual_seed(self.config.seed)
        self.model = build_model("gpt", model_config).to(self.device)
        params = list(self.model.parameters())
        self.params = params
        self.optimizer = torch.optim.AdamW(
            [{"params": [p for p in params if p.dim() >= 2],
              "weight_decay": self.config.weight_decay},
             {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
            lr=self.config.lr, betas=(self.config.beta1, self.config.beta2),
            fused=self.device.type in ("cpu", "cuda") or None)  # one kernel for all updates
        self.generator = torch.Generator().manual_seed(self.config.seed)
        self.train_ids = self.data.train
        self.step = 0
        self.losses: list = []

    def _batch(self):
        torch = self.torch
        starts = torch.randint(len(self.train_ids) - self.block_size,
                               (self.config.batch_size,), generator=self.generator)
        windows = self.train_ids[starts[:, None] + torch.arange(self.block_size + 1)]
        cuda = self.device.type == "cuda"
        return (windows[:, :-1].to(self.device, non_blocking=cuda),
                windows[:, 1:].to(self.device, non_blocking=cuda))

    def run(self, seconds: float) -> tuple[int, float]:
        """Train for about ``seconds``; return (steps, elapsed) measured after the device
        finished them."""
        from core import device as devices

        torch = self.torch
        self.model.train()
        started = time.perf_counter()
        deadline = started + seconds
        steps = 0
        while True:
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr_at(self.config, self.step)
            x, y = self._batch()
            self.optimizer.zero_grad(set_to_none=True)
            with devices.autocast(self.device):
                _, loss = self.model(x, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.params, self.config.grad_clip)
            self.optimizer.step()
            self.losses.append(loss.detach())
            self.step += 1
            steps += 1
            if len(self.losses) >= 256:
                self.losses = [torch.stack(self.losses).mean()]
            if time.perf_counter() >= deadline:
                break
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return steps, time.perf_counter() - started

    def tokens_per_s(self, warmup: float, window: float) -> float:
        self.run(warmup)
        steps, elapsed = self.run(window)
        return steps * self.tokens_per_step / elapsed


# -- the engine, headless ---------------------------------------------------------------------


async def engine_window(client: EngineClient, resume: bool, warmup: float,
                        window: float, tokens_per_step: int) -> tuple[float, float]:
    """Train for ``warmup`` + ``window`` seconds; tokens/s between the progress events that
    bracket the window, timed on arrival (each one follows a finished step), and s/step."""
    client.drain_events()
    await client.request("train_resume" if resume else "train_start")
    started = time.perf_counter()
    first = last = None
    while True:
        ev = await client.next_event("train_progress", timeout=120)
        now = time.perf_counter()
        if first is None:
            if now - started >= warmup:
                first = (now, ev.data["step"])
            continue
        last = (now, ev.data["step"])
        if now - first[0] >= window and last[1] > first[1]:
            break
    await client.request("train_pause")
    client.drain_events()
    steps = last[1] - first[1]
    seconds = last[0] - first[0]
    return steps * tokens_per_step / seconds, seconds / steps


async def configure(client: EngineClient, model: dict, train: dict, device: str,
                    steps: int | None = None) -> dict:
    args = {"preset": "gpt", "device": device, "model": model, "train": train}
    if steps:
        args["steps"] = steps
    return await client.request("configure", args)


async def measure_overhead(client: EngineClient, bare: BareLoop, plan: Plan,
                           device: str = "cpu") -> dict:
    """train_overhead: the engine's training loop against the bare loop, alternating."""
    info = await configure(client, plan.model, {**plan.train, "eval_interval": 0}, device,
                           steps=1_000_000)
    tokens_per_step = info["train_config"]["batch_size"] * info["block_size"]
    engine, base, step_s = [], [], []
    warmup, window = plan.overhead_warmup_s, plan.overhead_window_s
    for r in range(plan.overhead_rounds):
        order = ("bare", "engine") if r % 2 == 0 else ("engine", "bare")
        for which in order:
            if which == "bare":
                base.append(bare.tokens_per_s(warmup, window))
            else:
                rate, per_step = await engine_window(client, bool(engine), warmup, window,
                                                     tokens_per_step)
                engine.append(rate)
                step_s.append(per_step)
    await client.request("train_stop")
    figure = spread(ratios(engine, base))
    figure.update(engine_tokens_per_s=round(statistics.median(engine)),
                  bare_tokens_per_s=round(statistics.median(base)),
                  step_ms=round(statistics.median(step_s) * 1000, 2),
                  target=TARGETS["train_overhead"])
    figure["met"] = figure["median"] >= figure["target"]
    return figure


async def measure_predict(client: EngineClient, plan: Plan, step_ms: float) -> dict:
    """predict_ms: one keystroke's prediction (64 characters of context), idle and while
    training, timed from the request to its reply."""
    await configure(client, plan.model, {**plan.train, "eval_interval": 0}, "cpu",
                    steps=1_000_000)

    async def one() -> float:
        started = time.perf_counter()
        await client.request("predict", text=PREDICT_TEXT, k=10)
        return (time.perf_counter() - started) * 1000

    for _ in range(3):  # the first calls allocate
        await one()
    idle = [await one() for _ in range(plan.predict_n)]
    await client.request("train_start")
    await client.next_event("train_progress", timeout=120)
    await asyncio.sleep(plan.warmup_s)
    rng = random.Random(0)
    training = []
    for _ in range(plan.predict_n):
        # land at a random point of a step, as a person typing would
        await asyncio.sleep(rng.uniform(0.3, 1.3) * step_ms / 1000)
        training.append(await one())
    await client.request("train_stop")
    client.drain_events()
    idle_p95, train_p95 = percentile(idle, 95), percentile(training, 95)
    steps = train_p95 / step_ms
    return {
        "idle": {"p50": round(percentile(idle, 50), 2), "p95": round(idle_p95, 2),
                 "n": len(idle)},
        "training": {"p50": round(percentile(training, 50), 2), "p95": round(train_p95, 2),
                     "n": len(training)},
        "step_ms": round(step_ms, 2),
        "training_p95_steps": round(steps, 2),
        "target_idle_p95": TARGETS["predict_idle_p95_ms"],
        "target_training_p95_steps": TARGETS["predict_training_p95_steps"],
        "met": idle_p95 <= TARGETS["predict_idle_p95_ms"]
        and steps <= TARGETS["predict_training_p95_steps"],
    }


async def measure_quality(client: EngineClient, plan: Plan) -> dict:
    """quality: the gpt preset at its defaults on the default corpus, ``quality_steps`` steps
    (a run of that length: the schedule decays over it), timed end to end."""
    info = await configure(client, plan.model, plan.train, "cpu", steps=plan.quality_steps)
    tokens_per_step = info["train_config"]["batch_size"] * info["block_size"]
    client.drain_events()
    started = time.perf_counter()
    await client.request("train_start")
    val = train = None
    while True:
        ev = await client.next_event(timeout=600)
        if ev.event == "train_progress":
            train = ev.data["loss"]
            if ev.data.get("val_loss") is not None:
                val = ev.data["val_loss"]
        elif ev.event == "train_state" and ev.data["state"] in ("finished", "diverged"):
            state = ev.data["state"]
            break
    wall = time.perf_counter() - started
    client.drain_events()
    steps = plan.quality_steps
    return {
        "steps": steps, "full": steps >= FULL_QUALITY_STEPS and not plan.quick,
        "state": state, "wall_s": round(wall, 3),
        "tokens_per_s": round(steps * tokens_per_step / wall),
        "val_loss": round(val, 4) if val is not None else None,
        "train_loss": round(train, 4) if train is not None else None,
        "wall_s_2000_estimate": round(wall * FULL_QUALITY_STEPS / steps, 1),
    }


# -- the app, in a pseudo-terminal ------------------------------------------------------------


class PtyApp:
    """A command run in a fresh pseudo-terminal (its controlling terminal, 100×30), with its
    screen output read and thrown away as a terminal would consume it."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        master, slave = os.openpty()
        cols, rows = TERM_SIZE
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        full_env = {**os.environ, "TERM": "xterm-256color", **(env or {})}
        full_env.pop("COLUMNS", None)
        full_env.pop("LINES", None)

        def controlling_tty() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.started = time.perf_counter()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     env=full_env, preexec_fn=controlling_tty, close_fds=True)
        os.close(slave)
        self.master = master
        self.tail = b""
        self.bytes_read = 0
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.bytes_read += len(chunk)
            self.tail = (self.tail + chunk)[-4000:]

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise TorchdeckError(f"{' '.join(self.proc.args[1:4])} did not finish in "
                                 f"{timeout:.0f} s", "its last screen output: "
                                 + self.screen_tail()) from None
        finally:
            self._reader.join(timeout=2)
            os.close(self.master)

    def screen_tail(self) -> str:
        import re

        text = self.tail.decode("utf-8", "replace")
        text = re.sub(r"\x1b\[[0-9;?<>=]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]", "", text)
        return " ".join(text.split())[-300:]


def run_probe(plan: Plan, mode: str, workdir: Path, tag: str) -> dict:
    out = workdir / f"probe-{tag}.json"
    argv = [sys.executable, "-m", "tui.bench_probe", "--out", str(out), "--mode", mode,
            "--threads", str(plan.threads), "--warmup", str(plan.warmup_s),
            "--window", str(plan.window_s)]
    if mode == "rss":
        argv += ["--model", json.dumps(plan.rss_model),
                 "--train", json.dumps({**plan.rss_train, "eval_interval": 0}),
                 "--steps", str(plan.rss_steps)]
    else:
        argv += ["--model", json.dumps(plan.model),
                 "--train", json.dumps({**plan.train, "eval_interval": 0}),
                 "--steps", str(1_000_000)]
    app = PtyApp(argv)
    app.wait(timeout=300)
    if not out.exists():
        raise TorchdeckError(f"the app probe wrote no result (exit code {app.proc.returncode})",
                             "its last screen output: " + app.screen_tail())
    result = json.loads(out.read_text(encoding="utf-8"))
    if "error" in result:
        raise TorchdeckError(f"the app probe failed: {result['error']}",
                             "its last screen output: " + app.screen_tail())
    return result


def measure_in_app(bare: BareLoop, plan: Plan, workdir: Path) -> tuple[dict, dict, dict]:
    """train_in_app and ui_lag_ms_p99: the app open on the Train pane, chart live, while its
    engine trains; alternating with the bare loop. Also the idle memory of both processes."""
    app_rates, base, lags, ui_cpu = [], [], [], []
    rss_idle = None
    for r in range(plan.rounds):
        order = ("bare", "app") if r % 2 == 0 else ("app", "bare")
        for which in order:
            if which == "bare":
                base.append(bare.tokens_per_s(plan.warmup_s, plan.window_s))
            else:
                result = run_probe(plan, "train", workdir, f"app{r}")
                app_rates.append(result["tokens_per_s"])
                ui_cpu.append(result["ui_cpu_cores"])
                lags.extend(result["lag_ms"])
                rss_idle = rss_idle or result["rss_idle_mb"]
    figure = spread(ratios(app_rates, base))
    figure.update(app_tokens_per_s=round(statistics.median(app_rates)),
                  bare_tokens_per_s=round(statistics.median(base)),
                  # the app's own CPU use while the engine trains, in cores (lag probe included)
                  ui_cpu_cores=round(statistics.median(ui_cpu), 3),
                  target=TARGETS["train_in_app"])
    figure["met"] = figure["median"] >= figure["target"]
    if not lags:
        raise TorchdeckError("no lag samples were taken", "lengthen the window")
    p99 = percentile(lags, 99)
    lag = {"value": round(p99, 2), "p50": round(percentile(lags, 50), 2),
           "max": round(max(lags), 2), "samples": len(lags),
           "target": TARGETS["ui_lag_ms_p99"], "met": p99 <= TARGETS["ui_lag_ms_p99"]}
    return figure, lag, rss_idle


def measure_rss_growth(plan: Plan, workdir: Path) -> dict:
    result = run_probe(plan, "rss", workdir, "rss")
    return {"before": result["rss_idle_mb"], "after": result["rss_after_mb"],
            "steps": result["steps"],
            "model": {**plan.rss_model, **plan.rss_train}}


def measure_start(plan: Plan, workdir: Path) -> tuple[dict, dict, dict]:
    """first_paint_s and engine_ready_s of the real app in a pseudo-terminal (quit with q),
    alternating with ``python -c "import torch"`` as the reference."""
    paints, readies, imports = [], [], []
    for r in range(plan.paint_runs):
        timings = workdir / f"timings{r}.json"
        app = PtyApp([sys.executable, "-m", "tui.cli", "--preset", "gpt", "--device", "cpu"],
                     env={"TORCHDECK_TIMINGS": str(timings)})
        deadline = time.perf_counter() + 120
        data: dict = {}
        while time.perf_counter() < deadline and app.proc.poll() is None:
            if timings.exists():
                try:
                    data = json.loads(timings.read_text(encoding="utf-8"))
                except ValueError:
                    data = {}  # caught half-written
                if "engine_ready_s" in data:
                    break
            time.sleep(0.05)
        time.sleep(0.3)
        app.send("q")
        app.wait(timeout=30)
        if "engine_ready_s" not in data or "first_paint_s" not in data:
            raise TorchdeckError("the app did not report its start-up timings",
                                 "its last screen output: " + app.screen_tail())
        paints.append(data["first_paint_s"])
        readies.append(data["engine_ready_s"])
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        imports.append(time.perf_counter() - started)
    paint = spread(paints)
    paint.update(target=TARGETS["first_paint_s"], met=paint["median"] <= TARGETS["first_paint_s"])
    return paint, spread(readies), spread(imports)


# -- CUDA ---------------------------------------------------------------------------------------


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
        return {"measured": False, "reason": "not measured (no CUDA device)"}
    model = dict(plan.model) if plan.quick else dict(CUDA_MODEL)
    return await measure_device(plan, "cuda", torch.cuda.get_device_name(0), model, CUDA_TRAIN)


async def measure_device(plan: Plan, device: str, name: str, model: dict, train: dict) -> dict:
    """The engine against the bare loop on ``device`` for one gpt size, and the model FLOPs
    utilisation of the engine's rate where the device's bf16 peak is known."""
    train = {**train, "eval_interval": 0, "steps": 1_000_000}
    bare = BareLoop(model, train, plan.threads, device=device)
    client = EngineClient(nice=0, threads=plan.threads)
    await client.start()
    try:
        sub = Plan(**{**asdict(plan), "model": model, "train": train})
        overhead = await measure_overhead(client, bare, sub, device=device)
    finally:
        await client.close()
    cfg = bare.model.config
    params = sum(p.numel() for p in bare.model.parameters()) - bare.model.wpe.weight.numel()
    per_token = flops_per_token(params, cfg.n_layer, cfg.block_size, cfg.n_embd)
    peak = bf16_peak_tflops(name)
    rate = overhead["engine_tokens_per_s"]
    del overhead["target"], overhead["met"]
    return {
        "measured": True, "device": name,
        "model": {**model, "batch_size": bare.config.batch_size}, "params": params,
        "tokens_per_s": rate, "flops_per_token": per_token,
        "bf16_peak_tflops": peak if peak else "unknown",
        "mfu": round(per_token * rate / (peak * 1e12), 4) if peak else None,
        "overhead": overhead,
    }


# -- the run ------------------------------------------------------------------------------------


async def run_bench(plan: Plan, say) -> dict:
    import torch

    from core.data import DEFAULT_CORPUS

    if plan.threads:
        torch.set_num_threads(plan.threads)
    plan.threads = torch.get_num_threads()
    result: dict = {
        "bench": 1, "quick": plan.quick,
        "machine": {"cpu_cores": os.cpu_count(), "python": platform.python_version(),
                    "torch": torch.__version__, "threads": plan.threads, "device": "cpu",
                    # other work on the machine: figures from a busy run are to be read so
                    "load_avg_1min": {"start": _load(), "end": None}},
        "settings": {"preset": "gpt", "corpus": DEFAULT_CORPUS, "model": plan.model,
                     "train": plan.train, "rounds": plan.rounds, "warmup_s": plan.warmup_s,
                     "window_s": plan.window_s, "overhead_rounds": plan.overhead_rounds,
                     "overhead_window_s": plan.overhead_window_s},
    }
    errors: dict[str, str] = {}

    async def phase(keys: tuple[str, ...], what: str, work):
        say(f"measuring {what}…")
        try:
            values = await work()
        except (TorchdeckError, OSError, RuntimeError, ValueError, KeyError, TimeoutError) as exc:
            text = str(exc) if not isinstance(exc, TorchdeckError) else (
                f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
            for key in keys:
                result[key] = {"error": text}
                errors[key] = text
            return
        for key, value in zip(keys, values):
            result[key] = value

    bare = BareLoop(plan.model, {**plan.train, "eval_interval": 0, "steps": 1_000_000},
                    plan.threads)
    client = EngineClient(nice=0, threads=plan.threads)
    await client.start()
    try:
        async def overhead():
            return (await measure_overhead(client, bare, plan),)

        await phase(("train_overhead",), "the engine's training loop against a bare loop",
                    overhead)
        step_ms = result["train_overhead"].get("step_ms") or 100.0

        async def predict():
            return (await measure_predict(client, plan, step_ms),)

        await phase(("predict_ms",), "prediction latency, idle and while training", predict)

        async def quality():
            return (await measure_quality(client, plan),)

        await phase(("quality",), f"quality: {plan.quality_steps} gpt steps", quality)
    finally:
        await client.close()

    workdir = Path(tempfile.mkdtemp(prefix="torchdeck-bench-"))
    rss_idle: dict = {}

    async def in_app():
        figure, lag, idle = measure_in_app(bare, plan, workdir)
        rss_idle.update(idle or {})
        return figure, lag

    await phase(("train_in_app", "ui_lag_ms_p99"), "training with the app open", in_app)

    async def start():
        return measure_start(plan, workdir)

    await phase(("first_paint_s", "engine_ready_s", "import_torch_s"), "start-up", start)

    async def rss():
        growth = measure_rss_growth(plan, workdir)
        return ({"ui_idle": _mb(rss_idle.get("ui")), "engine_idle": _mb(rss_idle.get("engine")),
                 "ui_before": _mb(growth["before"]["ui"]),
                 "engine_before": _mb(growth["before"]["engine"]),
                 "ui_after": _mb(growth["after"]["ui"]),
                 "engine_after": _mb(growth["after"]["engine"]),
                 "steps": growth["steps"], "growth_model": growth["model"]},)

    await phase(("rss_mb",), f"memory over {plan.rss_steps} steps", rss)

    async def cuda():
        return (await measure_cuda(plan),)

    await phase(("cuda",), "CUDA", cuda)
    for leftover in sorted(workdir.iterdir()):
        leftover.unlink()
    workdir.rmdir()
    result["errors"] = errors
    result["machine"]["load_avg_1min"]["end"] = _load()
    return result


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _mb(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# -- the table ----------------------------------------------------------------------------------


def _rate(v: float) -> str:
    return f"{v / 1000:.1f}k" if v >= 1000 else f"{v:.0f}"


def _ok(figure: dict) -> str:
    return "ok" if figure.get("met") else "MISSED"


def table(r: dict) -> str:
    """The result as a plain-text table: figure, measured (median [min–max]), target."""
    rows: list[tuple[str, str, str]] = []

    def err(key: str) -> bool:
        if "error" in r.get(key, {}):
            rows.append((key, "failed: " + r[key]["error"][:200], ""))
            return True
        return False

    def med(f: dict, digits: int = 2, unit: str = "") -> str:
        return (f"{f['median']:.{digits}f}{unit} [{f['min']:.{digits}f}–"
                f"{f['max']:.{digits}f}]")

    if not err("train_overhead"):
        f = r["train_overhead"]
        rows.append(("train_overhead (engine ÷ bare)", med(f), f"≥ {f['target']} {_ok(f)}"))
        rows.append(("  tokens/s engine / bare", f"{_rate(f['engine_tokens_per_s'])} / "
                     f"{_rate(f['bare_tokens_per_s'])}  ({f['step_ms']:.0f} ms/step)", ""))
    if not err("train_in_app"):
        f = r["train_in_app"]
        rows.append(("train_in_app (app ÷ bare)", med(f), f"≥ {f['target']} {_ok(f)}"))
        rows.append(("  tokens/s in app / bare", f"{_rate(f['app_tokens_per_s'])} / "
                     f"{_rate(f['bare_tokens_per_s'])}  (the UI used "
                     f"{f.get('ui_cpu_cores', 0):.2f} of a core)", ""))
    if not err("ui_lag_ms_p99"):
        f = r["ui_lag_ms_p99"]
        rows.append(("ui_lag_ms p50 / p99 / max", f"{f['p50']:.1f} / {f['value']:.1f} / "
                     f"{f['max']:.1f}  ({f['samples']} samples)",
                     f"p99 ≤ {f['target']:.0f} {_ok(f)}"))
    if not err("first_paint_s"):
        f = r["first_paint_s"]
        rows.append(("first_paint_s", med(f), f"≤ {f['target']} {_ok(f)}"))
        rows.append(("engine_ready_s", med(r["engine_ready_s"]), ""))
        rows.append(("  python -c 'import torch'", med(r["import_torch_s"], unit=" s"),
                     "reference"))
    if not err("predict_ms"):
        f = r["predict_ms"]
        rows.append(("predict_ms idle p50 / p95", f"{f['idle']['p50']:.1f} / "
                     f"{f['idle']['p95']:.1f}", f"p95 ≤ {f['target_idle_p95']:.0f}"))
        rows.append(("predict_ms training p50 / p95", f"{f['training']['p50']:.1f} / "
                     f"{f['training']['p95']:.1f} = {f['training_p95_steps']:.2f} steps",
                     f"p95 ≤ {f['target_training_p95_steps']:.0f} steps {_ok(f)}"))
    if not err("rss_mb"):
        f = r["rss_mb"]
        rows.append(("rss_mb UI / engine, idle", f"{f['ui_idle']} / {f['engine_idle']}", ""))
        rows.append((f"rss_mb UI / engine, {f['steps']} steps", f"{f['ui_before']} → "
                     f"{f['ui_after']} / {f['engine_before']} → {f['engine_after']}",
                     "bounded"))
    if not err("quality"):
        f = r["quality"]
        label = "quality (full run)" if f["full"] else (
            f"quality ({f['steps']} of {FULL_QUALITY_STEPS} steps)")
        val = "--" if f["val_loss"] is None else f"{f['val_loss']:.4f}"
        extra = "" if f["full"] else f"; {FULL_QUALITY_STEPS} steps ≈ {f['wall_s_2000_estimate']:.0f} s"
        rows.append((label, f"{f['wall_s']:.1f} s, {_rate(f['tokens_per_s'])} tok/s, val "
                     f"{val}{extra}", ""))
    if not err("cuda"):
        f = r["cuda"]
        if not f["measured"]:
            rows.append(("cuda", f["reason"], ""))
        else:
            mfu = "--" if f["mfu"] is None else f"{100 * f['mfu']:.1f}%"
            rows.append(("cuda tokens/s, MFU", f"{_rate(f['tokens_per_s'])}, {mfu} of "
                         f"{f['bf16_peak_tflops']} TFLOPS ({f['device']})", ""))
            rows.append(("cuda overhead (engine ÷ bare)", med(f["overhead"]), ""))
    m = r["machine"]
    head = (f"torchdeck bench — {m['cpu_cores']} CPU cores, torch {m['torch']}, "
            f"{m['threads']} threads; gpt"
            + (" (tiny: --quick)" if r["quick"] else "")
            + f"; A/B rounds: {r['settings'].get('overhead_rounds', '-')} × "
              f"{r['settings'].get('overhead_window_s', 0):g} s headless, "
              f"{r['settings']['rounds']} × {r['settings']['window_s']:g} s in the app; "
              "median [min–max]")
    w0 = max(len(a) for a, _, _ in rows)
    w1 = max(len(b) for _, b, _ in rows)
    load = m.get("load_avg_1min") or {}
    if load.get("start") is not None:
        head += (f"\nload average (1 min) {load['start']} at the start, {load.get('end')} at "
                 "the end: other work on the machine slows both sides of each ratio")
    lines = [head, ""] + [f"{a:<{w0}}  {b:<{w1}}  {c}".rstrip() for a, b, c in rows]
    return "\n".join(lines)


# -- command line -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="torchdeck bench",
        description="Measure training speed against a bare PyTorch loop, with and without the "
                    "app, the app's event-loop lag, start-up, prediction latency, memory and a "
                    "short quality run. About 3 minutes on 2 CPU cores; --quick about half a "
                    "minute.")
    p.add_argument("--json", action="store_true", help="print one JSON object, no table")
    p.add_argument("--quick", action="store_true",
                   help="a tiny model and short windows: checks the plumbing, not the speed")
    p.add_argument("--quality", action="store_true",
                   help=f"run the quality figure for the full {FULL_QUALITY_STEPS} steps "
                        "(about 4 minutes more on 2 cores)")
    p.add_argument("--quality-steps", type=int, metavar="N",
                   help="steps of the quality run (default 300; 20 with --quick)")
    p.add_argument("--rounds", type=int, metavar="N",
                   help="A/B rounds with the app (default 3); twice as many headless")
    p.add_argument("--window", type=float, metavar="SECONDS",
                   help="seconds measured per window with the app (default 5); half that "
                        "headless")
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="torch threads for the engine and the bare loop (default: torch's)")
    return p


def plan_from_args(args: argparse.Namespace) -> Plan:
    plan = Plan.quick_plan() if args.quick else Plan()
    for name, value, low in (("rounds", args.rounds, 1), ("quality_steps", args.quality_steps, 1),
                             ("threads", args.threads, 0)):
        if value is not None and value < low:
            raise TorchdeckError(f"--{name.replace('_', '-')} {value} is out of range",
                                 f"give an integer ≥ {low}")
    if args.window is not None and not 0.2 <= args.window <= 600:
        raise TorchdeckError(f"--window {args.window} is out of range",
                             "give seconds in [0.2, 600]")
    if args.rounds:
        plan.rounds, plan.overhead_rounds = args.rounds, 2 * args.rounds
    if args.window:
        plan.window_s, plan.overhead_window_s = args.window, args.window / 2
    if args.quality:
        plan.quality_steps = FULL_QUALITY_STEPS
    if args.quality_steps:
        plan.quality_steps = args.quality_steps
    plan.threads = args.threads
    return plan


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        plan = plan_from_args(args)
    except TorchdeckError as exc:
        print(f"torchdeck bench: {exc.message}; {exc.hint}", file=sys.stderr)
        return 2
    started = time.perf_counter()

    def say(text: str) -> None:
        if not args.json:
            print(text, file=sys.stderr, flush=True)

    result = asyncio.run(run_bench(plan, say))
    result["bench_s"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(result))
    else:
        print(table(result))
        print(f"\n(bench took {result['bench_s']:.0f} s)")
    return 1 if result["errors"] else 0
