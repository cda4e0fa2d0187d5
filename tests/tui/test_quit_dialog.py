"""Quitting an app whose engine is detached: while a run trains, a dialog offers to keep it
training in the background (the engine outlives the app) or to stop it (saved, and the engine
the app spawned shuts down); with no run going, the app's own engine shuts down with it."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from core.client import EngineClient
from tests.tui.conftest import wait_configured, wait_for, wait_gone
from tui.app import TorchdeckApp
from tui.screens.quit_screen import QuitScreen
from tui.widgets.status_bar import StatusBar

SIZE = (80, 24)  # the dialog must fit the smallest terminal the app supports
TIMEOUT = 60


def spawning_app(detached, corpus: str) -> TorchdeckApp:
    """The app as ``torchdeck`` starts it: a detached engine of its own."""
    client = EngineClient(spawn=detached.spawn)
    return TorchdeckApp(preset="mini", corpus=corpus, device="cpu", client=client)


async def start_long_run(pilot) -> StatusBar:
    app = pilot.app
    await wait_configured(pilot, TIMEOUT)
    status = app.query_one(StatusBar)
    app.query_one("#field-steps", Input).value = "30000"
    app.query_one("#train-pane").focus()
    await pilot.press("a")
    await wait_for(pilot, lambda: status.steps == 30000, TIMEOUT, "configure applied")
    await pilot.press("s")
    await wait_for(pilot, lambda: status.step > 20, TIMEOUT, "training")
    return status


def screen_text(app) -> str:
    return str(app.screen.query_one("#quit-text").render())


async def test_keep_training_in_the_background(detached, corpus):
    app = spawning_app(detached, corpus)
    async with app.run_test(size=SIZE) as pilot:
        await start_long_run(pilot)
        eid = app.engine.client.info["id"]
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen), 10, "the dialog")
        text = screen_text(app)
        assert f"Training is running in engine {eid}" in text
        assert f"torchdeck attach {eid}" in text and "escape" in text
        await pilot.press("escape")  # cancel: back to the app, the run untouched
        await wait_for(pilot, lambda: not isinstance(app.screen, QuitScreen), 10, "cancelled")
        assert app.is_running and app.engine_state == "running"
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen), 10, "the dialog")
        await pilot.press("ctrl+q")  # a second quit does not stack a second dialog
        await pilot.press("k")
        await wait_for(pilot, lambda: not app.is_running, 20, "the app to exit")
    line = app.return_value
    assert isinstance(line, str) and "background" in line and f"torchdeck attach {eid}" in line
    path = app.engine.client.socket_path
    assert Path(path).exists()
    probe = EngineClient(socket_path=path)
    await probe.start(timeout=TIMEOUT)
    try:
        first = await probe.call("status")
        await probe.next_event("train_progress", timeout=TIMEOUT)
        await probe.next_event("train_progress", timeout=TIMEOUT)
        later = await probe.call("status")
        assert first.state == later.state == "running"
        assert later.engine.step > first.engine.step  # it trains on without the app
        assert later.engine.clients == 1  # the probe only: the app has left
        await probe.call("train_stop")
    finally:
        await probe.close(shutdown=True)
    assert wait_gone(int(eid), 20)


async def test_stop_the_run_and_quit(detached, corpus):
    app = spawning_app(detached, corpus)
    async with app.run_test(size=SIZE) as pilot:
        status = await start_long_run(pilot)
        await pilot.press("space")  # paused runs ask too
        await wait_for(pilot, lambda: status.state == "paused", TIMEOUT, "paused")
        eid = app.engine.client.info["id"]
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen), 10, "the dialog")
        assert f"Training is paused in engine {eid}" in screen_text(app)
        await pilot.press("s")
        await wait_for(pilot, lambda: not app.is_running, 30, "the app to exit")
    assert "stopped the run at step" in app.return_value
    assert "the engine has shut down" in app.return_value
    assert wait_gone(int(eid), 20), "the engine the app spawned outlived it"
    assert not Path(app.engine.client.socket_path).exists()
    assert Path("runs/torchdeck/autosave.pt").is_file()  # the stopped run, saved


async def test_quit_when_not_training_shuts_down_the_spawned_engine(detached, corpus):
    app = spawning_app(detached, corpus)
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot, TIMEOUT)
        eid = app.engine.client.info["id"]
        quits = [c for c in app.get_system_commands(app.screen) if c.title == "Quit"]
        assert len(quits) == 1 and "keep training in the background" in quits[0].help
        await pilot.press("question_mark")
        assert "keeps" in str(app.screen.query_one("#help-body Static").render())
        await pilot.press("escape")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, 20, "the app to exit")
    assert app.return_value is None
    assert wait_gone(int(eid), 20)


async def test_stop_in_an_attached_app_alone_on_its_engine_shuts_the_engine_down(detached, corpus):
    """q then s in an app attached with torchdeck attach: the run stopped, but its engine
    stayed up with nothing to do until its idle timeout; alone on it, the app now ends it, as
    torchdeck stop does."""
    path = await detached()
    client = EngineClient(socket_path=path)
    app = TorchdeckApp(preset="mini", corpus=corpus, device="cpu", attach=True, client=client)
    async with app.run_test(size=SIZE) as pilot:
        await start_long_run(pilot)
        assert not app.engine.owns_engine
        eid = app.engine.client.info["id"]
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen), 10, "the dialog")
        await pilot.press("s")
        await wait_for(pilot, lambda: not app.is_running, 30, "the app to exit")
    assert app.return_value.startswith("torchdeck: stopped the run at step ")
    assert app.return_value.endswith("; the engine has shut down")
    assert wait_gone(int(eid), 20), "the stopped run's engine was left idling"
