"""Pilot tests: the real app against a real engine process with the tiny `mini` preset."""

from __future__ import annotations

import os
import signal

from textual.widgets import Input

from tests.tui.conftest import real_app, wait_configured, wait_for
from tui.panes.train_pane import TrainPane
from tui.widgets.run_chart import RunChart
from tui.widgets.status_bar import StatusBar

SIZE = (100, 30)


async def _ready(pilot):
    await wait_configured(pilot)


async def test_app_starts_paints_before_ready_and_becomes_ready(corpus):
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        status = app.query_one(StatusBar)
        assert status.state == "starting"  # painted while the engine imports torch
        await _ready(pilot)
        assert status.preset == "mini" and status.device == "cpu"
        assert app.timings["first_paint_s"] < app.timings["engine_ready_s"]
        # the other panes are built after the first model, while idle: a first visit is quick
        await wait_for(pilot, lambda: len(app.panes) == 4, 20, "the panes built ahead")
        await pilot.press("f4")
        predict = app.panes["predict"]
        assert predict.is_lm and predict.ready  # built knowing the model configured before it
        await pilot.press("escape", "1")  # out of the Predict box, then a digit switches
        assert app.active_pane == "summary"
        await pilot.press("2")
        assert app.active_pane == "train"
        await pilot.press("f4")
        assert app.active_pane == "predict"
        await pilot.press("f2")
        assert app.active_pane == "train"


async def test_digit_types_into_a_text_box_and_escape_leaves_it(corpus):
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        box = app.query_one("#field-seed", Input)
        box.focus()
        box.value = ""
        await pilot.press("4", "2")
        assert box.value == "42"
        assert app.active_pane == "train"
        await pilot.press("escape")
        assert isinstance(app.focused, TrainPane)
        await pilot.press("3")
        assert app.active_pane == "playground"


async def test_start_pause_step_and_chart(corpus):
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        status = app.query_one(StatusBar)
        # a long run, so that it is still going when we pause it
        app.query_one("#field-steps", Input).value = "100000"
        await pilot.press("a")
        await wait_for(pilot, lambda: status.steps == 100000, 30, "configure applied")
        await pilot.press("s")
        await wait_for(pilot, lambda: status.step > 20, 30, "progress")
        assert len(app.query_one(RunChart).train) > 0
        await pilot.press("space")
        await wait_for(pilot, lambda: status.state == "paused", 10, "paused")
        paused_at = status.step
        await pilot.pause(0.5)
        assert status.step == paused_at
        await pilot.press("n")
        await wait_for(pilot, lambda: status.step == paused_at + 1, 10, "one step")
        await pilot.pause(0.3)
        assert status.step == paused_at + 1


async def test_invalid_learning_rate_is_marked_and_does_not_start(corpus):
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        lr = app.query_one("#field-lr", Input)
        lr.value = "abc"
        await pilot.pause(0.1)
        error = app.query_one("#error-lr")
        assert error.display and "not a number" in str(error.render())
        app.query_one(TrainPane).focus()
        await pilot.press("s")
        await pilot.pause(0.5)
        status = app.query_one(StatusBar)
        assert status.state == "ready" and status.step == 0
        lr.value = "-1"
        await pilot.pause(0.1)
        assert "-1 is out of range: want a number in (0, 10]" in str(error.render())
        lr.value = "0.01"
        await pilot.pause(0.1)
        assert not error.display


async def test_killed_engine_is_reported_and_restart_brings_it_back(corpus):
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        os.kill(app.engine.client.pid, signal.SIGKILL)
        status = app.query_one(StatusBar)
        await wait_for(pilot, lambda: status.state == "crashed", 10, "crash shown")
        banner = app.query_one("#crash-banner")
        assert banner.display and "The engine stopped" in str(banner.render())
        await pilot.press("ctrl+r")
        await _ready(pilot)
        assert app.engine.client.running
