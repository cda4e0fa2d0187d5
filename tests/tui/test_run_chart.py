"""The Train pane's run chart (tui/widgets/run_chart.py) on fixed data, no engine: when it
replots, what its keys change, spikes in a long run, and comparing with another run's folder."""

from __future__ import annotations

import json
import math
import os

from core.history import LossHistory
from tests.tui.conftest import wait_for
from tests.tui.test_snapshots import fake_app, history_info
from tui.panes.train_pane import TrainPane
from tui.screens.run_picker import RunPicker
from tui.widgets.chart_data import Job, fmt_value, prepare, snapshot
from tui.widgets.run_chart import RunChart
from tui.widgets.status_bar import StatusBar

SIZE = (120, 40)


async def _loaded(pilot) -> RunChart:
    """The app showing the fixed 1,200-step history, its chart up to date."""
    app = pilot.app
    app.query_one(StatusBar).state = "ready"
    app.model_configured(history_info())
    chart = app.query_one(RunChart)
    await wait_for(pilot, lambda: chart.up_to_date, 10, "the chart drawn")
    return chart


def _title(chart: RunChart) -> str:
    return chart.text().split("\n")[0].strip()


def _below_axis(chart: RunChart) -> list[str]:
    """The rows under the plot's frame: x tick labels, axis labels, then the legend's rows."""
    lines = chart.text().split("\n")
    return lines[next(i for i, line in enumerate(lines) if "└" in line) + 1 :]


def _legend(chart: RunChart) -> str:
    return " ".join(line.strip() for line in _below_axis(chart)[2:])


async def test_replots_only_when_the_data_changed_and_the_chart_is_shown():
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        chart = await _loaded(pilot)
        before = chart.replots
        chart._tick()
        await pilot.pause(0.6)  # two timer ticks: nothing changed, nothing is drawn
        assert chart.replots == before and chart.up_to_date

        chart.add(1201, [1.5, 1.4], None, 1202)
        assert not chart.up_to_date
        await wait_for(pilot, lambda: chart.up_to_date, 10, "a replot of the new steps")
        assert chart.replots == before + 1  # one figure for the change, built off the loop
        assert "1202" in chart.text()  # the x axis now ends at the new step

        await pilot.press("1")  # the Summary pane: the chart is hidden
        await pilot.pause()
        hidden = chart.replots
        chart.add(1203, [1.3], None, 1203)
        await pilot.pause(0.6)
        assert chart.replots == hidden and not chart.up_to_date  # waits until it is shown
        await pilot.press("2")
        await wait_for(pilot, lambda: chart.up_to_date, 10, "the replot once shown")
        assert chart.replots > hidden and "1203" in chart.text()


async def test_keys_switch_views_smoothing_window_and_log_scale():
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        chart = await _loaded(pilot)
        app.query_one(TrainPane).focus()
        assert chart.view == "loss" and chart.smoothing == 0.6
        assert _title(chart) == "loss · smooth 0.6"
        assert "train" in _legend(chart) and "ema 0.6" in _legend(chart)
        assert "loss (nats)" in chart.text() and "step" in chart.text()

        await pilot.press("m")
        assert chart.smoothing == 0.8 and _title(chart) == "loss · smooth 0.8"
        for _ in range(4):  # 0.9, 0.95, 0.99, then 0 (no smoothing)
            await pilot.press("m")
        assert chart.smoothing == 0.0 and _title(chart) == "loss"
        assert "ema" not in _legend(chart)

        await pilot.press("w")
        assert chart.window == 100 and _title(chart) == "loss · last 100"
        axis = _below_axis(chart)[0].split()  # the x tick labels: steps 1101..1200 only
        assert axis[0] == "1101" and axis[-1] == "1200" and min(map(int, axis)) == 1101
        await pilot.press("w", "w", "w")
        assert chart.window == 0

        await pilot.press("g")
        assert chart.log_scale and _title(chart) == "loss · log"
        await pilot.press("g")

        await pilot.press("c")
        assert chart.view == "lr" and _title(chart) == "learning rate"
        assert _below_axis(chart)[1].startswith("learning rate")  # the y axis label
        await pilot.press("c")
        assert chart.view == "grad_norm" and "clip 1.00" in _legend(chart)
        assert "1.00├" in chart.text()  # the threshold drawn across, at its label
        await pilot.press("c")
        assert chart.view == "tokens_per_s" and _title(chart) == "tokens/s"
        await pilot.press("c")
        assert chart.view == "loss"  # no memory reported: the memory view is not offered

        chart.add_rows(
            [
                {"kind": "train", "step": 1210, "train_loss": 1.3, "mem_alloc_mb": 310.0},
                {"kind": "eval", "step": 1210, "val_loss": 1.5},
                {"kind": "train", "step": 1220, "train_loss": 1.3, "mem_alloc_mb": 312.5},
            ]
        )
        assert chart.views()[-1] == "memory"
        await pilot.press("c", "c", "c", "c")
        assert chart.view == "memory" and "MiB" in chart.text()
        assert "allocated" in _legend(chart)


async def test_no_data_yet_reads_as_such():
    app = fake_app()
    async with app.run_test(size=SIZE):
        chart = app.query_one(RunChart)
        chart.replot()
        assert "no data yet" in chart.text() and "loss (nats)" in chart.text()
        chart.view = "lr"
        chart.replot()
        assert "no data yet" in chart.text()


def _spiky_run(steps: int, spike_at: int) -> LossHistory:
    history = LossHistory(8192)
    for step in range(1, steps + 1):
        loss = 9.0 if step == spike_at else 2.0 + 0.01 * math.sin(step)
        history.append(step, loss)
    return history


def test_a_one_step_spike_in_a_million_steps_keeps_its_height():
    history = _spiky_run(1_000_000, 612_345)
    assert len(history) <= 8192
    for smoothing in (0.0, 0.99):
        job = Job(series={"train": snapshot(history)}, smoothing=smoothing, width=60)
        figure = prepare(job)
        assert figure.y_range[1] == 9.0
        assert sum(len(line.steps) for line in figure.lines) <= 4 * 60  # thinned to the width


async def test_the_drawn_spike_reaches_the_top_label():
    app = fake_app()
    async with app.run_test(size=(80, 24)):
        chart = app.query_one(RunChart)
        chart.load({"train": _spiky_run(1_000_000, 612_345).to_dict()})
        chart.replot()
        lines = chart.text().split("\n")
        top = next(line for line in lines if "┤" in line)  # the first y tick: the top
        assert top.strip().startswith(fmt_value(9.0))
        assert any(0x2800 < ord(ch) <= 0x28FF for ch in top.split("┤", 1)[1])  # dots there
        axis = _below_axis(chart)[0].split()  # the x axis spans the million steps
        assert axis[-1] == "999.9k" and "500k" in axis


def _write_run(folder, steps: int, *, mtime: float, start: float = 3.0) -> None:
    folder.mkdir(parents=True)
    rows = []
    for step in range(10, steps + 1, 10):
        rows.append({"kind": "train", "step": step, "train_loss": start - step / 1000, "lr": 1e-3})
        if step % 100 == 0:
            rows.append({"kind": "eval", "step": step, "val_loss": start + 0.1 - step / 1000})
    path = folder / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    os.utime(path, (mtime, mtime))


async def _open_picker(pilot) -> RunPicker:
    await pilot.press("o")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunPicker), 5, "the picker")
    picker = pilot.app.screen
    await wait_for(pilot, lambda: picker.runs is not None, 10, "the runs listed")
    await pilot.pause()
    return picker


def _options(picker: RunPicker) -> list[str]:
    from textual.widgets import OptionList

    options = picker.query_one(OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_compare_with_a_run_folder_and_take_it_off(tmp_path):
    runs = tmp_path / "runs"
    _write_run(runs / "older", 300, mtime=1_000_000)
    _write_run(runs / "newer", 500, mtime=2_000_000, start=2.5)
    (runs / "empty-folder").mkdir()  # no metrics.jsonl: not listed
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        chart = await _loaded(pilot)
        pane = app.query_one(TrainPane)
        pane.checkpoint_path = str(runs / "torchdeck" / "checkpoint.pt")
        pane.focus()
        picker = await _open_picker(pilot)
        shown = _options(picker)
        assert [line.split()[0] for line in shown] == ["newer", "older"]  # newest first
        assert "55 rows" in shown[0] and "step     500" in shown[0]
        assert "loss 2.0000" in shown[0]
        await pilot.press("enter")
        await wait_for(pilot, lambda: chart.overlay is not None, 10, "the run drawn")
        assert chart.overlay[0] == "newer" and len(chart.overlay[1]) == 50
        assert _legend(chart).split() == [
            "──",
            "train",
            "──",
            "ema",
            "0.6",
            "•",
            "val",
            "──",
            "newer",
        ]
        drawn = prepare(chart._begin()[0])  # the figure as drawn now: its lines by name
        assert [line.label for line in drawn.lines].count("newer") == 2  # train and val
        assert _below_axis(chart)[0].split()[-1] == "1200"

        picker = await _open_picker(pilot)  # shown: "none" comes first
        assert _options(picker)[0].startswith("none")
        await pilot.press("enter")
        await wait_for(pilot, lambda: chart.overlay is None, 10, "the run taken off")
        assert "newer" not in _legend(chart)


async def test_a_malformed_metrics_file_is_reported_and_the_app_goes_on(tmp_path):
    runs = tmp_path / "runs"
    (runs / "broken").mkdir(parents=True)
    (runs / "broken" / "metrics.jsonl").write_text(
        '{"kind": "train", "step": 10, "train_loss": 2.0}\n{"kind": "train", "st\n'
        '{"kind": "train", "step": 30, "train_loss": 1.9}\n',
        encoding="utf-8",
    )
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        chart = await _loaded(pilot)
        app.query_one(TrainPane).checkpoint_path = str(runs / "torchdeck" / "checkpoint.pt")
        app.query_one(TrainPane).focus()
        picker = await _open_picker(pilot)
        assert _options(picker)[0].split()[0] == "broken"
        await pilot.press("enter")
        errors = lambda: [n for n in app._notifications if n.severity == "error"]  # noqa: E731
        await wait_for(pilot, lambda: bool(errors()), 10, "the error notification")
        assert "line 2" in errors()[0].message and "not a JSON object" in errors()[0].message
        assert chart.overlay is None and app.is_running
        assert not isinstance(app.screen, RunPicker)


async def test_the_picker_says_when_there_is_no_run_to_compare(tmp_path):
    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        await _loaded(pilot)
        app.query_one(TrainPane).checkpoint_path = str(tmp_path / "runs" / "x" / "c.pt")
        app.query_one(TrainPane).focus()
        picker = await _open_picker(pilot)
        assert "no run folder" in _options(picker)[0]
        await pilot.press("escape")
        assert not isinstance(app.screen, RunPicker)


def test_a_window_on_a_long_run_draws_its_steps_one_by_one():
    chart = RunChart()
    for first in range(1, 1_000_001, 10_000):  # a million steps, a report every 10,000
        chart.add(first, [float(s % 7) for s in range(first, first + 10_000)], None, first)
    assert chart.train.stride == 256  # the history: one point per 256 steps
    chart.window = 100
    steps, values, *_ = chart._train_series()
    assert steps[-100:] == list(range(999_901, 1_000_001))
    assert values[-3:] == [float(s % 7) for s in (999_998, 999_999, 1_000_000)]
    chart.window = 0  # the whole run: the bounded history
    assert len(chart._train_series()[0]) == len(chart.train) <= 4096
