"""Quitting an app while other apps share its engine, and a quit dialog that stays true while it
is up: a paused run kept in the background resumes; the engine the app spawned is not shut down
under another app's feet (q while idle, s in the dialog); the dialog names the other apps,
follows the run's step, and closes itself when another client stops the run or the engine
goes away."""

from __future__ import annotations

from pathlib import Path

from core.client import EngineClient
from tests.tui.conftest import wait_configured, wait_for, wait_gone
from tests.tui.test_quit_dialog import SIZE, TIMEOUT, screen_text, spawning_app, start_long_run
from tui.screens.quit_screen import QuitScreen


async def second_client(app) -> EngineClient:
    """Another app's connection (role ui) to the engine ``app`` spawned."""
    other = EngineClient(socket_path=app.engine.client.socket_path)
    await other.start(timeout=TIMEOUT)
    return other


async def open_dialog(pilot) -> QuitScreen:
    app = pilot.app
    await pilot.press("q")
    await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen), 10, "the dialog")
    return app.screen


async def wait_note(pilot, text: str) -> None:
    notes = pilot.app._notifications
    await wait_for(pilot, lambda: any(text in n.message for n in notes), 10, repr(text))


async def test_keep_resumes_a_paused_run_before_leaving(detached, corpus):
    app = spawning_app(detached, corpus)
    async with app.run_test(size=SIZE) as pilot:
        status = await start_long_run(pilot)
        await pilot.press("space")
        await wait_for(pilot, lambda: status.state == "paused", TIMEOUT, "paused")
        await open_dialog(pilot)
        assert "keep training in the background (a paused run resumes)" in screen_text(app)
        await pilot.press("k")
        await wait_for(pilot, lambda: not app.is_running, 20, "the app to exit")
    assert "(running, step" in app.return_value
    probe = EngineClient(socket_path=app.engine.client.socket_path)
    await probe.start(timeout=TIMEOUT)
    try:
        first = await probe.call("status")
        await probe.next_event("train_progress", timeout=TIMEOUT)
        later = await probe.call("status")
        assert first.state == later.state == "running"  # not left paused for ever
        assert later.engine.step > first.engine.step
        await probe.call("train_stop")
    finally:
        await probe.close(shutdown=True)


async def test_quit_while_idle_leaves_an_engine_another_app_uses(detached, corpus):
    app = spawning_app(detached, corpus)
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot, TIMEOUT)
        eid = app.engine.client.info["id"]
        other = await second_client(app)
        try:
            await pilot.press("q")
            await wait_for(pilot, lambda: not app.is_running, 20, "the app to exit")
            assert (await other.call("status")).engine.clients == 1  # still served
            assert other.running
        finally:
            await other.close(shutdown=True)
    assert wait_gone(int(eid), 20)


async def test_stop_in_the_dialog_names_the_other_apps_and_leaves_their_engine(detached, corpus):
    app = spawning_app(detached, corpus)
    async with app.run_test(size=SIZE) as pilot:
        await start_long_run(pilot)
        eid = app.engine.client.info["id"]
        other = await second_client(app)
        try:
            await open_dialog(pilot)
            await wait_for(
                pilot,
                lambda: "1 other app is attached: s stops the run for them too" in screen_text(app),
                10,
                "the other app named",
            )
            await pilot.press("s")
            await wait_for(pilot, lambda: not app.is_running, 30, "the app to exit")
            reply = await other.call("status")
            assert reply.state == "stopped" and reply.engine.clients == 1
        finally:
            await other.close(shutdown=True)
    assert f"in engine {eid} (1 other app still attached)" in app.return_value
    assert wait_gone(int(eid), 20)
    assert not Path(app.engine.client.socket_path).exists()


async def test_the_dialog_follows_the_run_and_closes_when_another_client_stops_it(detached, corpus):
    app = spawning_app(detached, corpus)
    async with app.run_test(size=SIZE) as pilot:
        status = await start_long_run(pilot)
        other = await second_client(app)
        try:
            await open_dialog(pilot)
            opened_at = status.step
            await wait_for(pilot, lambda: status.step > opened_at + 10, TIMEOUT, "more steps")
            await wait_for(
                pilot,
                lambda: f"(step {status.step}/30000)" in screen_text(app),
                5,
                "the dialog's step to follow the run",
            )
            await other.call("train_stop")
            await wait_for(pilot, lambda: not isinstance(app.screen, QuitScreen), 10, "closed")
            await wait_note(pilot, "the run is stopped now")
            assert app.is_running and status.state == "stopped"
        finally:
            await other.close()


async def test_the_dialog_closes_when_the_engine_goes_away(detached, corpus):
    app = spawning_app(detached, corpus)
    async with app.run_test(size=SIZE) as pilot:
        status = await start_long_run(pilot)
        other = await second_client(app)
        await open_dialog(pilot)
        await other.close(shutdown=True)  # as torchdeck stop, or another app quitting
        await wait_for(pilot, lambda: not isinstance(app.screen, QuitScreen), 10, "closed")
        await wait_for(pilot, lambda: status.state == "ended", 10, "the end shown")
        await wait_note(pilot, "nothing left to keep training")  # its run stopped, or it went
        assert app.is_running
