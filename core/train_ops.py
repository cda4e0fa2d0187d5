"""The engine's ops for building a model and training it: configure, reset, the run's start,
pause, resume, one step and stop, evaluation, and checkpoints.

Each op checks its arguments through its contract class and answers with a contract object;
the run's state machine and its progress reports stay in the engine's loop
(:class:`core.engine.Engine`), which these ops drive.
"""

from __future__ import annotations

import time

from core.contract import (
    ConfigureArgs,
    EvaluateResult,
    LoadArgs,
    RunState,
    SaveArgs,
    SaveResult,
    SessionInfo,
    StepDetail,
    TrainStartArgs,
)
from core.contract.ops import LoadProgress
from core.contract.settings import DEFAULT_AUTOSAVE_MINUTES
from core.errors import ConfigError
from core.i18n import _


def engine_ops(engine) -> dict:
    def op_configure(args: ConfigureArgs) -> SessionInfo:
        from core.session import Session

        engine.refuse_while_training(_("configure"))
        engine.new_session(
            Session.create(args.run_settings(), progress=_progress_events(engine)), "configured"
        )
        return engine.session.describe()

    def op_reset(args: dict) -> SessionInfo:
        from core.session import Session

        s = engine.require_session()
        engine.refuse_while_training(_("reset the model"))
        engine.new_session(Session.create(s.settings()), "reset")
        return engine.session.describe()

    def op_train_start(args: TrainStartArgs) -> RunState:
        s = engine.require_session()
        if engine.state == "running":
            raise ConfigError(_("training is already running"), _("pause or stop it first"))
        if args.steps is not None:
            if args.steps <= s.trainer.step:
                raise ConfigError(
                    _("steps {steps} is not beyond the current step {step}").format(
                        steps=args.steps, step=s.trainer.step
                    ),
                    _("give a larger total number of steps"),
                )
            s.train_config.steps = args.steps
        if s.trainer.done:
            raise ConfigError(
                _("the run has finished at step {step}").format(step=s.trainer.step),
                _("give train_start a larger 'steps', or reset the model"),
            )
        if s.trainer.diverged:
            raise ConfigError(
                _("the run diverged (non-finite loss)"),
                _("reset the model or load a checkpoint, then lower the lr"),
            )
        _require_text(s)
        if args.report_interval is not None:
            engine.report_interval = args.report_interval
        if args.sample_chars is not None:
            engine.sample_chars = args.sample_chars
        who = engine.reply_to.id if engine.reply_to is not None else 1
        # the run's checkpoint stays where the client that set it up put it (a headless run's
        # folder), whoever starts it again (an attached app has its own default place)
        theirs = engine.autosave_path and getattr(engine, "autosave_by", who) != who
        if (args.autosave_path is not None or args.autosave_minutes is not None) and not theirs:
            minutes = args.autosave_minutes
            engine.set_autosave(
                args.autosave_path or engine.autosave_path,
                DEFAULT_AUTOSAVE_MINUTES if minutes is None else minutes,
            )
            engine.autosave_by = who
        if args.log_every is not None:
            s.trainer.log.every = args.log_every
        theirs = engine.metrics_file and getattr(engine, "metrics_by", who) != who
        if args.metrics_path is not None and not theirs:
            engine.open_metrics(args.metrics_path)
            engine.metrics_by = who
        engine.begin_running()
        return RunState(engine.state, s.trainer.step, s.train_config.steps)

    def op_train_pause(args: dict) -> RunState:
        engine.require_session()
        if engine.state != "running":
            raise ConfigError(
                _("training is not running (it is {state})").format(state=engine.state),
                _("start it with train_start"),
            )
        engine.pause(_("paused by request"))
        return RunState(engine.state, engine.session.trainer.step)

    def op_train_resume(args: dict) -> RunState:
        s = engine.require_session()
        if engine.state != "paused":
            raise ConfigError(
                _("training is not paused (it is {state})").format(state=engine.state),
                _("train_resume continues a paused run; use train_start otherwise"),
            )
        if s.trainer.done:
            raise ConfigError(
                _("the run has reached its last step"), _("raise steps with train_start")
            )
        engine.begin_running()
        return RunState(engine.state, s.trainer.step)

    def op_train_step(args: dict) -> StepDetail:
        s = engine.require_session()
        if engine.state == "running":
            raise ConfigError(_("training is running"), _("pause it, then step one step at a time"))
        if s.trainer.done:
            s.train_config.steps = s.trainer.step + 1  # stepping past the end extends the run
        if s.is_language_model and s.data is None:
            raise ConfigError(
                _("no training text is loaded for this model"), _("configure a corpus")
            )
        detail = s.trainer.train_step_detailed()
        engine.report(timed=False)
        if s.trainer.diverged:
            engine.set_state("diverged", s.trainer.diverged)
        return detail

    def op_train_stop(args: dict) -> RunState:
        s = engine.require_session()
        engine.stop()
        return RunState(engine.state, s.trainer.step)

    def op_evaluate(args: dict) -> EvaluateResult:
        s = engine.require_session()
        return EvaluateResult(s.trainer.evaluate(), s.trainer.step)

    def op_save(args: SaveArgs) -> SaveResult:
        s = engine.require_session()
        engine.report()  # pending losses go out (and into the history) before the save
        if s.trainer.diverged:  # checked after the report: its losses may be the first NaN
            raise ConfigError(
                _("the weights hold non-finite values after the run diverged"),
                _("saving them would overwrite a good checkpoint; reset or load"),
            )
        return SaveResult(s.save(args.path), s.trainer.step)

    def op_load(args: LoadArgs) -> SessionInfo:
        from dataclasses import replace

        from core.session import Session

        engine.refuse_while_training(_("load a checkpoint"))
        session = Session.load(
            args.path,
            device=args.device,
            corpus=args.corpus,
            train=args.train or None,
            progress=_progress_events(engine),
            factory=args.factory,
        )
        engine.new_session(session, "loaded")
        history = {
            "train": session.trainer.train_history.to_dict(),
            "val": session.trainer.val_history.to_dict(),
            "signals": session.trainer.log.histories(),
        }
        batch, world = session.trainer.saved_layout
        return replace(session.describe(), history=history, saved_batch=batch, saved_world=world)

    return {
        "configure": (op_configure, ConfigureArgs),
        "reset": (op_reset, {}),
        "train_start": (op_train_start, TrainStartArgs),
        "train_pause": (op_train_pause, {}),
        "train_resume": (op_train_resume, {}),
        "train_step": (op_train_step, {}),
        "train_stop": (op_train_stop, {}),
        "evaluate": (op_evaluate, {}),
        "save": (op_save, SaveArgs),
        "load": (op_load, LoadArgs),
    }


def _require_text(s) -> None:
    if s.is_language_model and s.data is None:
        raise ConfigError(
            _("no training text is loaded for this model"),
            _("configure a corpus; the checkpoint's corpus could not be read"),
        )


def _progress_events(engine, every_s: float = 0.25):
    """A corpus loader's progress callback that sends ``load_progress`` events, at most one per
    ``every_s`` (a large file takes seconds; the status bar shows how far it is)."""
    last = 0.0

    def progress(stage: str, done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= every_s or done >= total:
            last = now
            engine.event("load_progress", **LoadProgress(stage, done, total).to_dict())

    return progress
