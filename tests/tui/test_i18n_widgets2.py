"""The status bar, the five-step notes, the train metrics, the chart, the predict controls, the
token strip, the machine line and the Summary pane's views in Vietnamese: switched live, each
shows Vietnamese, still fits where the English does, and shows English again after switching
back."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from textual.app import App, ComposeResult

from core import i18n
from core.contract import TrainProgress
from core.contract.inspect import (
    LayerRow,
    SummaryResult,
    SummaryTotals,
    TensorStats,
    WeightRow,
    WeightStatsResult,
)
from tests.tui.conftest import screen_lines
from tests.tui.test_status_bar_fit import BUSY, BarApp
from tui.language import relabel
from tui.widgets.loop_strip import cell_widths
from tui.widgets.run_chart import RunChart
from tui.widgets.sampling_controls import SamplingControls
from tui.widgets.status_bar import StatusBar, engine_health, loss_label
from tui.widgets.step_notes import PHASES, grad_words, phase_label, step_notes
from tui.widgets.summary_source import SummarySource
from tui.widgets.summary_table import SummaryTable
from tui.widgets.summary_weight import SummaryWeight, weight_text
from tui.widgets.system_line import SystemLine
from tui.widgets.token_strip import TokenStrip
from tui.widgets.train_metrics import TrainMetrics


@pytest.fixture
def vietnamese():
    """English again afterwards, whatever the test did."""
    yield
    i18n.set_language("en")


def screen_text(app) -> str:
    return "\n".join(screen_lines(app))


# -- the status bar ------------------------------------------------------------------------------

CASES = [
    {},
    {"world_size": 1},
    {"val_loss": None, "world_size": 1},
    {"preset": "parabola", "loss_window": 1, "tokens_per_s": None, "val_loss": None},
    {"state": "paused"},
    {"state": "finished", "world_size": 1},
    {"state": "disconnected"},
]


async def bar_lines(width: int, changes: dict) -> str:
    app = BarApp()
    async with app.run_test(size=(width, 3)) as pilot:
        bar = app.query_one(StatusBar)
        for name, value in {**BUSY, **changes}.items():
            setattr(bar, name, value)
        await pilot.pause()
        return str(bar.render())


@pytest.mark.parametrize("changes", CASES)
async def test_the_status_bar_in_vietnamese_keeps_what_the_english_shows_at_80(vietnamese, changes):
    english = await bar_lines(80, changes)
    i18n.set_language("vi")
    shown = await bar_lines(80, changes)
    assert cell_len(shown) < 80
    # the same items, whole: as many as the English keeps
    assert shown.count(" │ ") == english.count(" │ "), (english, shown)
    i18n.set_language("en")
    assert await bar_lines(80, changes) == english


async def test_the_status_bar_says_its_state_and_health_in_vietnamese(vietnamese):
    i18n.set_language("vi")
    assert await bar_lines(200, {}) == (
        " ● đang chạy  │ cuda:0 │ gpt │ bước 12345/20000 │ loss(tb 37) 1.3655 │ val 1.6549"
        " │ 1.23M tok/s · 8 rank"
    )
    assert loss_label(1) == "loss(bước cuối)"
    stopped = engine_health(100.0, alive=True, training=True, pending_since=None, heard_at=88.0)
    assert stopped == "không phản hồi (12 s) · ctrl+r khởi động lại"
    shown = await bar_lines(80, {"health": stopped})
    assert shown.startswith(" ● không phản hồi (12 s)")
    busy = engine_health(100.0, alive=True, training=False, pending_since=95.0, heard_at=99.0)
    assert busy == "bận (5 s)" and busy.kind == "busy"
    i18n.set_language("en")
    assert loss_label(1) == "loss(last step)"


# -- the five steps and the metrics beside the chart ----------------------------------------------


class Detail:
    """A StepDetail's fields, as the notes read them."""

    def __init__(self, **fields) -> None:
        base = dict(
            grads_cleared=4,
            loss=2.3456,
            parabola=None,
            grad_norm=0.2021,
            clipped=True,
            lr=0.0096,
            update_norm=0.24,
            kept=2,
            history_len=40,
        )
        self.__dict__.update(base | fields)


def test_the_step_notes_in_vietnamese_fit_their_boxes(vietnamese):
    i18n.set_language("vi")
    assert step_notes(None, 15) == [
        "xoá .grad",
        "loss = f(x)",
        "điền .grad",
        "θ -= lr·∇",
        "lưu loss",
    ]
    assert phase_label(4, 15) == "5·theo dõi"
    assert phase_label(0, 30) == "1·optimizer.zero_grad()"  # code stays code
    wide = step_notes(Detail(), 60)
    assert wide[0] == "4 .grad đặt về None"
    assert wide[2] == "‖grad‖ 0.2021, rồi cắt ngưỡng"
    assert wide[4] == "lưu 2 loss · lịch sử 40"
    assert grad_words(-3.0, 30) == "âm: đẩy x tăng lên"
    for width in (80, 100, 160, 200):
        room = cell_widths(width)[0] - 1
        for d in (None, Detail(), Detail(grads_cleared=0, clipped=False, kept=1)):
            assert all(cell_len(note) <= room for note in step_notes(d, room))
        assert all(cell_len(phase_label(i, room)) <= room for i in range(len(PHASES)))
    i18n.set_language("en")
    assert step_notes(None, 15)[0] == "clear .grad"
    assert step_notes(Detail(kept=2), 60)[4] == "kept 2 losses · history 40"


class MetricsApp(App):
    def compose(self) -> ComposeResult:
        yield TrainMetrics()


async def test_the_metrics_labels_switch_live_and_keep_their_column(vietnamese):
    app = MetricsApp()
    async with app.run_test(size=(20, 14)) as pilot:
        metrics = app.query_one(TrainMetrics)
        metrics.data = TrainProgress(step=3, steps=10, loss=2.5, lr=0.01, elapsed_s=5.0)
        await pilot.pause()
        assert "elapsed" in screen_text(app)
        i18n.set_language("vi")
        relabel(app)
        await pilot.pause()
        text = screen_text(app)
        assert "bước" in text and "đã chạy" in text and "còn lại" in text
        # the labels take no more cells than the English: values stay in their column
        assert "bước    3/10" in text
        i18n.set_language("en")
        relabel(app)
        await pilot.pause()
        text = screen_text(app)
        assert "step    3/10" in text and "elapsed" in text


# -- widgets whose words were fixed when drawn: relabelled live -----------------------------------


def summary() -> SummaryResult:
    weight = WeightRow(name="head.weight", short="weight", shape=[4, 8], numel=32, dtype="float32")
    tied = WeightRow(
        name="head.bias", short="bias", shape=[4], numel=4, dtype="float32", tied_to=["x.b"]
    )
    return SummaryResult(
        preset="mini",
        rows=[
            LayerRow(name="", depth=0, type="Mini", params=36, share=1.0, trainable="yes"),
            LayerRow(
                name="head",
                depth=1,
                type="Linear",
                params=36,
                share=1.0,
                trainable="partly",
                weights=[weight, tied],
            ),
        ],
        totals=SummaryTotals(params=36, trainable=32, frozen=4),
    )


class ViewsApp(App):
    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield SamplingControls(id="controls")
        yield TokenStrip()
        yield SystemLine()
        yield SummaryTable()
        yield SummarySource()
        yield SummaryWeight()
        yield RunChart()


async def test_every_view_switches_live_and_back(vietnamese):
    app = ViewsApp()
    async with app.run_test(size=(100, 60)) as pilot:
        app.query_one(SamplingControls).show(False)
        table = app.query_one(SummaryTable)
        table.show(summary(), 2, {"head"})
        chart = app.query_one(RunChart)
        chart.replot()
        await pilot.pause()
        english = screen_text(app)
        for words in ("engine starting…", "sampled", "type below", "machine: waiting", "Layer"):
            assert words in english, words
        assert "loading…" in english and "Pick a weight" in english and "step" in chart.text()

        i18n.set_language("vi")
        assert relabel(app) >= 7
        table.show(summary(), 2, {"head"})  # as the layers view does in its relabel
        chart.replot()
        await pilot.pause()
        shown = screen_text(app)
        for words in (
            "đang khởi động…",  # the status bar
            "lấy mẫu",  # the predict controls
            "gõ bên dưới",  # the token strip
            "máy: đang chờ",  # the machine line
            "Lớp",  # the table's header
            "một phần",  # a layer's trainable, from the wire's "partly"
            "cùng tensor với x.b",
            "đang tải…",  # the code view
            "Chọn một trọng số",  # the weight view
        ):
            assert words in shown, words
        assert "bước" in chart.text()

        i18n.set_language("en")
        relabel(app)
        table.show(summary(), 2, {"head"})
        chart.replot()
        await pilot.pause()
        assert screen_text(app) == english
        assert table.text().splitlines()[0].split() == [
            "Layer",
            "Output",
            "Params",
            "Train",
            "Share",
            "Mult-adds",
            "Tensors",
        ]


def test_the_weight_text_in_vietnamese(vietnamese):
    w = WeightStatsResult(
        name="head.weight",
        shape=[4, 8],
        dtype="float32",
        step=3,
        stats=TensorStats(mean=0.01, std=0.2, min=-0.5, max=0.5, near_zero_below=0.01),
        init={"label": "uniform ±0.35", "kind": "uniform", "bound": 0.35},
    )
    english = weight_text(w).plain
    assert "          measured   theory\n" in english
    i18n.set_language("vi")
    text = weight_text(w).plain
    assert "khởi tạo: uniform ±0.35" in text and "tại bước 3" in text
    assert "đo được" in text and "lý thuyết" in text and "biên" in text
    i18n.set_language("en")
    assert weight_text(w).plain == english
