"""The engine's training run: its state machine (idle, running, paused, finished, stopped,
diverged), the slices of training its loop runs, and the ``train_progress`` reports.

A mixin of :class:`core.engine.Engine`, kept apart from the engine's loop, I/O and dispatch. It
uses the engine's ``session``, ``requests`` (a waiting request ends a slice), ``event`` (to send)
and ``interrupt_pending`` (a SIGINT ends a slice and pauses). The ops in ``core.train_ops``
drive it: ``begin_running``, ``pause``, ``stop``, ``report``, ``new_session``.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

from core.contract import DEFAULT_PRESET, TrainProgress, TrainState
from core.errors import ConfigError
from core.i18n import _
from core.protocol import error_info
from core.run_claim import FolderClaim


class RunControl:
    state = "idle"  # idle | running | paused | finished | stopped | diverged
    report_interval = 0.1  # seconds between progress events while running
    sample_chars = 0  # characters of generated text sent with each validation report
    train_time = 0.0  # seconds spent running, pauses excluded
    _run_started = 0.0
    _last_report = 0.0
    _window_start = 0.0
    _window_steps = 0
    autosave_path: str | None = None  # where the run's checkpoint is autosaved; None: nowhere
    autosave_s = 0.0  # seconds of training between autosaves; 0: autosave off
    _autosaved_at = 0.0  # running_time() at the last autosave
    _autosaved_step = -1
    reply_to = None  # the engine's client whose request is being handled
    metrics_file = None  # the run's metrics.jsonl (core.metric_log.MetricsFile), if it has one
    monitor = None  # core.monitor.Monitor: the machine's figures, once the loop runs
    folder_claim: FolderClaim | None = None  # the folder autosaves go to, held for this engine

    def require_session(self):
        if self.session is None:
            raise ConfigError(
                _("no model is configured yet"),
                _("send configure (e.g. preset '{preset}') or load a checkpoint first").format(
                    preset=DEFAULT_PRESET
                ),
            )
        return self.session

    def refuse_while_training(self, what: str) -> None:
        """ConfigError while a run trains or is paused; ``what`` is the action refused, in the
        language of the moment (e.g. ``_("load a checkpoint")``)."""
        if self.state == "running":
            message = _("cannot {action} while training is running")
        elif self.state == "paused":
            message = _("cannot {action} while training is paused")
        else:
            return
        raise ConfigError(message.format(action=what), _("stop training first (train_stop)"))

    def set_state(self, state: str, reason: str = "") -> None:
        self.state = state
        step = self.session.trainer.step if self.session else 0
        who = self.reply_to.id if self.reply_to is not None else 0
        self.event("train_state", **TrainState(state, reason, step, who).to_dict())

    def new_session(self, session, reason: str) -> None:
        """Hold ``session`` from now on, its run not started."""
        self.close_metrics()  # the next run says where its rows go
        self.session = session
        # compiling blocks the loop for seconds: the clients hear when it starts and ends
        session.trainer.compiler.notify = lambda state: self.event("compile", **state.to_dict())
        self.train_time = 0.0
        self.last_progress = self.last_sample = None  # the last model's, not this one's
        self.set_state("idle", reason)

    # -- the machine beside the run ------------------------------------------------------------

    def start_monitor(self) -> None:
        """Sample the machine about once a second while a client is attached or a run trains."""
        from core.monitor import Monitor

        self.monitor = Monitor(
            wanted=lambda: self.state == "running" or self.attached() > 0,
            training=lambda: self.state == "running",
            device=self._cuda_index,
        ).start()

    def _cuda_index(self) -> int | None:
        device = getattr(self.session, "device", None)
        if getattr(device, "type", None) != "cuda":
            return None
        return device.index or 0

    def send_system(self) -> None:
        """The newest machine sample to every client, if one was taken since the last."""
        sample = self.monitor.take() if self.monitor is not None else None
        if sample is not None:
            self.event("system", **sample.to_dict())

    def open_metrics(self, path: str) -> None:
        """Append the run's metrics rows to ``path`` from now on (its folder is made)."""
        import os

        from core.metric_log import MetricsFile

        if self.metrics_file is not None and self.metrics_file.path == path:
            return
        self.close_metrics()
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        except OSError:
            pass  # opening the file says why in one sentence
        self.metrics_file = MetricsFile(path, self._metrics_failed)

    def close_metrics(self) -> None:
        if self.metrics_file is not None:
            self.metrics_file.close()
            self.metrics_file = None

    def _metrics_failed(self, message: str) -> None:
        self.event(
            "error",
            type="MetricsError",
            message=message,
            hint=_("free some space, or train into another folder (--out)"),
        )

    def pause(self, reason: str) -> None:
        self.report(final=True)  # a run left paused (Ctrl-C) has rows up to where it ended
        self.train_time += time.perf_counter() - self._run_started
        self.set_state("paused", reason)

    def stop(self) -> None:
        if self.state == "running":
            self.train_time += time.perf_counter() - self._run_started
        if self.state in ("running", "paused"):
            self.report(final=True)  # the steps since the last metrics row get theirs
            self.set_state("stopped", _("stopped by request"))
            self.autosave(due=False)

    # -- autosave ------------------------------------------------------------------------------

    def running_time(self) -> float:
        """Seconds of training in this run so far, pauses excluded."""
        running = time.perf_counter() - self._run_started if self.state == "running" else 0.0
        return self.train_time + running

    def set_autosave(self, path: str | None, minutes: float) -> None:
        """Autosave to ``path`` every ``minutes`` of training; its folder is claimed first
        (core.run_claim: FolderTaken if another engine autosaves there, nothing changed)."""
        if path and minutes > 0:
            if self.folder_claim is None:
                self.folder_claim = FolderClaim()
            info = self.info
            holder = {"id": info.id or str(os.getpid()), "pid": os.getpid(), "host": info.host}
            self.folder_claim.claim(Path(path).parent, holder)
        self.autosave_path = path
        self.autosave_s = 60.0 * minutes if path else 0.0
        self._autosaved_at = self.running_time()

    def autosave(self, due: bool = True) -> None:
        """Write the run's checkpoint to ``autosave_path``: with ``due``, only once
        ``autosave_s`` of training have passed since the last one; otherwise now (the run
        finished or stopped, or its client left). Never a diverged model, never the same step
        twice; a failure (a full disk) is an ``error`` event and the run goes on."""
        s = self.session
        if not (self.autosave_path and self.autosave_s and s is not None):
            return
        if due and self.running_time() - self._autosaved_at < self.autosave_s:
            return
        self._autosaved_at = self.running_time()
        if s.trainer.step == self._autosaved_step or s.trainer.step == 0:
            return
        self.report()  # pending losses go into the history the checkpoint keeps
        if s.trainer.diverged or not _finite(s.model):
            return  # the last good checkpoint stays as it is
        try:
            path = s.save(self.autosave_path)
        except Exception as exc:  # a full disk must not stop the run
            info = error_info(exc)
            message = _("autosave failed: {message}").format(message=info.message)
            self.event("error", type=info.type, message=message, hint=info.hint)
            return
        self._autosaved_step = s.trainer.step
        self.event("autosaved", path=path, step=s.trainer.step)

    def begin_running(self) -> None:
        self.session.trainer.restart_clock()
        now = time.perf_counter()
        self._run_started = now
        self._window_start = now
        self._window_steps = 0
        # the first report goes out after the first slice, not a report interval later: a
        # person who pressed start sees the run move at once
        self._last_report = now - self.report_interval
        self.set_state("running")

    def train_slice(self) -> None:
        trainer = self.session.trainer
        # Not interruptible: a SIGINT sets the pending flag and ends the slice cleanly. A request
        # waiting in the queue also ends it after the step in flight, so a prediction typed
        # during training waits at most about one step, not the rest of a ~50 ms slice.
        requests = self.requests
        try:
            n = trainer.run_for(
                0.05, should_stop=lambda: self.interrupt_pending or not requests.empty()
            )
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            info = error_info(exc)
            self.event("error", type=info.type, message=info.message, hint=info.hint)
            self.pause(f"error: {info.message}")
            return
        self._window_steps += n
        now = time.perf_counter()
        if trainer.done or now - self._last_report >= self.report_interval:
            self.report()
        if trainer.diverged:
            self.train_time += now - self._run_started
            self.set_state(
                "diverged",
                _(
                    "{why}; the last saved checkpoint is untouched: load it, lower the learning "
                    "rate, and start again"
                ).format(why=trainer.diverged),
            )
        elif trainer.done:
            self.train_time += now - self._run_started
            self.set_state("finished", _("reached step {step}").format(step=trainer.step))
            self.autosave(due=False)
        else:
            self.autosave()

    def report(self, timed: bool = True, final: bool = False) -> None:
        """Send the losses pending since the last report as a ``train_progress`` event, and
        their metrics rows to the run's file; with ``timed`` False (one step by hand) the pace
        figures are left unknown; ``final``: the run stops here (``Trainer.flush``)."""
        trainer = self.session.trainer
        if self.monitor is not None:  # each row carries the machine's latest figures
            trainer.log.system = self.monitor.row_fields()
        losses = trainer.flush(final)
        now = time.perf_counter()
        if losses is None:
            return
        if self.metrics_file is not None:
            self.metrics_file.write(losses.get("rows") or [])
        steps = trainer.config.steps
        if timed:
            steps_per_s = self._window_steps / max(now - self._window_start, 1e-9)
            running = self.train_time + (now - self._run_started if self.state == "running" else 0)
            pace = dict(
                steps_per_s=steps_per_s,
                tokens_per_s=steps_per_s * trainer.tokens_per_step,
                elapsed_s=running,
                eta_s=(steps - trainer.step) / steps_per_s if steps_per_s > 0 else None,
            )
        else:
            pace = dict(elapsed_s=self.train_time)
        sample = None
        if (
            timed
            and losses["val_loss"] is not None
            and self.sample_chars
            and self.session.tokenizer
        ):
            sample = self._sample(self.sample_chars)
        progress = TrainProgress(**losses, steps=steps, state=self.state, sample=sample, **pace)
        self._last_report = now
        self._window_start = now
        self._window_steps = 0
        self.event("train_progress", **progress.to_dict())

    def _sample(self, n: int) -> str:
        from core.predict import Sampling, generate

        s = self.session
        return "".join(
            generate(
                s.model,
                s.tokenizer,
                "\n",
                n,
                s.block_size,
                s.device,
                Sampling(temperature=0.8),
                seed=s.trainer.step,
            )
        )


def _finite(model) -> bool:
    """Whether every weight of ``model`` is finite (a diverged step can leave NaN behind)."""
    import torch

    with torch.no_grad():
        return all(bool(torch.isfinite(p).all()) for p in model.parameters())
