"""The Train pane: config form, live run chart, metrics, the machine's line, the five-step strip,
text samples."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Static

from core import contract  # its messages load on first use, after the first frame
from core.contract.settings import DEFAULT_PRESET, MODEL_SIZE_NAMES, PARABOLA
from core.errors import TorchdeckError
from core.i18n import N_, _
from tui.panes.base import Pane
from tui.widgets.config_form import TRAIN_KEYS, ConfigForm
from tui.widgets.loop_strip import LoopStrip
from tui.widgets.run_chart import RunChart
from tui.widgets.system_line import MachineState, SystemLine
from tui.widgets.train_metrics import TrainMetrics

if TYPE_CHECKING:
    from core.contract import AttachResult, SessionInfo, TrainProgress

DEFAULT_CHECKPOINT = "runs/torchdeck/checkpoint.pt"
AUTOSAVE_NAME = "autosave.pt"  # beside the checkpoint
REPORT_INTERVAL_S = 0.25  # seconds between the engine's progress events while training
REPORT_DRAWS = ("metrics", "val_loss", "detail", "sample")  # what a progress report draws


def no_sample() -> str:
    return _("sample: (appears at each evaluation)")


def parabola_note() -> str:
    return _("parabola: f(x) = 3x² − 2x + 3, start x = −1, optimum x = 1/3")


class TrainPane(Pane):
    TITLE = N_("Train pane")
    BINDINGS = [
        Binding("s", "start", N_("Start")),
        Binding("space", "pause", N_("Pause"), tooltip=N_("Pause/resume")),
        Binding("n", "step", N_("Step")),
        Binding("x", "stop", N_("Stop")),
        Binding("a", "apply", N_("Apply"), tooltip=N_("Apply config")),
        Binding("ctrl+s", "save", N_("Save")),
        Binding("ctrl+o", "load", N_("Load")),
        Binding("R", "reset", N_("Reset model")),
        Binding("c", "chart_view", N_("Chart")),
        Binding("m", "smoothing", N_("Smooth")),
        Binding("w", "chart_window", N_("Window")),
        Binding("g", "log_scale", N_("Log scale")),
        Binding("o", "compare", N_("Compare run")),
    ]

    def __init__(self, initial: dict, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.initial = initial
        self.state = "starting"
        self.preset = initial.get("preset", DEFAULT_PRESET)
        self.checkpoint_path = initial.get("checkpoint") or DEFAULT_CHECKPOINT
        # autosave writes beside it, never over what ctrl+s saved (a new run's early steps
        # must not replace a finished run's model)
        self.autosave_path = str(Path(self.checkpoint_path).with_name(AUTOSAVE_NAME))
        self.metrics_path: str | None = None  # this run's metrics.jsonl, once it has started
        self._sample = no_sample  # makes the sample line's text (again after a switch of language)

    def compose(self) -> ComposeResult:
        with Horizontal(id="train-top"):
            yield ConfigForm(self.initial, id="config-form")
            yield RunChart(id="run-chart")
            yield TrainMetrics(id="train-metrics")
        yield SystemLine(id="system-line")
        yield LoopStrip(id="loop-strip")
        yield Static(self._sample(), id="train-sample")

    def relabel(self) -> None:
        """The sample line in the new language (the other parts draw their own)."""
        self.query_one("#train-sample", Static).update(self._sample(), layout=False)

    def _show_sample(self, draw: Callable[[], str], layout: bool = True) -> None:
        self._sample = draw
        self.query_one("#train-sample", Static).update(draw(), layout=layout)

    # -- engine events -------------------------------------------------------------------------

    def _show_settings(self, info: SessionInfo) -> None:
        """The form shows the settings of the model the engine holds."""
        tc, mc = info.train_config, info.model_config
        source = (info.corpus or {}).get("source")
        self.query_one(ConfigForm).set_values(
            {
                "preset": info.preset,
                "lr": tc["lr"],
                "batch_size": tc["batch_size"],
                "block_size": mc.get("block_size", ""),
                "steps": tc["steps"],
                "seed": tc["seed"],
                "corpus": "" if source in (None, "pydoc") else source,
                "factory": info.factory or "",
                **{k: v for k, v in mc.items() if k in MODEL_SIZE_NAMES},
                **{k: tc[k] for k in TRAIN_KEYS if k in tc},
            }
        )

    def configured(self, info: SessionInfo) -> None:
        """A configure, reset or load reply arrived: show the new model's settings."""
        self.preset = info.preset
        self.metrics_path = None  # a new model: its run gets a new folder
        self.forget_pending(*REPORT_DRAWS)  # an older model's figures
        self._show_settings(info)
        tc = info.train_config
        chart = self.query_one(RunChart)
        chart.clear()
        chart.ylabel = "f(x)" if self.preset == PARABOLA else "loss"
        chart.clip = tc.get("grad_clip") or 0
        if info.history is not None:
            chart.load(info.history)
        chart.replot()
        metrics = self.query_one(TrainMetrics)
        metrics.val_loss = None
        metrics.data = contract.TrainProgress(step=info.step, steps=info.steps)
        self.query_one(LoopStrip).detail = None
        self._show_sample(parabola_note if self.preset == PARABOLA else no_sample)

    def attached(self, result: AttachResult) -> None:
        """Attached to a running engine: its run's state (keys s, space, x work on it as if
        this app had started it), its latest figures and its latest sample."""
        self.state = result.state
        self.relabel_key("space", N_("Resume") if result.state == "paused" else N_("Pause"))
        self.forget_pending(*REPORT_DRAWS)
        self.query_one(LoopStrip).running = result.state == "running"
        progress = result.progress
        metrics = self.query_one(TrainMetrics)
        if progress is not None:
            metrics.val_loss = progress.val_loss
            metrics.data = progress
        elif result.session is not None:
            from tui.attach import last_val_loss

            metrics.val_loss = last_val_loss(result.session)
        if result.sample:
            text = result.sample.replace("\n", "⏎")
            self._show_sample(lambda: _("sample (latest): {text}").format(text=text))

    def engine_event(self, name: str, data) -> None:
        if name == "train_progress":
            self.progress(data)
        elif name == "train_state":
            self.state_changed(data.state, data.reason)
        elif name == "autosaved":
            self.app.notify(
                _("autosaved step {step} to {path}").format(step=data["step"], path=data["path"]),
                timeout=3,
            )

    def show_machine(self, machine: MachineState) -> None:
        """The engine's latest system sample, or its first warning, in the line under the chart
        (drawn when the pane is next shown, while it is hidden)."""
        line = self.query_one(SystemLine)
        self.draw_when_shown("machine", lambda: line.show(machine))

    def progress(self, data: TrainProgress) -> None:
        chart = self.query_one(RunChart)
        chart.add(
            data.first_step or data.step,
            data.losses,
            data.val_loss,
            data.val_step or data.step,
            data.stride or 1,
        )
        chart.add_rows(data.rows or [])
        # the figures wait while the pane is hidden (Pane.draw_when_shown), the latest of each
        # kind; the chart skips its drawing while hidden by itself
        metrics = self.query_one(TrainMetrics)
        self.draw_when_shown("metrics", lambda: setattr(metrics, "data", data))
        if data.val_loss is not None:
            self.draw_when_shown("val_loss", lambda: setattr(metrics, "val_loss", data.val_loss))
        if data.detail is not None:  # the five steps of the report's latest step
            strip = self.query_one(LoopStrip)
            self.draw_when_shown("detail", lambda: setattr(strip, "detail", data.detail))
        if data.sample:  # one line, its height fixed: no layout
            text = data.sample.replace("\n", "⏎")

            def draw() -> str:
                return _("sample @ {step}: {text}").format(step=data.step, text=text)

            self.draw_when_shown("sample", lambda: self._show_sample(draw, layout=False))

    def state_changed(self, state: str, reason: str) -> None:
        self.state = state
        self.relabel_key("space", N_("Resume") if state == "paused" else N_("Pause"))
        self.query_one(LoopStrip).running = state == "running"
        if state == "diverged":
            self.app.notify(reason, title=_("training diverged"), severity="error", timeout=10)
        elif state == "paused" and reason.startswith("error"):
            said = _("error: {message}").format(message=reason.removeprefix("error: "))
            self.app.notify(said, title=_("training stopped"), severity="error", timeout=10)

    # -- actions -------------------------------------------------------------------------------

    async def configure_from_form(self) -> bool:
        values = self.query_one(ConfigForm).values()
        if values is None:
            self.app.notify(_("fix the marked fields first"), severity="warning")
            return False
        info = await self.link.call(contract.ConfigureArgs(**values))
        if info is None:
            return False
        self.app.model_configured(info)
        return True

    def action_apply(self) -> None:
        # Building a model runs the person's own code, which may take long or never return: a
        # worker waits for it, so this pane's keys (and the app's, which bubble through it)
        # still work meanwhile: ctrl+r restarts a stuck engine. Load and reset likewise.
        self.run_worker(self._apply(), group="apply")

    async def _apply(self) -> None:
        if await self.configure_from_form():
            self.app.clear_notifications()  # "press a to build it" is done

    def on_input_submitted(self, event) -> None:
        """Enter in one of the form's fields applies the form, as ``a`` does outside it."""
        if self.query_one(ConfigForm) in event.input.ancestors:
            event.stop()
            self.run_worker(self.configure_from_form(), group="apply")

    async def choose_preset(self, preset: str, quiet: bool = False) -> None:
        """A fresh model of ``preset`` with all of its settings (the palette's Preset commands,
        a lesson); the corpus, device and seed in the form stay as they are."""
        await self.model_loaded()
        if self.state in ("running", "paused"):  # the engine would refuse: the form stays
            self.app.notify(
                _(
                    "a run is in progress: press x to stop it, then choose the {preset} preset"
                ).format(preset=preset),
                severity="warning",
                timeout=6,
            )
            return
        self.query_one(ConfigForm).choose(preset, keep_model=False)
        if not await self.configure_from_form():
            if self.app.last_info is not None:  # refused: the form shows the model there is
                self._show_settings(self.app.last_info)
            return
        if not quiet:
            self.app.notify(
                _("a fresh {preset} model with its own settings").format(preset=preset), timeout=3
            )

    async def model_loaded(self) -> None:
        """Wait for the first model while it loads: a key pressed meanwhile (s, n) acts once it
        is ready, as a person expects, while the other panes' keys go on working."""
        if not self.app.model_ready.is_set():
            self.app.notify(_("the model is loading: this runs once it is ready"), timeout=3)
            await self.app.model_ready.wait()

    async def action_start(self) -> None:
        await self.model_loaded()
        if self.query_one(ConfigForm).values() is None:
            self.app.notify(_("fix the marked fields first"), severity="warning")
            return
        # Progress four times a second is live enough for a person and keeps the UI's share of
        # the CPU small while the engine trains (each event re-renders metrics and status).
        await self.link.call(
            contract.TrainStartArgs(
                report_interval=REPORT_INTERVAL_S,
                sample_chars=0 if self.preset == PARABOLA else 80,
                # every few minutes of training, and when the run ends, the checkpoint is
                # written where ctrl+s writes it: a crash or a closed terminal loses little
                autosave_path=self.autosave_path,
                autosave_minutes=self.app.autosave_minutes,
                metrics_path=self.run_metrics_path(),
            )
        )

    @property
    def runs_dir(self) -> Path:
        """The folder of run folders: the checkpoint's folder's parent (``runs/``). Each run
        started afresh logs its rows in a folder of its own there (``runs/PRESET-TIME``, as
        headless runs do), where ``o`` and ``torchdeck plot`` find it."""
        return Path(self.checkpoint_path).parent.parent

    def run_metrics_path(self) -> str:
        """Where this run's metrics rows go: a new ``runs/PRESET-TIME`` folder for a model's
        first start, the same file when the run is started again."""
        if self.metrics_path is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            self.metrics_path = str(self.runs_dir / f"{self.preset}-{stamp}" / "metrics.jsonl")
        return self.metrics_path

    async def action_pause(self) -> None:
        if self.state == "running":
            await self.link.call("train_pause")
        elif self.state == "paused":
            await self.link.call("train_resume")
        else:
            self.app.notify(
                _("training is {state}; press s to start").format(state=self.state), timeout=3
            )

    async def action_step(self) -> None:
        await self.model_loaded()
        detail = await self.link.call("train_step")
        if detail is not None:
            self.query_one(LoopStrip).detail = detail

    async def action_stop(self) -> None:
        await self.link.call("train_stop")

    async def action_save(self) -> None:
        result = await self.link.call(contract.SaveArgs(self.checkpoint_path))
        if result:
            self.app.notify(
                _("saved step {step} to {path}").format(step=result.step, path=result.path),
                timeout=4,
            )

    def action_load(self) -> None:
        self.run_worker(self.load(self.checkpoint_path), group="apply")

    async def load_latest(self) -> None:
        """Load the newer of the saved and the autosaved checkpoint (after a crash)."""
        found = [p for p in (self.checkpoint_path, self.autosave_path) if os.path.isfile(p)]
        newest = max(found, key=os.path.getmtime) if found else self.checkpoint_path
        await self.load(newest)

    async def load(self, path: str) -> None:
        # one's own model is rebuilt by the factory the person named (the form's model field)
        own = self.query_one(ConfigForm).own_model() or None
        info = await self.link.call(contract.LoadArgs(path, factory=own))
        if info:
            self.app.model_configured(info)
            self.app.notify(
                _("loaded step {step} from {path}").format(step=info.step, path=path), timeout=4
            )

    def action_reset(self) -> None:
        self.run_worker(self._reset(), group="apply")

    async def _reset(self) -> None:
        info = await self.link.call("reset")
        if info:
            self.app.model_configured(info)
            self.app.notify(_("model reset to fresh random weights"), timeout=3)

    # -- the chart -----------------------------------------------------------------------------

    def action_log_scale(self) -> None:
        self.query_one(RunChart).toggle_log()

    def action_chart_view(self) -> None:
        self.query_one(RunChart).next_view()

    def action_smoothing(self) -> None:
        self.query_one(RunChart).cycle_smoothing()

    def action_chart_window(self) -> None:
        self.query_one(RunChart).cycle_window()

    def action_compare(self) -> None:
        """Pick a run folder beside this one to draw its loss with this run's (or none)."""
        from tui.screens.run_picker import RunPicker

        chart = self.query_one(RunChart)
        runs_dir = self.runs_dir
        self.app.push_screen(RunPicker(runs_dir, shown=chart.overlay is not None), self._compare)

    async def _compare(self, picked: str | None) -> None:
        chart = self.query_one(RunChart)
        if picked is None:  # cancelled
            return
        if not picked:
            chart.clear_overlay()
            return
        from tui.screens.run_picker import read_run

        try:
            train, val = await asyncio.to_thread(read_run, picked)
        except TorchdeckError as exc:
            self.app.notify(str(exc), title=_("cannot compare"), severity="error", timeout=8)
            return
        chart.set_overlay(Path(picked).name, train, val)
