"""The engine: the one process that owns torch state, speaking JSON lines to its clients.

Its clients are the process that started it, on stdin/stdout (its "owner"; end of that input
ends the engine), and, when it serves a Unix socket (``core.engine_main``), any number of
others: replies go to the client that asked, events to all (``core.hub``). Works without a UI
(``python -m core.engine`` or ``torchdeck engine``). One loop, one thread
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

import importlib
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, TextIO

from core import link_ops
from core.contract import Contract, EngineInfo, ReadyInfo, StatusResult
from core.contract.ops import result_dict
from core.errors import RequestError, TorchdeckError
from core.follower import MIRRORED, lead_op
from core.hub import PROGRESS, SAMPLE, Connection, PipeConnection
from core.i18n import _
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
    request_id_of,
    too_long,
)
from core.run_control import RunControl


class Interrupted(TorchdeckError):
    def __init__(self) -> None:
        super().__init__(
            _("interrupted by the user"), _("the request was stopped; the engine is fine")
        )


# Ops live beside their subject: each module has ``engine_ops(engine) -> {name: (handler,
# spec)}``, the spec a contract class (the handler gets the typed arguments) or a dict of ``Arg``
# (the handler gets the checked dict). A handler reaches the model through
# ``engine.require_session()`` and returns a contract object or a dict.
EXTENSIONS = (
    "core.train_ops",
    "core.predict_ops",
    "core.playground",
    "core.inspection",
    "core.link_ops",
)
PRIVATE_EVENTS = ("generate_token", "generate_stopped")  # for the client that asked only
Spec = type[Contract] | dict[str, Arg]


class Engine(RunControl):
    def __init__(self, out: TextIO | None, report_interval: float = 0.1) -> None:
        self.out = out
        self.owner = PipeConnection(1, out) if out is not None else None
        self.clients: dict[int, Connection] = {1: self.owner} if self.owner else {}
        self.clients_lock = threading.Lock()
        self.reply_to: Connection | None = None  # the client of the request being handled
        self.info = EngineInfo(pid=os.getpid(), started=time.time(), cwd=os.getcwd())
        self.listener = None  # core.hub.Listener when serving a socket
        self.idle_timeout = 0.0  # a detached engine with no client and no run ends after this
        self._idle_since: float | None = None
        self.last_progress: dict | None = None  # the latest train_progress, for attach
        self.last_sample: str | None = None
        self.requests: queue.Queue = queue.Queue()
        self.session = None  # core.session.Session once configured
        self.dist = None  # core.distributed.Dist in a job of several ranks (rank 0's)
        self.state = "idle"
        self.report_interval = report_interval
        self.exiting = False
        self.interruptible = False
        self.interrupt_pending = False
        self._interrupt_at = 0.0
        self._interrupt_from: Connection | None = None  # whose interrupt op is on its way
        self._interrupt_by: Connection | None = None  # whose interrupt is pending
        self.ops: dict[str, tuple[Callable[[Any], Any], Spec]] = {
            "status": (self.op_status, {}),
            "shutdown": (self.op_shutdown, {}),
        }
        self.current_id: int | None = None
        self.cancelled: set[tuple[int, int]] = set()  # (client, id) asked to stop (generate)
        for module in EXTENSIONS:
            self.ops.update(importlib.import_module(module).engine_ops(self))

    # -- output --------------------------------------------------------------------------------

    def send(self, message: Reply | Event) -> None:
        line = encode(message)
        interruptible, self.interruptible = self.interruptible, False
        try:
            if isinstance(message, Reply):
                target = self.reply_to or self.owner
                if target is not None:
                    target.send(line)
            elif message.event in PRIVATE_EVENTS and self.reply_to is not None:
                self.reply_to.send(line)
            else:
                progress = message.data if message.event == PROGRESS else None
                if progress is not None:
                    self.last_progress = progress
                    if progress.get("sample") is not None:
                        self.last_sample = progress["sample"]
                sample = message.event == SAMPLE
                for conn in self.connections():
                    conn.send(line, progress, sample)
        finally:
            self.interruptible = interruptible
        if self.owner is not None and self.owner.closed:
            self.exiting = True  # the process that started the engine is gone

    def event(self, name: str, **data: Any) -> None:
        self.send(Event(name, data))

    def connections(self) -> list[Connection]:
        with self.clients_lock:
            return list(self.clients.values())

    def add_client(self, conn: Connection) -> None:
        # "ready" first, then the events: added before it, the client could hear a report the
        # main thread sends meanwhile before it knows the engine's protocol
        conn.send(encode(Event("ready", self.ready_info().to_dict())))
        with self.clients_lock:
            self.clients[conn.id] = conn

    def remove_client(self, conn: Connection) -> None:
        with self.clients_lock:
            self.clients.pop(conn.id, None)

    def attached(self) -> int:
        return sum(1 for c in self.connections() if c.attached)

    def ready_info(self) -> ReadyInfo:
        return link_ops.ready_info(self)

    def engine_info(self) -> EngineInfo:
        """What ``ls`` shows of this engine, as of now."""
        return link_ops.engine_info(self)

    # -- signals and input ---------------------------------------------------------------------

    def on_sigint(self, signum, frame) -> None:
        by, self._interrupt_from = self._interrupt_from or self.owner, None
        if self.interruptible:
            raise KeyboardInterrupt
        # Between requests or inside a training slice: remember it. Training pauses after the
        # step in flight (never half a step); a request arriving right after from the client
        # that interrupted (a real SIGINT: the owner's) is interrupted, another client's is not.
        self.interrupt_pending = True
        self._interrupt_at = time.monotonic()
        self._interrupt_by = by

    def on_sigterm(self, signum, frame) -> None:
        """SIGTERM or SIGHUP (or the client's death, see ``_die_with_parent``): stop, saving
        the run where autosave points; a request in progress (a runaway cell) is interrupted."""
        self.exiting = True
        if self.interruptible:
            raise KeyboardInterrupt

    def read_stdin(self, stream) -> None:
        self.read_lines(stream, self.owner)

    def read_lines(self, stream, conn: Connection | None) -> None:
        """Queue each request line of one client; no line, however bad, ends this loop. End of
        input queues "eof" for the owner (the engine then exits), "left" for any other."""
        try:
            while True:
                try:
                    raw = stream.readline(MAX_LINE_BYTES + 1)
                except (OSError, ValueError):  # the connection was dropped
                    break
                if not raw:
                    break
                try:
                    self._read_line(stream, raw, conn)
                except Exception as exc:  # a bug here must not leave the engine deaf
                    traceback.print_exc(file=sys.stderr)
                    bad = RequestError(_("unreadable line: {error}").format(error=exc), "")
                    self.requests.put(("bad", None, bad, conn))
        finally:
            if conn is not self.owner and conn is self.reply_to and self.interruptible:
                # its request (a runaway cell, a long load) has no one to answer: stop it
                self._interrupt_from = conn
                os.kill(os.getpid(), signal.SIGINT)
            self.requests.put(("eof" if conn is self.owner else "left", None, None, conn))

    def _read_line(self, stream, raw: bytes, conn: Connection | None = None) -> None:
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            size = len(raw)
            while raw and not raw.endswith(b"\n"):  # skip the rest of the line, unread
                raw = stream.readline(MAX_LINE_BYTES)
                size += len(raw)
            self.requests.put(("bad", None, too_long(size), conn))
            return
        if not raw.strip():
            return
        try:
            msg = decode(raw)
        except RequestError as exc:
            self.requests.put(("bad", request_id_of(raw), exc, conn))
            return
        if not isinstance(msg, Request):
            self.requests.put(
                (
                    "bad",
                    None,
                    RequestError(
                        _("the engine takes requests only"),
                        _("send {example}").format(example='{"id": N, "op": ..., "args": {...}}'),
                    ),
                    conn,
                )
            )
            return
        who = conn.id if conn is not None else 1
        if msg.op == "cancel" and isinstance(msg.args.get("id"), int):
            # seen here, at once, by a generation running on the main thread
            self.cancelled.add((who, msg.args["id"]))
        if msg.op == "interrupt":  # as SIGINT, for a client that cannot signal (a socket)
            self.on_sigint_from(conn, msg.id)
            return
        self.requests.put(("req", msg, None, conn))

    def on_sigint_from(self, conn: Connection | None, req_id: int) -> None:
        self._interrupt_from = conn
        os.kill(os.getpid(), signal.SIGINT)  # handled on the main thread: on_sigint
        if conn is not None:
            conn.send(encode(Reply(req_id, True, result={"interrupted": True})))

    @property
    def current_key(self) -> tuple[int, int | None]:
        """(client, request id) of the request being handled."""
        return (self.reply_to.id if self.reply_to is not None else 1, self.current_id)

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        if self.owner is not None:
            self.owner.send(encode(Event("ready", self.ready_info().to_dict())))
        self.start_monitor()
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
            self._check_idle()
            self.send_system()
        # the client left, asked to shut down, or the engine was told to stop: a run in
        # progress is saved where autosave points, so it loses nothing
        if self.state in ("running", "paused"):
            self.autosave(due=False)

    def _check_idle(self) -> None:
        """A detached engine ends after ``idle_timeout`` with no client attached and no run
        going (a paused run is saved where autosave points on the way out)."""
        if not self.idle_timeout or self.attached() or self.state == "running":
            self._idle_since = None
            return
        now = time.monotonic()
        if self._idle_since is None:
            self._idle_since = now
        elif now - self._idle_since >= self.idle_timeout:
            print(f"no client for {self.idle_timeout:g} s and no run: exiting", file=sys.stderr)
            self.exiting = True

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
        kind, req, exc, *rest = item
        conn = rest[0] if rest else self.owner
        if kind == "eof":
            self.exiting = True
            return
        if kind == "left":  # its input ended: it is gone (a bridge waits for this close)
            self.remove_client(conn)
            conn.finish()  # the replies to its last requests go out first, then it closes
            if conn.role != "probe" and not self.attached() and self.state == "running":
                self.autosave(due=False)  # its last watcher gone: the run goes on, saved now
            return
        if kind == "bad":
            if conn is None or conn.closed:
                return
            if isinstance(req, int):  # a request we can answer by its id
                line = encode(Reply(req, False, error=error_info(exc)))
            else:
                data = dict(type="RequestError", message=exc.message, hint=exc.hint)
                line = encode(Event("error", data))
            conn.send(line)
            return
        self.reply_to = conn
        self.current_id = req.id
        mine = self.interrupt_pending and conn is self._interrupt_by
        recent = mine and time.monotonic() - self._interrupt_at < 0.5
        if mine:  # another's request leaves it pending: the run still pauses after it
            self.interrupt_pending = False
        try:
            if recent:  # the interrupt was meant for this request, sent just before it arrived
                raise KeyboardInterrupt
            if req.op not in self.ops:
                raise RequestError(
                    _("unknown op {op!r}").format(op=req.op),
                    _("ops are: {ops}").format(ops=", ".join(sorted(self.ops))),
                )
            handler, spec = self.ops[req.op]
            if isinstance(spec, dict):
                args = check_args(req.op, req.args, spec)
            else:
                args = spec.from_args(req.op, req.args)
            self.interruptible = True
            try:
                if self.dist is not None and req.op in MIRRORED:
                    result = lead_op(self, self.dist, req.op, req.args, lambda: handler(args))
                else:
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
            self.reply_to = None

    # -- the engine's own ops ------------------------------------------------------------------

    def op_status(self, args: dict) -> StatusResult:
        info = self.session.describe() if self.session else None
        return StatusResult(self.state, PROTOCOL_VERSION, info, self.engine_info())

    def op_shutdown(self, args: dict) -> dict:
        self.exiting = True
        return {"bye": True}


def main(argv: list[str] | None = None) -> int:
    """``torchdeck engine`` (see core.engine_main)."""
    from core.engine_main import main as engine_main

    return engine_main(argv)


if __name__ == "__main__":
    sys.exit(main())
