"""The engine's clients: its own stdin/stdout (the process that started it) and any number of
connections on its Unix socket.

Replies go to the connection that asked; events go to every connection. Nothing a client does
can stall the engine: each socket connection has its own writer thread and queue, so a client
that stops reading blocks only that thread; past ``MAX_PENDING`` bytes waiting, the connection
is dropped (the client sees its connection closed, and the run goes on). A client may set a
budget of bytes per second (a slow ssh link): training reports over the budget are merged into
the next one, their per-step losses averaged down to fit, never dropped; any other message goes
out at once and in order. Imports no torch and no UI library.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from core.progress import merge_dicts
from core.protocol import Event, encode
from core.runtime import peer_uid

MAX_PENDING = 16 << 20  # bytes waiting for one client before it is dropped
PROGRESS = "train_progress"
SAMPLE = "system"  # a machine sample (core.monitor): on a budget, the newest replaces the last


class Connection:
    """One client. ``role`` is set by its ``hello`` ("ui" until then)."""

    def __init__(self, cid: int) -> None:
        self.id = cid
        self.role = "ui"
        self.budget = 0
        self.closed = False
        self.bytes_sent = 0

    @property
    def attached(self) -> bool:
        return not self.closed and self.role in ("ui", "owner")

    def send(self, line: str, progress: dict | None = None, sample: bool = False) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.closed = True

    def finish(self) -> None:
        """The client has left: close once what is queued for it is sent."""
        self.close()


class PipeConnection(Connection):
    """The engine's own stdout, read by the process that started it (its "owner": the app's
    pipe child, or headless train). Written directly; a broken pipe closes it."""

    def __init__(self, cid: int, out: TextIO) -> None:
        super().__init__(cid)
        self.role = "owner"
        self.out = out
        self._lock = threading.Lock()  # the main thread and a reader (interrupt) both write

    def send(self, line: str, progress: dict | None = None, sample: bool = False) -> None:
        if self.closed:
            return
        try:
            with self._lock:
                self.out.write(line)
                self.out.flush()
            self.bytes_sent += len(line)
        except (BrokenPipeError, ValueError, OSError):
            self.closed = True  # the client is gone


class _Queued:
    """A line waiting for its client: ``reports``, for a training report, holds the reports it
    stands for (one more joins it while it waits); the writer thread merges them as it goes."""

    __slots__ = ("data", "reports", "size", "sample")

    def __init__(self, data: bytes, report: dict | None, sample: bool = False) -> None:
        self.data = data
        self.reports = [report] if report is not None else None
        self.size = len(data)
        self.sample = sample  # a machine sample: a newer one replaces it, it waits as reports do


class SocketConnection(Connection):
    """A client on the socket, written by its own thread (see the module's docstring)."""

    def __init__(self, cid: int, sock: socket.socket, on_close: Callable[[Connection], None]):
        super().__init__(cid)
        self.sock = sock
        self.on_close = on_close
        self.dropped = ""  # why the engine dropped it, if it did
        self._cond = threading.Condition()
        self._queue: collections.deque[_Queued] = collections.deque()
        self._pending = 0
        self._finishing = False  # the client has left: write what is queued, then close
        self._tokens = 0.0
        self._filled_at = time.monotonic()
        threading.Thread(target=self._write_loop, name=f"client-{cid}", daemon=True).start()

    def send(self, line: str, progress: dict | None = None, sample: bool = False) -> None:
        data = line.encode("utf-8")
        with self._cond:
            if self.closed:
                return
            if self.budget and sample:
                self._queue_sample(data)
                return
            tail = self._queue[-1] if self._queue else None
            if progress is not None and tail is not None and tail.reports is not None:
                # the report before is still waiting (for the budget, or for a client that is
                # not reading): one report for both. Only noted here; the writer thread merges
                # them, once, as it sends: merging here would re-encode an ever longer report
                # on the engine's own thread for each new one.
                tail.reports.append(progress)
                tail.size += len(data)
            else:
                self._queue.append(_Queued(data, progress))
            self._pending += len(data)
            if self._pending > MAX_PENDING:
                self.dropped = f"it stopped reading ({_size(self._pending)} waiting for it)"
                print(f"dropped client {self.id}: {self.dropped}", file=sys.stderr)
                self._close_locked()
                return
            self._cond.notify()

    def _queue_sample(self, data: bytes) -> None:
        """A machine sample for a client on a budget: the newest replaces one still queued, and
        it goes out only when the budget has room (a slow link gets fewer samples, never a
        backlog of old ones, and no report is pushed out early for them)."""
        for i, item in enumerate(self._queue):
            if item.sample:
                self._pending += len(data) - item.size
                self._queue[i] = _Queued(data, None, sample=True)
                return
        self._queue.append(_Queued(data, None, sample=True))
        self._pending += len(data)
        self._cond.notify()

    def finish(self) -> None:
        """The client has left (end of its input): send what is queued for it (the replies to
        its last requests), then close. Without this the connection, its writer thread and its
        socket would wait for ever for lines that no longer come."""
        with self._cond:
            self._finishing = True
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._close_locked()

    def _close_locked(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._queue.clear()
        self._cond.notify_all()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    # -- the writer thread ---------------------------------------------------------------------

    def _budget_left(self) -> float:
        now = time.monotonic()
        self._tokens = min(float(self.budget), self._tokens + (now - self._filled_at) * self.budget)
        self._filled_at = now
        return self._tokens

    def _next(self) -> _Queued | None:
        with self._cond:
            while not self.closed:
                if not self._queue:
                    if self._finishing:
                        return None
                    self._cond.wait()
                    continue
                item = self._queue[0]
                # a report or a sample waits for the budget unless something queued behind it
                # must go (or the client has left: what is queued goes, then it closes)
                waits = item.reports is not None or item.sample
                if not waits or not self.budget or any(_must_go(q) for q in list(self._queue)[1:]):
                    break
                if self._finishing:
                    break
                left = self._budget_left()
                if left > 0:
                    break
                self._cond.wait(min(1.0, max(0.01, -left / self.budget)))
            else:
                return None
            self._queue.popleft()
            self._pending -= item.size
        return item

    def _encoded(self, item: _Queued) -> bytes:
        """The bytes for a queued line: several reports merged into one, and a report averaged
        down to the budget (here, on this connection's thread, never the engine's)."""
        if item.reports is None:
            return item.data
        data, progress = item.data, item.reports[0]
        if len(item.reports) > 1:
            progress = merge_dicts(*item.reports)
            data = encode(Event(PROGRESS, progress)).encode("utf-8")
        return fit_budget(progress, self.budget, data) if self.budget else data

    def _write_loop(self) -> None:
        try:
            while True:
                item = self._next()
                if item is None:
                    return
                try:
                    data = self._encoded(item)
                    # counted before it goes: a reader that has the line sees it counted
                    self.bytes_sent += len(data)
                    self.sock.sendall(data)
                except OSError:
                    return
                if self.budget:
                    with self._cond:
                        self._budget_left()
                        self._tokens -= len(data)
        finally:
            self.close()
            with contextlib.suppress(OSError):
                self.sock.close()
            self.on_close(self)


def _must_go(item: _Queued) -> bool:
    """Whether a queued line may not wait for the budget (a reply, a state change): the report
    or sample ahead of it goes with it. Reports and samples themselves wait."""
    return item.reports is None and not item.sample


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def fit_budget(progress: dict, budget: int, data: bytes) -> bytes:
    """A report whose per-step losses are averaged in runs (``stride``) so that it takes about
    a quarter of a second of the budget at most; the mean loss and everything else are kept.
    Its metrics rows are thinned to every k-th train row (the last kept, every eval row kept):
    the run's file keeps them all."""
    thin = dict(progress)
    changed = False
    losses = progress.get("losses") or []
    room = max(64, budget // 4 // 24)  # ~24 bytes a loss on the wire
    if len(losses) > room and all(isinstance(v, (int, float)) for v in losses):
        stride = -(-len(losses) // room)
        head = len(losses) % stride  # these join the first run, so each value ends a run
        cut = head + stride
        runs = [losses[:cut]] + [losses[i : i + stride] for i in range(cut, len(losses), stride)]
        thin["losses"] = [sum(r) / len(r) for r in runs]
        thin["first_step"] = progress.get("first_step", 0) + head
        thin["stride"] = stride
        changed = True
    rows = progress.get("rows") or []
    train = [i for i, r in enumerate(rows) if r.get("kind") == "train"]
    row_bytes = max(100, len(json.dumps(rows[-1])) if rows else 0)
    rows_room = max(1, budget // 8 // row_bytes)  # rows take an eighth of the budget at most
    if len(train) > rows_room:
        k = -(-len(train) // rows_room)
        keep = set(train[len(train) - 1 :: -k])
        thin["rows"] = [r for i, r in enumerate(rows) if r.get("kind") != "train" or i in keep]
        changed = True
    if not changed:
        return data
    return encode(Event(PROGRESS, thin)).encode("utf-8")


class Listener:
    """Accepts clients on a listening socket: checks the peer's user, gives each connection an
    id and a reader thread (``serve(stream, conn)``, provided by the engine)."""

    def __init__(
        self,
        sock: socket.socket,
        add: Callable[[Connection], None],
        serve: Callable[[object, Connection], None],
        remove: Callable[[Connection], None],
    ) -> None:
        self.sock = sock
        self.add, self.serve, self.remove = add, serve, remove
        self._ids = iter(range(1, 1 << 62))
        self.refused = 0
        self._closed = False
        threading.Thread(target=self._accept_loop, name="listener", daemon=True).start()

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError as exc:
                if self._closed or exc.errno in (errno.EBADF, errno.EINVAL):
                    return  # the listening socket was closed: the engine is ending
                # out of file descriptors (EMFILE), a client gone before it was accepted: the
                # listener must not end over it, or no client could ever attach again
                print(f"cannot accept a client: {exc.strerror or exc}", file=sys.stderr)
                time.sleep(0.1)
                continue
            uid = peer_uid(client)
            if uid is not None and uid != os.getuid():
                self.refused += 1
                print(
                    f"refused a connection from uid {uid}: not this engine's user", file=sys.stderr
                )
                try:
                    client.sendall(
                        b'{"event": "error", "data": {"type": "PermissionError", "message": '
                        b'"this engine belongs to another user", "hint": ""}}\n'
                    )
                except OSError:
                    pass
                finally:
                    client.close()
                continue
            conn = SocketConnection(next(self._ids) + 1, client, self.remove)
            self.add(conn)
            threading.Thread(
                target=self.serve,
                args=(client.makefile("rb"), conn),
                name=f"reader-{conn.id}",
                daemon=True,
            ).start()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.sock.close()
