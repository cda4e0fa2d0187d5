"""The lessons (L1–L4) in Vietnamese as well as English: the panel under the panes, the lesson
list's titles and the Summary pane's two lesson views say their words in the language of the
moment, after a live switch and back; a figure kept as done ("was …") is said again too, also
after a restart of the app; Vietnamese steps still fit one line at 80 columns."""

from __future__ import annotations

import types

import pytest
import torch.nn as nn
from rich.cells import cell_len

from core import i18n
from core.contract.ops import read_result
from core.i18n import N_
from core.inspection.lessons import lesson_embedding_linear, lesson_linear_forward
from tests.tui.conftest import screen_lines, wait_for
from tests.tui.test_lessons import PANEL_ROOM, SIZE, panel_text
from tui.language import relabel
from tui.lessons import saved
from tui.lessons.content import LESSONS, lesson
from tui.lessons.figure import Figure
from tui.lessons.panel import LessonPanel
from tui.screens.lessons_screen import LessonsScreen
from tui.widgets.summary_embedding_lesson import embedding_linear_text
from tui.widgets.summary_forward_lesson import forward_text


@pytest.fixture(autouse=True)
def _english_after():
    """English again afterwards, whatever the test did."""
    yield
    i18n.set_language("en")


def test_every_vietnamese_step_fits_one_line_at_80_columns():
    i18n.set_language("vi")
    for x in LESSONS:
        title = i18n._(x.title)
        assert title != x.title, x.title  # translated
        assert cell_len(f"{x.key} {title}  ✓ ✓ ✓ ✓ ✓  (L: bài học)") <= 78, title
        for step in x.steps:
            assert cell_len(i18n._(step.do)) <= PANEL_ROOM, i18n._(step.do)


def test_a_figure_is_english_as_a_str_and_said_in_the_language_of_the_moment():
    figure = Figure(N_("x {x} at step {step}"), x="0.3239", step=80)
    assert figure == "x 0.3239 at step 80" and f"{figure}" == "x 0.3239 at step 80"
    i18n.set_language("vi")
    assert f"{figure}" == str(figure) == "x 0.3239 tại bước 80"
    assert figure == "x 0.3239 at step 80"  # what the panel compares does not change


def test_a_saved_figure_is_said_again_in_a_later_session():
    figure = Figure(N_("x.grad {grad} at x = {x}"), grad="−8.0000", x="−1.0000")
    saved.save({"L2": {0, 1}}, {("L2", 1): figure})
    i18n.set_language("vi")
    done, seen, note = saved.load({"L2": 4})
    assert done == {"L2": {0, 1}} and note == ""
    assert seen[("L2", 1)] == "x.grad −8.0000 at x = −1.0000"
    assert f"{seen[('L2', 1)]}" == "x.grad −8.0000 tại x = −1.0000"


def test_the_summary_lesson_views_speak_vietnamese():
    i18n.set_language("vi")
    embed = read_result("lesson_embedding_linear", lesson_embedding_linear(V=50, d=7, reinit=True))
    text = embedding_linear_text(embed).plain
    assert "hàng 14, ba cách lấy:" in text and "đã khởi tạo lại: normal_(w, 0, 1)" in text
    assert "nhấn i: về lại cách khởi tạo mặc định" in text
    session = types.SimpleNamespace(model=nn.Sequential(nn.Linear(4, 3)), preset="mlp")
    forward = read_result("lesson_linear_forward", lesson_linear_forward(session))
    text = forward_text(forward).plain
    assert "mỗi hàng ứng với một nơ-ron (neuron) đầu ra" in text and "  tự tính\n" in text
    i18n.set_language("en")
    assert "W is [3, 4]: one row per output neuron" in forward_text(forward).plain


async def test_the_lesson_panel_switches_to_vietnamese_and_back():
    from tests.tui.test_snapshots import INFO, fake_app

    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        app.model_configured(INFO)
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonsScreen), 5, "the lesson list")
        await pilot.press("home", "down", "down", "down", "enter")  # L4: no preset to build
        panel = app.query_one(LessonPanel)
        await wait_for(pilot, lambda: panel.current is not None, 10, "L4 open")
        await pilot.pause(0.3)
        assert "Tensors and autograd in the playground" in panel_text(app)

        i18n.set_language("vi")
        relabel(app)
        await pilot.pause(0.3)
        text = panel_text(app)
        assert "L4 Tensor (mảng n chiều) và autograd ở Thực hành" in text, text
        assert "(L: bài học)" in text and "bài: tensor([18.])" in text
        assert "▸ 1/5 enter: z = 3(x + 2)², z.backward() tự tính đạo hàm, rồi xem x.grad" in text

        # a step done earlier keeps its figure, said in the language of the moment
        panel.open("L2")
        panel.done["L2"], panel.last_done["L2"] = {0, 1}, 1
        panel.seen[("L2", 1)] = Figure(N_("x.grad {grad} at x = {x}"), grad="−8.0000", x="−1.0000")
        relabel(app)
        await pilot.pause(0.3)
        text = panel_text(app)
        assert "đạt: x.grad −8.0000 tại x = −1.0000 · bài: x.grad −8 tại x = −1" in text, text
        assert lesson("L2").steps[1].do == panel.current.steps[1].do  # the English is kept

        i18n.set_language("en")
        relabel(app)
        await pilot.pause(0.3)
        text = panel_text(app)
        assert "was x.grad −8.0000 at x = −1.0000 · lesson x.grad −8 at x = −1" in text, text
        assert "(L: lessons)" in text
        assert not any("bài" in row for row in screen_lines(app))
