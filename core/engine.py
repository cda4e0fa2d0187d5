"""The engine: the one process that owns torch state, speaking JSON lines on stdin/stdout.

Works without a UI (``python -m core.engine`` or ``torchdeck engine``). One loop, one thread
touching torch: (1) handle the pending requests, (2) while training runs, train for ~50 ms,
(3) send at most one progress event per report interval (~100 ms). A reader thread only queues
requests. The real stdout carries protocol lines and nothing else: ``sys.stdout`` and file
descriptor 1 are pointed at stderr, so a library's ``print`` cannot corrupt the protocol; the
protocol's own copy of fd 1 sits at a random high number. No input line can stop the reader: a
line too long or nested too deeply (core.protocol's limits), or any other bad line, is answered
with an error reply or event, and end of input always ends the engine.

SIGINT interrupts the request being handled (its reply is an ``Interrupted`` error) or pauses
training; it never kills the engine.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
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

from core.contract import (
    PRESETS,
    Contract,
    ReadyInfo,
    StatusResult,
)
from core.contract.ops import result_dict
from core.errors import RequestError, TorchdeckError
from core.protocol import (
    MAX_LINE_BYTES,
    PROTOCOL_VERSION,
    Arg,
    Event,
    Reply,
    Request,
    check_args,
    decode,
    encode,
    error_info,
    parse_json,
    too_long,
)
from core.run_control import RunControl


class Interrupted(TorchdeckError):
    def __init__(self) -> None:
        super().__init__("interrupted by the user", "the request was stopped; the engine is fine")


# Ops live beside their subject: each module has ``engine_ops(engine) -> {name: (handler,
# spec)}``, the spec a contract class (the handler gets the typed arguments) or a dict of ``Arg``
# (the handler gets the checked dict). A handler reaches the model through
# ``engine.require_session()`` and returns a contract object or a dict.
EXTENSIONS = ("core.train_ops", "core.predict_ops", "core.playground", "core.inspection")
Spec = type[Contract] | dict[str, Arg]


class Engine(RunControl):
    def __init__(self, out: TextIO, report_interval: float = 0.1) -> None:
        self.out = out
        self.requests: queue.Queue = queue.Queue()
        self.session = None  # core.session.Session once configured
        self.state = "idle"
        self.report_interval = report_interval
        self.exiting = False
        self.interruptible = False
        self.interrupt_pending = False
        self._interrupt_at = 0.0
        self.ops: dict[str, tuple[Callable[[Any], Any], Spec]] = {
            "status": (self.op_status, {}),
            "shutdown": (self.op_shutdown, {}),
        }
        self.current_id: int | None = None
        self.cancelled: set[int] = set()  # ids of requests asked to stop (generate)
        for module in EXTENSIONS:
            self.ops.update(importlib.import_module(module).engine_ops(self))

    # -- output --------------------------------------------------------------------------------

    def send(self, message: Reply | Event) -> None:
        line = encode(message)
        interruptible, self.interruptible = self.interruptible, False
        try:
            self.out.write(line)
            self.out.flush()
        except (BrokenPipeError, ValueError):
            self.exiting = True  # the client is gone
        finally:
            self.interruptible = interruptible

    def event(self, name: str, **data: Any) -> None:
        self.send(Event(name, data))

    # -- signals and input ---------------------------------------------------------------------

    def on_sigint(self, signum, frame) -> None:
        if self.interruptible:
            raise KeyboardInterrupt
        # Between requests or inside a training slice: remember it. Training pauses after the
        # step in flight (never half a step); a request arriving right after is interrupted.
        self.interrupt_pending = True
        self._interrupt_at = time.monotonic()

    def on_sigterm(self, signum, frame) -> None:
        """SIGTERM or SIGHUP (or the client's death, see ``_die_with_parent``): stop, saving
        the run where autosave points; a request in progress (a runaway cell) is interrupted."""
        self.exiting = True
        if self.interruptible:
            raise KeyboardInterrupt

    def read_stdin(self, stream) -> None:
        """Queue each request line; no line, however bad, ends this loop, and end of input
        always queues "eof" (the engine then exits)."""
        try:
            while True:
                raw = stream.readline(MAX_LINE_BYTES + 1)
                if not raw:
                    break
                try:
                    self._read_line(stream, raw)
                except Exception as exc:  # a bug here must not leave the engine deaf
                    traceback.print_exc(file=sys.stderr)
                    self.requests.put(("bad", None, RequestError(f"unreadable line: {exc}", "")))
        finally:
            self.requests.put(("eof", None, None))

    def _read_line(self, stream, raw: bytes) -> None:
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            size = len(raw)
            while raw and not raw.endswith(b"\n"):  # skip the rest of the line, unread
                raw = stream.readline(MAX_LINE_BYTES)
                size += len(raw)
            self.requests.put(("bad", None, too_long(size)))
            return
        if not raw.strip():
            return
        try:
            msg = decode(raw)
        except RequestError as exc:
            self.requests.put(("bad", _request_id(raw), exc))
            return
        if not isinstance(msg, Request):
            self.requests.put(
                (
                    "bad",
                    None,
                    RequestError(
                        "the engine takes requests only",
                        'send {"id": N, "op": ..., "args": {...}}',
                    ),
                )
            )
            return
        if msg.op == "cancel" and isinstance(msg.args.get("id"), int):
            # seen here, at once, by a generation running on the main thread
            self.cancelled.add(msg.args["id"])
        self.requests.put(("req", msg, None))

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        import torch

        ready = ReadyInfo(
            protocol=PROTOCOL_VERSION,
            torch=torch.__version__,
            python=platform.python_version(),
            pid=os.getpid(),
            cuda=torch.cuda.is_available(),
            threads=torch.get_num_threads(),
            presets=list(PRESETS),
        )
        self.event("ready", **ready.to_dict())
        while not self.exiting:
            try:
                self._drain(block=self.state != "running")
                if self.state == "running" and not self.exiting:
                    self.train_slice()
            except KeyboardInterrupt:
                self.interruptible = False
                self._on_interrupt_outside_request()
            if self.interrupt_pending:
                self.interrupt_pending = False
                self._on_interrupt_outside_request()
        # the client left, asked to shut down, or the engine was told to stop: a run in
        # progress is saved where autosave points, so it loses nothing
        if self.state in ("running", "paused"):
            self.autosave(due=False)

    def _on_interrupt_outside_request(self) -> None:
        if self.state == "running":
            self.pause("interrupted")

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
                self.send(Reply(req, False, error=error_info(exc)))
            else:
                self.event("error", type="RequestError", message=exc.message, hint=exc.hint)
            return
        self.current_id = req.id
        recent = self.interrupt_pending and time.monotonic() - self._interrupt_at < 0.5
        self.interrupt_pending = False
        try:
            if recent:  # the interrupt was meant for this request, sent just before it arrived
                raise KeyboardInterrupt
            if req.op not in self.ops:
                raise RequestError(
                    f"unknown op {req.op!r}", f"ops are: {', '.join(sorted(self.ops))}"
                )
            handler, spec = self.ops[req.op]
            if isinstance(spec, dict):
                args = check_args(req.op, req.args, spec)
            else:
                args = spec.from_args(req.op, req.args)
            self.interruptible = True
            try:
                result = handler(args)
            finally:
                self.interruptible = False
            self.send(Reply(req.id, True, result=result_dict(result)))
        except KeyboardInterrupt:
            self.interruptible = False
            self.send(Reply(req.id, False, error=error_info(Interrupted())))
        except Exception as exc:  # every failure becomes a reply; the engine stays up
            self.interruptible = False
            if not isinstance(exc, TorchdeckError):
                traceback.print_exc(file=sys.stderr)
            self.send(Reply(req.id, False, error=error_info(exc)))
        finally:
            self.current_id = None

    # -- the engine's own ops ------------------------------------------------------------------

    def op_status(self, args: dict) -> StatusResult:
        info = self.session.describe() if self.session else None
        return StatusResult(self.state, PROTOCOL_VERSION, info)

    def op_shutdown(self, args: dict) -> dict:
        self.exiting = True
        return {"bye": True}


def _request_id(raw: bytes) -> int | None:
    """The integer id of a request line that failed to decode, if it has one."""
    try:
        obj = parse_json(raw)
    except RequestError:
        return None
    if isinstance(obj, dict) and "op" in obj:
        req_id = obj.get("id")
        if isinstance(req_id, int) and not isinstance(req_id, bool):
            return req_id
    return None


def _private_fd(fd: int) -> int:
    """A copy of ``fd`` at an unguessable high number, not inherited by child processes, so
    that a playground cell does not write protocol lines by accident or by ``os.write(3, ...)``
    (one that hunts for it through /proc still can: the client checks every line it reads)."""
    import random

    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError):  # not on this platform: an ordinary copy
        return os.dup(fd)
    top = min(soft if soft > 0 else 1024, 1 << 16)
    for _ in range(20):
        target = random.SystemRandom().randrange(max(top // 2, 10), max(top, 11))
        try:
            os.fstat(target)
        except OSError:  # free: take it
            try:
                return os.dup2(fd, target, inheritable=False)
            except OSError:
                break
    return os.dup(fd)


def main(argv: list[str] | None = None) -> int:
    # Until Engine.on_sigint is installed, a SIGINT (the client's interrupt) must not kill the
    # engine while it imports torch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parser = argparse.ArgumentParser(
        prog="torchdeck engine", description="The torchdeck engine: JSON lines on stdin/out."
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=10,
        help="lower the engine's CPU priority by this much (default 10)",
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (default: torch's own choice)"
    )
    args = parser.parse_args(argv)

    # Keep the real stdout for protocol lines only; everything else printed goes to stderr.
    proto_fd = _private_fd(1)
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
    signal.signal(signal.SIGTERM, engine.on_sigterm)
    signal.signal(signal.SIGHUP, engine.on_sigterm)
    _die_with_parent()
    reader = threading.Thread(target=engine.read_stdin, args=(sys.stdin.buffer,), daemon=True)
    reader.start()
    engine.run()
    with contextlib.suppress(Exception):
        out.flush()
        sys.stderr.flush()
    # The stdin reader thread may sit in a blocking read; end the process without waiting on it
    # (a normal interpreter exit would abort on the reader's lock).
    os._exit(0)


def _die_with_parent() -> None:
    """On Linux, have the kernel send SIGTERM when the client that started the engine dies, so
    an engine busy in a long request (its end of input unread) never lingers as an orphan."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the client died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main())
