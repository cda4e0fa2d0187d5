"""Several clients on one engine: an in-process engine's routing, then a real engine serving a
socket beside its owner's pipe (``python -m core.engine_main --serve``), reached by
``EngineClient(socket_path=...)`` and by raw socket clients that read every line.

Replies go to the asker only (request ids overlap between clients), events to all, generated
text to the asker only; one client's cancel or interrupt is not another's; a client that leaves
stops nothing; ``hello`` checks the protocol; ``attach`` returns the history. The runtime folder
is in tmp, so no test sees the user's engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time

import pytest
import pytest_asyncio

from core.client import EngineClient
from core.engine import Engine
from core.hub import Connection
from core.protocol import Reply
from tests.core.engine_helpers import EVENT_TIMEOUT, collect, is_progress_at, is_state, mini

on_module_loop = pytest.mark.asyncio(loop_scope="module")


# -- routing, in process ---------------------------------------------------------------------------


class Recorder(Connection):
    def __init__(self, cid: int) -> None:
        super().__init__(cid)
        self.lines: list[dict] = []

    def send(self, line: str, progress: dict | None = None, sample: bool = False) -> None:
        self.lines.append(json.loads(line))


@pytest.fixture(scope="module")
def eng():
    return Engine(None)  # no owner: a detached engine's routing


def test_replies_to_the_asker_events_to_all_generated_text_to_the_asker(eng):
    a, b = Recorder(2), Recorder(3)
    eng.add_client(a)
    eng.add_client(b)
    try:
        assert [m["event"] for m in a.lines + b.lines] == ["ready", "ready"]
        a.lines.clear(), b.lines.clear()
        eng.reply_to = a
        eng.send(Reply(1, True, result={"x": 1}))
        eng.event("generate_token", id=1, char="q", index=0)
        eng.event("generate_stopped", id=1, text="q")
        eng.event("train_state", state="paused")
        eng.reply_to = b
        eng.send(Reply(1, True, result={"x": 2}))  # the same id, another client
        assert a.lines == [
            {"id": 1, "ok": True, "result": {"x": 1}},
            {"event": "generate_token", "data": {"id": 1, "char": "q", "index": 0}},
            {"event": "generate_stopped", "data": {"id": 1, "text": "q"}},
            {"event": "train_state", "data": {"state": "paused"}},
        ]
        assert b.lines == [a.lines[3], {"id": 1, "ok": True, "result": {"x": 2}}]
        eng.reply_to = None
        eng.send(Reply(9, True, result={}))  # no asker and no owner: nobody
        eng.remove_client(b)
        eng.event("error", type="X", message="m", hint="")
        assert (len(a.lines), len(b.lines)) == (5, 2)
    finally:
        eng.reply_to = None
        eng.remove_client(a)
        eng.remove_client(b)


def test_a_new_client_hears_ready_before_any_event(eng):
    """A report the main thread broadcasts while a client is being added must not reach it
    before ``ready``: that first line tells the client the engine's protocol."""
    c = Recorder(4)
    real = eng.ready_info

    def ready_info_while_training():
        eng.event("train_progress", step=2, first_step=1, losses=[1.0, 1.0], loss=1.0)
        return real()

    eng.ready_info = ready_info_while_training
    try:
        eng.add_client(c)
    finally:
        del eng.ready_info
        eng.remove_client(c)
    assert c.lines[0]["event"] == "ready"


def test_probes_and_closed_clients_are_not_counted_as_attached(eng):
    ui, probe, gone = Recorder(5), Recorder(6), Recorder(7)
    probe.role = "probe"
    for c in (ui, probe, gone):
        eng.add_client(c)
    gone.close()
    try:
        assert eng.attached() == 1 and eng.engine_info().clients == 1
    finally:
        for c in (ui, probe, gone):
            eng.remove_client(c)


# -- a real engine: its owner on the pipe, clients on its socket -----------------------------------


class Raw:
    """A socket client that sends lines as given and reads every line the engine sends it."""

    def __init__(self, reader, writer) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, path: str) -> Raw:
        raw = cls(*await asyncio.open_unix_connection(path, limit=1 << 24))
        assert (await raw.line())["event"] == "ready"
        return raw

    def send(self, req_id: int, op: str, **args) -> None:
        self.writer.write(json.dumps({"id": req_id, "op": op, "args": args}).encode() + b"\n")

    async def line(self, timeout: float = EVENT_TIMEOUT) -> dict:
        """The next line, but the machine samples (``system``) every client gets each second."""
        while True:
            raw = await asyncio.wait_for(self.reader.readline(), timeout)
            if not raw:
                raise EOFError
            message = json.loads(raw)
            if message.get("event") != "system":
                return message

    async def until(self, done, timeout: float = EVENT_TIMEOUT) -> list[dict]:
        lines = []
        while not lines or not done(lines[-1]):
            lines.append(await self.line(timeout))
        return lines

    async def reply(self, req_id: int) -> dict:
        return (await self.until(lambda m: m.get("id") == req_id))[-1]

    async def silent(self, within: float = 0.5) -> list[dict]:
        """What arrives within ``within`` seconds (machine samples left out)."""
        lines: list[dict] = []
        with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
            while True:
                lines.append(await self.line(within))
        return lines

    def close(self) -> None:
        self.writer.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def owner(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rt") / "run"
    argv = [sys.executable, "-m", "core.engine_main", "--serve", "--nice", "0", "--threads", "1"]
    client = EngineClient(argv, env={**os.environ, "TORCHDECK_RUNTIME_DIR": str(folder)})
    await client.start(timeout=60)
    client.socket = str(folder / f"engine-{client.pid}.sock")
    try:
        yield client
    finally:
        await client.close()


@pytest_asyncio.fixture(loop_scope="module")
async def link(owner, corpus):
    """``(owner, connect)``: a configured model; ``connect(role, budget)`` a socket client, and
    ``raw()`` a raw one; all closed, training stopped, after the test."""
    opened: list = []
    await owner.request("configure", mini(corpus), timeout=EVENT_TIMEOUT)
    owner.drain_events()

    async def connect(role: str = "ui", budget: int = 0) -> EngineClient:
        client = EngineClient(socket_path=owner.socket, role=role, budget=budget)
        opened.append(client)
        await client.start(timeout=EVENT_TIMEOUT)
        return client

    async def raw() -> Raw:
        opened.append(await Raw.open(owner.socket))
        return opened[-1]

    connect.raw = raw
    yield owner, connect
    for c in opened:
        with contextlib.suppress(Exception):
            await c.close() if isinstance(c, EngineClient) else c.close()
    if (await owner.request("status", timeout=EVENT_TIMEOUT))["state"] in ("running", "paused"):
        await owner.request("train_stop", timeout=EVENT_TIMEOUT)


@on_module_loop
async def test_hello_says_who_the_client_is_and_status_counts_ui_not_probes(link):
    owner, connect = link
    a = await connect()
    assert a.ready_info["protocol"] == 3 and a.ready_info["pid"] == owner.pid
    info = a.info
    assert (info["id"], info["pid"], info["socket"]) == (str(owner.pid), owner.pid, owner.socket)
    assert info["detached"] is False and info["client"] >= 2 and info["protocol"] == 3
    probe = await connect("probe")
    status = await probe.request("status")
    assert status["engine"]["clients"] == 2  # the owner and a; not the probe
    assert status["engine"]["client"] == probe.info["client"] != info["client"]
    await a.close()
    deadline = time.monotonic() + EVENT_TIMEOUT
    while (await probe.request("status"))["engine"]["clients"] != 1:
        assert time.monotonic() < deadline, "a client that left is still counted"
        await asyncio.sleep(0.05)


@on_module_loop
async def test_hello_with_another_protocol_names_the_side_to_upgrade(link):
    raw = await link[1].raw()
    raw.send(1, "hello", protocol=1)
    err = (await raw.reply(1))["error"]
    assert err == {
        "type": "ProtocolMismatch",
        "message": "the engine speaks protocol 3 and this torchdeck speaks 1: the client is older",
        "hint": "upgrade torchdeck on this machine (the same version on both sides), then try "
        "again",
    }
    raw.send(2, "hello", protocol=4)
    err = (await raw.reply(2))["error"]
    assert err["message"].endswith("speaks 4: the engine is older")
    assert err["hint"].startswith("upgrade torchdeck on the engine's machine")
    raw.send(3, "hello", protocol=3, role="owner")
    err = (await raw.reply(3))["error"]
    assert err["message"] == "only the process that started the engine is its owner"
    raw.send(4, "hello", protocol=3, role="boss")
    assert (await raw.reply(4))["error"]["type"] == "RequestError"
    raw.send(5, "status")
    assert (await raw.reply(5))["ok"]  # still served


@on_module_loop
async def test_replies_go_to_the_asker_though_ids_overlap(link):
    owner, connect = link
    a, b, c = await connect(), await connect(), await link[1].raw()
    assert a.next_id == b.next_id == 2  # both said hello with id 1
    status, attach = await asyncio.gather(a.request("status"), b.request("attach", points=8))
    assert status["state"] == "idle" and "history" not in str(status)
    assert attach["state"] == "idle" and attach["session"]["preset"] == "mini"
    assert await c.silent() == []  # nothing for a client that asked nothing


@on_module_loop
async def test_generated_text_goes_to_the_asker_only(link):
    a, b = await link[1].raw(), await link[1].raw()
    a.send(7, "generate", prompt="the ", max_new=20, seed=1)
    lines = await a.until(lambda m: m.get("id") == 7)
    tokens = [m["data"] for m in lines if m.get("event") == "generate_token"]
    assert [t["index"] for t in tokens] == list(range(20)) and {t["id"] for t in tokens} == {7}
    assert "".join(t["char"] for t in tokens) == lines[-1]["result"]["text"]
    assert await b.silent() == []


@on_module_loop
async def test_a_cancel_from_one_client_does_not_stop_anothers_generation(link):
    a, b = await link[1].raw(), await link[1].raw()
    b.send(5, "generate", prompt="the ", max_new=4000, seed=1)
    await b.until(lambda m: m.get("event") == "generate_token")
    a.send(1, "cancel", id=5)  # a's own id 5 is not running: this must not touch b's
    await a.writer.drain()
    sent = time.monotonic()
    done = await b.reply(5)
    # b's generation ran on well after a's cancel reached the engine (its reader flags a
    # cancel at once, whatever the main thread is doing)
    assert time.monotonic() - sent > 0.1, "generation too quick to test the cancel"
    assert done["result"]["stopped"] is False and len(done["result"]["text"]) == 4000
    assert (await a.reply(1))["result"] == {"id": 5}
    b.send(6, "generate", prompt="the ", max_new=4000, seed=1)
    await b.until(lambda m: m.get("event") == "generate_token")
    b.send(7, "cancel", id=6)  # b's own cancel does stop it
    lines = await b.until(lambda m: m.get("id") == 6)
    assert lines[-1]["result"]["stopped"] is True and len(lines[-1]["result"]["text"]) < 4000
    assert any(m.get("event") == "generate_stopped" for m in lines)
    assert [m for m in await a.silent() if m.get("event") == "generate_stopped"] == []


@on_module_loop
async def test_two_clients_get_progress_and_a_client_that_leaves_stops_nothing(link):
    owner, connect = link
    a, b = await connect(), await connect()
    await a.request("train_start", report_interval=0.05)
    for client in (a, b, owner):
        await collect(client, is_progress_at(1))
    await a.close()  # the client that started the run leaves
    step = (await collect(b, lambda e: e.event == "train_progress"))[-1].data["step"]
    await collect(b, is_progress_at(step + 50))
    assert (await b.request("status"))["state"] == "running"


@on_module_loop
async def test_a_client_on_a_slow_link_gets_every_step_averaged_to_its_budget(link):
    owner, connect = link
    slow, fast = await connect(budget=2400), await connect()  # 2400 B/s: 64 losses a report
    await owner.request("train_start", report_interval=0.05)
    events = await collect(slow, lambda e: (e.data.get("stride") or 1) > 1)  # thinned, once
    reports = [e.data for e in events if e.event == "train_progress"]
    last = 0
    for r in reports:  # the last value sits at the report's step; no step drawn twice
        stride = r.get("stride") or 1
        assert r["first_step"] + len(r["losses"]) * stride - 1 == r["step"]
        assert r["first_step"] + stride - 1 > last and len(r["losses"]) <= 64
        last = r["step"]
    events = await collect(fast, is_progress_at(last))
    assert all("stride" not in e.data for e in events)  # another client's budget is its own


@on_module_loop
async def test_the_interrupt_op_pauses_training(link):
    owner, connect = link
    a, b = await connect(), await connect()
    await owner.request("train_start", report_interval=0.05)
    await collect(a, is_progress_at(1))
    a.interrupt()  # a socket client cannot signal: the interrupt op
    paused = (await collect(b, is_state("paused")))[-1]
    assert paused.data["reason"] == "interrupted"
    assert (await a.request("status"))["state"] == "paused"


@on_module_loop
async def test_an_interrupt_from_one_client_does_not_interrupt_anothers_request(link):
    a, b = await link[1].raw(), await link[1].raw()
    for i in range(5):  # idle: a's interrupt is pending a moment for a's own next request
        a.send(100 + i, "interrupt")
        assert (await a.reply(100 + i))["result"] == {"interrupted": True}
        b.send(i, "status")
        reply = await b.reply(i)
        assert reply["ok"], f"b's request was interrupted by a's interrupt: {reply}"


@on_module_loop
async def test_attach_returns_the_history_from_step_1_decimated_with_the_spike(link):
    owner, connect = link
    a = await connect()
    await a.request("train_start", steps=300, report_interval=0.05)
    await collect(a, is_state("finished"))
    full = await a.request("attach")
    train = full["session"]["history"]["train"]
    assert train["steps"] == list(range(1, 301)) and full["state"] == "finished"
    assert full["progress"]["losses"] == [] and full["progress"]["step"] == 300
    assert full["engine"]["step"] == 300 and full["engine"]["client"] == a.info["client"]
    thin = (await a.request("attach", points=20))["session"]["history"]["train"]
    assert 10 <= len(thin["steps"]) <= 22 and thin["steps"] == sorted(thin["steps"])
    assert thin["steps"][0] == 1 and thin["steps"][-1] == 300  # the chart spans the run
    pairs = dict(zip(train["steps"], train["values"]))
    assert all(pairs[s] == v for s, v in zip(thin["steps"], thin["values"]))
    assert max(thin["values"]) == max(train["values"])
    assert min(thin["values"]) == min(train["values"])


@on_module_loop
async def test_a_client_that_sends_and_leaves_still_gets_its_reply_then_its_end(link):
    raw = await link[1].raw()
    raw.send(1, "status")
    raw.writer.write_eof()  # gone, as far as the engine's reader can tell
    assert (await raw.reply(1))["result"]["state"] == "idle"
    with pytest.raises(EOFError):
        await raw.line()


@on_module_loop
async def test_clients_that_come_and_go_leave_no_thread_or_descriptor_behind(link):
    owner, connect = link

    def count() -> tuple[int, int]:
        proc = f"/proc/{owner.pid}"
        return len(os.listdir(f"{proc}/fd")), len(os.listdir(f"{proc}/task"))

    if not os.path.isdir(f"/proc/{owner.pid}"):
        pytest.skip("no /proc here")
    (await link[1].raw()).close()  # the first client starts whatever threads stay
    await asyncio.sleep(0.5)
    before = count()
    for _ in range(20):
        (await Raw.open(owner.socket)).close()
    deadline = time.monotonic() + EVENT_TIMEOUT
    while count() > before and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert count() <= before, f"{count()} fds/threads after 20 clients, {before} before"
