"""A pane that is not shown leaves its widgets alone while reports come in, and shows the
latest of them when the person switches to it.

Why it matters: a refresh of a hidden widget makes Textual rebuild its map of every widget of
every pane at the next paint (a few ms each report, felt as lag in the pane that is shown, and
a layout of the whole screen where the change was a Static's default update)."""

from __future__ import annotations

from tests.tui.conftest import FakeClient
from tests.tui.test_snapshots import INFO, progress
from tui.app import TorchdeckApp
from tui.widgets.loop_strip import LoopStrip
from tui.widgets.status_bar import StatusBar
from tui.widgets.system_line import SystemLine
from tui.widgets.train_metrics import TrainMetrics

TRAIN_WIDGETS = ("#train-metrics", "#loop-strip", "#train-sample", "#system-line")


def count_refreshes(widgets) -> list:
    """Each refresh of these widgets, from now on, as the widget refreshed."""
    calls = []
    for widget in widgets:

        def counted(*args, _widget=widget, _refresh=widget.refresh, **kwargs):
            calls.append(_widget)
            return _refresh(*args, **kwargs)

        widget.refresh = counted
    return calls


def report(app: TorchdeckApp, step: int) -> None:
    app.on_engine_event_received(
        type("E", (), {"name": "train_progress", "data": progress(step)})()
    )


async def test_reports_wait_for_the_train_pane_and_its_latest_figures_show(tmp_path):
    app = TorchdeckApp(client=FakeClient())
    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one(StatusBar).state = "ready"
        app.model_configured(INFO)
        await pilot.press("2")  # the Train pane built and shown once, then left
        await pilot.press("1")
        await pilot.pause()
        assert app.active_pane == "summary"
        refreshed = count_refreshes(app.query_one(name) for name in TRAIN_WIDGETS)
        for step in range(50, 1201, 50):
            report(app, step)
        await pilot.pause()
        assert refreshed == []  # nothing of the hidden Train pane was to be painted again
        assert app.panes["summary"].step == 1200  # its head's step (no summary here to draw)
        metrics, strip = app.query_one(TrainMetrics), app.query_one(LoopStrip)
        assert metrics.data.step == 0 and strip.detail is None  # as the model left them
        for step in (1250, 1300):  # reports with no validation loss and no sample
            report(app, step)
        await pilot.press("2")
        await pilot.pause()
        assert {w.id for w in refreshed} == {"train-metrics", "loop-strip", "train-sample"}
        # the latest report, the latest validation loss (step 1200's) and sample (step 1200)
        assert metrics.data.step == 1300 and strip.detail.step == 1300
        assert metrics.val_loss == progress(1200).val_loss
        sample = str(app.query_one("#train-sample").render())
        assert sample == "sample @ 1200: def __init__(self, name):⏎    return self"
        # shown, each report is drawn as it comes
        refreshed.clear()
        report(app, 1350)
        await pilot.pause()
        assert metrics.data.step == 1350 and metrics in refreshed and strip in refreshed


async def test_the_machines_line_waits_for_the_train_pane_too(tmp_path):
    from tests.tui.test_system_view import cpu_sample, send

    app = TorchdeckApp(client=FakeClient())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        line = app.query_one(SystemLine)
        refreshed = count_refreshes([line])
        await send(pilot, cpu_sample(1000.0))
        first = line.text(80)
        assert refreshed == [line]
        await pilot.press("1")
        await send(pilot, cpu_sample(1001.0, cpu_pct=88.0))
        assert line.text(80) == first and refreshed == [line]
        await pilot.press("2")
        await pilot.pause()
        assert line.text() != first and "88" in line.text()
