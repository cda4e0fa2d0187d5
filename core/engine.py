"""The engine: the one process that owns torch state, speaking JSON lines on stdin/stdout.

Works without a UI (``python -m core.engine`` or ``torchdeck engine``). One loop, one thread
touching torch: (1) handle the pending requests, (2) while training runs, train for ~50 ms,
(3) send at most one progress event per report interval (~100 ms). A reader thread only queues
requests. The real stdout carries protocol lines and nothing else: ``sys.stdout`` and file
descriptor 1 are pointed at stderr, so a library's ``print`` cannot corrupt the protocol.

SIGINT interrupts the request being handled (its reply is an ``Interrupted`` error) or pauses
training; it never kills the engine.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import platform
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, TextIO

from core.errors import ConfigError, RequestError, TorchdeckError
from core.protocol import (
    PROTOCOL_VERSION,
    Arg,
    ErrorInfo,
    Event,
    Reply,
    Request,
    check_args,
    decode,
    encode,
)


class Interrupted(TorchdeckError):
    def __init__(self) -> None:
        super().__init__("interrupted by the user", "the request was stopped; the engine is fine")


def _finite_pos(v: float) -> bool:
    return v > 0


def _nonneg(v: float) -> bool:
    return v >= 0


def _pos(v: int) -> bool:
    return v >= 1


SAMPLING_SPEC = {
    "temperature": Arg(float, check=lambda v: v == 0 or 0.01 <= v <= 100,
                       expect="0 (greedy) or in [0.01, 100]"),
    "top_k": Arg(int, check=_pos, expect="an integer ≥ 1", nullable=True),
    "top_p": Arg(float, check=lambda v: 0 < v <= 1, expect="in (0, 1]", nullable=True),
    "greedy": Arg(bool),
}

CONFIGURE_SPEC = {
    "preset": Arg(str),
    "corpus": Arg(str, nullable=True),
    "device": Arg(str),
    "seed": Arg(int, check=_nonneg, expect="an integer ≥ 0"),
    "lr": Arg(float, check=lambda v: 0 < v <= 10, expect="a number in (0, 10], e.g. 0.001"),
    "batch_size": Arg(int, check=_pos, expect="an integer ≥ 1"),
    "block_size": Arg(int, check=_pos, expect="an integer ≥ 1 (the context length)"),
    "steps": Arg(int, check=_pos, expect="an integer ≥ 1"),
    "model": Arg(dict),
    "train": Arg(dict),
}


# Ops that live beside their subject: each module has ``engine_ops(engine) -> {name: (handler,
# spec)}``; a handler reaches the model through ``engine.session`` (``engine._require_session()``)
EXTENSIONS = ("core.playground", "core.inspection")


class Engine:
    def __init__(self, out: TextIO, report_interval: float = 0.1) -> None:
        self.out = out
        self.requests: queue.Queue = queue.Queue()
        self.session = None  # core.session.Session once configured
        self.state = "idle"  # idle | running | paused | finished | stopped | diverged
        self.report_interval = report_interval
        self.sample_chars = 0
        self.exiting = False
        self._interruptible = False
        self._interrupt_pending = False
        self._interrupt_at = 0.0
        self._last_report = 0.0
        self._window_start = 0.0
        self._window_steps = 0
        self._train_time = 0.0  # seconds spent running, pauses excluded
        self._run_started = 0.0
        self.ops: dict[str, tuple[Callable[[dict], dict], dict[str, Arg]]] = {
            "status": (self.op_status, {}),
            "configure": (self.op_configure, CONFIGURE_SPEC),
            "reset": (self.op_reset, {}),
            "train_start": (self.op_train_start, {
                "steps": Arg(int, check=_pos, expect="an integer ≥ 1 (the new total)"),
                "report_interval": Arg(float, check=lambda v: 0.01 <= v <= 3600,
                                       expect="seconds in [0.01, 3600]"),
                "sample_chars": Arg(int, check=lambda v: 0 <= v <= 1000,
                                    expect="an integer in [0, 1000]")}),
            "train_pause": (self.op_train_pause, {}),
            "train_resume": (self.op_train_resume, {}),
            "train_step": (self.op_train_step, {}),
            "train_stop": (self.op_train_stop, {}),
            "evaluate": (self.op_evaluate, {}),
            "predict": (self.op_predict, {"text": Arg(str, required=True),
                                          "k": Arg(int, check=lambda v: 1 <= v <= 1000,
                                                   expect="an integer in [1, 1000]"),
                                          "math": Arg(bool),
                                          "layer": Arg(str, nullable=True),
                                          "units": Arg(int, check=lambda v: 1 <= v <= 64,
                                                       expect="an integer in [1, 64]"),
                                          "positions": Arg(int, check=lambda v: 1 <= v <= 256,
                                                           expect="an integer in [1, 256]"),
                                          **SAMPLING_SPEC}),
            "predict_layers": (self.op_predict_layers, {}),
            "generate": (self.op_generate, {
                "prompt": Arg(str), "max_new": Arg(int, check=lambda v: 0 <= v <= 1_000_000,
                                                   expect="an integer in [0, 1000000]"),
                "seed": Arg(int, check=_nonneg, expect="an integer ≥ 0", nullable=True),
                "stream": Arg(bool), **SAMPLING_SPEC}),
            "save": (self.op_save, {"path": Arg(str, required=True)}),
            "load": (self.op_load, {"path": Arg(str, required=True), "device": Arg(str),
                                    "corpus": Arg(str, nullable=True)}),
            "cancel": (self.op_cancel, {"id": Arg(int, required=True)}),
            "shutdown": (self.op_shutdown, {}),
        }
        for module in EXTENSIONS:
            self.ops.update(importlib.import_module(module).engine_ops(self))
        self._current_id: int | None = None
        self._cancelled: set[int] = set()  # ids of generate requests asked to stop

    # -- output --------------------------------------------------------------------------------

    def send(self, message: Reply | Event) -> None:
        line = encode(message)
        interruptible, self._interruptible = self._interruptible, False
        try:
            self.out.write(line)
            self.out.flush()
        except (BrokenPipeError, ValueError):
            self.exiting = True  # the client is gone
        finally:
            self._interruptible = interruptible

    def event(self, name: str, **data: Any) -> None:
        self.send(Event(name, data))

    def log(self, message: str, level: str = "info") -> None:
        self.event("log", level=level, message=message)

    # -- signals and input ---------------------------------------------------------------------

    def on_sigint(self, signum, frame) -> None:
        if self._interruptible:
            raise KeyboardInterrupt
        # Between requests or inside a training slice: remember it. Training pauses after the
        # step in flight (never half a step); a request arriving right after is interrupted.
        self._interrupt_pending = True
        self._interrupt_at = time.monotonic()

    def read_stdin(self, stream) -> None:
        for raw in stream:
            if not raw.strip():
                continue
            try:
                msg = decode(raw)
            except RequestError as exc:
                self.requests.put(("bad", _request_id(raw), exc))
                continue
            if not isinstance(msg, Request):
                self.requests.put(("bad", None, RequestError(
                    "the engine takes requests only", 'send {"id": N, "op": ..., "args": {...}}')))
                continue
            if msg.op == "cancel" and isinstance(msg.args.get("id"), int):
                # seen here, at once, by a generation running on the main thread
                self._cancelled.add(msg.args["id"])
            self.requests.put(("req", msg, None))
        self.requests.put(("eof", None, None))

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        import torch

        self.event("ready", protocol=PROTOCOL_VERSION, torch=torch.__version__,
                   python=platform.python_version(), pid=os.getpid(),
                   cuda=torch.cuda.is_available(), threads=torch.get_num_threads(),
                   presets=["gpt", "mini", "mlp", "parabola"])
        while not self.exiting:
            try:
                self._drain(block=self.state != "running")
                if self.state == "running" and not self.exiting:
                    self._train_slice()
            except KeyboardInterrupt:
                self._interruptible = False
                self._on_interrupt_outside_request()
            if self._interrupt_pending:
                self._interrupt_pending = False
                self._on_interrupt_outside_request()

    def _on_interrupt_outside_request(self) -> None:
        if self.state == "running":
            self._pause("interrupted")

    def _drain(self, block: bool) -> None:
        try:
            item = self.requests.get(timeout=0.2) if block else self.requests.get_nowait()
        except queue.Empty:
            return
        while True:
            self._handle(item)
            if self.exiting:
                return
            try:
                item = self.requests.get_nowait()
            except queue.Empty:
                return

    def _handle(self, item: tuple) -> None:
        kind, req, exc = item
        if kind == "eof":
            self.exiting = True
            return
        if kind == "bad":
            if isinstance(req, int):  # a request we can answer by its id
                self.send(Reply(req, False, error=_error_info(exc)))
            else:
                self.event("error", type="RequestError", message=exc.message, hint=exc.hint)
            return
        self._current_id = req.id
        recent = self._interrupt_pending and time.monotonic() - self._interrupt_at < 0.5
        self._interrupt_pending = False
        try:
            if recent:  # the interrupt was meant for this request, sent just before it arrived
                raise KeyboardInterrupt
            if req.op not in self.ops:
                raise RequestError(f"unknown op {req.op!r}",
                                   f"ops are: {', '.join(sorted(self.ops))}")
            handler, spec = self.ops[req.op]
            args = check_args(req.op, req.args, spec)
            self._interruptible = True
            try:
                result = handler(args)
            finally:
                self._interruptible = False
            self.send(Reply(req.id, True, result=result or {}))
        except KeyboardInterrupt:
            self._interruptible = False
            self.send(Reply(req.id, False, error=_error_info(Interrupted())))
        except Exception as exc:  # every failure becomes a reply; the engine stays up
            self._interruptible = False
            if not isinstance(exc, TorchdeckError):
                traceback.print_exc(file=sys.stderr)
            self.send(Reply(req.id, False, error=_error_info(exc)))
        finally:
            self._current_id = None

    # -- training ------------------------------------------------------------------------------

    def _require_session(self):
        if self.session is None:
            raise ConfigError("no model is configured yet",
                              "send configure (e.g. preset 'gpt') or load a checkpoint first")
        return self.session

    def _set_state(self, state: str, reason: str = "") -> None:
        self.state = state
        self.event("train_state", state=state, reason=reason,
                   step=self.session.trainer.step if self.session else 0)

    def _pause(self, reason: str) -> None:
        self._report()
        self._train_time += time.perf_counter() - self._run_started
        self._set_state("paused", reason)

    def _train_slice(self) -> None:
        trainer = self.session.trainer
        # Not interruptible: a SIGINT sets the pending flag and ends the slice cleanly. A request
        # waiting in the queue also ends it after the step in flight, so a prediction typed
        # during training waits at most about one step, not the rest of a ~50 ms slice.
        requests = self.requests
        try:
            n = trainer.run_for(0.05, should_stop=lambda: self._interrupt_pending
                                or not requests.empty())
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            info = _error_info(exc)
            self.event("error", type=info.type, message=info.message, hint=info.hint)
            self._pause(f"error: {info.message}")
            return
        self._window_steps += n
        now = time.perf_counter()
        if trainer.done or now - self._last_report >= self.report_interval:
            self._report()
        if trainer.diverged:
            self._train_time += now - self._run_started
            self._set_state("diverged", trainer.diverged + "; the last saved checkpoint is "
                            "untouched: load it, lower the learning rate, and start again")
        elif trainer.done:
            self._train_time += now - self._run_started
            self._set_state("finished", f"reached step {trainer.step}")

    def _report(self) -> None:
        trainer = self.session.trainer
        report = trainer.flush()
        now = time.perf_counter()
        if report is None:
            return
        window = max(now - self._window_start, 1e-9)
        steps_per_s = self._window_steps / window
        running = self._train_time + (now - self._run_started if self.state == "running" else 0)
        remaining = trainer.config.steps - trainer.step
        report.update(
            steps=trainer.config.steps,
            steps_per_s=steps_per_s,
            tokens_per_s=steps_per_s * trainer.tokens_per_step,
            elapsed_s=running,
            eta_s=remaining / steps_per_s if steps_per_s > 0 else None,
            state=self.state,
        )
        if report["val_loss"] is not None and self.sample_chars and self.session.tokenizer:
            report["sample"] = self._sample(self.sample_chars)
        self._last_report = now
        self._window_start = now
        self._window_steps = 0
        self.event("train_progress", **report)

    def _sample(self, n: int) -> str:
        from core.predict import Sampling, generate

        s = self.session
        return "".join(generate(s.model, s.tokenizer, "\n", n, s.block_size, s.device,
                                Sampling(temperature=0.8), seed=s.trainer.step))

    def _begin_running(self) -> None:
        now = time.perf_counter()
        self._run_started = now
        self._window_start = now
        self._window_steps = 0
        self._last_report = now
        self._set_state("running")

    # -- ops -----------------------------------------------------------------------------------

    def op_status(self, args: dict) -> dict:
        return {"state": self.state, "protocol": PROTOCOL_VERSION,
                "session": self.session.describe() if self.session else None}

    def _refuse_while_training(self, what: str) -> None:
        if self.state in ("running", "paused"):
            raise ConfigError(f"cannot {what} while training is {self.state}",
                              "stop training first (train_stop)")

    def op_configure(self, args: dict) -> dict:
        from core.session import RunSpec, Session

        self._refuse_while_training("configure")
        model = dict(args.get("model", {}))
        train = dict(args.get("train", {}))
        for key in ("seed", "lr", "batch_size", "steps"):
            if key in args:
                train[key] = args[key]
        if "block_size" in args:
            if args.get("preset", "gpt") == "parabola":
                raise ConfigError("the parabola preset has no context length",
                                  "leave block_size out for parabola")
            model["block_size"] = args["block_size"]
        spec = RunSpec(preset=args.get("preset", "gpt"), corpus=args.get("corpus"),
                       device=args.get("device", "auto"), model=model, train=train)
        self.session = Session.create(spec)
        self._train_time = 0.0
        self.state = "idle"
        self._set_state("idle", "configured")
        return self.session.describe()

    def op_reset(self, args: dict) -> dict:
        from core.session import RunSpec, Session

        s = self._require_session()
        self._refuse_while_training("reset the model")
        spec = RunSpec(preset=s.preset, corpus=s.corpus, device=str(s.device),
                       model={k: v for k, v in vars(s.model_config).items()
                              if k != "vocab_size"},
                       train=vars(s.train_config).copy())
        self.session = Session.create(spec)
        self._train_time = 0.0
        self._set_state("idle", "reset")
        return self.session.describe()

    def op_train_start(self, args: dict) -> dict:
        s = self._require_session()
        if self.state == "running":
            raise ConfigError("training is already running", "pause or stop it first")
        if "steps" in args:
            if args["steps"] <= s.trainer.step:
                raise ConfigError(f"steps {args['steps']} is not beyond the current step "
                                  f"{s.trainer.step}", "give a larger total number of steps")
            s.train_config.steps = args["steps"]
        if s.trainer.done:
            raise ConfigError(f"the run has finished at step {s.trainer.step}",
                              "give train_start a larger 'steps', or reset the model")
        if s.trainer.diverged:
            raise ConfigError("the run diverged (non-finite loss)",
                              "reset the model or load a checkpoint, then lower the lr")
        if s.is_language_model and s.data is None:
            raise ConfigError("no training text is loaded for this model",
                              "configure a corpus; the checkpoint's corpus could not be read")
        if "report_interval" in args:
            self.report_interval = args["report_interval"]
        if "sample_chars" in args:
            self.sample_chars = args["sample_chars"]
        self._begin_running()
        return {"state": self.state, "step": s.trainer.step, "steps": s.train_config.steps}

    def op_train_pause(self, args: dict) -> dict:
        self._require_session()
        if self.state != "running":
            raise ConfigError(f"training is not running (it is {self.state})",
                              "start it with train_start")
        self._pause("paused by request")
        return {"state": self.state, "step": self.session.trainer.step}

    def op_train_resume(self, args: dict) -> dict:
        s = self._require_session()
        if self.state != "paused":
            raise ConfigError(f"training is not paused (it is {self.state})",
                              "train_resume continues a paused run; use train_start otherwise")
        if s.trainer.done:
            raise ConfigError("the run has reached its last step", "raise steps with train_start")
        self._begin_running()
        return {"state": self.state, "step": s.trainer.step}

    def op_train_step(self, args: dict) -> dict:
        s = self._require_session()
        if self.state == "running":
            raise ConfigError("training is running", "pause it, then step one step at a time")
        if s.trainer.done:
            s.train_config.steps = s.trainer.step + 1  # stepping past the end extends the run
        if s.is_language_model and s.data is None:
            raise ConfigError("no training text is loaded for this model", "configure a corpus")
        detail = s.trainer.train_step_detailed()
        self._window_start = time.perf_counter()
        self._window_steps = 0
        report = s.trainer.flush()
        if report:
            report.update(steps=s.train_config.steps, state=self.state, steps_per_s=None,
                          tokens_per_s=None, elapsed_s=self._train_time, eta_s=None)
            self.event("train_progress", **report)
        if s.trainer.diverged:
            self._set_state("diverged", s.trainer.diverged)
        return detail.to_dict()

    def op_train_stop(self, args: dict) -> dict:
        s = self._require_session()
        if self.state == "running":
            self._train_time += time.perf_counter() - self._run_started
        if self.state in ("running", "paused"):
            self._report()
            self._set_state("stopped", "stopped by request")
        return {"state": self.state, "step": s.trainer.step}

    def op_evaluate(self, args: dict) -> dict:
        s = self._require_session()
        return {"val_loss": s.trainer.evaluate(), "step": s.trainer.step}

    def _sampling(self, args: dict):
        from core.predict import Sampling

        return Sampling(temperature=args.get("temperature", 1.0), top_k=args.get("top_k"),
                        top_p=args.get("top_p"), greedy=args.get("greedy", False))

    def _require_lm(self):
        s = self._require_session()
        if not s.is_language_model:
            raise ConfigError(f"the {s.preset} preset is not a language model",
                              "configure mini, mlp or gpt to predict text")
        return s

    def op_predict(self, args: dict) -> dict:
        from core.predict import predict

        s = self._require_lm()
        result = predict(s.model, s.tokenizer, args["text"], s.block_size, s.device,
                         self._sampling(args), k=args.get("k", 10),
                         math_view=args.get("math", False), layer=args.get("layer"),
                         units=args.get("units", 8), positions=args.get("positions", 32))
        result["step"] = s.trainer.step
        return result

    def op_predict_layers(self, args: dict) -> dict:
        from core.predict import activation_layers, output_layer

        s = self._require_lm()
        return {"layers": activation_layers(s.model, s.device),
                "output_layer": output_layer(s.model)[0]}

    def op_generate(self, args: dict) -> dict:
        from core.predict import generate

        s = self._require_lm()
        chars: list[str] = []
        stream = args.get("stream", True)
        me = self._current_id
        stopped = False
        try:
            for ch in generate(s.model, s.tokenizer, args.get("prompt", ""),
                               args.get("max_new", 200), s.block_size, s.device,
                               self._sampling(args), seed=args.get("seed")):
                if me in self._cancelled:
                    stopped = True
                    break
                chars.append(ch)
                if stream:
                    self.event("generate_token", id=me, char=ch, index=len(chars) - 1)
        except KeyboardInterrupt:
            self._interruptible = False
            self.event("generate_stopped", id=me, text="".join(chars))
            raise
        finally:
            self._cancelled.discard(me)
        if stopped:
            self.event("generate_stopped", id=me, text="".join(chars))
        return {"text": "".join(chars), "step": s.trainer.step, "stopped": stopped}

    def op_cancel(self, args: dict) -> dict:
        """Stop generate request ``id`` (the reader thread already flagged it; by the time this
        reply is sent, that generation has ended)."""
        self._cancelled.discard(args["id"])
        return {"id": args["id"]}

    def op_save(self, args: dict) -> dict:
        s = self._require_session()
        if s.trainer.diverged:
            raise ConfigError("the weights hold non-finite values after the run diverged",
                              "saving them would overwrite a good checkpoint; reset or load")
        self._report()  # pending losses go out (and into the history) before the save
        path = s.save(args["path"])
        return {"path": path, "step": s.trainer.step}

    def op_load(self, args: dict) -> dict:
        from core.session import Session

        self._refuse_while_training("load a checkpoint")
        session = Session.load(args["path"], device=args.get("device", "auto"),
                               corpus=args.get("corpus"))
        self.session = session
        self._train_time = 0.0
        self._set_state("idle", "loaded")
        result = session.describe()
        result["history"] = {"train": session.trainer.train_history.to_dict(),
                             "val": session.trainer.val_history.to_dict()}
        return result

    def op_shutdown(self, args: dict) -> dict:
        self.exiting = True
        return {"bye": True}


def _request_id(raw: bytes) -> int | None:
    """The integer id of a request line that failed to decode, if it has one."""
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(obj, dict) and "op" in obj:
        req_id = obj.get("id")
        if isinstance(req_id, int) and not isinstance(req_id, bool):
            return req_id
    return None


def _error_info(exc: BaseException) -> ErrorInfo:
    if isinstance(exc, TorchdeckError):
        return ErrorInfo(type(exc).__name__, exc.message, exc.hint)
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    hint = "an unexpected engine error; its traceback is on the engine's stderr"
    if "out of memory" in message.lower():
        hint = "lower the batch size or the model size, or use another device"
    return ErrorInfo(type(exc).__name__, message[:500], hint)


def main(argv: list[str] | None = None) -> int:
    # Until Engine.on_sigint is installed, a SIGINT (the client's interrupt) must not kill the
    # engine while it imports torch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parser = argparse.ArgumentParser(prog="torchdeck engine",
                                     description="The torchdeck engine: JSON lines on stdin/out.")
    parser.add_argument("--nice", type=int, default=10,
                        help="lower the engine's CPU priority by this much (default 10)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (default: torch's own choice)")
    args = parser.parse_args(argv)

    # Keep the real stdout for protocol lines only; everything else printed goes to stderr.
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    out = os.fdopen(proto_fd, "w", encoding="utf-8", buffering=1)
    if args.nice:
        try:
            os.nice(args.nice)
        except OSError:
            pass
    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    engine = Engine(out)
    signal.signal(signal.SIGINT, engine.on_sigint)
    reader = threading.Thread(target=engine.read_stdin, args=(sys.stdin.buffer,), daemon=True)
    reader.start()
    engine.run()
    with contextlib.suppress(Exception):
        out.flush()
        sys.stderr.flush()
    # The stdin reader thread may sit in a blocking read; end the process without waiting on it
    # (a normal interpreter exit would abort on the reader's lock).
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
