"""An engine on a socket that goes away: the app names it (an orderly end as "ended", a crash as
"lost the connection to engine ID", or the protocol mismatch), keeps the chart, and ctrl+r
spawns a fresh engine where the app started its own, or where the one it attached to is gone."""

from __future__ import annotations

import asyncio
import os
import signal

from core.client import EngineClient
from core.protocol import PROTOCOL_VERSION
from tests.tui.conftest import wait_configured, wait_for, wait_gone
from tui.app import TorchdeckApp
from tui.widgets.status_bar import StatusBar

SIZE = (100, 30)
TIMEOUT = 60


def banner(app) -> str:
    return str(app.query_one("#crash-banner").render())


async def test_a_lost_socket_engine_is_named_and_ctrl_r_spawns_another(detached, corpus):
    client = EngineClient(spawn=detached.spawn)
    app = TorchdeckApp(preset="mini", corpus=corpus, device="cpu", client=client)
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot, TIMEOUT)
        eid = app.engine.client.info["id"]
        os.kill(int(eid), signal.SIGKILL)
        status = app.query_one(StatusBar)
        await wait_for(pilot, lambda: status.state == "crashed", 10, "the loss shown")
        shown = banner(app)
        assert f"Lost the connection to engine {eid}" in shown and "ctrl+r starts" in shown
        await pilot.press("ctrl+r")
        await wait_configured(pilot, TIMEOUT)
        assert app.engine.client.info["id"] != eid and app.engine.client.running
        assert not app.query_one("#crash-banner").display


def attached_app(path: str, corpus: str) -> TorchdeckApp:
    client = EngineClient(socket_path=path)
    return TorchdeckApp(preset="mini", corpus=corpus, device="cpu", attach=True, client=client)


def other_engines_crash(app) -> None:
    """A traceback in the shared engine.log, as another engine that crashed leaves one."""
    with open(app.engine.client.info["log"], "a", encoding="utf-8") as fh:
        fh.write("Traceback (most recent call last):\nRuntimeError: another engine's crash\n")


async def test_an_attached_engine_shut_down_is_ended_not_crashed(detached, corpus):
    path = await detached()
    app = attached_app(path, corpus)
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot, TIMEOUT)
        eid = app.engine.client.info["id"]
        other_engines_crash(app)
        other = EngineClient(socket_path=path)
        await other.start(timeout=TIMEOUT)
        await other.close(shutdown=True)  # another app quitting, torchdeck stop
        status = app.query_one(StatusBar)
        await wait_for(pilot, lambda: status.state == "ended", 20, "the end shown")
        shown = banner(app)
        assert f"Engine {eid} has ended (shut down by another client or torchdeck stop)" in shown
        assert "ctrl+r starts a new engine here" in shown
        assert "another engine's crash" not in shown and "Lost the connection" not in shown
        assert "crashed" not in str(status.render())
        app.engine.spawn_fresh = detached.spawn  # torchdeck's spawn_detached, ended by the test
        await pilot.press("ctrl+r")  # nothing to reconnect to: a new engine, as torchdeck
        await wait_configured(pilot, TIMEOUT)
        assert app.engine.client.info["id"] != eid and app.engine.client.running
        assert not app.query_one("#crash-banner").display
        assert app.engine.owns_engine  # this app started it: it ends with the app


async def test_an_attached_engine_killed_is_a_crash_with_its_log(detached, corpus):
    path = await detached()
    app = attached_app(path, corpus)
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot, TIMEOUT)
        pid = app.engine.client.info["pid"]
        other_engines_crash(app)
        os.kill(pid, signal.SIGKILL)  # its socket stays behind: no orderly end
        status = app.query_one(StatusBar)
        await wait_for(pilot, lambda: status.state == "crashed", 20, "the crash shown")
        shown = banner(app)
        assert f"Lost the connection to engine {pid}" in shown and "has crashed" in shown
        assert "another engine's crash" in shown  # the log's tail, as a crash may explain
        assert wait_gone(pid, 20)


async def test_an_engine_of_another_protocol_version_is_named_not_a_crash(tmp_path):
    """A client of this version meets an engine of an older one: the banner says which side
    to upgrade, not that the engine crashed."""

    async def old_engine(reader, writer):
        writer.write(b'{"event": "ready", "data": {"protocol": 1, "pid": 1}}\n')
        await writer.drain()
        await reader.read()  # until the client leaves
        writer.close()

    path = str(tmp_path / "old.sock")
    server = await asyncio.start_unix_server(old_engine, path=path)
    try:
        app = TorchdeckApp(attach=True, client=EngineClient(socket_path=path))
        async with app.run_test(size=SIZE) as pilot:
            status = app.query_one(StatusBar)
            await wait_for(pilot, lambda: status.state == "crashed", 20, "the mismatch shown")
            shown = banner(app)
            assert f"the engine speaks protocol 1 and this torchdeck speaks {PROTOCOL_VERSION}" in (
                shown
            )
            assert "upgrade torchdeck" in shown
            assert "stopped" not in shown and "Lost the connection" not in shown
    finally:
        server.close()
        await server.wait_closed()


def test_a_dropped_ssh_link_says_the_run_goes_on_and_how_to_bring_it_back():
    from types import SimpleNamespace

    from tui.attach import lost_banner, reattach_command

    client = SimpleNamespace(
        host="me@gpubox", info={"id": "4242"}, socket_path=None, spawn=None, role="ui"
    )
    app = SimpleNamespace(engine=SimpleNamespace(client=client))
    text = lost_banner(app, 255, "Connection to gpubox closed by remote host.", "")
    assert text.startswith("[b]Lost the link to me@gpubox[/b]: engine 4242 and its run go on")
    assert "torchdeck attach --remote me@gpubox 4242" in text
    assert text.endswith("Connection to gpubox closed by remote host.")
    assert reattach_command(app) == "torchdeck attach --remote me@gpubox 4242"
    client.host = None
    assert reattach_command(app) == "torchdeck attach 4242"


async def test_an_engine_a_cell_ended_is_blamed_on_the_cell_not_on_another_client(detached, corpus):
    """os._exit in a cell: not "shut down by another client" nor "its run was saved", even
    when the run had stopped; the transcript says the names are lost, and "restarting" only
    once ctrl+r restarts it."""
    client = EngineClient(spawn=detached.spawn)
    app = TorchdeckApp(preset="mini", corpus=corpus, device="cpu", client=client)
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot, TIMEOUT)
        eid = app.engine.client.info["id"]
        app.engine_state = "stopped"  # a run that had stopped: its end used to read as calm
        await pilot.press("f3")
        pane = app.panes["playground"]
        pane.run_cell("import os; os._exit(1)")
        status = app.query_one(StatusBar)
        await wait_for(pilot, lambda: status.state == "crashed", 20, "the crash shown")
        shown = " ".join(banner(app).split())
        assert f"Engine {eid} ended while cell In [1] ran: a cell that calls os._exit" in shown
        assert "another client" not in shown and "saved" not in shown
        assert "ctrl+r starts a fresh engine" in shown
        notes = [e["note"] for e in pane.transcript.entries if "note" in e]
        assert notes[-1].startswith("The engine stopped: every name defined here is lost")
        assert not any(n.startswith("Engine restarting") for n in notes)
        await pilot.press("ctrl+r")
        await wait_configured(pilot, TIMEOUT)
        notes = [e["note"] for e in pane.transcript.entries if "note" in e]
        assert notes[-2:] == [
            "Engine restarting: the namespace starts fresh.",
            "model, tokenizer and data now point at the new mini model",
        ]
        assert pane.cell_in_flight() is None


async def test_a_dropped_ssh_link_is_disconnected_not_crashed():
    """The status bar said "crashed" while the banner said the run goes on there."""
    from tests.tui.conftest import FakeClient
    from tui.attach import show_engine_lost
    from tui.messages import EngineExited

    client = FakeClient()
    client.host, client.role = "me@gpubox", "ui"
    app = TorchdeckApp(client=client)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await show_engine_lost(app, EngineExited(255, "Connection closed by remote host.", False))
        assert app.query_one(StatusBar).state == "disconnected"
        assert banner(app).startswith("Lost the link to me@gpubox")
