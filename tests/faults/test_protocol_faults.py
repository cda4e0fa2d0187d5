"""Protocol faults (issue 15, items 5, 6 and 9): hostile lines on the engine's stdin, hostile
lines on its stdout (a playground cell can write them), and an engine that stops answering.

Each test starts what it needs: a real engine through core.client.EngineClient, a fake engine
(a few lines of Python printing chosen lines), or the app with a fake client.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import queue
import signal
import sys
import time

import pytest

from core.client import EXITED, EngineClient
from core.contract import RunState, TrainProgress, read_result
from core.contract.base import MalformedMessage
from core.engine import Engine
from core.errors import EngineError, RequestError
from core.protocol import MAX_LINE_BYTES, decode
from tests.tui.conftest import FakeClient

TIMEOUT = 60.0  # generous: the box is small and shared
SIZE = (100, 30)
CORPUS_TEXT = "the quick brown fox jumps over the lazy dog. " * 120


async def engine() -> EngineClient:
    client = EngineClient(nice=0, threads=1)
    await client.start(timeout=TIMEOUT)
    return client


async def error_event(client: EngineClient) -> dict:
    ev = await client.next_event("error", timeout=TIMEOUT)
    return ev.data


# -- item 5: deep nesting and huge lines into the engine -----------------------------------------


async def test_deeply_nested_and_huge_lines_get_an_error_and_the_engine_keeps_answering():
    client = await engine()
    try:
        client.proc.stdin.write(b"[" * 100_000 + b"\n")
        data = await error_event(client)
        assert "nests deeper than" in data["message"]
        assert (await client.request("status", timeout=TIMEOUT))["state"] == "idle"
        # a request whose arguments nest too deeply: refused the same way, engine still up
        nested = b'{"id": 99, "op": "status", "args": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
        client.proc.stdin.write(nested + b"\n")
        assert "nests deeper than" in (await error_event(client))["message"]
        # one line over the size limit is skipped unread and answered
        client.proc.stdin.write(b'"' + b"x" * (MAX_LINE_BYTES + 10) + b'"\n')
        assert "longer than" in (await error_event(client))["message"]
        assert (await client.request("status", timeout=TIMEOUT))["state"] == "idle"
        # end of input: the engine exits by itself
        client.proc.stdin.close()
        assert await asyncio.wait_for(client.proc.wait(), TIMEOUT) == 0
    finally:
        await client.close()


def test_decode_refuses_deep_nesting_without_recursion():
    with pytest.raises(RequestError, match="nests deeper"):
        decode("[" * 100_000)
    with pytest.raises(RequestError, match="nests deeper"):
        decode(b'{"event": "x", "data": {"a": ' + b"{" * 70 + b"}" * 70 + b"}}")
    # brackets inside strings do not count
    assert decode('{"event": "x", "data": {"a": "' + "[" * 500 + '"}}').data["a"] == "[" * 500


class _Stream:
    """Lines, then an OSError: the stdin reader must report, go on, and queue "eof"."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines

    def readline(self, size: int = -1) -> bytes:
        if not self.lines:
            raise OSError("the pipe broke")
        line = self.lines.pop(0)
        if isinstance(line, Exception):
            raise line
        return line


def test_stdin_reader_survives_any_line_and_always_queues_eof(monkeypatch):
    eng = Engine.__new__(Engine)  # the reader only: no torch, no ops
    eng.requests, eng.cancelled, eng.owner = queue.Queue(), set(), None
    monkeypatch.setattr("core.engine.decode", _flaky_decode)
    stream = _Stream([b"[" * 100_000 + b"\n", b"boom\n", b'{"id": 1, "op": "status"}\n'])
    with contextlib.redirect_stderr(io.StringIO()):
        eng.read_stdin(stream)  # the broken pipe at the end is the end of input
    kinds = []
    while not eng.requests.empty():
        kinds.append(eng.requests.get_nowait()[0])
    assert kinds == ["bad", "bad", "req", "eof"]


def _flaky_decode(raw):
    if raw == b"boom\n":
        raise KeyError("a bug in decoding")  # not a RequestError: the reader must live on
    return decode(raw)


# -- item 5, client side: what the engine writes cannot kill the client's reader -----------------

FAKE_ENGINE = r"""
import sys
out = sys.stdout.buffer
def line(b):
    out.write(b + b"\n"); out.flush()
line(b'{"event": "ready", "data": {"protocol": 1}}')
line(b"[" * 100000)
line(b'"' + b"y" * ((1 << 24) + 100) + b'"')
line(b'{"event": "engine_exited", "data": {"returncode": 1}}')
line(b'{"event": "ready", "data": {}}')
line(b'{"id": [1], "ok": true, "result": {}}')
line(b'{"event": "after", "data": {}}')
sys.stdin.read()
"""


async def test_client_reader_survives_deep_huge_and_forged_engine_lines():
    client = EngineClient([sys.executable, "-c", FAKE_ENGINE])
    await client.start(timeout=TIMEOUT)
    try:
        await client.next_event("after", timeout=TIMEOUT)
        assert client.running
        tail = client.stderr_text()
        assert tail.count("[client] unreadable engine line") == 5, tail
        assert "nests deeper" in tail and "longer than" in tail and "forged" in tail
        assert all(ev.event != EXITED for ev in client.drain_events())
    finally:
        await client.close()


# -- item 6: malformed events and replies --------------------------------------------------------


def test_checked_parse_refuses_wrong_types_and_accepts_what_the_engine_sends():
    with pytest.raises(MalformedMessage, match=r"TrainProgress.step: want an integer, got 'NaN'"):
        TrainProgress.parse({"step": "NaN"})
    ok = TrainProgress.parse({"step": 3, "loss": "nan", "grad_norm": "inf", "lr": 1, "losses": []})
    assert ok.step == 3 and ok.loss == "nan" and ok.lr == 1
    with pytest.raises(MalformedMessage):
        TrainProgress.parse(["not", "an", "object"])
    assert TrainProgress.from_dict({"step": "NaN"}).step == "NaN"  # from_dict is unchanged
    with pytest.raises(EngineError) as err:
        read_result("train_start", {"state": "running", "step": None})
    assert err.value.type == "MalformedReply" and "RunState.step" in err.value.message
    assert read_result("train_start", {"state": "running", "step": 4}) == RunState("running", 4)


FORGE_CELL = (
    "import gc\n"
    "eng = next(o for o in gc.get_objects() if type(o).__name__ == 'Engine')\n"
    "for line in [\n"
    '    \'{"event": "train_progress", "data": {"step": "NaN"}}\',\n'
    '    \'{"event": "train_state", "data": {"state": 5, "reason": []}}\',\n'
    '    \'{"event": "ready", "data": {}}\',\n'
    '    \'{"event": "engine_exited", "data": {"returncode": 1}}\',\n'
    '    \'{"event": "error", "data": "x"}\',\n'
    "]:\n"
    "    eng.out.write(line + '\\n')\n"
    "eng.out.flush()\n"
    "'forged'"
)


async def test_a_forged_event_from_a_playground_cell_does_not_crash_the_app(tmp_path):
    from tests.tui.conftest import wait_configured, wait_for
    from tui.app import TorchdeckApp
    from tui.panes.playground_pane import PlaygroundPane
    from tui.widgets.status_bar import StatusBar

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS_TEXT, encoding="utf-8")
    client = EngineClient(nice=0, threads=1)
    app = TorchdeckApp(preset="mini", corpus=str(corpus), device="cpu", client=client)
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot, TIMEOUT)
        await pilot.press("f3")
        pane = app.query_one(PlaygroundPane)
        pane.run_cell(FORGE_CELL)
        await wait_for(pilot, lambda: len(pane.transcript.entries) == 2, TIMEOUT, "the cell")
        await pilot.pause(0.3)
        assert app.is_running and client.running
        status = app.query_one(StatusBar)
        assert status.state == "ready" and isinstance(status.step, int)
        assert not app.query_one("#crash-banner").display
        assert "forged" in client.stderr_text()  # the fake ready and engine_exited, reported
        assert app.engine.ignored.get("train_progress") == 1
        # the engine still answers, through the checked replies
        assert (await app.engine.call("status")).state == "idle"


async def test_a_failing_pane_handler_is_reported_not_fatal():
    from tui.app import TorchdeckApp
    from tui.messages import EngineEventReceived

    app = TorchdeckApp(client=_FakeClient())
    async with app.run_test(size=SIZE) as pilot:
        pane = app.panes["train"]
        pane.engine_event = lambda name, data: 1 / 0
        for _ in range(3):
            app.post_message(EngineEventReceived("weird", {}))
        await pilot.pause(0.2)
        assert app.is_running
        shown = [n.message for n in app._notifications]
        assert sum("could not handle the 'weird' event" in m for m in shown) == 1


# -- item 9: the heartbeat -----------------------------------------------------------------------


class _FakeClient(FakeClient):
    """A client with no engine behind it; ``alive`` makes it claim a running process."""

    alive = False

    @property
    def running(self) -> bool:
        return self.alive

    async def send(self, op, args=None, timeout=None, **kwargs):
        await asyncio.sleep(3600)  # never answers

    async def close(self, timeout: float = 5.0):
        return 0

    def interrupt(self) -> None:
        self.interrupted = getattr(self, "interrupted", 0) + 1


def test_engine_health_says_busy_then_not_responding():
    from tui.widgets.status_bar import engine_health

    def health(now, training=False, pending=None, heard=0.0, alive=True, stopped=False):
        return engine_health(
            now,
            alive=alive,
            training=training,
            pending_since=pending,
            heard_at=heard,
            stopped=stopped,
        )

    assert health(100.0, pending=99.0, heard=99.0) == ""  # a request of 1 s: fine
    assert health(100.0, pending=88.0, heard=99.0) == "busy (12 s)"  # replies to others came
    # a long cell after a long idle spell: busy, counted from the request, not the silence
    assert health(100.0, pending=95.0, heard=70.0) == "busy (5 s)"
    assert health(100.0, pending=60.0, heard=50.0, training=True) == "busy (40 s)"
    assert health(100.0, pending=95.0, heard=70.0, stopped=True) == (
        "not responding (stopped, 5 s) · ctrl+r restarts"
    )
    assert "ctrl+r" in health(100.0, training=True, heard=85.0)
    assert health(100.0, training=True, heard=99.9) == ""  # progress is coming
    assert health(100.0, heard=0.0) == ""  # idle, nothing due: silence is normal
    assert health(100.0, pending=0.0, heard=0.0, alive=False) == ""  # crashed: said elsewhere


async def test_status_bar_heartbeat_and_two_unanswered_interrupts_offer_restart():
    from textual.widgets import Static

    from tui.app import TorchdeckApp
    from tui.panes.playground_pane import PlaygroundPane
    from tui.widgets.status_bar import StatusBar

    client = _FakeClient()
    app = TorchdeckApp(client=client)
    async with app.run_test(size=SIZE) as pilot:
        status = app.query_one(StatusBar)
        client.alive = True
        now = time.monotonic()
        client.last_heard = now - 3
        client._sent_at = {1: now - 3}
        app._heartbeat()
        assert status.health == "busy (3 s)"
        await pilot.pause()
        assert "busy (3 s)" in str(status.render())
        client._sent_at = {}
        app.engine_state = "running"
        client.last_heard = now - 11
        app._heartbeat()
        assert status.health.startswith("not responding (11 s)")
        client.last_heard = time.monotonic()
        app._heartbeat()
        assert status.health == ""
        client.alive = False
        # a cell that ignores ctrl+c: the second unanswered one offers ctrl+r
        await pilot.press("f3")
        pane = app.query_one(PlaygroundPane)
        pane.run_cell("while True: pass")
        await pilot.pause()
        await pilot.press("ctrl+c")
        line = app.query_one("#playground-status", Static)
        assert str(line.render()) == "interrupting…"
        await pilot.press("ctrl+c")
        assert "ctrl+r restarts the engine" in str(line.render())
        shown = [n.message for n in app._notifications]
        assert sum("press ctrl+r to restart the engine" in m for m in shown) == 1
        assert client.interrupted == 2


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")
async def test_a_stopped_engine_shows_busy_and_answers_after_it_continues():
    from tui.widgets.status_bar import engine_health

    client = await engine()
    try:
        os.kill(client.pid, signal.SIGSTOP)
        try:
            task = asyncio.create_task(client.request("status"))
            await asyncio.sleep(2.5)
            now = time.monotonic()
            waited = client.oldest_pending_s(now)
            assert waited is not None and waited >= 2.0
            assert client.stopped  # read from /proc: the state a stopped process has
            text = engine_health(
                now,
                alive=client.running,
                training=False,
                pending_since=now - waited,
                heard_at=client.last_heard,
                stopped=client.stopped,
            )
            assert text.startswith("not responding (stopped, ")
        finally:
            os.kill(client.pid, signal.SIGCONT)
        assert (await asyncio.wait_for(task, TIMEOUT))["state"] == "idle"
        assert client.oldest_pending_s() is None
    finally:
        await client.close()
