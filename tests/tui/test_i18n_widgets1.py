"""The widgets in Vietnamese and back: the pane tabs, the key line, the Train pane's settings
form, the Predict pane's views (bars, generated text, explain view, the math, the activations),
the playground's transcript and the charts' words, switched live (``tui.language.relabel``)
and in English again, character for character, after switching back.

These read the shipped catalog (core/locale)."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from textual.app import App
from textual.containers import VerticalScroll
from textual.widgets import Input, Label

from core import i18n
from core.contract.lab import CellError, ExecResult
from tests.tui.test_explain_view import synthetic
from tests.tui.test_key_footer import fake_app, ready
from tui.language import relabel
from tui.widgets import chart_data
from tui.widgets.activation_map import ActivationMap, heading
from tui.widgets.attention_map import head_grid, scale_line
from tui.widgets.config_form import ConfigForm
from tui.widgets.explain_view import ExplainView, explain_lines
from tui.widgets.generated_text import GeneratedText
from tui.widgets.key_footer import KeyFooter
from tui.widgets.math_view import MathView
from tui.widgets.pane_tabs import PaneTabs
from tui.widgets.playground_transcript import PlaygroundTranscript
from tui.widgets.predict_input import PredictInput
from tui.widgets.prob_bars import ProbBars

MATH = {
    "char": "t",
    "id": 83,
    "embedding": {"layer": "wte", "dim": 4, "values": [0.5, -0.25, 0.125, 1.0]},
    "hidden": {"layer": "ln_f", "dim": 4, "values": [1.0, 0.0, -1.0, 0.0], "zero_share": 0.5},
    "output": {
        "layer": "lm_head",
        "weight_shape": [3, 4],
        "has_bias": False,
        "tied": True,
        "weight_name": "wte.weight",
        "allclose": True,
        "max_abs_diff": 1e-7,
        "rows": [{"char": "a", "by_hand": 1.25, "layer": 1.25}],
    },
}
ACTS = {
    "layer": "ln_f",
    "type": "LayerNorm",
    "units": [3, 1],
    "dim": 8,
    "chars": ["a", "b"],
    "values": [[0.5, -0.5], [1.0, 0.0]],
    "scale": 1.0,
}


@pytest.fixture
def vietnamese():
    i18n.set_language("vi")
    yield
    i18n.set_language("en")


def test_the_drawn_words_are_vietnamese_and_fit_as_the_english_do(vietnamese):
    assert heading("ln_f", "LayerNorm", 12, 128, 80) == "ln_f (LayerNorm): top 12 trên 128 nơ-ron"
    assert heading("ln_f", "LayerNorm", 12, 128, 30) == "ln_f (LayerNorm): top 12/128"
    assert scale_line(80).plain.endswith("bị che (key phía sau)")
    grid = head_grid([[[1.0]] * 1] * 2, [0, 1], 80, 10)
    assert grid[0].plain.startswith("2 head cần thêm chỗ")
    lines = [line.plain for line in explain_lines(synthetic(), False, None, 80, 24)]
    assert lines[0].startswith("vì sao ") and lines[1].startswith("gần ")
    assert "attention · lớp 2/4 · head 3/4 · 36 cuối trong 40" in lines[2]
    assert lines[-1] == "[ ] lớp · , . head · v mọi head"
    assert all(cell_len(line) <= 80 for line in lines)
    figure = chart_data.prepare(chart_data.Job(view="lr", smoothing=0.6, window=100))
    assert figure.title == "tốc độ học · 100 bước cuối" and figure.note == "chưa có dữ liệu"
    assert chart_data.prepare(chart_data.Job(has_train=True)).note == (
        "lần chạy này không báo số liệu này"
    )


def test_the_charts_words_are_english_again_after_the_switch_back():
    job = chart_data.Job(view="grad_norm", smoothing=0.6, window=1000, clip=1.0)
    job.series["grad_norm"] = ([1, 2, 3], [0.5, 2.0, 0.7], [0.5, 2.0, 0.7], [0.5, 2.0, 0.7])
    english = chart_data.prepare(job)
    i18n.set_language("vi")
    vietnamese = chart_data.prepare(job)
    i18n.set_language("en")
    assert english.title == "grad norm · smooth 0.6 · last 1000"
    assert [label for _glyph, label, _role in english.legend] == [
        "grad norm",
        "ema 0.6",
        "clip 1.00",
    ]
    assert vietnamese.title == "chuẩn grad · làm mượt 0.6 · 1000 bước cuối"
    assert [label for _glyph, label, _role in vietnamese.legend] == [
        "chuẩn grad",
        "ema 0.6",
        "cắt 1.00",
    ]
    assert chart_data.prepare(job) == english


async def test_tabs_key_line_and_settings_form_switch_live_and_back():
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        tabs, footer, form = (
            app.query_one(PaneTabs),
            app.query_one(KeyFooter),
            app.query_one(ConfigForm),
        )

        def seen() -> tuple:
            labels = [str(label.render()) for label in form.query(Label).results()]
            holders = [box.placeholder for box in form.query(Input).results()]
            return tabs.text(), footer.text(), labels, holders

        english = seen()
        i18n.set_language("vi")
        relabel(app)
        await pilot.pause()
        names, labels, holders = tabs.text().splitlines()[0], seen()[2], seen()[3]
        assert names == " Tổng quan F1  Huấn luyện F2  Thực hành F3  Dự đoán F4"
        assert cell_len(names) <= 80 and "━╸" in tabs.text()  # the bar still marks Train
        assert footer.text().rstrip().endswith("^p lệnh") and cell_len(footer.text()) == 80
        assert "mô hình" in labels and "số bước" in labels
        assert all(cell_len(label) <= 7 for label in labels)  # the labels' column is 8 wide
        assert "tài liệu Python" in holders and "theo preset" in holders
        await pilot.press("4")  # a click on a name, or its key, still finds the right pane
        await pilot.pause()
        assert app.active_pane == "predict"
        await pilot.press("escape", "2")
        await pilot.pause()
        i18n.set_language("en")
        relabel(app)
        await pilot.pause()
        assert seen() == english


async def test_a_wrong_value_says_so_in_the_language_of_the_moment():
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        form = app.query_one(ConfigForm)
        form.query_one("#field-lr", Input).value = "fast"
        await pilot.pause()
        english = form.errors["lr"]
        i18n.set_language("vi")
        relabel(app)
        await pilot.pause()
        i18n.set_language("en")
        relabel(app)
        await pilot.pause()
        assert form.errors["lr"] == english  # checked again after each switch, as it was


class Views(App):
    """The Predict pane's and the playground's views, alone."""

    CSS = "MathView, ActivationMap { height: 12; }"

    def compose(self):
        yield PredictInput(id="box")
        yield ProbBars(id="bars")
        yield ExplainView(id="explain")
        yield MathView(id="math")
        yield ActivationMap(id="acts")
        yield PlaygroundTranscript(id="log")
        with VerticalScroll():
            yield GeneratedText(id="gen")


def drawn(app: App) -> dict[str, str]:
    log = app.query_one(PlaygroundTranscript)
    return {
        "box": app.query_one(PredictInput).placeholder,
        "bars": app.query_one(ProbBars).text(),
        "explain": app.query_one(ExplainView).text(),
        "math": app.query_one(MathView).render().plain,
        "acts": app.query_one(ActivationMap).render().plain,
        "log": "\n".join(strip.text for strip in log.lines),
        "gen": str(app.query_one(GeneratedText).render()),
    }


async def test_the_predict_and_playground_views_switch_live_and_back():
    app = Views()
    async with app.run_test(size=(100, 60)) as pilot:
        app.query_one(GeneratedText).show(200)
        log = app.query_one(PlaygroundTranscript)
        log.cell(
            1,
            "x = 1/0",
            ExecResult(error=CellError("ZeroDivisionError", "no", 1, "x = 1/0", "try 2")),
        )
        log.cell(2, "y", failure=CellError(message="lost"))
        await pilot.pause()
        english = drawn(app)
        assert "next character" not in english["bars"]  # nothing predicted yet: the note
        app.query_one(MathView).math = MATH
        app.query_one(ActivationMap).data = ACTS
        await pilot.pause()
        english_data = drawn(app)
        assert "  char    by hand     layer" in english_data["math"]
        i18n.set_language("vi")
        relabel(app)
        await pilot.pause()
        vi = drawn(app)
        assert vi["box"].startswith("gõ văn bản, vd. To be or not to b")
        assert vi["bars"] == "chưa có dự đoán"
        assert vi["explain"] == "nhấn e lần nữa để thoát · gõ chữ sẽ cập nhật"
        assert "  tại dòng 1: x = 1/0" in vi["log"] and "  gợi ý: try 2" in vi["log"]
        assert "Lỗi: lost" in vi["log"]
        assert vi["gen"].startswith("văn bản sinh ra hiện ở đây: ctrl+g (trong ô)")
        assert "ký tự cuối 't' → id 83" in vi["math"] and "4 chiều" in vi["math"]
        assert "② hook trên ln_f: x · 50% bằng 0" in vi["math"]
        head = next(line for line in vi["math"].splitlines() if line.startswith("  ký tự"))
        assert head == "  ký tự   tự tính       lớp"  # the headings over their columns
        assert vi["acts"].startswith("ln_f (LayerNorm): top 2 trên 8 nơ-ron")
        assert "thang ±1" in vi["acts"] and "âm" in vi["acts"]
        i18n.set_language("en")
        relabel(app)
        await pilot.pause()
        assert drawn(app) == english_data
        app.query_one(MathView).math = None
        app.query_one(ActivationMap).data = None
        await pilot.pause()
        assert drawn(app) == english


def test_the_saved_transcript_is_written_in_the_language_of_the_moment(vietnamese):
    log = PlaygroundTranscript()
    log.entries.append(
        {
            "number": 1,
            "code": "print(1); 1/0",
            "result": ExecResult(
                stdout="1\n", error=CellError("ZeroDivisionError", "no", 1, "1/0")
            ),
            "failure": None,
        }
    )
    text = log.markdown()
    assert text.startswith("# Thực hành torchdeck\n") and "\nĐã lưu lúc " in text
    assert "In ra:" in text and "**ZeroDivisionError**: no (dòng 1: `1/0`)" in text
