"""A run started in the app logs its metrics rows into a folder of its own (runs/PRESET-TIME,
beside the checkpoint's folder), the chart's signals are the file's figures, a pause closes the
window with a row at its step, and starting the same model again appends to the same file."""

from __future__ import annotations

import json

from textual.widgets import Input

from tests.tui.conftest import real_app, wait_configured, wait_for
from tui.panes.train_pane import TrainPane
from tui.widgets.run_chart import RunChart
from tui.widgets.status_bar import StatusBar


def rows_in(path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


async def test_a_run_started_in_the_app_has_its_own_metrics_file(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the engine writes under the working folder
    app = real_app(corpus)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_configured(pilot)
        status = app.query_one(StatusBar)
        app.query_one("#field-steps", Input).value = "100000"
        await pilot.press("a")
        await wait_for(pilot, lambda: status.steps == 100000, 30, "configure applied")
        app.query_one(TrainPane).focus()
        await pilot.press("s")
        await wait_for(pilot, lambda: status.step > 40, 30, "progress")
        await pilot.press("space")
        await wait_for(pilot, lambda: status.state == "paused", 10, "paused")
        (folder,) = (tmp_path / "runs").glob("mini-*")
        path = folder / "metrics.jsonl"
        await wait_for(pilot, lambda: path.exists() and path.stat().st_size, 10, "rows")
        rows = rows_in(path)
        train = [r for r in rows if r["kind"] == "train"]
        paused_at = status.step
        assert [r["step"] for r in train] == list(range(10, paused_at // 10 * 10 + 1, 10)) + (
            [paused_at] if paused_at % 10 else []
        )
        chart = app.query_one(RunChart)
        await wait_for(pilot, lambda: chart.signals["lr"].steps == [r["step"] for r in train],
                       10, "the chart's signals")  # fmt: skip
        assert chart.signals["lr"].values == [r["lr"] for r in train]
        assert chart.signals["grad_norm"].values == [r["grad_norm"] for r in train]
        await pilot.press("space")  # resumed: the same run, the same file
        await wait_for(pilot, lambda: status.step > paused_at + 20, 30, "more progress")
        await pilot.press("x")
        await wait_for(pilot, lambda: status.state == "stopped", 10, "stopped")
        await pilot.press("s")  # the same model started again: still its own file
        await wait_for(pilot, lambda: status.state == "running", 10, "running again")
        await pilot.press("x")
        await wait_for(pilot, lambda: status.state == "stopped", 10, "stopped again")
        assert list((tmp_path / "runs").glob("mini-*")) == [folder]
        steps = [r["step"] for r in rows_in(path) if r["kind"] == "train"]
        assert steps == sorted(set(steps)) and steps[-1] == status.step
