"""Guided lessons (issue 22): by keyboard alone at 80×24, each lesson's guided path reaches the
course's numbers on screen (LESSONS.md: x.grad 18, x 0.3239 after 80 steps at lr 0.01, ±0.1195
and 0.069, one-hot @ W equals the lookup, [1, 4, 2]), and the steps tick as they are done."""

from __future__ import annotations

from rich.cells import cell_len
from textual.widgets import OptionList
from textual.widgets._toast import ToastRack

from tests.tui.conftest import real_app, screen_lines, wait_configured, wait_for
from tui.lessons.content import LESSONS
from tui.lessons.panel import LessonPanel
from tui.screens.lessons_screen import LessonsScreen
from tui.widgets.status_bar import StatusBar

SIZE = (80, 24)
PANEL_ROOM = 72  # 80 columns less the panel's padding and a step's "▸ 2/5 " prefix


def test_every_step_says_what_to_do_in_one_line_at_80_columns():
    for lesson in LESSONS:
        assert cell_len(f"{lesson.key} {lesson.title}  ✓ ✓ ✓ ✓ ✓  (L: lessons)") <= 78
        for step in lesson.steps:
            assert cell_len(step.do) <= PANEL_ROOM, step.do
            assert step.expect


def panel_text(app) -> str:
    """The lesson panel's rows as drawn on the screen (under the panes, above the key line)."""
    rows = screen_lines(app)
    start = next(i for i, row in enumerate(rows) if row.startswith("─" * 40))
    return "\n".join(rows[start + 1 : -1])


async def open_lesson(pilot, key: str) -> LessonPanel:
    app = pilot.app
    await wait_for(pilot, lambda: len(app.panes) == 4, 30, "the panes built ahead")
    await pilot.press("escape", "L")
    await wait_for(pilot, lambda: isinstance(app.screen, LessonsScreen), 5, "the lesson list")
    await pilot.press("home", *["down"] * (int(key[1]) - 1), "enter")
    panel = app.query_one(LessonPanel)
    await wait_for(pilot, lambda: panel.current is not None, 30, f"{key} open")
    assert panel.current.key == key
    return panel


async def ticked(pilot, panel: LessonPanel, count: int, what: str) -> None:
    await wait_for(pilot, lambda: len(panel.done[panel.current.key]) >= count, 30, what)
    await pilot.pause(0.3)  # the panel's next check draws it


async def test_l2_the_parabola_by_keyboard_reaches_x_0_3239(corpus):
    app = real_app(corpus, preset="mini")
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        panel = await open_lesson(pilot, "L2")
        status = app.query_one(StatusBar)
        await wait_for(pilot, lambda: status.preset == "parabola", 30, "the lesson's preset")
        assert app.active_pane == "train"
        await ticked(pilot, panel, 1, "step 1: the preset")
        text = panel_text(app)
        assert "▸ 2/4 n: one step" in text and "lesson x.grad −8 at x = −1" in text
        await pilot.press("n")
        await ticked(pilot, panel, 2, "step 2: one step")
        # f'(−1) = 6·(−1) − 2 = −8, negative: x moves up
        text = panel_text(app)
        assert "was x.grad −8.0000 at x = −1.0000" in text, text
        await pilot.press("s")
        await wait_for(pilot, lambda: status.state == "finished", 30, "80 steps")
        await ticked(pilot, panel, 4, "steps 3 and 4")
        text = panel_text(app)
        assert "✓ ✓ ✓ ✓" in text and "all 4 steps done" in text
        assert "x.grad −0.0603" in text  # near zero: near the optimum
        assert panel.seen[("L2", 2)] == "x 0.3239 at step 80"  # the seed's figure
        assert any("0.3239" in row for row in screen_lines(app))
        # another lesson needs another preset: the trained parabola is kept, and it says how
        await open_lesson(pilot, "L1")
        await pilot.pause(0.3)
        assert status.preset == "parabola" and status.step == 80
        assert any("your parabola model (step 80) is kept" in n.message for n in app._notifications)
        # r starts L2 again: a fresh parabola, nothing ticked from the finished run on screen
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonsScreen), 5, "the lesson list")
        await pilot.press("home", "down", "r")
        await wait_for(pilot, lambda: status.step == 0, 30, "a fresh parabola")
        await ticked(pilot, panel, 1, "the preset again")
        await pilot.pause(0.6)
        assert panel.current.key == "L2" and panel.done["L2"] == {0}


async def test_l3_embedding_vs_linear_shows_the_bound_the_std_and_the_lookup(corpus):
    app = real_app(corpus, preset="mini")
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        panel = await open_lesson(pilot, "L3")
        assert app.active_pane == "summary"
        assert "▸ 1/5 e:" in panel_text(app)
        await pilot.press("e")
        await ticked(pilot, panel, 1, "step 1: the view")
        assert panel.done["L3"] == {0}  # the figures below the fold wait for PageDown
        assert "was [5000, 70] and [5000, 70]" in panel_text(app)
        await pilot.press("pagedown")
        await ticked(pilot, panel, 3, "steps 2 and 3: paged down")
        assert panel.seen[("L3", 1)] == "allclose True, max diff 0"  # one-hot @ W = lookup
        assert "was ±0.1195, std 0.0690" in panel_text(app)  # 1/√70, and 0.1195/√3 ≈ 0.069
        await pilot.press("i")
        await ticked(pilot, panel, 4, "step 4: re-initialised")
        std = float(panel.seen[("L3", 3)].split()[-1])
        assert abs(std - 1) < 0.01  # normal(0, 1) over 350,000 weights
        await pilot.press("y")
        await ticked(pilot, panel, 5, "step 5: tied")
        text = panel_text(app)
        assert "(350,000 fewer)" in text and "all 5 steps done" in text


async def test_l4_tensor_exercises_run_from_the_lesson_one_enter_each(corpus):
    app = real_app(corpus, preset="mini")
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        panel = await open_lesson(pilot, "L4")
        assert app.active_pane == "playground"
        box = app.panes["playground"].input
        assert box.text.startswith("x = torch.ones(1, requires_grad=True)")  # the first recipe
        expected = ["tensor([18.])", "RuntimeError", "[3, 2] AddmmBackward0", "[4, 3]", "[1, 4, 2]"]
        for n, value in enumerate(expected, start=1):
            await wait_for(pilot, lambda: box.text.strip(), 10, f"recipe {n} in the box")
            box.focus()
            box.move_cursor(box.document.end)
            await pilot.press("enter")
            await ticked(pilot, panel, n, f"step {n}")
            assert panel.seen[("L4", n - 1)] == value
            if n == 1:  # the answer stays in view above the next exercise's taller box
                await pilot.pause(0.2)
                assert any(row.startswith("tensor([18.])") for row in screen_lines(app))
        assert "all 5 steps done" in panel_text(app)
        assert "[1, 4, 2]" in panel_text(app)
        # r: the cells already in the transcript do not tick it again; running one afresh does
        app.action_leave_input()
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonsScreen), 5, "the lesson list")
        await pilot.press("home", *["down"] * 3, "r")
        await wait_for(pilot, lambda: not panel.done["L4"], 10, "L4 cleared")
        await pilot.pause(0.6)
        assert panel.done["L4"] == set() and "▸ 1/5" in panel_text(app)
        await wait_for(pilot, lambda: box.text.strip(), 10, "the first recipe again")
        box.focus()
        box.move_cursor(box.document.end)
        await pilot.press("enter")
        await ticked(pilot, panel, 1, "step 1 afresh")
        assert panel.done["L4"] == {0}


async def test_l1_the_forward_pass_and_leaving_and_coming_back(corpus):
    app = real_app(corpus, preset="gpt")
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        panel = await open_lesson(pilot, "L1")
        status = app.query_one(StatusBar)
        await wait_for(pilot, lambda: status.preset == "mini", 30, "the lesson's preset")
        assert app.active_pane == "summary"
        await pilot.press("c")
        await ticked(pilot, panel, 1, "step 1: the code")
        assert "was forward → __init__" in panel_text(app)
        await pilot.press("f")
        await ticked(pilot, panel, 2, "step 2: by hand")
        assert "allclose True" in panel.seen[("L1", 1)]
        # leave the lesson (close the panel), come back: the place is kept
        await pilot.press("L", "c")
        await wait_for(pilot, lambda: not panel.display, 5, "the panel closed")
        await open_lesson(pilot, "L1")
        assert panel.done["L1"] == {0, 1} and "▸ 3/4 F4" in panel_text(app)
        await pilot.press("f4", *"the qu")
        await ticked(pilot, panel, 3, "step 3: a prediction")
        predict = panel.current.steps[2].live
        await wait_for(pilot, lambda: str(predict(app)).startswith("6 chars → ids → top "), 20, "")
        await pilot.press("escape", "l")
        await ticked(pilot, panel, 4, "step 4: activations")
        assert "all 4 steps done" in panel_text(app)


def test_progress_is_saved_whole_and_a_bad_file_is_moved_aside_not_lost(tmp_path):
    from tui.lessons import saved

    known = {"L1": 4, "L2": 4}
    assert saved.load(known) == ({"L1": set(), "L2": set()}, {}, "")
    saved.save({"L1": set(), "L2": {0, 1}}, {("L2", 1): "x.grad −8.0000 at x = −1.0000"})
    assert [p.name for p in saved.state_dir().iterdir()] == ["lessons.json"]  # no temp left
    done, seen, note = saved.load(known)
    assert done == {"L1": set(), "L2": {0, 1}} and note == ""
    assert seen == {("L2", 1): "x.grad −8.0000 at x = −1.0000"}
    # a lesson that now has fewer steps keeps only the steps it has
    assert saved.load({"L1": 4, "L2": 1})[0]["L2"] == {0}
    saved.path().write_text("{not json", encoding="utf-8")
    done, seen, note = saved.load(known)
    assert done == {"L1": set(), "L2": set()} and seen == {}
    assert "could not be read" in note and "lessons.json.bad" in note and "starting afresh" in note
    assert saved.path().with_name("lessons.json.bad").read_text() == "{not json"


async def test_the_lesson_list_shows_where_the_learner_got_and_r_starts_one_again():
    from tests.tui.test_snapshots import INFO, fake_app
    from tui.lessons import saved

    saved.save(
        {"L1": {0, 1, 2, 3}, "L2": {0, 1}, "L4": {0, 1, 2, 3, 4}},
        {("L2", 1): "x.grad −8.0000 at x = −1.0000"},
    )
    app = fake_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        app.model_configured(INFO)
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonsScreen), 5, "the lesson list")
        rows = "\n".join(screen_lines(app))
        assert "L2  Backprop: minimise f(x) = 3x² − 2x + 3 with SGD  (Train, 2/4)" in rows
        assert "(Playground, 5/5)" in rows and "(Summary, 4/4)" in rows
        assert app.screen.query_one(OptionList).highlighted == 1  # L2: the first left to do
        await pilot.press("home", "down", "down", "down", "r")  # L4 again, from its first step
        panel = app.query_one(LessonPanel)
        await wait_for(pilot, lambda: panel.current is not None, 10, "L4 open")
        assert panel.current.key == "L4" and panel.done["L4"] == set()
        assert panel.done["L2"] == {0, 1}  # the others keep their place
        # its steps are at the foot now: notifications go to the top, not over them
        assert app.screen.has_class("-lesson-open")
        app.notify("a note")
        await pilot.pause()
        assert app.screen.get_child_by_type(ToastRack).styles.align_vertical == "top"
        assert saved.load({"L2": 4, "L4": 5})[0] == {"L2": {0, 1}, "L4": set()}
