"""Headless ``torchdeck train``: a front end without Textual (``torchdeck sample`` is in
``cli/sample.py``).

Imports no torch: like the app, they drive the engine process through ``core.client``, so the
training they run is exactly the engine's. On a terminal, ``train`` draws one live progress
line; anywhere else (nohup, CI, a pipe) it prints plain one-line records with no control
characters (cli/records.py words them). The engine appends the run's metrics rows to
``OUT/metrics.jsonl`` (``core.metric_log``). Ctrl-C, a hang-up (the terminal closed) and SIGTERM save a checkpoint first; the
engine runs in its own session, so the hang-up does not reach it. A diverged run is never saved.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from cli import records
from cli.records import is_finite, merge, plain_record, summary_lines
from cli.records import progress_line as progress_line
from cli.resume import prepare
from cli.settings_args import write_config
from core.client import EXITED, EngineClient
from core.contract import (
    SaveArgs,
    SessionInfo,
    TrainProgress,
    TrainStartArgs,
    TrainState,
)
from core.contract.settings import DEFAULT_PRESET
from core.errors import EngineDied, EngineError, TorchdeckError
from core.i18n import N_, _
from core.placement import Placement
from core.transport import engine_command

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"
# the signals that end a run with a final save (exit code 128 + N), as its last line names them
STOP_SIGNALS = {
    signal.SIGINT: N_("interrupted"),
    signal.SIGTERM: N_("terminated (SIGTERM)"),
    signal.SIGHUP: N_("hang-up (SIGHUP)"),
}


class TrainRun:
    """One headless training run over an engine client."""

    def __init__(self, args: argparse.Namespace, out: TextIO = sys.stdout) -> None:
        self.args = args
        self.out = out
        self.tty = out.isatty() and not os.environ.get("CI")
        self.preset = args.preset or DEFAULT_PRESET
        own = getattr(args, "model", None)  # one's own model: its file names the run
        name = Path(own.rpartition(":")[0]).stem if own else self.preset
        self.dir = (
            Path(args.out)
            if args.out
            else Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        )
        self.last_val = None
        self.last = TrainProgress()
        self.first_loss = None
        self.info = SessionInfo()
        self.stop_signal: int | None = None
        self.start_step = 0
        self.tokens_per_step = 0
        self.saved: tuple[int, str] | None = None  # (step, path) of the last checkpoint written
        self.save_report_step: int | None = None  # a save's own report, expected at this step
        self.carry: TrainProgress | None = None  # that report, held for the next record
        self.training = False  # train_start sent: a stop signal now means "save and exit"
        self.errors_said: set = set()  # the engine's error messages already printed
        self.unsaid: list[str] = []  # those received, said when the run stops

    @property
    def stop_requested(self) -> bool:
        return self.stop_signal is not None

    def say(self, text: str) -> None:
        try:
            if self.tty:
                self.out.write("\r\x1b[2K")
            self.out.write(text + "\n")
            self.out.flush()
        except (OSError, ValueError):  # the terminal is gone (hang-up): the run goes on
            pass

    async def run(self) -> int:
        args = self.args
        ckpt = self.dir / CHECKPOINT
        if args.resume and not ckpt.exists():
            raise TorchdeckError(
                _("--resume: no checkpoint at {path}").format(path=ckpt),
                _("give --out the folder of an earlier run"),
            )
        if not args.resume and ckpt.exists():
            raise TorchdeckError(
                _("{path} already exists").format(path=ckpt),
                _("pass --resume to continue that run, or choose another --out"),
            )

        loop = asyncio.get_running_loop()
        handled = []
        for signum in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self._on_signal, signum)
                handled.append(signum)
        # the engine also serves a socket: torchdeck attach shows this run live
        argv = engine_command(args.nice, args.threads)
        if Placement.from_env() is not None:  # rank 0 of a torchrun job (cli.launch)
            argv += ["--dist", "--dist-timeout", str(args.dist_timeout)]
        if self._can_serve():
            argv += ["--serve", "--run-dir", str(self.dir.resolve())]
        client = EngineClient(argv)
        self.client = client
        try:
            await client.start()
            return await self._train(client, ckpt)
        finally:
            for signum in handled:
                loop.remove_signal_handler(signum)
            await client.close()

    def _can_serve(self) -> bool:
        """Whether the engine can serve its socket; if its folder is refused, the run goes on
        without one (it cannot be attached), and says why."""
        from core.runtime import RuntimeDirError, runtime_dir

        try:
            runtime_dir()
        except RuntimeDirError as exc:
            said = _("warning: {message}; this run cannot be attached ({hint})")
            self.say(said.format(message=exc.message, hint=exc.hint))
            return False
        return True

    def _on_signal(self, signum: int) -> None:
        client = getattr(self, "client", None)
        if self.stop_signal is not None and client is not None and client.running:
            # a second stop: the step in flight never ends (a model's forward that hangs)
            self.say(_("stopped again: the engine is killed; its last checkpoint is what is kept"))
            client.kill()
            return
        if self.stop_signal is None:
            self.stop_signal = signum
        if not self.training and client is not None and client.running:
            client.interrupt()  # the engine is loading the corpus or the checkpoint: stop it

    async def _train(self, client: EngineClient, ckpt: Path) -> int:
        args = self.args
        info = await prepare(self, client, ckpt)
        if self.stop_requested:  # while the corpus or the checkpoint was loading
            words = STOP_SIGNALS.get(self.stop_signal, STOP_SIGNALS[signal.SIGINT])
            said = _("{what} before training began: nothing was trained or saved")
            self.say(said.format(what=_(words)))
            return 128 + int(self.stop_signal)
        if info is None:
            return 0
        if args.resume:
            start = TrainStartArgs(
                steps=args.steps or info.steps, report_interval=args.report_every
            )
        else:
            start = TrainStartArgs(report_interval=args.report_every)
        # the engine also saves the run on its own: every few minutes of training, and if this
        # front end dies without its own final save (SIGKILL, a crash)
        start = replace(start, autosave_path=str(ckpt), autosave_minutes=args.autosave_minutes)
        self.info = info
        self.start_step = info.step
        self.tokens_per_step = info.tokens_per_step
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TorchdeckError(
                _("cannot create the run folder {path}: {reason}").format(
                    path=self.dir, reason=exc.strerror
                ),
                _("give --out a folder that can be written (not an existing file)"),
            ) from None
        if not args.resume:  # what it runs with, for --config to repeat (cli/settings_args.py)
            write_config(self.dir, info, info.device)
        self.say(records.first_line(info, self.dir))
        # the engine writes the rows (every --log-every steps and at each evaluation), so the
        # run's file is whole even when this front end dies and the engine goes on
        start = replace(start, log_every=args.log_every, metrics_path=str(self.dir / METRICS))
        self.training = True
        await client.call(start)
        return await self._follow(client, ckpt)

    # -- reports -------------------------------------------------------------------------------

    def _record(self, progress: TrainProgress) -> None:
        """One report: one metrics record and one line. A save's own report (the losses since
        the report before it) is held and joins the next, so an evaluation gives one record."""
        if self.save_report_step is not None and progress.step == self.save_report_step:
            self.save_report_step = None
            self.carry = progress if self.carry is None else merge(self.carry, progress)
            return
        self.save_report_step = None
        if self.carry is not None:
            progress, self.carry = merge(self.carry, progress), None
        self.last = progress
        if self.first_loss is None:  # the first step's loss: where this run started
            self.first_loss = progress.losses[0] if progress.losses else progress.loss
        if progress.val_loss is not None:
            self.last_val = progress.val_loss
        if self.tty:
            with contextlib.suppress(OSError, ValueError):
                self.out.write("\r\x1b[2K" + progress_line(progress, self.last_val))
                self.out.flush()
        else:
            self.say(plain_record(progress))

    def _flush_carry(self) -> None:
        if self.carry is not None:
            held, self.carry, self.save_report_step = self.carry, None, None
            self._record(held)

    def _take_queued(self, client: EngineClient) -> None:
        """Record the reports already received (those a pause or a save just sent), and say
        the engine's errors among them (a rank of the job gone, as the job is stopped)."""
        for ev in client.drain_events():
            if ev.event == "train_progress":
                self._record(TrainProgress.from_dict(ev.data))
            elif ev.event == "error":
                self._engine_error(ev.data)
        for message in self.unsaid:
            if message not in self.errors_said:
                self.errors_said.add(message)
                self.say(_("error: {message}").format(message=message))
        self.unsaid.clear()

    def _engine_error(self, data: dict) -> None:
        """A failed metrics write is a warning, said at once (the run goes on); any other error
        is said with the pause it comes with, or by ``_stop``."""
        message = str(data.get("message"))
        if data.get("type") == "MetricsError":
            self.say(_("warning: {message}").format(message=message))
        else:
            self.unsaid.append(message)

    async def _save(self, client: EngineClient, ckpt: Path, step: int) -> str | None:
        """Save unless this step is saved already; None when the weights are not finite."""
        if self.saved is not None and self.saved[0] == step:
            return self.saved[1]
        try:
            result = await client.call(SaveArgs(str(ckpt)))
        except EngineError as exc:
            if "non-finite" in exc.message or "NaN" in exc.message:
                return None  # diverged: the train_state that says so follows
            raise
        self.saved = (result.step, result.path)
        return result.path

    async def _autosaved(self, client: EngineClient, ckpt: Path, step: int) -> None:
        """A stopped run is saved by the engine itself, right after it says so: that save is
        taken as this step's, so no save of ours comes after a reset or a load that the
        client who stopped the run may send at once (it would write another model over it)."""
        if not self.args.autosave_minutes or (self.saved and self.saved[0] == step):
            return  # no save of the engine's comes: ours is the one, or it is done
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                ev = await client.next_event(timeout=0.1)
            except (asyncio.TimeoutError, TimeoutError):
                continue
            if ev.event == "autosaved" and ev.data.get("step") == step:
                if Path(ev.data.get("path", "")).resolve() == ckpt.resolve():
                    self.saved = (step, ev.data["path"])
                return
            if ev.event == EXITED:
                raise EngineDied(ev.data.get("returncode"), ev.data.get("stderr_tail", ""))

    # -- the run -------------------------------------------------------------------------------

    async def _follow(self, client: EngineClient, ckpt: Path) -> int:
        while True:
            if self.stop_requested:
                return await self._stop(client, ckpt)
            try:
                ev = await client.next_event(timeout=0.25)
            except (asyncio.TimeoutError, TimeoutError):
                continue
            if ev.event == "train_progress":
                progress = TrainProgress.from_dict(ev.data)
                self._record(progress)
                if progress.val_loss is not None and is_finite(progress.loss):
                    if await self._save(client, ckpt, progress.step) is not None:
                        self.save_report_step = self.saved[0]
            elif ev.event == "train_state":
                state = TrainState.from_dict(ev.data)
                if state.state == "finished":
                    self._flush_carry()
                    path = await self._save(client, ckpt, state.step)
                    self._summary(path)
                    return 0
                if state.state == "diverged":
                    self._flush_carry()
                    self._diverged(state, ckpt)
                    return 1
                if state.state == "paused" and state.reason.startswith("error"):
                    return await self._failed(client, ckpt, state)
                if state.state == "stopped":  # torchdeck stop, or an attached app
                    self._flush_carry()
                    await self._autosaved(client, ckpt, state.step)
                    path = await self._save(client, ckpt, state.step)
                    self.say(_("stopped by another client at step {step}").format(step=state.step))
                    self._summary(path)
                    return 0
                if state.client > 1 and state.state in ("paused", "running"):
                    if state.state == "paused":
                        said = _("paused by an attached client at step {step}")
                    else:
                        said = _("resumed by an attached client at step {step}")
                    self.say(said.format(step=state.step))
            elif ev.event == "compile":
                self.say(records.compile_line(ev.data))
            elif ev.event == "error":
                self._engine_error(ev.data)
            elif ev.event == EXITED:
                raise EngineDied(ev.data.get("returncode"), ev.data.get("stderr_tail", ""))

    async def _failed(self, client: EngineClient, ckpt: Path, state: TrainState) -> int:
        """Training stopped on an error (a rank of the job gone, a device fault): the steps
        done so far are kept, as they are whole, and the line says how to go on."""
        self._flush_carry()
        self.errors_said.add(state.reason.removeprefix("error: "))
        said = _("error: training stopped at step {step}: {reason}")
        self.say(said.format(step=state.step, reason=state.reason[7:]))
        with contextlib.suppress(EngineError):
            path = await self._save(client, ckpt, state.step) if is_finite(self.last.loss) else None
            if path is not None:
                said = _(
                    "checkpoint saved to {path}: fix the cause, then train again with --resume"
                )
                self.say(said.format(path=path))
        return 1

    async def _stop(self, client: EngineClient, ckpt: Path) -> int:
        """Ctrl-C, SIGTERM or a hang-up: record what is pending, save, exit 128 + the signal."""
        signum = self.stop_signal or signal.SIGINT
        with contextlib.suppress(EngineError):  # it may have just finished
            await client.call("train_pause")
        self._take_queued(client)
        path = await self._save(client, ckpt, self.last.step) if is_finite(self.last.loss) else None
        self._take_queued(client)
        self._flush_carry()
        what = STOP_SIGNALS.get(signum, STOP_SIGNALS[signal.SIGINT])
        if path is None:
            said = _("{what}: the run had diverged, so its weights were not saved")
        else:
            said = _("{what}: checkpoint saved to {path}")
        self.say(said.format(what=_(what), path=path))
        return 128 + int(signum)

    def _diverged(self, state: TrainState, ckpt: Path) -> None:
        self.say(records.diverged_line(self, state, ckpt))

    def _summary(self, path: str | None) -> None:
        for line in summary_lines(self, path):
            self.say(line)


def run_train(args: argparse.Namespace) -> int:
    from cli.engines import refuse_a_second_engine
    from core.runtime import RuntimeDirError

    run = TrainRun(args)
    try:
        refuse_a_second_engine(str(run.dir), states=None)  # one run in a folder at a time
    except RuntimeDirError:
        pass  # no engine can be listed there; the run warns that it cannot be attached
    except TorchdeckError as exc:
        return refuse(exc)
    return _run(run.run())


def _run(coro) -> int:
    try:
        return asyncio.run(coro)
    except EngineDied as exc:
        said = _("error: {message}").format(message=exc.message)
        tail = _("--- engine stderr (last lines) ---")
        _error(f"{said}\n{tail}\n{exc.stderr_tail}")
        return 1
    except (EngineError, TorchdeckError) as exc:
        return refuse(exc)
    except KeyboardInterrupt:
        return 130


def refuse(exc: EngineError | TorchdeckError) -> int:
    """A run refused (a setting, a file): what and why, exit code 2."""
    said = _("error: {message}").format(message=exc.message)
    hint = "\n" + _("hint: {hint}").format(hint=exc.hint) if exc.hint else ""
    _error(said + hint)
    return 2


def _error(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # no terminal left after a hang-up
        print(text, file=sys.stderr)
