"""The app, in a pseudo-terminal: training with the app open (``tui.bench_probe``), the
event loop's lag, start-up to first paint and the memory of both processes.

The app runs as ``torchdeck`` runs it, over a detached engine on its socket. Each app runs in
the bench's temporary folder (its engine's run folder, an autosave, land there) with its own
runtime folder for sockets (``engines.private_runtime``): every engine it leaves is ended."""

from __future__ import annotations

import fcntl
import json
import os
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

from core import i18n
from core.bench.bare_loop import BareLoop
from core.bench.engines import private_runtime
from core.bench.plan import TARGETS, Plan
from core.bench.stats import percentile, ratios, spread
from core.contract.settings import GPT
from core.errors import TorchdeckError
from core.i18n import _

TERM_SIZE = (80, 24)  # columns, rows of the pseudo-terminal the app runs in
LARGE_TERM_SIZE = (200, 50)  # the large screen the lag is also measured at
LAG_MAX_MS = 35.0  # no single lag sample above this (a frame and a bit: nothing felt)


class PtyApp:
    """A command run in a fresh pseudo-terminal (its controlling terminal, ``size`` columns ×
    rows), with its screen output read and thrown away as a terminal would consume it."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        size: tuple[int, int] = TERM_SIZE,
    ) -> None:
        master, slave = os.openpty()
        cols, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        # the app speaks English whatever the bench's language: the probes read its screen
        lang = {i18n.ENV_VAR: i18n.ENGLISH}
        full_env = {**os.environ, "TERM": "xterm-256color", **lang, **(env or {})}
        full_env.pop("COLUMNS", None)
        full_env.pop("LINES", None)

        def controlling_tty() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=full_env,
            preexec_fn=controlling_tty,
            close_fds=True,
            cwd=cwd,
        )
        os.close(slave)
        self.master = master
        self.tail = b""
        self.bytes_read = 0
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        """The reader thread: each chunk the program writes goes to ``_received``, and its end
        (the terminal closed) to ``_ended``."""
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                break
            if not chunk:
                break
            self._received(chunk)
        self._ended()

    def _received(self, chunk: bytes) -> None:
        self.bytes_read += len(chunk)
        self.tail = (self.tail + chunk)[-4000:]

    def _ended(self) -> None:
        pass

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise TorchdeckError(
                _("{command} did not finish in {seconds:.0f} s").format(
                    command=" ".join(self.proc.args[1:4]), seconds=timeout
                ),
                _("its last screen output: {screen}").format(screen=self.screen_tail()),
            ) from None
        finally:
            self._reader.join(timeout=2)
            os.close(self.master)

    def screen_tail(self) -> str:
        import re

        text = self.tail.decode("utf-8", "replace")
        text = re.sub(r"\x1b\[[0-9;?<>=]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]", "", text)
        return " ".join(text.split())[-300:]


def run_probe(
    plan: Plan, mode: str, workdir: Path, tag: str, size: tuple[int, int] = TERM_SIZE
) -> dict:
    """``tui.bench_probe`` in ``mode`` (train or rss), its engine a detached one it spawns, in a
    terminal of ``size``."""
    argv = [
        "--mode",
        mode,
        "--run-dir",
        str(workdir / f"engine-{tag}"),
        "--threads",
        str(plan.threads),
        "--warmup",
        str(plan.warmup_s),
        "--window",
        str(plan.window_s),
    ]
    if mode == "rss":
        argv += [
            "--model",
            json.dumps(plan.rss_model),
            "--train",
            json.dumps({**plan.rss_train, "eval_interval": 0}),
            "--steps",
            str(plan.rss_steps),
        ]
    else:
        argv += [
            "--model",
            json.dumps(plan.model),
            "--train",
            json.dumps({**plan.train, "eval_interval": 0}),
            "--steps",
            str(1_000_000),
        ]
    with private_runtime(workdir / f"sockets-{tag}"):
        return probe(argv, workdir, tag, size=size)


def probe(
    args: list[str],
    workdir: Path,
    tag: str,
    timeout: float = 300,
    size: tuple[int, int] = TERM_SIZE,
) -> dict:
    """Run ``python -m tui.bench_probe ARGS`` in a pseudo-terminal, in ``workdir``, and return
    the JSON it wrote; TorchdeckError if it wrote none or an error."""
    out = workdir / f"probe-{tag}.json"
    argv = [sys.executable, "-m", "tui.bench_probe", "--out", str(out), *args]
    app = PtyApp(argv, cwd=workdir, size=size)
    app.wait(timeout=timeout)
    if not out.exists():
        raise TorchdeckError(
            _("the app probe wrote no result (exit code {code})").format(code=app.proc.returncode),
            _("its last screen output: {screen}").format(screen=app.screen_tail()),
        )
    result = json.loads(out.read_text(encoding="utf-8"))
    if "error" in result:
        raise TorchdeckError(
            _("the app probe failed: {error}").format(error=result["error"]),
            _("its last screen output: {screen}").format(screen=app.screen_tail()),
        )
    return result


def lag_figure(lags: list[float], size: tuple[int, int]) -> dict:
    """The event loop's lag samples as a figure: p99 against one frame, max against
    :data:`LAG_MAX_MS`."""
    if not lags:
        raise TorchdeckError(_("no lag samples were taken"), _("lengthen the window"))
    p99 = percentile(lags, 99)
    return {
        "value": round(p99, 2),
        "p50": round(percentile(lags, 50), 2),
        "max": round(max(lags), 2),
        "samples": len(lags),
        "size": f"{size[0]}x{size[1]}",
        "target": TARGETS["ui_lag_ms_p99"],
        "max_target": LAG_MAX_MS,
        "met": p99 <= TARGETS["ui_lag_ms_p99"] and max(lags) <= LAG_MAX_MS,
    }


def measure_large_lag(plan: Plan, workdir: Path) -> dict:
    """ui_lag_ms_p99_200x50: the same app and run as ``measure_in_app``, on a 200×50 screen,
    where each chart has over six times the cells to draw."""
    lags: list[float] = []
    for r in range(plan.rounds):
        result = run_probe(plan, "train", workdir, f"large{r}", size=LARGE_TERM_SIZE)
        lags.extend(result["lag_ms"])
    return lag_figure(lags, LARGE_TERM_SIZE)


def measure_in_app(bare: BareLoop, plan: Plan, workdir: Path) -> tuple[dict, dict, dict]:
    """train_in_app and ui_lag_ms_p99: the app open on the Train pane (80×24), chart live,
    while its engine trains; alternating with the bare loop. Also the idle memory of both
    processes."""
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
    figure.update(
        app_tokens_per_s=round(statistics.median(app_rates)),
        bare_tokens_per_s=round(statistics.median(base)),
        # the app's own CPU use while the engine trains, in cores (lag probe included)
        ui_cpu_cores=round(statistics.median(ui_cpu), 3),
        target=TARGETS["train_in_app"],
    )
    figure["met"] = figure["median"] >= figure["target"]
    return figure, lag_figure(lags, TERM_SIZE), rss_idle


def measure_rss_growth(plan: Plan, workdir: Path) -> dict:
    result = run_probe(plan, "rss", workdir, "rss")
    return {
        "before": result["rss_idle_mb"],
        "after": result["rss_after_mb"],
        "steps": result["steps"],
        "model": {**plan.rss_model, **plan.rss_train},
    }


def measure_start(plan: Plan, workdir: Path) -> tuple[dict, dict, dict]:
    """first_paint_s and engine_ready_s of the real app in a pseudo-terminal (quit with q),
    alternating with ``python -c "import torch"`` as the reference."""
    with private_runtime(workdir / "sockets-start"):
        return _measure_start(plan, workdir)


def _measure_start(plan: Plan, workdir: Path) -> tuple[dict, dict, dict]:
    paints, readies, imports = [], [], []
    for r in range(plan.paint_runs):
        timings = workdir / f"timings{r}.json"
        app = PtyApp(
            [sys.executable, "-m", "cli.main", "--preset", GPT, "--device", "cpu"],
            env={"TORCHDECK_TIMINGS": str(timings)},
            cwd=workdir,  # its detached engine's run folder: runs/torchdeck in here
        )
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
            raise TorchdeckError(
                _("the app did not report its start-up timings"),
                _("its last screen output: {screen}").format(screen=app.screen_tail()),
            )
        paints.append(data["first_paint_s"])
        readies.append(data["engine_ready_s"])
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        imports.append(time.perf_counter() - started)
    paint = spread(paints)
    paint.update(target=TARGETS["first_paint_s"], met=paint["median"] <= TARGETS["first_paint_s"])
    return paint, spread(readies), spread(imports)
