"""torch.compile in the app (issue 16): the Train form's precision and compile fields reach the
engine; while the engine compiles, the status bar counts "compiling (N s)" instead of calling a
busy engine "not responding"; the end and a failure are notifications."""

from __future__ import annotations

import time

from textual.widgets import Input

from core.contract import CompileState
from tests.tui.conftest import real_app, wait_configured, wait_for
from tui.app_events import show_event
from tui.panes.train_pane import TrainPane
from tui.widgets.status_bar import StatusBar

SIZE = (80, 24)


def field(app, key: str) -> Input:
    return app.query_one(f"#field-{key.replace('_', '-')}", Input)


def notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_compiling_counts_in_the_status_bar_and_its_end_is_a_notification(corpus):
    app = real_app(corpus, preset="mini")
    async with app.run_test(size=(100, 24)) as pilot:
        await wait_configured(pilot)
        status = app.query_one(StatusBar)
        show_event(app, "compile", CompileState("started", 0))
        status.compiling_since = time.monotonic() - 12.2  # as if it began 12 s ago
        status.health = "not responding (12 s) · ctrl+r restarts"  # what the heartbeat says
        await pilot.pause()
        line = str(status.render())
        assert "compiling (12 s)" in line and "not responding" not in line
        show_event(app, "compile", CompileState("done", 0, seconds=23.44))
        status.health = ""
        await pilot.pause()
        assert status.compiling_since is None and "compiling" not in str(status.render())
        assert "training step compiled in 23.4 s" in notes(app)
        message = "torch.compile failed (X); training goes on eager"
        show_event(app, "compile", CompileState("failed", 0, 1.0, message))
        await pilot.pause()
        assert message in notes(app)


async def test_the_form_sends_precision_and_compile_and_training_compiles(corpus, monkeypatch):
    # dynamo's tracing without inductor's code generation: a compile of a second, not tens
    monkeypatch.setenv("TORCHDECK_COMPILE_BACKEND", "eager")
    app = real_app(corpus, preset="gpt")
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        before = app.last_info
        assert field(app, "precision").value == "auto" and field(app, "compile").value == ""
        assert field(app, "compile").placeholder == "auto: on a GPU"
        field(app, "compile").value = "maybe"
        await pilot.pause()
        assert "'maybe' is not true or false" in str(app.query_one("#error-compile").render())
        field(app, "compile").value = "true"
        field(app, "precision").value = "fp32"
        await pilot.pause()
        app.query_one(TrainPane).focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: app.last_info is not before, 60, "the new model")
        info = app.last_info
        assert (info.precision, info.compile) == ("fp32", True)
        assert info.train_config["compile"] is True
        await pilot.press("s")  # start: the first step compiles
        await wait_for(
            pilot,
            lambda: any(n.startswith("training step compiled in") for n in notes(app)),
            60,
            "the compile's end",
        )
        await wait_for(pilot, lambda: app.query_one(StatusBar).step > 1, 60, "steps after it")
        await pilot.press("x")
