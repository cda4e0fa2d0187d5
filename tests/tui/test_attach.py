"""The app attached to a detached engine that already holds a run: the whole picture is drawn
(chart from step 1, status, form, run state, sample, playground names), keys drive the run
as if this app had started it, and another client's commands are named."""

from __future__ import annotations

from textual.widgets import Input

from core.client import EngineClient
from core.contract import ConfigureArgs, TrainStartArgs
from core.contract.lab import ExecArgs
from tests.tui.conftest import wait_configured, wait_for
from tui.app import TorchdeckApp
from tui.panes.train_pane import TrainPane
from tui.widgets.run_chart import RunChart
from tui.widgets.status_bar import StatusBar
from tui.widgets.train_metrics import TrainMetrics

SIZE = (100, 30)
TIMEOUT = 60


async def headless_run(path: str, corpus: str, steps: int) -> EngineClient:
    """A second client on the engine at ``path`` that configures ``mini`` and starts a run."""
    client = EngineClient(socket_path=path)
    await client.start(timeout=TIMEOUT)
    await client.call(ConfigureArgs(preset="mini", corpus=corpus, device="cpu", steps=steps))
    await client.call(TrainStartArgs(report_interval=0.1, sample_chars=40))
    return client


async def wait_state(client: EngineClient, state: str) -> None:
    while True:
        ev = await client.next_event("train_state", timeout=TIMEOUT)
        if ev.data["state"] == state:
            return


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


def attach_app(path: str) -> TorchdeckApp:
    return TorchdeckApp(attach=True, client=EngineClient(socket_path=path))


async def test_attach_draws_a_finished_run_from_its_first_step(detached, corpus):
    path = await detached()
    other = await headless_run(path, corpus, 300)
    await wait_state(other, "finished")
    await other.call(ExecArgs("answer = 42"))
    await other.close()  # leaves: the engine and its finished run stay

    app = attach_app(path)
    async with app.run_test(size=SIZE) as pilot:
        status = app.query_one(StatusBar)
        await wait_for(pilot, lambda: status.state == "finished", TIMEOUT, "attached")
        chart = app.query_one(RunChart)
        assert chart.train.steps[0] <= 2 and chart.train.steps[-1] == 300
        assert len(chart.train) >= 250 and len(chart.val) >= 1
        assert (status.step, status.steps, status.preset) == (300, 300, "mini")
        assert status.loss is not None and status.tokens_per_s is not None
        assert "finished" in str(status.render()) and "step 300/300" in str(status.render())
        assert app.query_one("#field-steps", Input).value == "300"
        assert str(app.query_one("#field-preset").value) == "mini"
        train = app.query_one(TrainPane)
        assert train.state == "finished" and app.engine_state == "finished"
        assert str(app.query_one("#train-sample").render()).startswith("sample (latest): ")
        assert any("attached to engine" in n for n in notes(app))
        await pilot.press("f3")
        transcript = app.panes["playground"].transcript
        await wait_for(
            pilot,
            lambda: any("answer" in str(e) for e in transcript.entries),
            10,
            "the engine's names in the playground",
        )
        await pilot.press("escape", "f2")
        await pilot.press("q")  # not training: quits at once, the engine is not its to end
        await pilot.pause(0.2)
        assert not app.is_running
    probe = EngineClient(socket_path=path)
    await probe.start(timeout=TIMEOUT)
    assert (await probe.call("status")).state == "finished"
    await probe.close(shutdown=True)


async def test_attach_to_a_paused_run_and_drive_it_with_keys(detached, corpus):
    path = await detached()
    other = await headless_run(path, corpus, 30000)
    await wait_for_steps(other, 50)
    await other.call("train_pause")
    await other.close()

    app = attach_app(path)
    async with app.run_test(size=SIZE) as pilot:
        status = app.query_one(StatusBar)
        await wait_for(pilot, lambda: status.state == "paused", TIMEOUT, "attached")
        paused_at = status.step
        chart = app.query_one(RunChart)
        assert paused_at >= 50 and chart.train.steps[0] <= 2
        assert chart.train.steps[-1] == paused_at and status.steps == 30000
        assert app.query_one(TrainPane).state == "paused"
        app.query_one(TrainPane).focus()
        await pilot.press("space")  # resume: the run this app did not start
        await wait_for(pilot, lambda: status.step > paused_at + 20, TIMEOUT, "resumed")
        assert status.state == "running"
        points = chart.train.steps
        assert all(b > a for a, b in zip(points, points[1:]))  # no step drawn twice
        await pilot.press("space")
        await wait_for(pilot, lambda: status.state == "paused", TIMEOUT, "paused again")
        assert not any("another client" in n for n in notes(app))  # its own commands
        await pilot.press("x")
        await wait_for(pilot, lambda: status.state == "stopped", TIMEOUT, "stopped")


async def wait_for_steps(client: EngineClient, steps: int) -> None:
    while True:
        ev = await client.next_event("train_progress", timeout=TIMEOUT)
        if ev.data["step"] >= steps:
            return


async def test_another_clients_commands_are_named(detached, corpus):
    path = await detached()
    other = await headless_run(path, corpus, 30000)
    try:
        app = attach_app(path)
        async with app.run_test(size=SIZE) as pilot:
            status = app.query_one(StatusBar)
            await wait_for(pilot, lambda: status.state == "running", TIMEOUT, "attached")
            them = other.info["client"]
            assert them != app.engine.client.info["client"]
            await other.call("train_pause")
            await wait_for(pilot, lambda: status.state == "paused", TIMEOUT, "their pause")
            await wait_for(
                pilot,
                lambda: any(f"another client (#{them}) paused the run" in n for n in notes(app)),
                10,
                "the pause named",
            )
            await other.call("train_resume")
            await wait_for(
                pilot,
                lambda: any("resumed the run" in n for n in notes(app)),
                10,
                "the resume named",
            )
            await other.call("train_stop")
            await wait_for(pilot, lambda: status.state == "stopped", TIMEOUT, "their stop")
            await other.call(ConfigureArgs(preset="mini", device="cpu", steps=777))
            await wait_for(pilot, lambda: status.steps == 777, TIMEOUT, "their model drawn")
            assert app.query_one("#field-steps", Input).value == "777"
            assert any("configured a new model" in n for n in notes(app))
    finally:
        await other.close()


async def test_attach_to_an_engine_without_a_model_configures_one(detached, corpus):
    path = await detached()
    app = TorchdeckApp(
        preset="mini",
        corpus=corpus,
        device="cpu",
        attach=True,
        client=EngineClient(socket_path=path),
    )
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot, TIMEOUT)
        status = app.query_one(StatusBar)
        assert status.preset == "mini" and app.attached is None


async def test_attach_shows_the_last_validation_loss_of_the_history(detached, corpus):
    """The latest report of a run is seldom an evaluation: val comes from the history."""
    path = await detached()
    other = await headless_run(path, corpus, 30000)
    await wait_for_steps(other, 230)  # past the evaluation at step 200
    await other.call("train_pause")
    await other.close()

    app = attach_app(path)
    async with app.run_test(size=SIZE) as pilot:
        status = app.query_one(StatusBar)
        await wait_for(pilot, lambda: status.state == "paused", TIMEOUT, "attached")
        chart = app.query_one(RunChart)
        assert len(chart.val) >= 1
        assert status.val_loss == chart.val.values[-1]
        assert "val --" not in str(status.render())
        assert app.query_one(TrainMetrics).val_loss == chart.val.values[-1]
